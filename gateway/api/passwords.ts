/**
 * Password hashing and the guards around it: scrypt (N=2^15, r=8, p=1, 16-byte random salt),
 * stored as `scrypt$N$r$p$<salt base64>$<hash base64>` and compared in constant time; a dummy hash
 * for unknown users so a login takes as long either way; a bound on hashes running at once; and a
 * sliding-window limit on failed attempts.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { HttpError } from './basics.js';
import { passwordProblems } from './user-rules.js';

export { MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH } from './user-rules.js';
/** The cost of a scrypt hash: N (CPU and memory, a power of two), r (block size), p (parallelism). */
export interface ScryptCost {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}
/** The cost of every hash the gateway stores. */
export const SCRYPT_PARAMS = { N: 2 ** 15, r: 8, p: 1 } as const satisfies ScryptCost;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

/** Why a hash of this cost could not be checked (verifyPassword's bounds), or null if it can. */
export function scryptCostProblem(c: ScryptCost): string | null {
  const { N, r, p } = c;
  if (!Number.isInteger(N) || N < 2 || (N & (N - 1)) !== 0) return `scrypt N must be a power of two of at least 2, got ${N}`;
  if (!Number.isInteger(r) || r < 1 || r > 32) return `scrypt r must be an integer from 1 to 32, got ${r}`;
  if (!Number.isInteger(p) || p < 1 || p > 16) return `scrypt p must be an integer from 1 to 16, got ${p}`;
  if (128 * N * r > 256 * 1024 * 1024) return `scrypt N=${N}, r=${r} needs more than 256 MiB`;
  return null;
}

function scrypt(password: string, salt: Buffer, keylen: number, o: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password, salt, keylen, o, (err, key) => (err ? reject(err) : resolve(key))));
}

/** scrypt needs 128·N·r bytes of working memory (Node's default cap of 32 MiB is too small for N=2^15, r=8). */
function scryptOptions(N: number, r: number, p: number): ScryptOptions {
  return { N, r, p, maxmem: 128 * r * (N + p + 2) + 1024 * 1024 };
}

/** `scrypt$N$r$p$salt$hash` with a fresh random salt, at SCRYPT_PARAMS unless `cost` says otherwise. */
export async function hashPassword(password: string, cost: ScryptCost = SCRYPT_PARAMS): Promise<string> {
  const problem = scryptCostProblem(cost);
  if (problem) throw new Error(problem);
  const { N, r, p } = cost;
  const salt = randomBytes(SALT_BYTES);
  const key = await scrypt(password, salt, KEY_BYTES, scryptOptions(N, r, p));
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Whether `password` matches an encoded hash; false for anything malformed or out of bounds. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(encoded);
  if (!m) return false;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Bounds keep a tampered row from costing unbounded memory or time.
  if (scryptCostProblem({ N, r, p })) return false;
  const salt = Buffer.from(m[4]!, 'base64');
  const expected = Buffer.from(m[5]!, 'base64');
  if (salt.length < 8 || expected.length < 16 || expected.length > 64) return false;
  const actual = await scrypt(password, salt, expected.length, scryptOptions(N, r, p));
  return timingSafeEqual(actual, expected);
}

/**
 * What an unknown user's login is verified against: the cost new hashes get, a random salt and a
 * random "hash" that no password produces. It costs one scrypt, as a real user's check does.
 */
export function dummyHash(cost: ScryptCost = SCRYPT_PARAMS): string {
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${randomBytes(SALT_BYTES).toString('base64')}$${randomBytes(KEY_BYTES).toString('base64')}`;
}
export const DUMMY_HASH = dummyHash();

/** Whether a stored hash has the cost new hashes get (one of another cost is hashed again at sign-in). */
export function isCurrentHashFormat(encoded: string, cost: ScryptCost = SCRYPT_PARAMS): boolean {
  const { N, r, p } = cost;
  return encoded.startsWith(`scrypt$${N}$${r}$${p}$`);
}

/** Refuses, naming the rule (user-rules.ts), a password that is too short, too long or equal to the username. */
export function checkPasswordRules(username: string, password: string): void {
  const problem = passwordProblems(username, password)[0];
  if (problem) throw new HttpError(400, 'WEAK_PASSWORD', problem.message);
}

/** A password that obeys the rules, for an admin's reset: 24 characters from 18 random bytes. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

/** Failed attempts per key in a sliding window, in memory, bounded in keys. */
export class FailureLimiter {
  readonly #failures = new Map<string, number[]>();

  constructor(
    readonly max: number,
    readonly windowMs: number,
    readonly maxKeys: number,
    readonly now: () => number,
  ) {}

  /** Milliseconds until the next attempt is allowed; 0 if allowed now. */
  retryAfter(key: string): number {
    const recent = this.#recent(key);
    return recent.length >= this.max ? recent[recent.length - this.max]! + this.windowMs - this.now() : 0;
  }

  fail(key: string): void {
    const recent = this.#recent(key);
    recent.push(this.now());
    this.#failures.delete(key);
    if (this.#failures.size >= this.maxKeys) this.#prune();
    this.#failures.set(key, recent.slice(-this.max));
  }

  clear(key: string): void {
    this.#failures.delete(key);
  }

  #recent(key: string): number[] {
    const since = this.now() - this.windowMs;
    return (this.#failures.get(key) ?? []).filter((t) => t > since);
  }

  #prune(): void {
    const since = this.now() - this.windowMs;
    for (const [k, times] of this.#failures) if (!times.some((t) => t > since)) this.#failures.delete(k);
    // Still full: forget the least recently failed keys.
    for (const k of this.#failures.keys()) {
      if (this.#failures.size < this.maxKeys) break;
      this.#failures.delete(k);
    }
  }
}

/** At most `limit` password hashes at once (each holds 32 MiB and a libuv thread), and a bounded queue. */
export class HashGate {
  #active = 0;
  readonly #queue: (() => void)[] = [];

  constructor(
    readonly limit: number,
    readonly maxQueued: number,
  ) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#active < this.limit) this.#active++;
    else {
      if (this.#queue.length >= this.maxQueued) throw new HttpError(503, 'BUSY', 'too many sign-ins at once; try again shortly', { 'retry-after': '1' });
      await new Promise<void>((resolve) => this.#queue.push(resolve));
    }
    try {
      return await fn();
    } finally {
      const next = this.#queue.shift();
      if (next) next();
      else this.#active--;
    }
  }
}
