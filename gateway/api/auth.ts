/**
 * People and credentials for the gateway API: users with scrypt password hashes, browser sessions
 * (an HttpOnly cookie plus a per-session CSRF token) and API tokens for automation.
 *
 * - Passwords: scrypt (N=2^15, r=8, p=1, 16-byte random salt), stored as
 *   `scrypt$N$r$p$<salt base64>$<hash base64>`, compared in constant time. A login for an unknown
 *   user verifies a dummy hash, so the answer takes as long and reads the same as a wrong password.
 * - Sessions: 32 random bytes in the `bwc_session` cookie; only the token's SHA-256 is stored. A
 *   session ends at its absolute lifetime (12 h), after the idle timeout (30 min), at logout, when
 *   its user is disabled or when the password is set.
 * - API tokens: `bwc_<43 base64url chars>`, shown once, stored as SHA-256, named, revocable, with an
 *   optional expiry; a token acts with its user's roles, and needs no CSRF token.
 * - Failed logins are counted and limited per username and client address.
 *
 * Roles are explicit: `admin` manages users and nothing else, and is never implicitly an approver.
 * Nothing here logs a password, a token, a cookie or a hash.
 *
 * With an audit log (DESIGN §6, §8), every sign-in, refused sign-in (naming the username as typed,
 * trimmed and capped, and why: bad password, unknown user, disabled), lockout and sign-out is an
 * entry with the client address, and so is every change to a user or a token, with who made it and
 * whose account it was. Entries never hold a password, a session or CSRF token, or an API token.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Db, Queryable } from '../store/db.js';
import { actorOf, type AuditAppender } from '../audit/log.js';
import { HttpError, silentLogger, type AuthUser, type Authenticator, type Logger } from './basics.js';
export type { AuthUser } from './basics.js';
import { Metrics, type Counter } from './metrics.js';
import { hasAnyRole, isRole, type Role } from './roles.js';
import {
  FailureLimiter,
  HashGate,
  SCRYPT_PARAMS,
  checkPasswordRules,
  dummyHash,
  hashPassword,
  isCurrentHashFormat,
  scryptCostProblem,
  verifyPassword,
  type ScryptCost,
} from './passwords.js';
import { USERNAME_PATTERN, accessProblems, describeProblems, newUserProblems, normalizeAccess, type UserProblem } from './user-rules.js';

// ───────────────────────── users ─────────────────────────

export { USERNAME_PATTERN, OFFICE_PATTERN } from './user-rules.js';

const PROBLEM_CODES: Record<UserProblem['field'], string> = {
  username: 'INVALID_USERNAME',
  password: 'WEAK_PASSWORD',
  roles: 'INVALID_ROLES',
  offices: 'INVALID_OFFICE',
};

/** A user refused by the rules of user-rules.ts: every problem, the code naming the first. */
export class UserRulesError extends HttpError {
  constructor(readonly problems: readonly UserProblem[]) {
    super(400, PROBLEM_CODES[problems[0]!.field], describeProblems(problems));
  }
}

/** Why a sign-in was refused, as the audit log says it (the client is told only "wrong username or password"). */
export type SignInFailure = 'bad_password' | 'unknown_user' | 'disabled';

/** A username as typed, for the audit log: trimmed, control characters replaced, at most 64 characters. */
export function attemptedUsername(input: string): string {
  const chars = [...input.trim()].map((c) => (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f ? '?' : c));
  return chars.length > 64 ? `${chars.slice(0, 64).join('')}…` : chars.join('');
}

export interface User {
  readonly username: string;
  readonly roles: readonly Role[];
  readonly offices: readonly string[];
  readonly personId: string | null;
  readonly createdAt: number;
  readonly disabledAt: number | null;
}

export interface NewUser {
  username: string;
  password: string;
  /** Checked against the roles there are (user-rules.ts). */
  roles: readonly string[];
  offices?: readonly string[];
  personId?: string | null;
}

export interface ApiToken {
  readonly id: number;
  readonly username: string;
  readonly name: string;
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
}

export interface LoginResult {
  readonly user: User;
  /** The session token: it goes into the cookie and nowhere else. */
  readonly sessionToken: string;
  readonly csrfToken: string;
  readonly expiresAt: number;
  /** The `Set-Cookie` value for this session. */
  readonly cookie: string;
}

interface UserRow {
  username: string;
  password_hash: string;
  roles: string;
  offices: string;
  person_id: string | null;
  created_at: number;
  disabled_at: number | null;
}

interface TokenRow {
  id: number;
  username: string;
  name: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

function splitList(s: string): string[] {
  return s === '' ? [] : s.split(',');
}

function toUser(row: UserRow): User {
  return {
    username: row.username,
    // A role this version does not know grants nothing.
    roles: splitList(row.roles).filter(isRole),
    offices: splitList(row.offices),
    personId: row.person_id,
    createdAt: row.created_at,
    disabledAt: row.disabled_at,
  };
}

function toToken(row: TokenRow): ApiToken {
  return {
    id: row.id,
    username: row.username,
    name: row.name,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}

// ───────────────────────── credentials ─────────────────────────

export const SESSION_COOKIE = 'bwc_session';
const SESSION_TOKEN = /^[A-Za-z0-9_-]{43}$/;
const BEARER = /^Bearer (bwc_[A-Za-z0-9_-]{43})$/;

function sha256Hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function equalSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieValue(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export interface AuthOptions {
  db: Db;
  /** Milliseconds since the epoch; injected so expiry is tested with a fake clock. */
  now?: () => number;
  metrics?: Metrics;
  log?: Logger;
  /** Absolute session lifetime (default 12 h). */
  sessionLifetimeMs?: number;
  /** A session unused this long ends (default 30 min). */
  idleTimeoutMs?: number;
  /** The API is reached over TLS: the cookie gets `Secure`. */
  behindTls?: boolean;
  /** Failed logins allowed per username and client address within the window (default 5 per 5 min). */
  maxLoginFailures?: number;
  loginFailureWindowMs?: number;
  /** Password hashes computed at once (default 2); more wait, up to `maxQueuedHashes` (default 64), then 503. */
  maxConcurrentHashes?: number;
  maxQueuedHashes?: number;
  /**
   * The scrypt cost of new password hashes (default SCRYPT_PARAMS: N=2^15, r=8, p=1); a stored hash
   * of another cost is hashed again at its next sign-in. The gateway always runs the default; a
   * lower cost is for tests that sign in many times.
   */
  passwordCost?: ScryptCost;
  /**
   * Where sign-ins and changes to users and tokens are recorded; `actor` stands for a change
   * made without a named person (a library call without `by`).
   */
  audit?: { log: AuditAppender; actor: string };
}

interface SessionSecrets {
  readonly tokenHash: string;
  readonly csrfToken: string;
}

export class Auth implements Authenticator {
  readonly #db: Db;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #lifetimeMs: number;
  readonly #idleMs: number;
  readonly #behindTls: boolean;
  readonly #limiter: FailureLimiter;
  readonly #gate: HashGate;
  readonly #cost: ScryptCost;
  readonly #dummyHash: string;
  readonly #logins: Counter;
  readonly #loginFailures: Counter;
  readonly #audit: { log: AuditAppender; actor: string } | null;
  /** The session behind each AuthUser object, kept off the object so it is never serialized or logged. */
  readonly #sessions = new WeakMap<AuthUser, SessionSecrets>();

  constructor(options: AuthOptions) {
    this.#db = options.db;
    this.#now = options.now ?? Date.now;
    this.#log = options.log ?? silentLogger;
    this.#lifetimeMs = options.sessionLifetimeMs ?? 12 * 3600_000;
    this.#idleMs = options.idleTimeoutMs ?? 30 * 60_000;
    this.#behindTls = options.behindTls ?? false;
    this.#audit = options.audit ?? null;
    this.#limiter = new FailureLimiter(options.maxLoginFailures ?? 5, options.loginFailureWindowMs ?? 5 * 60_000, 10_000, this.#now);
    this.#gate = new HashGate(options.maxConcurrentHashes ?? 2, options.maxQueuedHashes ?? 64);
    this.#cost = options.passwordCost ?? SCRYPT_PARAMS;
    const costProblem = scryptCostProblem(this.#cost);
    if (costProblem) throw new Error(`passwordCost: ${costProblem}`);
    this.#dummyHash = dummyHash(this.#cost);
    const metrics = options.metrics ?? new Metrics();
    this.#logins = metrics.counter({ name: 'bwc_auth_logins_total', help: 'Successful logins.' });
    this.#loginFailures = metrics.counter({
      name: 'bwc_auth_login_failures_total',
      help: 'Refused logins and password checks, by reason (invalid_credentials, rate_limited).',
      labelNames: ['reason'],
    });
    metrics.gauge({
      name: 'bwc_auth_sessions',
      help: 'Browser sessions neither expired nor idle.',
      collect: async (g) => {
        const now = this.#now();
        const row = await this.#db.get<{ n: number }>('SELECT COUNT(*) AS n FROM sessions WHERE expires_at > ? AND last_used_at > ?', [
          now,
          now - this.#idleMs,
        ]);
        g.set(Number(row?.n ?? 0));
      },
    });
  }

  // ── users ──

  /** Creates a user obeying the rules of user-rules.ts (UserRulesError names every rule broken); `by` is who did it. */
  async createUser(u: NewUser, by?: string): Promise<User> {
    const problems = newUserProblems({ username: u.username, password: u.password, roles: u.roles, offices: u.offices ?? [] });
    if (problems.length > 0) throw new UserRulesError(problems);
    const username = u.username;
    const { roles, offices } = normalizeAccess({ roles: u.roles, offices: u.offices ?? [] });
    const hash = await this.#gate.run(() => hashPassword(u.password, this.#cost));
    const now = this.#now();
    const created = await this.#db.tx(async (q) => {
      if (await q.get('SELECT 1 AS x FROM users WHERE username = ?', [username])) return false;
      await q.run('INSERT INTO users (username, password_hash, roles, offices, person_id, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
        username,
        hash,
        roles.join(','),
        offices.join(','),
        u.personId ?? null,
        now,
      ]);
      await this.#record(q, by, 'user.created', username, { username, roles, offices, personId: u.personId ?? null });
      return true;
    });
    if (!created) throw new HttpError(409, 'USER_EXISTS', `user ${username} already exists`);
    this.#log.info({ event: 'user_created', username, roles }, 'user created');
    return { username, roles, offices, personId: u.personId ?? null, createdAt: now, disabledAt: null };
  }

  async getUser(username: string): Promise<User | null> {
    const row = await this.#db.get<UserRow>('SELECT * FROM users WHERE username = ?', [username]);
    return row ? toUser(row) : null;
  }

  async listUsers(): Promise<User[]> {
    const rows = await this.#db.all<UserRow>('SELECT * FROM users ORDER BY username');
    return rows.map(toUser);
  }

  /**
   * Sets a new password and ends every session of the user (API tokens stay valid). `by` is who
   * set it; `generated` says the gateway chose it (recorded, the password never is).
   */
  async setPassword(username: string, password: string, by?: string, o: { generated?: boolean } = {}): Promise<void> {
    checkPasswordRules(username, password);
    const hash = await this.#gate.run(() => hashPassword(password, this.#cost));
    const changed = await this.#db.tx(async (q) => {
      const r = await q.run('UPDATE users SET password_hash = ? WHERE username = ?', [hash, username]);
      if (r.changes === 0) return false;
      await q.run('DELETE FROM sessions WHERE username = ?', [username]);
      await this.#record(q, by, by === username ? 'user.password_changed' : 'user.password_set', username, {
        username,
        generated: o.generated ?? false,
      });
      return true;
    });
    if (!changed) throw new HttpError(404, 'USER_NOT_FOUND', `no user ${username}`);
    this.#log.info({ event: 'password_set', username }, 'password set');
  }

  /** A user's own password change: the current password is checked (and limited) as a login is. */
  async changePassword(username: string, currentPassword: string, newPassword: string, ip: string): Promise<void> {
    await this.#checkPassword(username, currentPassword, ip, 'password_change');
    await this.setPassword(username, newPassword, username);
  }

  /**
   * Disables a user: logins, sessions and API tokens stop working. The last enabled admin cannot
   * be disabled, and nobody disables themself (`by`).
   */
  async disableUser(username: string, by?: string): Promise<void> {
    if (by === username) throw new HttpError(409, 'SELF_DISABLE', 'you cannot disable your own account; another admin can');
    const now = this.#now();
    await this.#db.tx(async (q) => {
      const row = await q.get<UserRow>('SELECT * FROM users WHERE username = ?', [username]);
      if (!row) throw new HttpError(404, 'USER_NOT_FOUND', `no user ${username}`);
      if (row.disabled_at !== null) return;
      if (toUser(row).roles.includes('admin')) {
        const admins = (await q.all<UserRow>('SELECT * FROM users WHERE disabled_at IS NULL')).filter((r) => toUser(r).roles.includes('admin'));
        if (admins.length <= 1) throw new HttpError(409, 'LAST_ADMIN', 'the last enabled admin cannot be disabled');
      }
      await q.run('UPDATE users SET disabled_at = ? WHERE username = ?', [now, username]);
      await q.run('DELETE FROM sessions WHERE username = ?', [username]);
      await this.#record(q, by, 'user.disabled', username, { username });
    });
    this.#log.info({ event: 'user_disabled', username }, 'user disabled');
  }

  async enableUser(username: string, by?: string): Promise<void> {
    const found = await this.#db.tx(async (q) => {
      const row = await q.get<UserRow>('SELECT * FROM users WHERE username = ?', [username]);
      if (!row) return false;
      if (row.disabled_at === null) return true;
      await q.run('UPDATE users SET disabled_at = NULL WHERE username = ?', [username]);
      await this.#record(q, by, 'user.enabled', username, { username });
      return true;
    });
    if (!found) throw new HttpError(404, 'USER_NOT_FOUND', `no user ${username}`);
    this.#log.info({ event: 'user_enabled', username }, 'user enabled');
  }

  /**
   * Replaces a user's roles and offices (rules of user-rules.ts). Nobody removes their own admin
   * role (`by`), and the last enabled admin keeps it. The user's sessions and tokens act with the
   * new roles from their next request.
   */
  async setAccess(username: string, access: { roles: readonly string[]; offices: readonly string[] }, by?: string): Promise<User> {
    const problems = accessProblems(access);
    if (problems.length > 0) throw new UserRulesError(problems);
    const next = normalizeAccess(access);
    const updated = await this.#db.tx(async (q) => {
      const row = await q.get<UserRow>('SELECT * FROM users WHERE username = ?', [username]);
      if (!row) throw new HttpError(404, 'USER_NOT_FOUND', `no user ${username}`);
      const before = toUser(row);
      if (before.roles.includes('admin') && !next.roles.includes('admin')) {
        if (by === username) throw new HttpError(409, 'SELF_ADMIN', 'you cannot remove your own admin role; another admin can');
        const admins = (await q.all<UserRow>('SELECT * FROM users WHERE disabled_at IS NULL')).filter((r) => toUser(r).roles.includes('admin'));
        if (row.disabled_at === null && admins.length <= 1) throw new HttpError(409, 'LAST_ADMIN', 'the last enabled admin keeps the admin role');
      }
      await q.run('UPDATE users SET roles = ?, offices = ? WHERE username = ?', [next.roles.join(','), next.offices.join(','), username]);
      await this.#record(q, by, 'user.access_changed', username, {
        username,
        roles: { from: [...before.roles], to: next.roles },
        offices: { from: [...before.offices], to: next.offices },
      });
      return { ...before, roles: next.roles, offices: next.offices };
    });
    this.#log.info({ event: 'user_access_changed', username, roles: updated.roles }, 'roles and offices changed');
    return updated;
  }

  // ── sessions ──

  /**
   * Checks the password and opens a session. Every refusal is the same 401 (unknown user, wrong
   * password, disabled user), except too many recent failures for this username and address: 429.
   */
  async login(usernameInput: string, password: string, ip: string): Promise<LoginResult> {
    const row = await this.#checkPassword(usernameInput, password, ip, 'sign_in');
    const now = this.#now();
    const sessionToken = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    const expiresAt = now + this.#lifetimeMs;
    await this.#db.tx(async (q) => {
      await this.#pruneSessions(q, now);
      await q.run('INSERT INTO sessions (token_hash, username, csrf_token, created_at, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)', [
        sha256Hex(sessionToken),
        row.username,
        csrfToken,
        now,
        expiresAt,
        now,
      ]);
      await this.#record(q, row.username, 'auth.sign_in', row.username, { username: row.username, ip });
    });
    this.#logins.inc();
    this.#log.info({ event: 'login', username: row.username, ip }, 'login');
    return { user: toUser(row), sessionToken, csrfToken, expiresAt, cookie: this.sessionCookie(sessionToken) };
  }

  /** Ends the session a cookie-authenticated user came with; false for a user authenticated by token. */
  async logout(user: AuthUser, ip?: string): Promise<boolean> {
    const s = this.#sessions.get(user);
    if (!s) return false;
    await this.#db.tx(async (q) => {
      const r = await q.run('DELETE FROM sessions WHERE token_hash = ?', [s.tokenHash]);
      if (r.changes > 0) await this.#record(q, user.username, 'auth.sign_out', user.username, { username: user.username, ip: ip ?? null });
    });
    this.#log.info({ event: 'logout', username: user.username }, 'logout');
    return true;
  }

  /** `Set-Cookie` for a session token. */
  sessionCookie(sessionToken: string): string {
    return `${SESSION_COOKIE}=${sessionToken}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.floor(this.#lifetimeMs / 1000)}${this.#behindTls ? '; Secure' : ''}`;
  }

  /** `Set-Cookie` that removes the session cookie. */
  clearSessionCookie(): string {
    return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${this.#behindTls ? '; Secure' : ''}`;
  }

  /** The CSRF token of a cookie-authenticated user's session (for a page reload); null for tokens. */
  csrfTokenFor(user: AuthUser): string | null {
    return this.#sessions.get(user)?.csrfToken ?? null;
  }

  checkCsrf(user: AuthUser, header: string | undefined): boolean {
    const s = this.#sessions.get(user);
    return s !== undefined && header !== undefined && equalSecret(header, s.csrfToken);
  }

  hasAnyRole(user: AuthUser, roles: readonly Role[]): boolean {
    return hasAnyRole(user, roles);
  }

  /**
   * The caller: by `Authorization: Bearer bwc_…` if that header is present (and then only by it),
   * otherwise by the session cookie. Null if neither proves a current, enabled user.
   *
   * `touch: false` checks without counting as activity: a live stream re-checks its session at
   * every keep-alive (15 s, live.ts), and an open dashboard must still idle out like any other
   * session.
   */
  async authenticate(req: IncomingMessage, options: { touch?: boolean } = {}): Promise<AuthUser | null> {
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      const m = BEARER.exec(authorization);
      return m ? this.#byToken(m[1]!) : null;
    }
    const cookie = cookieValue(req, SESSION_COOKIE);
    return cookie !== undefined && SESSION_TOKEN.test(cookie) ? this.#bySession(cookie, options.touch ?? true) : null;
  }

  /** Deletes sessions past their lifetime or idle timeout. */
  async pruneSessions(): Promise<number> {
    return this.#pruneSessions(this.#db, this.#now());
  }

  // ── API tokens ──

  /** A new token for `username`; the token text is returned here once and never again. */
  async createApiToken(username: string, name: string, expiresInDays?: number, by?: string): Promise<{ token: string; info: ApiToken }> {
    const trimmed = name.trim();
    if (trimmed.length === 0 || trimmed.length > 100) throw new HttpError(400, 'INVALID_TOKEN_NAME', 'a token name has 1 to 100 characters');
    if (expiresInDays !== undefined && !(Number.isInteger(expiresInDays) && expiresInDays >= 1 && expiresInDays <= 3650)) {
      throw new HttpError(400, 'INVALID_EXPIRY', 'expiresInDays is a whole number from 1 to 3650');
    }
    const token = `bwc_${randomBytes(32).toString('base64url')}`;
    const now = this.#now();
    const expiresAt = expiresInDays === undefined ? null : now + expiresInDays * 86_400_000;
    const row = await this.#db.tx(async (q) => {
      const user = await q.get<UserRow>('SELECT * FROM users WHERE username = ? AND disabled_at IS NULL', [username]);
      if (!user) throw new HttpError(404, 'USER_NOT_FOUND', `no enabled user ${username}`);
      await q.run('INSERT INTO api_tokens (token_hash, username, name, created_at, expires_at) VALUES (?, ?, ?, ?, ?)', [
        sha256Hex(token),
        username,
        trimmed,
        now,
        expiresAt,
      ]);
      const created = await q.get<TokenRow>('SELECT id, username, name, created_at, expires_at, revoked_at FROM api_tokens WHERE token_hash = ?', [
        sha256Hex(token),
      ]);
      await this.#record(q, by, 'token.created', username, { username, tokenId: Number(created!.id), name: trimmed, expiresAt });
      return created;
    });
    const info = toToken(row!);
    this.#log.info({ event: 'token_created', username, tokenId: info.id, name: trimmed }, 'API token created');
    return { token, info };
  }

  async getApiToken(id: number): Promise<ApiToken | null> {
    const row = await this.#db.get<TokenRow>('SELECT id, username, name, created_at, expires_at, revoked_at FROM api_tokens WHERE id = ?', [id]);
    return row ? toToken(row) : null;
  }

  async listApiTokens(username: string): Promise<ApiToken[]> {
    const rows = await this.#db.all<TokenRow>('SELECT id, username, name, created_at, expires_at, revoked_at FROM api_tokens WHERE username = ? ORDER BY id', [
      username,
    ]);
    return rows.map(toToken);
  }

  /** Every user's tokens, newest first (for an admin). */
  async listAllApiTokens(): Promise<ApiToken[]> {
    const rows = await this.#db.all<TokenRow>('SELECT id, username, name, created_at, expires_at, revoked_at FROM api_tokens ORDER BY id DESC');
    return rows.map(toToken);
  }

  /** Revokes a token; false if there is no such token or it was already revoked. `by` is who revoked it. */
  async revokeApiToken(id: number, by?: string): Promise<boolean> {
    const changed = await this.#db.tx(async (q) => {
      const row = await q.get<TokenRow>('SELECT id, username, name, created_at, expires_at, revoked_at FROM api_tokens WHERE id = ?', [id]);
      if (!row || row.revoked_at !== null) return false;
      await q.run('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [this.#now(), id]);
      await this.#record(q, by, 'token.revoked', row.username, { username: row.username, tokenId: Number(row.id), name: row.name });
      return true;
    });
    if (changed) this.#log.info({ event: 'token_revoked', tokenId: id }, 'API token revoked');
    return changed;
  }

  // ── internals ──

  /**
   * The user row if the password is right; otherwise counts the failure, records it in the audit
   * log (with the lockout it starts) and throws 401, or 429 while locked out.
   */
  async #checkPassword(usernameInput: string, password: string, ip: string, via: 'sign_in' | 'password_change'): Promise<UserRow> {
    const username = usernameInput.toLowerCase();
    const key = `${username}\n${ip}`;
    const attempted = attemptedUsername(usernameInput);
    const wait = this.#limiter.retryAfter(key);
    if (wait > 0) {
      this.#loginFailures.inc({ reason: 'rate_limited' });
      this.#log.warn({ event: 'login_rate_limited', ip }, 'too many failed logins');
      const retryAfterSeconds = Math.ceil(wait / 1000);
      await this.#recordAttempt('auth.locked_out', attempted, { username: attempted, ip, via, refused: true, retryAfterSeconds });
      throw new HttpError(429, 'TOO_MANY_ATTEMPTS', 'too many failed attempts; try again later', {
        'retry-after': String(retryAfterSeconds),
      });
    }
    const row = USERNAME_PATTERN.test(username) ? await this.#db.get<UserRow>('SELECT * FROM users WHERE username = ?', [username]) : undefined;
    // An unknown user costs the same scrypt as a known one.
    const ok = await this.#gate.run(() => verifyPassword(password, row?.password_hash ?? this.#dummyHash));
    if (!row || !ok || row.disabled_at !== null) {
      this.#limiter.fail(key);
      this.#loginFailures.inc({ reason: 'invalid_credentials' });
      const reason: SignInFailure = !row ? 'unknown_user' : row.disabled_at !== null ? 'disabled' : 'bad_password';
      const name = row ? row.username : attempted;
      await this.#recordAttempt('auth.sign_in_failed', name, { username: name, ip, via, reason });
      // This failure may be the one that starts a lockout.
      const lockedFor = this.#limiter.retryAfter(key);
      if (lockedFor > 0) {
        await this.#recordAttempt('auth.locked_out', name, {
          username: name,
          ip,
          via,
          refused: false,
          failures: this.#limiter.max,
          retryAfterSeconds: Math.ceil(lockedFor / 1000),
        });
      }
      // The username is logged only when it names a user: a password typed into the username field stays out of the log.
      this.#log.warn({ event: 'login_failed', ip, ...(row ? { username: row.username } : {}) }, 'login failed');
      throw new HttpError(401, 'INVALID_CREDENTIALS', 'wrong username or password');
    }
    this.#limiter.clear(key);
    if (!isCurrentHashFormat(row.password_hash, this.#cost)) {
      const hash = await this.#gate.run(() => hashPassword(password, this.#cost));
      await this.#db.run('UPDATE users SET password_hash = ? WHERE username = ?', [hash, row.username]);
    }
    return row;
  }

  /** An audit entry about a user (`user:<username>`), made by `by` (or the configured actor). */
  async #record(q: Queryable, by: string | undefined, action: string, username: string, detail: Record<string, unknown>): Promise<void> {
    if (!this.#audit) return;
    await this.#audit.log.append(q, {
      actor: by !== undefined ? actorOf.user(by) : this.#audit.actor,
      action,
      subject: actorOf.user(username),
      detail,
    });
  }

  /** A refused attempt: its actor is nobody proven (`anonymous`), its subject the username tried. */
  async #recordAttempt(action: string, username: string, detail: Record<string, unknown>): Promise<void> {
    if (!this.#audit) return;
    await this.#audit.log.append(this.#db, { actor: 'anonymous', action, subject: actorOf.user(username), detail });
  }

  async #bySession(token: string, touch: boolean): Promise<AuthUser | null> {
    const tokenHash = sha256Hex(token);
    const row = await this.#db.get<UserRow & { token_hash: string; csrf_token: string; expires_at: number; last_used_at: number }>(
      `SELECT s.token_hash, s.csrf_token, s.expires_at, s.last_used_at, u.*
         FROM sessions s JOIN users u ON u.username = s.username WHERE s.token_hash = ?`,
      [tokenHash],
    );
    if (!row || !equalSecret(row.token_hash, tokenHash)) return null;
    const now = this.#now();
    if (row.disabled_at !== null || now >= row.expires_at || now - row.last_used_at >= this.#idleMs) {
      await this.#db.run('DELETE FROM sessions WHERE token_hash = ?', [tokenHash]);
      return null;
    }
    // Touch at most once a minute (or a tenth of the idle timeout), not on every request.
    if (touch && now - row.last_used_at >= Math.min(60_000, this.#idleMs / 10)) {
      await this.#db.run('UPDATE sessions SET last_used_at = ? WHERE token_hash = ?', [now, tokenHash]);
    }
    const user: AuthUser = { ...publicFields(toUser(row)), via: 'session', tokenId: null };
    this.#sessions.set(user, { tokenHash, csrfToken: row.csrf_token });
    return user;
  }

  async #byToken(token: string): Promise<AuthUser | null> {
    const tokenHash = sha256Hex(token);
    const row = await this.#db.get<UserRow & { token_hash: string; id: number; expires_at: number | null; revoked_at: number | null }>(
      `SELECT t.id, t.token_hash, t.expires_at, t.revoked_at, u.username, u.password_hash, u.roles, u.offices, u.person_id, u.created_at, u.disabled_at
         FROM api_tokens t JOIN users u ON u.username = t.username WHERE t.token_hash = ?`,
      [tokenHash],
    );
    if (!row || !equalSecret(row.token_hash, tokenHash)) return null;
    if (row.revoked_at !== null || row.disabled_at !== null || (row.expires_at !== null && this.#now() >= row.expires_at)) return null;
    return { ...publicFields(toUser(row)), via: 'token', tokenId: row.id };
  }

  async #pruneSessions(q: Queryable, now: number): Promise<number> {
    const r = await q.run('DELETE FROM sessions WHERE expires_at <= ? OR last_used_at <= ?', [now, now - this.#idleMs]);
    return r.changes;
  }
}

function publicFields(u: User): Pick<AuthUser, 'username' | 'roles' | 'offices' | 'personId'> {
  return { username: u.username, roles: u.roles, offices: u.offices, personId: u.personId };
}
