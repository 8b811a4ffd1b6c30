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
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Db, Queryable } from '../store/db.js';
import { HttpError, silentLogger, type Authenticator, type Logger } from './http.js';
import { Metrics, type Counter } from './metrics.js';
import { ROLES, hasAnyRole, isRole, type Role } from './roles.js';
import { DUMMY_HASH, FailureLimiter, HashGate, checkPasswordRules, hashPassword, isCurrentHashFormat, verifyPassword } from './passwords.js';

// ───────────────────────── users ─────────────────────────

export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const OFFICE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface User {
  readonly username: string;
  readonly roles: readonly Role[];
  readonly offices: readonly string[];
  readonly personId: string | null;
  readonly createdAt: number;
  readonly disabledAt: number | null;
}

/** The caller of a request: a user, and how it proved who it is. */
export interface AuthUser {
  readonly username: string;
  readonly roles: readonly Role[];
  readonly offices: readonly string[];
  readonly personId: string | null;
  readonly via: 'session' | 'token';
  /** The API token's id when `via` is `token`. */
  readonly tokenId: number | null;
}

export interface NewUser {
  username: string;
  password: string;
  roles: readonly Role[];
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
  return { id: row.id, username: row.username, name: row.name, createdAt: row.created_at, expiresAt: row.expires_at, revokedAt: row.revoked_at };
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
  readonly #logins: Counter;
  readonly #loginFailures: Counter;
  /** The session behind each AuthUser object, kept off the object so it is never serialized or logged. */
  readonly #sessions = new WeakMap<AuthUser, SessionSecrets>();

  constructor(options: AuthOptions) {
    this.#db = options.db;
    this.#now = options.now ?? Date.now;
    this.#log = options.log ?? silentLogger;
    this.#lifetimeMs = options.sessionLifetimeMs ?? 12 * 3600_000;
    this.#idleMs = options.idleTimeoutMs ?? 30 * 60_000;
    this.#behindTls = options.behindTls ?? false;
    this.#limiter = new FailureLimiter(options.maxLoginFailures ?? 5, options.loginFailureWindowMs ?? 5 * 60_000, 10_000, this.#now);
    this.#gate = new HashGate(options.maxConcurrentHashes ?? 2, options.maxQueuedHashes ?? 64);
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
        const row = await this.#db.get<{ n: number }>('SELECT COUNT(*) AS n FROM sessions WHERE expires_at > ? AND last_used_at > ?', [now, now - this.#idleMs]);
        g.set(Number(row?.n ?? 0));
      },
    });
  }

  // ── users ──

  async createUser(u: NewUser): Promise<User> {
    const username = checkUsername(u.username);
    const roles = checkRoles(u.roles);
    const offices = checkOffices(u.offices ?? []);
    checkPasswordRules(username, u.password);
    const hash = await this.#gate.run(() => hashPassword(u.password));
    const now = this.#now();
    const created = await this.#db.tx(async (q) => {
      if (await q.get('SELECT 1 AS x FROM users WHERE username = ?', [username])) return false;
      await q.run('INSERT INTO users (username, password_hash, roles, offices, person_id, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
        username, hash, roles.join(','), offices.join(','), u.personId ?? null, now,
      ]);
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

  /** Sets a new password and ends every session of the user (API tokens stay valid). */
  async setPassword(username: string, password: string): Promise<void> {
    checkPasswordRules(username, password);
    const hash = await this.#gate.run(() => hashPassword(password));
    const changed = await this.#db.tx(async (q) => {
      const r = await q.run('UPDATE users SET password_hash = ? WHERE username = ?', [hash, username]);
      if (r.changes === 0) return false;
      await q.run('DELETE FROM sessions WHERE username = ?', [username]);
      return true;
    });
    if (!changed) throw new HttpError(404, 'USER_NOT_FOUND', `no user ${username}`);
    this.#log.info({ event: 'password_set', username }, 'password set');
  }

  /** A user's own password change: the current password is checked (and limited) as a login is. */
  async changePassword(username: string, currentPassword: string, newPassword: string, ip: string): Promise<void> {
    await this.#checkPassword(username, currentPassword, ip);
    await this.setPassword(username, newPassword);
  }

  /** Disables a user: logins, sessions and API tokens stop working. The last enabled admin cannot be disabled. */
  async disableUser(username: string): Promise<void> {
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
    });
    this.#log.info({ event: 'user_disabled', username }, 'user disabled');
  }

  async enableUser(username: string): Promise<void> {
    const r = await this.#db.run('UPDATE users SET disabled_at = NULL WHERE username = ?', [username]);
    if (r.changes === 0) throw new HttpError(404, 'USER_NOT_FOUND', `no user ${username}`);
    this.#log.info({ event: 'user_enabled', username }, 'user enabled');
  }

  // ── sessions ──

  /**
   * Checks the password and opens a session. Every refusal is the same 401 (unknown user, wrong
   * password, disabled user), except too many recent failures for this username and address: 429.
   */
  async login(usernameInput: string, password: string, ip: string): Promise<LoginResult> {
    const row = await this.#checkPassword(usernameInput, password, ip);
    const now = this.#now();
    const sessionToken = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    const expiresAt = now + this.#lifetimeMs;
    await this.#db.tx(async (q) => {
      await this.#pruneSessions(q, now);
      await q.run('INSERT INTO sessions (token_hash, username, csrf_token, created_at, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)', [
        sha256Hex(sessionToken), row.username, csrfToken, now, expiresAt, now,
      ]);
    });
    this.#logins.inc();
    this.#log.info({ event: 'login', username: row.username, ip }, 'login');
    return { user: toUser(row), sessionToken, csrfToken, expiresAt, cookie: this.sessionCookie(sessionToken) };
  }

  /** Ends the session a cookie-authenticated user came with; false for a user authenticated by token. */
  async logout(user: AuthUser): Promise<boolean> {
    const s = this.#sessions.get(user);
    if (!s) return false;
    await this.#db.run('DELETE FROM sessions WHERE token_hash = ?', [s.tokenHash]);
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
   */
  /**
   * `touch: false` checks without counting as activity: a live stream re-checks its session every
   * few seconds, and an open dashboard must still idle out like any other session.
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
  async createApiToken(username: string, name: string, expiresInDays?: number): Promise<{ token: string; info: ApiToken }> {
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
      await q.run('INSERT INTO api_tokens (token_hash, username, name, created_at, expires_at) VALUES (?, ?, ?, ?, ?)', [sha256Hex(token), username, trimmed, now, expiresAt]);
      return q.get<TokenRow>('SELECT id, username, name, created_at, expires_at, revoked_at FROM api_tokens WHERE token_hash = ?', [sha256Hex(token)]);
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
    const rows = await this.#db.all<TokenRow>('SELECT id, username, name, created_at, expires_at, revoked_at FROM api_tokens WHERE username = ? ORDER BY id', [username]);
    return rows.map(toToken);
  }

  /** Revokes a token; false if there is no such token or it was already revoked. */
  async revokeApiToken(id: number): Promise<boolean> {
    const r = await this.#db.run('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [this.#now(), id]);
    if (r.changes > 0) this.#log.info({ event: 'token_revoked', tokenId: id }, 'API token revoked');
    return r.changes > 0;
  }

  // ── internals ──

  /** The user row if the password is right; otherwise counts the failure and throws 401 (or 429). */
  async #checkPassword(usernameInput: string, password: string, ip: string): Promise<UserRow> {
    const username = usernameInput.toLowerCase();
    const key = `${username}\n${ip}`;
    const wait = this.#limiter.retryAfter(key);
    if (wait > 0) {
      this.#loginFailures.inc({ reason: 'rate_limited' });
      this.#log.warn({ event: 'login_rate_limited', ip }, 'too many failed logins');
      throw new HttpError(429, 'TOO_MANY_ATTEMPTS', 'too many failed attempts; try again later', { 'retry-after': String(Math.ceil(wait / 1000)) });
    }
    const row = USERNAME_PATTERN.test(username) ? await this.#db.get<UserRow>('SELECT * FROM users WHERE username = ?', [username]) : undefined;
    // An unknown user costs the same scrypt as a known one.
    const ok = await this.#gate.run(() => verifyPassword(password, row?.password_hash ?? DUMMY_HASH));
    if (!row || !ok || row.disabled_at !== null) {
      this.#limiter.fail(key);
      this.#loginFailures.inc({ reason: 'invalid_credentials' });
      // The username is logged only when it names a user: a password typed into the username field stays out of the log.
      this.#log.warn({ event: 'login_failed', ip, ...(row ? { username: row.username } : {}) }, 'login failed');
      throw new HttpError(401, 'INVALID_CREDENTIALS', 'wrong username or password');
    }
    this.#limiter.clear(key);
    if (!isCurrentHashFormat(row.password_hash)) {
      const hash = await this.#gate.run(() => hashPassword(password));
      await this.#db.run('UPDATE users SET password_hash = ? WHERE username = ?', [hash, row.username]);
    }
    return row;
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

function checkUsername(username: string): string {
  if (!USERNAME_PATTERN.test(username)) {
    throw new HttpError(400, 'INVALID_USERNAME', 'a username is 1 to 64 of a-z, 0-9, ".", "_" and "-", starting with a letter or digit');
  }
  return username;
}

function checkRoles(roles: readonly string[]): Role[] {
  if (roles.length === 0) throw new HttpError(400, 'INVALID_ROLES', 'a user has at least one role');
  for (const r of roles) if (!isRole(r)) throw new HttpError(400, 'INVALID_ROLES', `unknown role ${JSON.stringify(r)}; roles are ${ROLES.join(', ')}`);
  return [...new Set(roles as Role[])];
}

function checkOffices(offices: readonly string[]): string[] {
  for (const o of offices) if (!OFFICE_PATTERN.test(o)) throw new HttpError(400, 'INVALID_OFFICE', `invalid office code ${JSON.stringify(o)}`);
  return [...new Set(offices)];
}
