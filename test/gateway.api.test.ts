/**
 * The gateway HTTP API foundation, over real HTTP against a real server on port 0 and a real
 * SQLite database: sessions and CSRF, API tokens, roles, login limits, request validation, the
 * error format, security headers, metrics, and what reaches the database and the logs.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { registerAuthRoutes } from '../gateway/api/auth-routes.js';
import { registerAdminRoutes } from '../gateway/api/admin-routes.js';
import { Auth, type AuthOptions } from '../gateway/api/auth.js';
import { hasAnyRole, ROLES, type Role } from '../gateway/api/roles.js';
import { hashPassword, SCRYPT_PARAMS, verifyPassword, type ScryptCost } from '../gateway/api/passwords.js';
import { ApiServer, HttpError } from '../gateway/api/http.js';
import { Metrics, type Counter } from '../gateway/api/metrics.js';
import { registerMetricsRoute } from '../gateway/api/metrics-route.js';
import type { Db } from '../gateway/store/db.js';
import { migrate } from '../gateway/store/migrate.js';
import { openSqlite } from '../gateway/store/sqlite.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/**
 * The scrypt cost of the test gateways here: they sign in some sixty times, each hash at the
 * gateway's cost (SCRYPT_PARAMS) costs 100–300 ms. The tests that are about the cost run at it.
 */
const TEST_COST: ScryptCost = { N: 2 ** 10, r: 8, p: 1 };

// ───────────────────────── fixture ─────────────────────────

interface Gateway {
  base: string;
  db: Db;
  auth: Auth;
  metrics: Metrics;
  /** The clock Auth reads; tests move it. */
  clock: { now: number };
  /** Every log line the server and Auth wrote, as pino JSON. */
  logs: string[];
  close(): Promise<void>;
}

/** A gateway with `authOptions` for its Auth: the test cost unless they name one (`{}` is the gateway's default). */
async function startGateway(authOptions: Partial<AuthOptions> = { passwordCost: TEST_COST }, maxBodyBytes = 64 * 1024): Promise<Gateway> {
  const db = openSqlite(':memory:');
  await migrate(db);
  const logs: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) });
  const clock = { now: Date.UTC(2026, 0, 5, 8, 0, 0) };
  const metrics = new Metrics();
  const auth = new Auth({ db, metrics, log, now: () => clock.now, ...authOptions });
  const server = new ApiServer({ auth, metrics, log, maxBodyBytes });
  registerAuthRoutes(server, auth);
  registerAdminRoutes(server, auth);
  registerMetricsRoute(server, metrics);
  // Routes that exist only to exercise the server.
  server.route({
    method: 'GET',
    path: '/test/boom',
    roles: 'public',
    handle: async () => {
      throw new Error('kaboom: internal detail');
    },
  });
  server.route({
    method: 'POST',
    path: '/test/approve',
    roles: ['approver_fro', 'approver_hro', 'director'],
    handle: async ({ user }) => ({ body: { approvedBy: user.username } }),
  });
  server.route({
    method: 'GET',
    path: '/test/items/:id',
    roles: 'public',
    params: z.object({ id: z.coerce.number().int().positive() }),
    query: z.object({ limit: z.coerce.number().int().max(100).default(10) }),
    handle: async ({ params, query }) => ({ body: { kind: 'item', id: params.id, limit: query.limit } }),
  });
  server.route({
    method: 'GET',
    path: '/test/items/latest',
    roles: 'public',
    handle: async () => ({ body: { kind: 'latest' } }),
  });
  server.route({
    method: 'GET',
    path: '/test/teapot',
    roles: 'public',
    handle: async () => {
      throw new HttpError(418, 'TEAPOT', 'short and stout');
    },
  });
  const { port } = await server.listen(0, '127.0.0.1');
  return {
    base: `http://127.0.0.1:${port}`,
    db,
    auth,
    metrics,
    clock,
    logs,
    close: async () => {
      await server.close();
      await db.close();
    },
  };
}

interface CallOptions {
  cookie?: string;
  csrf?: string;
  token?: string;
  json?: unknown;
  /** A body sent as is (with `contentType`, default application/json). */
  raw?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

interface Reply {
  status: number;
  headers: Headers;
  json: any;
  text: string;
}

/** Every secret a test handles (passwords, tokens, cookies, CSRF tokens), to look for in the logs. */
const secrets = new Set<string>();
/** Session and API tokens: the database holds only their SHA-256. */
const bearerSecrets = new Set<string>();

async function call(g: Gateway, method: string, path: string, o: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.cookie) headers.cookie = o.cookie;
  if (o.csrf) headers['x-csrf-token'] = o.csrf;
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  let body: string | undefined;
  if (o.json !== undefined || o.raw !== undefined) {
    body = o.raw ?? JSON.stringify(o.json);
    headers['content-type'] = o.contentType ?? 'application/json';
  }
  const res = await fetch(g.base + path, { method, headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

interface Session {
  cookie: string;
  csrf: string;
  setCookie: string;
  body: any;
}

async function login(g: Gateway, username: string, password: string): Promise<Session> {
  const r = await call(g, 'POST', '/api/v1/login', { json: { username, password } });
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  const setCookie = r.headers.getSetCookie()[0]!;
  const cookie = setCookie.split(';')[0]!;
  secrets.add(cookie.split('=')[1]!);
  bearerSecrets.add(cookie.split('=')[1]!);
  secrets.add(r.json.csrfToken);
  return { cookie, csrf: r.json.csrfToken, setCookie, body: r.json };
}

/** A user made directly through Auth, with a password only this test knows. */
async function user(g: Gateway, username: string, roles: Role[], offices: string[] = []): Promise<{ username: string; password: string }> {
  const password = `pw-${randomBytes(12).toString('base64url')}`;
  secrets.add(password);
  await g.auth.createUser({ username, password, roles, offices });
  return { username, password };
}

async function apiToken(g: Gateway, s: Session, name = 'automation', expiresInDays?: number): Promise<{ id: number; token: string }> {
  const r = await call(g, 'POST', '/api/v1/tokens', {
    cookie: s.cookie,
    csrf: s.csrf,
    json: { name, ...(expiresInDays ? { expiresInDays } : {}) },
  });
  expect(r.status, JSON.stringify(r.json)).toBe(201);
  secrets.add(r.json.token);
  bearerSecrets.add(r.json.token);
  return { id: r.json.id, token: r.json.token };
}

// ───────────────────────── exposition parser ─────────────────────────

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text format 0.0.4 strictly: every sample belongs to a family declared by TYPE. */
function parseExposition(text: string): { types: Map<string, string>; help: Map<string, string>; samples: Sample[] } {
  expect(text.endsWith('\n'), 'ends with a line feed').toBe(true);
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: Sample[] = [];
  const unescaped = (s: string) => s.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue; // "Empty lines are ignored" (exposition format 0.0.4); prom-client puts one between families
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m) {
      if (help.has(m[1]!)) throw new Error(`second HELP for ${m[1]}`);
      help.set(m[1]!, unescaped(m[2]!));
      continue;
    }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) {
      if (types.has(m[1]!)) throw new Error(`second TYPE for ${m[1]}`);
      types.set(m[1]!, m[2]!);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    let rest = m[2] ?? '';
    while (rest.length > 0) {
      const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/.exec(rest);
      if (!lm) throw new Error(`bad labels in ${JSON.stringify(line)}`);
      labels[lm[1]!] = unescaped(lm[2]!);
      rest = rest.slice(lm[0].length);
    }
    const v = m[3]!;
    const value = v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : Number(v);
    if (Number.isNaN(value) && v !== 'NaN') throw new Error(`bad value in ${JSON.stringify(line)}`);
    const name = m[1]!;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    if (!types.has(family)) throw new Error(`sample ${name} before its TYPE line`);
    if (family !== name && types.get(family) !== 'histogram') throw new Error(`${name} suffix on a ${types.get(family)}`);
    samples.push({ name, labels, value });
  }
  return { types, help, samples };
}

function sampleValue(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find(
    (s) => s.name === name && Object.keys(labels).every((k) => s.labels[k] === labels[k]) && Object.keys(s.labels).length === Object.keys(labels).length,
  )?.value;
}

// ───────────────────────── tests ─────────────────────────

let g: Gateway;
let admin: { username: string; password: string };
let viewer: { username: string; password: string };

beforeAll(async () => {
  g = await startGateway();
  admin = await user(g, 'ada', ['admin']);
  viewer = await user(g, 'vic', ['viewer']);
});

afterAll(async () => {
  await g?.close();
});

describe('sessions', () => {
  it('login sets an HttpOnly, SameSite=Strict session cookie and returns the user and a CSRF token', async () => {
    const s = await login(g, admin.username, admin.password);
    const attrs = s.setCookie.split(';').map((a) => a.trim());
    expect(attrs[0]).toMatch(/^bwc_session=[A-Za-z0-9_-]{43}$/);
    expect(attrs).toContain('HttpOnly');
    expect(attrs).toContain('SameSite=Strict');
    expect(attrs).toContain('Path=/');
    expect(attrs).toContain(`Max-Age=${12 * 3600}`);
    expect(attrs).not.toContain('Secure');
    expect(s.body).toEqual({
      user: { username: 'ada', roles: ['admin'], offices: [], personId: null },
      csrfToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    const me = await call(g, 'GET', '/api/v1/me', { cookie: s.cookie });
    expect(me.status).toBe(200);
    expect(me.json).toEqual({
      user: { username: 'ada', roles: ['admin'], offices: [], personId: null },
      via: 'session',
      csrfToken: s.csrf,
    });
  });

  it('marks the cookie Secure when the gateway is behind TLS', async () => {
    const tls = await startGateway({ behindTls: true, passwordCost: TEST_COST });
    try {
      const u = await user(tls, 'tess', ['viewer']);
      const s = await login(tls, u.username, u.password);
      expect(s.setCookie.split(';').map((a) => a.trim())).toContain('Secure');
    } finally {
      await tls.close();
    }
  });

  it('answers a wrong password and an unknown user with the same 401, in comparable time', async () => {
    // At the gateway's own scrypt cost: the time compared is that of a real hash.
    const strong = await startGateway({});
    try {
      const u = await user(strong, 'wanda', ['viewer']);
      const timed = async (username: string) => {
        const t = performance.now();
        const r = await call(strong, 'POST', '/api/v1/login', { json: { username, password: 'not-the-password-1' } });
        return { r, ms: performance.now() - t };
      };
      const wrong = await timed(u.username);
      const unknown = await timed('nobody-here');
      expect(wrong.r.status).toBe(401);
      expect(unknown.r.status).toBe(401);
      expect(unknown.r.json).toEqual(wrong.r.json);
      expect(wrong.r.json).toEqual({ error: { code: 'INVALID_CREDENTIALS', message: 'wrong username or password' } });
      expect(unknown.r.headers.get('set-cookie')).toBeNull();
      // The unknown user still costs a scrypt verification (tens of ms), not a bare lookup (about 1 ms).
      expect(unknown.ms).toBeGreaterThan(wrong.ms * 0.4);
    } finally {
      await strong.close();
    }
  });

  it('refuses forged cookies and random bearer tokens with 401', async () => {
    const forged = [
      { cookie: `bwc_session=${randomBytes(32).toString('base64url')}` },
      { cookie: 'bwc_session=../../etc/passwd' },
      { cookie: `bwc_session=${createHash('sha256').update('x').digest('hex')}` },
      { token: `bwc_${randomBytes(32).toString('base64url')}` },
      { token: 'not-a-token' },
      { headers: { authorization: 'Basic YWRhOnB3' } },
    ];
    for (const o of forged) {
      const r = await call(g, 'GET', '/api/v1/me', o);
      expect(r.status, JSON.stringify(o)).toBe(401);
      expect(r.json.error.code).toBe('UNAUTHENTICATED');
      expect(r.headers.get('www-authenticate')).toBe('Bearer realm="bwc"');
    }
    expect((await call(g, 'GET', '/api/v1/me')).status).toBe(401);
  });

  it('requires the session CSRF token in x-csrf-token on a POST authenticated by cookie', async () => {
    const s = await login(g, viewer.username, viewer.password);
    const other = await login(g, admin.username, admin.password);
    const missing = await call(g, 'POST', '/api/v1/tokens', { cookie: s.cookie, json: { name: 'x' } });
    expect(missing.status).toBe(403);
    expect(missing.json.error.code).toBe('CSRF_TOKEN_INVALID');
    const wrong = await call(g, 'POST', '/api/v1/tokens', { cookie: s.cookie, csrf: other.csrf, json: { name: 'x' } });
    expect(wrong.status).toBe(403);
    const right = await call(g, 'POST', '/api/v1/tokens', { cookie: s.cookie, csrf: s.csrf, json: { name: 'x' } });
    expect(right.status).toBe(201);
    secrets.add(right.json.token);
    bearerSecrets.add(right.json.token);
    // GET needs no CSRF token.
    expect((await call(g, 'GET', '/api/v1/tokens', { cookie: s.cookie })).status).toBe(200);
  });

  it('logout ends the session and clears the cookie', async () => {
    const s = await login(g, viewer.username, viewer.password);
    const out = await call(g, 'POST', '/api/v1/logout', { cookie: s.cookie, csrf: s.csrf });
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie()[0]).toMatch(/^bwc_session=; .*Max-Age=0/);
    expect((await call(g, 'GET', '/api/v1/me', { cookie: s.cookie })).status).toBe(401);
  });

  it('ends a session after 30 idle minutes, but not while it is in use', async () => {
    const s = await login(g, viewer.username, viewer.password);
    g.clock.now += 29 * MINUTE;
    expect((await call(g, 'GET', '/api/v1/me', { cookie: s.cookie })).status).toBe(200);
    g.clock.now += 29 * MINUTE; // 58 minutes after login, 29 after last use
    expect((await call(g, 'GET', '/api/v1/me', { cookie: s.cookie })).status).toBe(200);
    g.clock.now += 30 * MINUTE;
    expect((await call(g, 'GET', '/api/v1/me', { cookie: s.cookie })).status).toBe(401);
  });

  it('ends a session at its 12-hour absolute lifetime however busy it is', async () => {
    const s = await login(g, viewer.username, viewer.password);
    for (let t = 20; t < 12 * 60; t += 20) {
      g.clock.now += 20 * MINUTE;
      expect((await call(g, 'GET', '/api/v1/me', { cookie: s.cookie })).status, `after ${t} min`).toBe(200);
    }
    g.clock.now += 20 * MINUTE;
    expect((await call(g, 'GET', '/api/v1/me', { cookie: s.cookie })).status).toBe(401);
  });

  it('limits failed logins per username and address: the sixth within 5 minutes is 429, even with the right password', async () => {
    const u = await user(g, 'rita', ['viewer']);
    const counter = g.metrics.get('bwc_auth_login_failures_total') as Counter;
    const failures = () => counter.get({ reason: 'invalid_credentials' });
    const limited = () => counter.get({ reason: 'rate_limited' });
    const [f0, l0] = [await failures(), await limited()];
    for (let i = 0; i < 5; i++) {
      expect((await call(g, 'POST', '/api/v1/login', { json: { username: 'rita', password: `wrong-password-${i}` } })).status).toBe(401);
    }
    const blocked = await call(g, 'POST', '/api/v1/login', { json: { username: 'rita', password: u.password } });
    expect(blocked.status).toBe(429);
    expect(blocked.json.error.code).toBe('TOO_MANY_ATTEMPTS');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await failures()) - f0).toBe(5);
    expect((await limited()) - l0).toBe(1);
    // Another user from the same address is not affected.
    await login(g, viewer.username, viewer.password);
    g.clock.now += 5 * MINUTE + 1000;
    await login(g, u.username, u.password);
  });
});

describe('roles and users', () => {
  it('lets an admin create users, and refuses a viewer with 403', async () => {
    const v = await login(g, viewer.username, viewer.password);
    const a = await login(g, admin.username, admin.password);
    const newUser = { username: 'oscar', password: 'correct horse battery', roles: ['operator'], offices: ['SEA'] };
    secrets.add(newUser.password);
    const refused = await call(g, 'POST', '/api/v1/users', { cookie: v.cookie, csrf: v.csrf, json: newUser });
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe('FORBIDDEN');
    expect(await g.auth.getUser('oscar')).toBeNull();
    expect((await call(g, 'GET', '/api/v1/users', { cookie: v.cookie })).status).toBe(403);

    const created = await call(g, 'POST', '/api/v1/users', { cookie: a.cookie, csrf: a.csrf, json: newUser });
    expect(created.status).toBe(201);
    expect(created.json.user).toMatchObject({ username: 'oscar', roles: ['operator'], offices: ['SEA'], disabledAt: null });
    expect(JSON.stringify(created.json)).not.toContain(newUser.password);
    const o = await login(g, 'oscar', newUser.password);
    expect(o.body.user).toEqual({ username: 'oscar', roles: ['operator'], offices: ['SEA'], personId: null });

    const again = await call(g, 'POST', '/api/v1/users', { cookie: a.cookie, csrf: a.csrf, json: newUser });
    expect(again.status).toBe(409);
    const list = await call(g, 'GET', '/api/v1/users', { cookie: a.cookie });
    expect(list.json.users.map((u: { username: string }) => u.username)).toContain('oscar');
    expect(JSON.stringify(list.json)).not.toMatch(/scrypt|password/i);
  });

  it('refuses a password shorter than 12 characters', async () => {
    const a = await login(g, admin.username, admin.password);
    const r = await call(g, 'POST', '/api/v1/users', {
      cookie: a.cookie,
      csrf: a.csrf,
      json: { username: 'shorty', password: 'elevenchars', roles: ['viewer'] },
    });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('WEAK_PASSWORD');
    expect(await g.auth.getUser('shorty')).toBeNull();
  });

  it('does not make admin an approver: roles are explicit', async () => {
    expect(hasAnyRole({ roles: ['admin'] }, ['approver_fro', 'approver_hro', 'director'])).toBe(false);
    expect(ROLES).toEqual([
      'viewer',
      'operator',
      'supervisor',
      'requester',
      'approver_fro',
      'approver_hro',
      'director',
      'records_officer',
      'auditor',
      'opr',
      'admin',
    ]);
    const a = await login(g, admin.username, admin.password);
    expect((await call(g, 'POST', '/test/approve', { cookie: a.cookie, csrf: a.csrf })).status).toBe(403);
    const fro = await user(g, 'fiona', ['approver_fro'], ['SEA']);
    const f = await login(g, fro.username, fro.password);
    const ok = await call(g, 'POST', '/test/approve', { cookie: f.cookie, csrf: f.csrf });
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ approvedBy: 'fiona' });
  });

  it("stops a disabled user's sessions, tokens and logins", async () => {
    const u = await user(g, 'dora', ['operator']);
    const s = await login(g, u.username, u.password);
    const t = await apiToken(g, s);
    expect((await call(g, 'GET', '/api/v1/me', { token: t.token })).status).toBe(200);
    const a = await login(g, admin.username, admin.password);
    const r = await call(g, 'POST', '/api/v1/users/dora/disable', { cookie: a.cookie, csrf: a.csrf });
    expect(r.status).toBe(200);
    expect(r.json.user.disabledAt).toBe(g.clock.now);
    expect((await call(g, 'GET', '/api/v1/me', { cookie: s.cookie })).status).toBe(401);
    expect((await call(g, 'GET', '/api/v1/me', { token: t.token })).status).toBe(401);
    const relogin = await call(g, 'POST', '/api/v1/login', { json: { username: u.username, password: u.password } });
    expect(relogin.status).toBe(401);
    expect(relogin.json.error.code).toBe('INVALID_CREDENTIALS');
    // Enabled again, the user signs in; the token works again too (it was never revoked).
    expect((await call(g, 'POST', '/api/v1/users/dora/enable', { cookie: a.cookie, csrf: a.csrf })).status).toBe(200);
    await login(g, u.username, u.password);
    expect((await call(g, 'GET', '/api/v1/me', { token: t.token })).status).toBe(200);
  });

  it('refuses to disable the last enabled admin, and an admin disabling themself', async () => {
    const a = await login(g, admin.username, admin.password);
    const r = await call(g, 'POST', '/api/v1/users/ada/disable', { cookie: a.cookie, csrf: a.csrf });
    expect(r.status).toBe(409);
    expect(r.json.error.code).toBe('SELF_DISABLE');
    await expect(g.auth.disableUser('ada')).rejects.toMatchObject({ status: 409, code: 'LAST_ADMIN' });
    expect((await g.auth.getUser('ada'))!.disabledAt).toBeNull();
  });

  it('lets users change their own password with the current one, and only admins set others', async () => {
    const u = await user(g, 'pat', ['viewer']);
    const other = await user(g, 'quinn', ['viewer']);
    const s = await login(g, u.username, u.password);
    const next = `next-${randomBytes(9).toString('base64url')}`;
    secrets.add(next);
    const noCurrent = await call(g, 'POST', '/api/v1/users/pat/password', { cookie: s.cookie, csrf: s.csrf, json: { password: next } });
    expect(noCurrent.status).toBe(400);
    const badCurrent = await call(g, 'POST', '/api/v1/users/pat/password', {
      cookie: s.cookie,
      csrf: s.csrf,
      json: { password: next, currentPassword: 'wrong-current-pw' },
    });
    expect(badCurrent.status).toBe(401);
    const notMine = await call(g, 'POST', '/api/v1/users/quinn/password', { cookie: s.cookie, csrf: s.csrf, json: { password: next } });
    expect(notMine.status).toBe(403);
    const changed = await call(g, 'POST', '/api/v1/users/pat/password', {
      cookie: s.cookie,
      csrf: s.csrf,
      json: { password: next, currentPassword: u.password },
    });
    expect(changed.status).toBe(204);
    // The password change ended the session it came from; the new password signs in, the old does not.
    expect((await call(g, 'GET', '/api/v1/me', { cookie: s.cookie })).status).toBe(401);
    expect((await call(g, 'POST', '/api/v1/login', { json: { username: 'pat', password: u.password } })).status).toBe(401);
    await login(g, 'pat', next);

    const a = await login(g, admin.username, admin.password);
    const reset = `reset-${randomBytes(9).toString('base64url')}`;
    secrets.add(reset);
    expect((await call(g, 'POST', '/api/v1/users/quinn/password', { cookie: a.cookie, csrf: a.csrf, json: { password: reset } })).status).toBe(204);
    await login(g, other.username, reset);
  });
});

describe('API tokens', () => {
  it('acts with its user’s roles without CSRF, is listed without its secret, and stops at revocation', async () => {
    const a = await login(g, admin.username, admin.password);
    const t = await apiToken(g, a, 'provisioning');
    expect(t.token).toMatch(/^bwc_[A-Za-z0-9_-]{43}$/);
    const me = await call(g, 'GET', '/api/v1/me', { token: t.token });
    expect(me.json).toEqual({ user: { username: 'ada', roles: ['admin'], offices: [], personId: null }, via: 'token' });
    const body = { username: 'tokenmade', password: `tm-${randomBytes(12).toString('base64url')}`, roles: ['viewer'] };
    secrets.add(body.password);
    expect((await call(g, 'POST', '/api/v1/users', { token: t.token, json: body })).status).toBe(201);

    const list = await call(g, 'GET', '/api/v1/tokens', { cookie: a.cookie });
    expect(list.json.tokens).toContainEqual(expect.objectContaining({ id: t.id, name: 'provisioning', revokedAt: null }));
    expect(list.text).not.toContain(t.token.slice(4));

    // Someone else's token reads as not found; the owner revokes it.
    const v = await login(g, viewer.username, viewer.password);
    expect((await call(g, 'DELETE', `/api/v1/tokens/${t.id}`, { cookie: v.cookie, csrf: v.csrf })).status).toBe(404);
    expect((await call(g, 'DELETE', `/api/v1/tokens/${t.id}`, { cookie: a.cookie, csrf: a.csrf })).status).toBe(204);
    const after = await call(g, 'GET', '/api/v1/me', { token: t.token });
    expect(after.status).toBe(401);
    expect((await call(g, 'GET', '/api/v1/tokens', { cookie: a.cookie })).json.tokens).toContainEqual(
      expect.objectContaining({ id: t.id, revokedAt: g.clock.now }),
    );
  });

  it('stops working at its expiry', async () => {
    const v = await login(g, viewer.username, viewer.password);
    const t = await apiToken(g, v, 'short-lived', 1);
    expect((await call(g, 'GET', '/api/v1/me', { token: t.token })).status).toBe(200);
    g.clock.now += 24 * HOUR;
    expect((await call(g, 'GET', '/api/v1/me', { token: t.token })).status).toBe(401);
  });

  it('is judged alone: a bad bearer token is 401 even beside a valid cookie', async () => {
    const s = await login(g, viewer.username, viewer.password);
    const r = await call(g, 'GET', '/api/v1/me', { cookie: s.cookie, token: `bwc_${randomBytes(32).toString('base64url')}` });
    expect(r.status).toBe(401);
  });
});

describe('requests and errors', () => {
  it('answers a body over the limit with 413, declared or streamed', async () => {
    const big = JSON.stringify({ username: 'x', password: 'y'.repeat(100 * 1024) });
    const declared = await call(g, 'POST', '/api/v1/login', { raw: big });
    expect(declared.status).toBe(413);
    expect(declared.json.error.code).toBe('PAYLOAD_TOO_LARGE');
    const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${g.base}/api/v1/login`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      for (let i = 0; i < 20; i++) req.write('x'.repeat(8 * 1024)); // chunked, no content-length
      req.end();
    });
    expect(streamed.status).toBe(413);
    expect(JSON.parse(streamed.body).error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers invalid JSON with 400 and a non-JSON content type with 415', async () => {
    const bad = await call(g, 'POST', '/api/v1/login', { raw: '{"username": "ada", ' });
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('INVALID_JSON');
    const form = await call(g, 'POST', '/api/v1/login', {
      raw: 'username=ada&password=x',
      contentType: 'application/x-www-form-urlencoded',
    });
    expect(form.status).toBe(415);
    expect(form.json.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('names the field that failed validation', async () => {
    const noPassword = await call(g, 'POST', '/api/v1/login', { json: { username: 'ada' } });
    expect(noPassword.status).toBe(400);
    expect(noPassword.json.error.code).toBe('VALIDATION_FAILED');
    expect(noPassword.json.error.message).toMatch(/^body\.password: /);
    const a = await login(g, admin.username, admin.password);
    const badRole = await call(g, 'POST', '/api/v1/users', {
      cookie: a.cookie,
      csrf: a.csrf,
      json: { username: 'zed', password: 'a-long-enough-pw', roles: ['viewer', 7] },
    });
    expect(badRole.status).toBe(400);
    expect(badRole.json.error.message).toMatch(/^body\.roles\.1: /);
    const badQuery = await call(g, 'GET', '/test/items/7?limit=1000');
    expect(badQuery.status).toBe(400);
    expect(badQuery.json.error.message).toMatch(/^query\.limit: /);
    const badParam = await call(g, 'GET', '/test/items/-3');
    expect(badParam.json.error.message).toMatch(/^params\.id: /);
    expect((await call(g, 'GET', '/test/items/7?limit=5')).json).toEqual({ kind: 'item', id: 7, limit: 5 });
    expect((await call(g, 'GET', '/test/items/7?__proto__=a&__proto__=b&limit=6')).json).toEqual({ kind: 'item', id: 7, limit: 6 });
  });

  it('names every field that failed validation at once, in the message and as a list of problems', async () => {
    const empty = await call(g, 'POST', '/api/v1/login', { json: { username: 7 } });
    expect(empty.status).toBe(400);
    expect(empty.json.error.code).toBe('VALIDATION_FAILED');
    expect(empty.json.error.problems).toMatchObject([
      { field: 'body.username', message: expect.any(String) },
      { field: 'body.password', message: expect.any(String) },
    ]);
    expect(empty.json.error.message).toBe(empty.json.error.problems.map((p: { field: string; message: string }) => `${p.field}: ${p.message}`).join('; '));
  });

  it('routes literal segments before parameters', async () => {
    expect((await call(g, 'GET', '/test/items/latest')).json).toEqual({ kind: 'latest' });
  });

  it('answers an unknown route with 404 and a wrong method with 405 and Allow', async () => {
    const nf = await call(g, 'GET', '/api/v1/nothing-here');
    expect(nf.status).toBe(404);
    expect(nf.json).toEqual({ error: { code: 'NOT_FOUND', message: 'no route for GET /api/v1/nothing-here' } });
    const wm = await call(g, 'PUT', '/api/v1/login', { json: {} });
    expect(wm.status).toBe(405);
    expect(wm.headers.get('allow')).toBe('POST');
    expect(wm.json.error.code).toBe('METHOD_NOT_ALLOWED');
  });

  it('answers HEAD on every GET route like GET without a body, and names HEAD in Allow', async () => {
    const get = await call(g, 'GET', '/test/items/7?limit=5');
    const head = await call(g, 'HEAD', '/test/items/7?limit=5');
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    expect(head.headers.get('content-type')).toBe(get.headers.get('content-type'));
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(get.text)));
    // Authentication and validation apply as to GET.
    expect((await call(g, 'HEAD', '/api/v1/me')).status).toBe(401);
    expect((await call(g, 'HEAD', '/test/items/0')).status).toBe(400);
    expect((await call(g, 'HEAD', '/api/v1/nothing-here')).status).toBe(404);
    // Only where there is no GET is HEAD refused.
    const post = await call(g, 'HEAD', '/api/v1/login');
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('POST');
    const items = await call(g, 'DELETE', '/test/items/7');
    expect(items.headers.get('allow')).toBe('GET, HEAD');
  });

  it('answers a handler exception with 500 and a request id, never the stack, and logs it under that id', async () => {
    const r = await call(g, 'GET', '/test/boom');
    expect(r.status).toBe(500);
    const id = r.headers.get('x-request-id')!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.json).toEqual({ error: { code: 'INTERNAL', message: `internal error; request id ${id}`, requestId: id } });
    expect(r.text).not.toMatch(/kaboom|at |\.ts/);
    const logged = g.logs.map((l) => JSON.parse(l)).find((l) => l.requestId === id && l.msg === 'handler failed');
    expect(logged?.err.message).toBe('kaboom: internal detail');
    expect(logged?.err.stack).toContain('gateway.api.test.ts');
  });

  it('answers an HttpError with its status and code', async () => {
    const r = await call(g, 'GET', '/test/teapot');
    expect(r.status).toBe(418);
    expect(r.json).toEqual({ error: { code: 'TEAPOT', message: 'short and stout' } });
  });

  it('sends security headers on every response, errors included', async () => {
    for (const r of [await call(g, 'GET', '/api/v1/nothing'), await call(g, 'GET', '/test/items/latest')]) {
      expect(r.headers.get('cache-control')).toBe('no-store');
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('x-frame-options')).toBe('DENY');
      expect(r.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(r.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    }
  });
});

describe('metrics', () => {
  it('requires authentication, parses back as exposition format 0.0.4 and counts requests by route pattern', async () => {
    expect((await call(g, 'GET', '/metrics')).status).toBe(401);
    const v = await login(g, viewer.username, viewer.password);
    const t = await apiToken(g, v, 'prometheus');
    const scrape = async () => {
      const r = await call(g, 'GET', '/metrics', { token: t.token });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      return parseExposition(r.text);
    };
    const key = { method: 'GET', route: '/test/items/:id', status: '200' };
    const before = sampleValue((await scrape()).samples, 'bwc_http_request_duration_seconds_count', key) ?? 0;
    for (const id of [1, 2, 3]) await call(g, 'GET', `/test/items/${id}`);
    await call(g, 'GET', '/test/items/4?limit=1000'); // a 400, counted apart
    const { types, help, samples } = await scrape();
    expect(sampleValue(samples, 'bwc_http_request_duration_seconds_count', key)).toBe(before + 3);
    expect(sampleValue(samples, 'bwc_http_request_duration_seconds_count', { ...key, status: '400' })).toBeGreaterThanOrEqual(1);
    // Routes are labelled by pattern, never by raw path.
    expect(samples.some((s) => s.labels.route?.includes('/test/items/1'))).toBe(false);
    expect(types.get('bwc_http_request_duration_seconds')).toBe('histogram');
    expect(types.get('bwc_auth_login_failures_total')).toBe('counter');
    expect(types.get('bwc_auth_sessions')).toBe('gauge');
    expect(help.get('bwc_auth_logins_total')).toBeTruthy();
    expect(sampleValue(samples, 'bwc_auth_sessions', {})).toBeGreaterThanOrEqual(1);
    expect(sampleValue(samples, 'bwc_http_auth_failures_total', { reason: 'unauthenticated' })).toBeGreaterThanOrEqual(1);
    // Histogram buckets are cumulative and +Inf equals the count.
    const buckets = samples.filter(
      (s) => s.name === 'bwc_http_request_duration_seconds_bucket' && s.labels.method === 'GET' && s.labels.route === key.route && s.labels.status === '200',
    );
    const values = buckets.map((b) => b.value);
    expect(values).toEqual([...values].sort((x, y) => x - y));
    expect(buckets.at(-1)!.labels.le).toBe('+Inf');
    expect(buckets.at(-1)!.value).toBe(before + 3);
  });

  it('escapes label values and help text so they parse back unchanged', async () => {
    const m = new Metrics();
    const c = m.counter({ name: 'odd_total', help: 'back\\slash and\nnewline', labelNames: ['v'] });
    const tricky = 'quote " backslash \\ newline \n end';
    c.inc({ v: tricky }, 2);
    const h = m.histogram({ name: 'lat_seconds', help: 'h', buckets: [0.1, 1] });
    h.observe(0.05);
    h.observe(0.5);
    h.observe(5);
    m.gauge({ name: 'read_at_scrape', help: 'g', collect: (g) => g.set(42) });
    const { help, samples } = parseExposition(await m.expose());
    expect(help.get('odd_total')).toBe('back\\slash and\nnewline');
    expect(sampleValue(samples, 'odd_total', { v: tricky })).toBe(2);
    expect(samples.filter((s) => s.name === 'lat_seconds_bucket').map((s) => [s.labels.le, s.value])).toEqual([
      ['0.1', 1],
      ['1', 2],
      ['+Inf', 3],
    ]);
    expect(sampleValue(samples, 'lat_seconds_sum', {})).toBeCloseTo(5.55);
    expect(sampleValue(samples, 'read_at_scrape', {})).toBe(42);
  });

  it('puts label sets beyond the series limit into one _overflow series', async () => {
    const m = new Metrics({ maxSeries: 3 });
    const c = m.counter({ name: 'many_total', help: 'h', labelNames: ['k'] });
    for (let i = 0; i < 10; i++) c.inc({ k: String(i) });
    const { samples } = parseExposition(await m.expose());
    expect(samples.filter((s) => s.name === 'many_total')).toHaveLength(4);
    expect(sampleValue(samples, 'many_total', { k: '_overflow' })).toBe(7);
  });

  it('exposes the process metrics too (CPU, memory, event-loop lag, GC), and keeps a failing collect from spoiling the scrape', async () => {
    const m = new Metrics();
    m.gauge({
      name: 'broken',
      help: 'g',
      collect: () => {
        throw new Error('database gone');
      },
    });
    m.gauge({ name: 'fine', help: 'g', collect: (g) => g.set(1) });
    const failed: string[] = [];
    const { types, samples } = parseExposition(await m.expose((metric) => failed.push(metric)));
    expect(failed).toEqual(['broken']);
    expect(sampleValue(samples, 'fine', {})).toBe(1);
    expect(types.get('process_cpu_user_seconds_total')).toBe('counter');
    expect(types.get('process_resident_memory_bytes')).toBe('gauge');
    expect(types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
    expect(types.get('nodejs_heap_size_used_bytes')).toBe('gauge');
    // A histogram owns its _bucket, _sum and _count names.
    m.histogram({ name: 'h_seconds', help: 'h' });
    expect(() => m.counter({ name: 'h_seconds_count', help: 'h' })).toThrow(/already registered/);
    expect(() => m.gauge({ name: 'process_resident_memory_bytes', help: 'h' })).toThrow(/already registered/);
  });

  it('refuses a metric name registered twice and labels that do not match', () => {
    const m = new Metrics();
    const c = m.counter({ name: 'x_total', help: 'h', labelNames: ['a'] });
    expect(() => m.gauge({ name: 'x_total', help: 'h' })).toThrow(/already registered/);
    expect(() => c.inc({ b: '1' })).toThrow(/labels must be exactly/);
    expect(() => c.inc({ a: '1' }, -1)).toThrow(/only increases/);
  });
});

describe('what is stored and what is logged', () => {
  it('hashes passwords at N=2^15, r=8, p=1 unless told otherwise, and refuses a cost no hash could be checked at', async () => {
    expect(SCRYPT_PARAMS).toEqual({ N: 32768, r: 8, p: 1 });
    const db = openSqlite(':memory:');
    try {
      await migrate(db);
      const auth = new Auth({ db });
      await auth.createUser({ username: 'dora', password: 'correct horse battery', roles: ['viewer'] });
      const row = await db.get<{ password_hash: string }>("SELECT password_hash FROM users WHERE username = 'dora'");
      expect(row!.password_hash).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
      expect(await verifyPassword('correct horse battery', row!.password_hash)).toBe(true);
    } finally {
      await db.close();
    }
    expect(await hashPassword('correct horse battery')).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(() => new Auth({ db: g.db, passwordCost: { N: 1000, r: 8, p: 1 } })).toThrow(/passwordCost: scrypt N must be a power of two/);
    expect(() => new Auth({ db: g.db, passwordCost: { N: 2 ** 20, r: 8, p: 1 } })).toThrow(/more than 256 MiB/);
    await expect(hashPassword('correct horse battery', { N: 1024, r: 0, p: 1 })).rejects.toThrow(/scrypt r must be/);
  });

  it('hashes a password again at the configured cost when it signs in with a hash of another cost', async () => {
    const u = await user(g, 'hugo', ['viewer']);
    const old = await hashPassword(u.password, { N: 2 ** 11, r: 8, p: 1 }); // as a gateway of another cost stored it
    await g.db.run('UPDATE users SET password_hash = ? WHERE username = ?', [old, u.username]);
    await login(g, u.username, u.password);
    const row = await g.db.get<{ password_hash: string }>('SELECT password_hash FROM users WHERE username = ?', [u.username]);
    expect(row!.password_hash).toMatch(new RegExp(`^scrypt\\$${TEST_COST.N}\\$${TEST_COST.r}\\$${TEST_COST.p}\\$`));
    expect(await verifyPassword(u.password, row!.password_hash)).toBe(true);
  });

  it('stores scrypt hashes with random salts, never a password, and only hashes of session and API tokens', async () => {
    const rows = await g.db.all<{ username: string; password_hash: string }>('SELECT username, password_hash FROM users');
    expect(rows.length).toBeGreaterThan(5);
    // The test gateway's cost (the gateway's own is checked above); the format and the salts are the same.
    const format = new RegExp(`^scrypt\\$${TEST_COST.N}\\$${TEST_COST.r}\\$${TEST_COST.p}\\$([A-Za-z0-9+/=]+)\\$([A-Za-z0-9+/=]+)$`);
    for (const r of rows) {
      const m = format.exec(r.password_hash);
      expect(m, r.username).not.toBeNull();
      expect(Buffer.from(m![1]!, 'base64')).toHaveLength(16);
      expect(Buffer.from(m![2]!, 'base64')).toHaveLength(32);
      for (const s of secrets) expect(r.password_hash).not.toContain(s);
    }
    expect(new Set(rows.map((r) => r.password_hash.split('$')[4])).size).toBe(rows.length);
    // Same password, different hashes; each verifies.
    const [h1, h2] = [await hashPassword('same password twice', TEST_COST), await hashPassword('same password twice', TEST_COST)];
    expect(h1).not.toBe(h2);
    expect(await verifyPassword('same password twice', h1)).toBe(true);
    expect(await verifyPassword('same password twice!', h1)).toBe(false);

    await login(g, viewer.username, viewer.password);
    const stored = JSON.stringify([await g.db.all('SELECT * FROM sessions'), await g.db.all('SELECT * FROM api_tokens')]);
    const hashes = (await g.db.all<{ h: string }>('SELECT token_hash AS h FROM sessions UNION ALL SELECT token_hash AS h FROM api_tokens')).map((r) => r.h);
    expect(bearerSecrets.size).toBeGreaterThan(20);
    for (const t of bearerSecrets) expect(stored).not.toContain(t.replace(/^bwc_/, ''));
    // Every stored token is the SHA-256 of a token handed out.
    expect(hashes.length).toBeGreaterThan(5);
    expect(hashes.filter((h) => [...bearerSecrets].some((t) => createHash('sha256').update(t).digest('hex') === h))).toHaveLength(hashes.length);
  });

  it('never logs a password, token, cookie, CSRF token or hash — not even a password typed as a username', async () => {
    const typo = `typed-into-username-${randomBytes(6).toString('hex')}`;
    secrets.add(typo);
    await call(g, 'POST', '/api/v1/login', { json: { username: typo, password: 'whatever-password' } });
    const hashes = [
      ...(await g.db.all<{ h: string }>('SELECT password_hash AS h FROM users')),
      ...(await g.db.all<{ h: string }>('SELECT token_hash AS h FROM sessions')),
      ...(await g.db.all<{ h: string }>('SELECT token_hash AS h FROM api_tokens')),
    ].map((r) => r.h);
    const text = g.logs.join('');
    // The logs are not empty: logins, failures and requests were recorded.
    expect(text).toContain('"event":"login_failed"');
    expect(text).toContain('"event":"login"');
    expect(text).toContain('"route":"/api/v1/users/:username/password"');
    expect(secrets.size).toBeGreaterThan(20);
    for (const s of [...secrets, ...hashes]) expect(text.includes(s), `a secret in the logs: ${s.slice(0, 6)}…`).toBe(false);
  });
});
