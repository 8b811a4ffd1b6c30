/**
 * The admin API (gateway/api/admin-routes.ts): an admin lists, creates and changes users (roles,
 * offices, disable, enable, password reset, typed or generated and shown once) and manages every
 * user's API tokens (the secret shown once, only its hash stored; revoke). Anyone else gets 403.
 * The rules and their words are the CLI's: the same bad input gets the same error from both. An
 * admin cannot remove their own admin role or disable themself. Every change is an audit entry
 * naming the admin and the user changed, and never holds a secret.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../gateway/gateway.js';
import { parseGatewayConfig, resolvedPaths } from '../gateway/config.js';
import { openGatewayDb } from '../gateway/store/open.js';
import type { AuditEntryJson } from '../gateway/api/types.js';
import { ROLES } from '../gateway/api/roles.js';
import { call, signIn, startTestGateway } from './gateway.http.js';
import { BWC, tempDir, type RunResult } from './helpers.js';

const ADA_PASSWORD = 'ada-admin-password';
let gw: RunningGateway;
let base: string;
let ada: { cookie: string; csrf: string };
let viewerToken: string;
const secrets = new Set<string>([ADA_PASSWORD]);

beforeAll(async () => {
  ({ gw, base } = await startTestGateway('bwc-admin-'));
  await gw.auth.createUser({ username: 'ada', password: ADA_PASSWORD, roles: ['admin'] });
  await gw.auth.createUser({ username: 'vic', password: 'vic-viewer-password', roles: ['viewer'] });
  secrets.add('vic-viewer-password');
  ada = await signIn(base, 'ada', ADA_PASSWORD);
  viewerToken = (await gw.auth.createApiToken('vic', 'viewer automation')).token;
  secrets.add(viewerToken);
}, 60_000);

afterAll(async () => {
  await gw?.stop();
});

/** `bwc …` with `input` on stdin, without blocking the event loop the gateway under test runs on. */
function bwc(args: string[], input: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BWC, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(input);
  });
}

async function entries(action: string): Promise<AuditEntryJson[]> {
  const rows = await gw.db.all<{ seq: number; actor: string; action: string; subject: string; detail_json: string }>(
    'SELECT * FROM audit_log WHERE action = ? ORDER BY seq',
    [action],
  );
  return rows.map((r) => ({
    seq: r.seq,
    at: 0,
    actor: r.actor,
    action: r.action,
    subject: r.subject,
    detail: JSON.parse(r.detail_json) as Record<string, unknown>,
    prev: '',
    hash: '',
  }));
}

describe('users', () => {
  it('creates a user with roles, offices and a password, and audits it with the admin and the new user', async () => {
    secrets.add('olga-initial-password');
    const r = await call(base, ada, 'POST', '/api/v1/users', {
      username: 'olga',
      password: 'olga-initial-password',
      roles: ['operator', 'supervisor'],
      offices: ['SEA'],
    });
    expect(r.status).toBe(201);
    expect(r.json.user).toMatchObject({ username: 'olga', roles: ['operator', 'supervisor'], offices: ['SEA'], disabledAt: null });
    await signIn(base, 'olga', 'olga-initial-password');
    const list = await call(base, ada, 'GET', '/api/v1/users');
    expect(list.json.users.map((u: { username: string }) => u.username)).toEqual(['ada', 'olga', 'vic']);
    const created = (await entries('user.created')).find((e) => e.subject === 'user:olga');
    expect(created).toMatchObject({
      actor: 'user:ada',
      subject: 'user:olga',
      detail: { username: 'olga', roles: ['operator', 'supervisor'], offices: ['SEA'] },
    });
  });

  it('names every rule a new user breaks at once', async () => {
    const r = await call(base, ada, 'POST', '/api/v1/users', {
      username: 'Bad Name',
      password: 'short',
      roles: ['wizard'],
      offices: ['no spaces!'],
    });
    expect(r.status).toBe(400);
    expect(r.json.error.problems.map((p: { field: string }) => p.field)).toEqual(['username', 'password', 'roles', 'offices']);
    expect(r.json.error.message).toBe(
      'username: a username is 1 to 64 of a-z, 0-9, ".", "_" and "-", starting with a letter or digit; password: a password has at least 12 characters; ' +
        `roles: unknown role "wizard"; roles are ${ROLES.join(', ')}; offices: invalid office code "no spaces!"`,
    );
  });

  it('refuses the same bad input with the same words as `bwc gateway user add`', async () => {
    const cases: { username: string; password: string; roles: string[]; offices: string[] }[] = [
      { username: 'pia', password: 'too short', roles: ['viewer'], offices: [] },
      { username: 'pia', password: 'long-enough-password', roles: ['wizard'], offices: [] },
      { username: 'Pia!', password: 'Pia!', roles: ['viewer'], offices: ['SEA', 'bad office'] },
      { username: 'pia', password: 'long-enough-password', roles: [], offices: [] },
    ];
    const data = tempDir('bwc-admin-cli-');
    for (const c of cases) {
      const api = await call(base, ada, 'POST', '/api/v1/users', c);
      expect(api.status).toBe(400);
      const args = [
        'gateway',
        'user',
        'add',
        c.username,
        ...c.roles.flatMap((r) => ['--role', r]),
        ...c.offices.flatMap((o) => ['--office', o]),
        '--data-dir',
        join(data, 'gw'),
      ];
      const cli = await bwc(args, c.password);
      expect(cli.code).toBe(2);
      expect(cli.stderr.trim()).toBe(`bwc gateway user add: ${api.json.error.message as string}`);
    }
  }, 60_000);

  it('changes roles and offices, and audits the change from and to', async () => {
    const r = await call(base, ada, 'PUT', '/api/v1/users/olga/access', { roles: ['viewer'], offices: ['SEA', 'PDX'] });
    expect(r.status).toBe(200);
    expect(r.json.user).toMatchObject({ roles: ['viewer'], offices: ['SEA', 'PDX'] });
    expect((await gw.auth.getUser('olga'))!.roles).toEqual(['viewer']);
    const bad = await call(base, ada, 'PUT', '/api/v1/users/olga/access', { roles: [], offices: ['x y'] });
    expect(bad.status).toBe(400);
    expect(bad.json.error.problems).toHaveLength(2);
    const [changed] = await entries('user.access_changed');
    expect(changed).toMatchObject({
      actor: 'user:ada',
      subject: 'user:olga',
      detail: { roles: { from: ['operator', 'supervisor'], to: ['viewer'] }, offices: { from: ['SEA'], to: ['SEA', 'PDX'] } },
    });
  });

  it('does not let an admin remove their own admin role or disable themself, and says so', async () => {
    const demote = await call(base, ada, 'PUT', '/api/v1/users/ada/access', { roles: ['viewer'], offices: [] });
    expect(demote.status).toBe(409);
    expect(demote.json.error).toMatchObject({ code: 'SELF_ADMIN', message: 'you cannot remove your own admin role; another admin can' });
    const disable = await call(base, ada, 'POST', '/api/v1/users/ada/disable');
    expect(disable.status).toBe(409);
    expect(disable.json.error).toMatchObject({ code: 'SELF_DISABLE', message: 'you cannot disable your own account; another admin can' });
    expect(await gw.auth.getUser('ada')).toMatchObject({ roles: ['admin'], disabledAt: null });
  });

  it('disables and enables a user, audited both ways', async () => {
    const off = await call(base, ada, 'POST', '/api/v1/users/olga/disable');
    expect(off.status).toBe(200);
    expect(off.json.user.disabledAt).not.toBeNull();
    expect((await call(base, null, 'POST', '/api/v1/login', { username: 'olga', password: 'olga-initial-password' })).status).toBe(401);
    const on = await call(base, ada, 'POST', '/api/v1/users/olga/enable');
    expect(on.json.user.disabledAt).toBeNull();
    expect((await entries('user.disabled')).map((e) => [e.actor, e.subject])).toEqual([['user:ada', 'user:olga']]);
    expect((await entries('user.enabled')).map((e) => [e.actor, e.subject])).toEqual([['user:ada', 'user:olga']]);
  });

  it('resets a password to one the admin types, or to a generated one shown once', async () => {
    secrets.add('olga-second-password');
    expect((await call(base, ada, 'POST', '/api/v1/users/olga/password', { password: 'olga-second-password' })).status).toBe(204);
    await signIn(base, 'olga', 'olga-second-password');
    const weak = await call(base, ada, 'POST', '/api/v1/users/olga/password', { password: 'short' });
    expect(weak.status).toBe(400);
    expect(weak.json.error.message).toBe('a password has at least 12 characters');
    const generated = await call(base, ada, 'POST', '/api/v1/users/olga/password', { generate: true });
    expect(generated.status).toBe(200);
    expect(generated.json).toMatchObject({ username: 'olga', generated: true });
    const password = generated.json.password as string;
    expect(password.length).toBeGreaterThanOrEqual(12);
    secrets.add(password);
    await signIn(base, 'olga', password);
    expect((await entries('user.password_set')).map((e) => [e.actor, e.subject, e.detail.generated])).toEqual([
      ['user:ada', 'user:olga', false],
      ['user:ada', 'user:olga', true],
    ]);
  });

  it('refuses every one of these to a user without the admin role (403)', async () => {
    const v = { token: viewerToken };
    const attempts: [string, string, unknown?][] = [
      ['GET', '/api/v1/users'],
      ['POST', '/api/v1/users', { username: 'mallory', password: 'mallory-password-1', roles: ['admin'], offices: [] }],
      ['PUT', '/api/v1/users/vic/access', { roles: ['admin'], offices: [] }],
      ['POST', '/api/v1/users/olga/disable'],
      ['POST', '/api/v1/users/olga/enable'],
      ['POST', '/api/v1/users/olga/password', { generate: true }],
      ['GET', '/api/v1/admin/tokens'],
      ['POST', '/api/v1/users/olga/tokens', { name: 'stolen' }],
    ];
    for (const [method, path, body] of attempts) {
      const r = await call(base, v, method, path, body);
      expect(r.status, `${method} ${path}`).toBe(403);
    }
    expect(await gw.auth.getUser('mallory')).toBeNull();
    expect((await gw.auth.getUser('vic'))!.roles).toEqual(['viewer']);
  });
});

describe('API tokens', () => {
  it('creates a token for a user, shown once and stored only as its hash; lists it without the secret; revokes it', async () => {
    const r = await call(base, ada, 'POST', '/api/v1/users/olga/tokens', { name: 'nightly export', expiresInDays: 30 });
    expect(r.status).toBe(201);
    const token = r.json.token as string;
    secrets.add(token);
    expect(token).toMatch(/^bwc_[A-Za-z0-9_-]{43}$/);
    expect(r.json).toMatchObject({ username: 'olga', name: 'nightly export' });
    const stored = await gw.db.get<{ token_hash: string }>('SELECT token_hash FROM api_tokens WHERE id = ?', [r.json.id]);
    expect(stored!.token_hash).toBe(createHash('sha256').update(token).digest('hex'));
    expect((await call(base, { token }, 'GET', '/api/v1/me')).json.user.username).toBe('olga');

    const list = await call(base, ada, 'GET', '/api/v1/admin/tokens');
    expect(list.json.tokens[0]).toMatchObject({ id: r.json.id, username: 'olga', name: 'nightly export', revokedAt: null });
    expect(list.json.tokens.map((t: { username: string }) => t.username)).toContain('vic');
    expect(JSON.stringify(list.json)).not.toContain(token);

    expect((await call(base, ada, 'DELETE', `/api/v1/tokens/${r.json.id as number}`)).status).toBe(204);
    expect((await call(base, { token }, 'GET', '/api/v1/me')).status).toBe(401);
    const created = (await entries('token.created')).find((e) => e.detail.tokenId === r.json.id)!;
    expect(created).toMatchObject({ actor: 'user:ada', subject: 'user:olga', detail: { username: 'olga', name: 'nightly export' } });
    expect((await entries('token.revoked')).map((e) => [e.actor, e.subject, e.detail.tokenId])).toEqual([['user:ada', 'user:olga', r.json.id]]);
  });

  it('keeps every password and token out of the audit log', async () => {
    const log = JSON.stringify(await gw.db.all('SELECT * FROM audit_log'));
    expect(log).toContain('user.password_set');
    for (const s of secrets) expect(log).not.toContain(s);
  });
});

describe('the same from the CLI on the gateway machine', () => {
  it('changes roles, disables, resets a password and creates, lists and revokes tokens, audited with --by', async () => {
    const dataDir = tempDir('bwc-admin-cli-ops-');
    const common = ['--data-dir', dataDir];
    const run = async (args: string[], input = '') => {
      const r = await bwc(['gateway', ...args, ...common], input);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      return r.stdout;
    };
    await run(['user', 'add', 'olga', '--role', 'operator', '--by', 'root'], 'olga-initial-password');
    expect(await run(['user', 'access', 'olga', '--role', 'supervisor', '--office', 'SEA', '--by', 'root'])).toBe(
      'user olga now has roles supervisor and offices SEA\n',
    );
    const bad = await bwc(['gateway', 'user', 'access', 'olga', '--role', 'wizard', '--office', 'x y', ...common], '');
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe(`bwc gateway user access: roles: unknown role "wizard"; roles are ${ROLES.join(', ')}; offices: invalid office code "x y"`);
    const generated = JSON.parse(await run(['user', 'password', 'olga', '--generate', '--by', 'root'])) as { password: string };
    expect(generated.password.length).toBeGreaterThanOrEqual(12);
    const created = JSON.parse(await run(['token', 'create', 'olga', '--name', 'sync', '--days', '7', '--by', 'root'])) as {
      token: string;
      id: number;
    };
    expect(created.token).toMatch(/^bwc_/);
    const listed = await run(['token', 'list', '--user', 'olga']);
    expect(listed).toContain('"name":"sync"');
    expect(listed).not.toContain(created.token);
    expect(await run(['token', 'revoke', String(created.id), '--by', 'root'])).toBe(`token ${created.id} revoked\n`);
    expect(await run(['user', 'disable', 'olga', '--by', 'root'])).toBe('user olga disabled\n');

    const db = await openGatewayDb(resolvedPaths(parseGatewayConfig({ dataDir })).db);
    try {
      const log = await db.all<{ actor: string; action: string; subject: string; detail_json: string }>(
        'SELECT actor, action, subject, detail_json FROM audit_log ORDER BY seq',
      );
      expect(log.map((e) => [e.actor, e.action, e.subject])).toEqual([
        ['user:root', 'user.created', 'user:olga'],
        ['user:root', 'user.access_changed', 'user:olga'],
        ['user:root', 'user.password_set', 'user:olga'],
        ['user:root', 'token.created', 'user:olga'],
        ['user:root', 'token.revoked', 'user:olga'],
        ['user:root', 'user.disabled', 'user:olga'],
      ]);
      const text = JSON.stringify(log);
      for (const secret of ['olga-initial-password', generated.password, created.token]) expect(text).not.toContain(secret);
    } finally {
      await db.close();
    }
  }, 120_000);
});
