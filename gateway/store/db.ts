/**
 * The gateway's database, one interface over two engines: SQLite (better-sqlite3, one gateway, a
 * file in the data dir) and PostgreSQL (node-postgres, any number of gateway replicas).
 *
 * SQL is written once, in the common subset of both dialects, with `?` placeholders (the
 * PostgreSQL driver numbers them `$1…`; a literal `?` inside SQL text is therefore not allowed).
 * Values cross the interface in one representation on both engines:
 * - integers are JS numbers (PostgreSQL BIGINT is parsed, and refused beyond ±(2^53−1));
 * - booleans are stored as INTEGER 0/1;
 * - byte strings are Buffers (BLOB / BYTEA);
 * - times are integer milliseconds since the Unix epoch (UTC), observed by the gateway.
 */

export type SqlValue = string | number | Buffer | Uint8Array | null;
export type Row = Record<string, unknown>;

export interface Queryable {
  readonly dialect: 'sqlite' | 'postgres';
  /** All rows of a SELECT (or of a statement with RETURNING). */
  all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** The first row, or undefined. */
  get<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** A statement without rows; `changes` is the number of rows written. */
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }>;
}

/** The statements of a Queryable, run at once: what an engine whose driver is synchronous offers. */
export interface SyncQueryable {
  readonly dialect: 'sqlite' | 'postgres';
  all<T = Row>(sql: string, params?: readonly SqlValue[]): T[];
  get<T = Row>(sql: string, params?: readonly SqlValue[]): T | undefined;
  run(sql: string, params?: readonly SqlValue[]): { changes: number };
}

/** One statement as a value: what a unit of work written as `Steps` yields. */
export interface Step {
  readonly op: 'all' | 'get' | 'run';
  readonly sql: string;
  readonly params: readonly SqlValue[] | undefined;
}

/**
 * Database work written once for both engines, as a generator of statements: each `yield` hands
 * the engine one statement and receives its result (use `all`, `get` and `run` below with
 * `yield*`, which type the result). An error of a statement is thrown at its `yield`.
 * `runSteps` runs such work on any Queryable, awaiting each statement; `runStepsNow` runs it on a
 * SyncQueryable with no await at all (SQLite's statements are synchronous underneath, so the
 * promises, and the event-loop turns between the statements of one unit, are pure cost there).
 * The generator must do nothing but compute and yield statements.
 */
export type Steps<T> = Generator<Step, T, unknown>;

export function* all<T = Row>(sql: string, params?: readonly SqlValue[]): Generator<Step, T[], unknown> {
  return (yield { op: 'all', sql, params }) as T[];
}

export function* get<T = Row>(sql: string, params?: readonly SqlValue[]): Generator<Step, T | undefined, unknown> {
  return (yield { op: 'get', sql, params }) as T | undefined;
}

export function* run(sql: string, params?: readonly SqlValue[]): Generator<Step, { changes: number }, unknown> {
  return (yield { op: 'run', sql, params }) as { changes: number };
}

/** Runs `steps` on `q`, one awaited statement at a time (any engine). */
export async function runSteps<T>(q: Queryable, steps: Steps<T>): Promise<T> {
  let next = steps.next();
  while (!next.done) {
    const s = next.value;
    let result: unknown;
    try {
      result = await (s.op === 'all' ? q.all(s.sql, s.params) : s.op === 'get' ? q.get(s.sql, s.params) : q.run(s.sql, s.params));
    } catch (e) {
      next = steps.throw(e);
      continue;
    }
    next = steps.next(result);
  }
  return next.value;
}

/** Runs `steps` on `q` without an await: every statement in this turn of the event loop. */
export function runStepsNow<T>(q: SyncQueryable, steps: Steps<T>): T {
  let next = steps.next();
  while (!next.done) {
    const s = next.value;
    let result: unknown;
    try {
      result = s.op === 'all' ? q.all(s.sql, s.params) : s.op === 'get' ? q.get(s.sql, s.params) : q.run(s.sql, s.params);
    } catch (e) {
      next = steps.throw(e);
      continue;
    }
    next = steps.next(result);
  }
  return next.value;
}

export interface Db extends Queryable {
  /**
   * Runs `fn` in one transaction, committed when it resolves and rolled back when it throws.
   * Transactions are serialized on SQLite and run on a dedicated connection on PostgreSQL; a
   * serialization failure or deadlock on PostgreSQL is retried (up to 5 times) by re-running `fn`,
   * so `fn` must have no effects outside the database.
   */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /**
   * An engine capability, present where statements run synchronously (SQLite): one transaction
   * whose `fn` runs all its statements without an await, committed when it returns and rolled back
   * when it throws; the promise resolves once the commit is durable, as for `tx`. Work written as
   * `Steps` runs on either: through `txNow` and `runStepsNow` where it exists, else through `tx`
   * and `runSteps`. `fn` must not be async (refused).
   */
  txNow?<T>(fn: (q: SyncQueryable) => T): Promise<T>;
  close(): Promise<void>;
  /** For logs: `sqlite:/path/to/gateway.db` or `postgres://host:port/db` (never the password). */
  readonly description: string;
}

export class DbError extends Error {
  override name = 'DbError';
}
