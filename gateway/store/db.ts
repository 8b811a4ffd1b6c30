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

export interface Db extends Queryable {
  /**
   * Runs `fn` in one transaction, committed when it resolves and rolled back when it throws.
   * Transactions are serialized on SQLite and run on a dedicated connection on PostgreSQL; a
   * serialization failure or deadlock on PostgreSQL is retried (up to 5 times) by re-running `fn`,
   * so `fn` must have no effects outside the database.
   */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** For logs: `sqlite:/path/to/gateway.db` or `postgres://host:port/db` (never the password). */
  readonly description: string;
}

export class DbError extends Error {
  override name = 'DbError';
}
