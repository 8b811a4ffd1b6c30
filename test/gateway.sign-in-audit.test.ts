/**
 * Sign-ins in the audit log (DESIGN §6, §8): a sign-in, a refused sign-in (bad password, unknown
 * user, disabled account), a lockout and a sign-out, each made over HTTP, are entries naming the
 * username tried — for an unknown user the name as typed, trimmed and capped — the client address
 * and the outcome. No password, session token or CSRF token is anywhere in the log or the database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../gateway/gateway.js';
import type { AuditEntryJson } from '../gateway/api/types.js';
import { call, signIn, startTestGateway } from './gateway.http.js';

const PASSWORDS = {
  alice: 'alice-correct-horse',
  bob: 'bob-battery-staple',
  carol: 'carol-disabled-pw',
  aldo: 'aldo-auditor-pw-1',
} as const;
const WRONG = 'Wr0ng-Guess-7731';
let gw: RunningGateway;
let base: string;
let auditorToken: string;

beforeAll(async () => {
  ({ gw, base } = await startTestGateway('bwc-signin-audit-'));
  await gw.auth.createUser({ username: 'alice', password: PASSWORDS.alice, roles: ['viewer'] });
  await gw.auth.createUser({ username: 'bob', password: PASSWORDS.bob, roles: ['operator'] });
  await gw.auth.createUser({ username: 'carol', password: PASSWORDS.carol, roles: ['viewer'] });
  await gw.auth.createUser({ username: 'aldo', password: PASSWORDS.aldo, roles: ['auditor'] });
  await gw.auth.disableUser('carol');
  auditorToken = (await gw.auth.createApiToken('aldo', 'audit reader')).token;
}, 60_000);

afterAll(async () => {
  await gw?.stop();
});

const login = (username: string, password: string) => call(base, null, 'POST', '/api/v1/login', { username, password });

async function authEntries(): Promise<AuditEntryJson[]> {
  const r = await call(base, { token: auditorToken }, 'GET', '/api/v1/audit/entries?action=auth&limit=1000');
  expect(r.status).toBe(200);
  return r.json.entries as AuditEntryJson[];
}

describe('sign-ins in the audit log', () => {
  it('records a sign-in, each refusal with its reason, the lockout and a sign-out, by username and client address', async () => {
    const session = await signIn(base, 'alice', PASSWORDS.alice);
    expect((await call(base, session, 'POST', '/api/v1/logout')).status).toBe(204);

    // Five wrong passwords for bob from this address: the fifth starts a lockout, the sixth is refused.
    for (let i = 0; i < 5; i++) expect((await login('bob', WRONG)).status).toBe(401);
    const locked = await login('bob', PASSWORDS.bob);
    expect(locked.status).toBe(429);

    expect((await login('  Ghost-User  ', WRONG)).status).toBe(401);
    expect((await login(`x${'y'.repeat(200)}`, WRONG)).status).toBe(401);
    expect((await login('carol', PASSWORDS.carol)).status).toBe(401);

    const entries = await authEntries();
    const seen = entries.map((e) => [e.action, e.actor, e.subject, e.detail.reason ?? null]);
    expect(seen).toEqual([
      ['auth.sign_in', 'user:alice', 'user:alice', null],
      ['auth.sign_out', 'user:alice', 'user:alice', null],
      ...Array.from({ length: 5 }, () => ['auth.sign_in_failed', 'anonymous', 'user:bob', 'bad_password']),
      ['auth.locked_out', 'anonymous', 'user:bob', null],
      ['auth.locked_out', 'anonymous', 'user:bob', null],
      ['auth.sign_in_failed', 'anonymous', 'user:Ghost-User', 'unknown_user'],
      ['auth.sign_in_failed', 'anonymous', `user:x${'y'.repeat(63)}…`, 'unknown_user'],
      ['auth.sign_in_failed', 'anonymous', 'user:carol', 'disabled'],
    ]);
    for (const e of entries) {
      expect(e.detail.ip, `${e.action} names the client address`).toBe('127.0.0.1');
      expect(typeof e.detail.username).toBe('string');
    }
    const lockouts = entries.filter((e) => e.action === 'auth.locked_out');
    expect(lockouts.map((e) => e.detail.refused)).toEqual([false, true]);
    expect(lockouts[0]!.detail).toMatchObject({ username: 'bob', failures: 5 });
    expect(lockouts[1]!.detail.retryAfterSeconds).toBeGreaterThan(0);
  }, 60_000);

  it('keeps every password, session token and CSRF token out of the audit log and the whole database', async () => {
    const session = await signIn(base, 'alice', PASSWORDS.alice);
    const sessionToken = session.cookie.split('=')[1]!;
    const exported = await fetch(`${base}/api/v1/audit/export`, { headers: { authorization: `Bearer ${auditorToken}` } });
    const log = await exported.text();
    expect(log).toContain('"action":"auth.sign_in"');
    const tables = await gw.db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'");
    let dump = '';
    for (const t of tables)
      dump += JSON.stringify(await gw.db.all(`SELECT * FROM "${t.name}"`), (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('latin1') : v));
    expect(dump).toContain('auth.sign_in_failed');
    for (const secret of [...Object.values(PASSWORDS), WRONG]) {
      expect(log, 'audit export').not.toContain(secret);
      expect(dump, 'database').not.toContain(secret);
    }
    expect(log).not.toContain(sessionToken);
    expect(log).not.toContain(session.csrf);
    expect(log).not.toContain(auditorToken);
  }, 60_000);
});
