/**
 * The gateway database on PostgreSQL (node-postgres): a connection pool shared by any number of
 * gateway replicas' worth of load.
 *
 * - `?` placeholders are numbered `$1…` by position; every `?` counts, so a literal `?` (in a
 *   string, or an operator such as jsonb `?|`) is not allowed, and a placeholder count that does
 *   not match the parameters is refused before the query is sent.
 * - BIGINT (int8, which node-postgres returns as a string) is parsed into a number and refused
 *   beyond ±(2^53−1). The parser is set on this pool's own type table, not pg's global one.
 * - BYTEA comes back as a Buffer (pg's default).
 * - A transaction runs on one client of the pool at SERIALIZABLE, so code that is correct on
 *   SQLite (where transactions run one at a time) stays correct here; a serialization failure
 *   (40001) or deadlock (40P01) re-runs the whole fn after a short backoff, up to 5 times.
 * - Optimistic retries alone can starve on a row that every writer updates (the audit head): a
 *   transaction that works longer than the gap between other writers' commits loses every time.
 *   So a re-run first takes `lockOnRetry`'s tables in EXCLUSIVE mode, before any statement takes
 *   its snapshot (LOCK TABLE takes none): nobody can update them between its snapshot and its
 *   commit, and it loses to them at most once. Plain reads are not blocked by that lock.
 */
import pg from 'pg';
import { DbError, type Db, type Queryable, type Row, type SqlValue } from './db.js';
import { execScript, type ScriptRunner } from './migrate.js';

export interface PostgresOptions {
  /** Pool size (default 10). */
  max?: number;
  /**
   * Errors of idle pooled connections (the server restarted, the network dropped). The pool has
   * already discarded the connection and the next query opens a new one; pass a logger to see them.
   */
  onError?: (err: Error) => void;
  /**
   * Tables that (nearly) every writing transaction updates, such as the audit head. A transaction
   * re-run after a serialization failure or deadlock locks them first (see above).
   */
  lockOnRetry?: readonly string[];
}

const DEFAULT_POOL_SIZE = 10;
const CONNECT_TIMEOUT_MS = 30_000;
const MAX_RETRIES = 5;
const RETRY_SQLSTATES = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected
const INT8_OID = 20;

export async function openPostgres(url: string, options: PostgresOptions = {}): Promise<Db> {
  const description = describePostgresUrl(url);
  for (const t of options.lockOnRetry ?? [])
    if (!/^[a-z_][a-z0-9_]*$/.test(t)) throw new DbError(`lockOnRetry: ${JSON.stringify(t)} is not a plain table name`);
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? DEFAULT_POOL_SIZE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: 'bwc-gateway',
    types: gatewayTypes(description),
  });
  pool.on('error', (err) => options.onError?.(err));
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    // The connection error is the one to report; ending a pool that never connected cannot add to it.
    await pool.end().catch(() => undefined);
    throw new DbError(`cannot connect to ${description}: ${(err as Error).message}`, { cause: err });
  }
  return new PostgresDb(pool, description, options.lockOnRetry ?? []);
}

/** `postgres://host:port/db`, for logs and errors: no user, password nor query parameters. */
export function describePostgresUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DbError('invalid PostgreSQL URL (expected postgres://user:password@host:port/database)');
  }
  const host = decodeURIComponent(u.hostname) || u.searchParams.get('host') || 'localhost';
  const port = u.port ? `:${u.port}` : '';
  return `postgres://${host}${port}${u.pathname || '/'}`;
}

/** `?` → `$1, $2…`, refusing a count that does not match the parameters. */
export function numberPlaceholders(sql: string, paramCount: number): string {
  let n = 0;
  const text = sql.replace(/\?/g, () => `$${++n}`);
  if (n !== paramCount) {
    throw new DbError(`SQL has ${n} ? placeholder(s) but ${paramCount} parameter(s) were given (a literal ? is not allowed): ${sql.slice(0, 120)}`);
  }
  return text;
}

function gatewayTypes(where: string): pg.CustomTypesConfig {
  const parseInt8 = (text: string): number => {
    const n = Number(text);
    if (!Number.isSafeInteger(n)) throw new DbError(`${where}: BIGINT value ${text} is beyond ±(2^53−1)`);
    return n;
  };
  const getTypeParser = (oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && (format ?? 'text') === 'text' ? parseInt8 : pg.types.getTypeParser(oid, format);
  return { getTypeParser: getTypeParser as pg.CustomTypesConfig['getTypeParser'] };
}

interface TxScope {
  open: boolean;
}

class PostgresDb implements Db {
  readonly dialect = 'postgres' as const;
  private closed = false;

  /** The LOCK TABLE statement for re-runs, once every table in it exists (before migration some do not). */
  private retryLock: string | null = null;

  constructor(
    private readonly pool: pg.Pool,
    readonly description: string,
    private readonly lockOnRetry: readonly string[] = [],
  ) {}

  async all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    this.usable();
    return (await query(this.pool, sql, params)).rows as T[];
  }

  async get<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    this.usable();
    return (await query(this.pool, sql, params)).rows[0] as T | undefined;
  }

  async run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }> {
    this.usable();
    return { changes: (await query(this.pool, sql, params)).rowCount ?? 0 };
  }

  async tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      this.usable();
      const outcome = await this.attempt(fn, attempt > 1 ? await this.lockForRetry() : null);
      if (outcome.ok) return outcome.value;
      const code = (outcome.error as { code?: unknown }).code;
      if (typeof code !== 'string' || !RETRY_SQLSTATES.has(code) || attempt > MAX_RETRIES) throw outcome.error;
      await sleep(backoffMs(attempt));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  /** One run of fn in BEGIN … COMMIT on a client of its own; the client goes back before any backoff. */
  private async attempt<T>(fn: (q: Queryable) => Promise<T>, lock: string | null): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
    const client = await this.pool.connect();
    const scope: TxScope = { open: true };
    let broken: Error | undefined;
    try {
      await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
      if (lock) await client.query(lock);
      const value = await fn(this.scoped(client, scope));
      scope.open = false;
      await client.query('COMMIT');
      return { ok: true, value };
    } catch (error) {
      scope.open = false;
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        broken = rollbackError as Error; // the connection is unusable: the pool discards it
      }
      return { ok: false, error };
    } finally {
      client.release(broken);
    }
  }

  private scoped(client: pg.PoolClient, scope: TxScope): Queryable & ScriptRunner {
    const live = () => {
      if (!scope.open) throw new DbError(`${this.description}: the transaction has ended; its Queryable can no longer be used`);
    };
    return {
      dialect: 'postgres',
      all: async <T>(sql: string, params?: readonly SqlValue[]) => {
        live();
        return (await query(client, sql, params)).rows as T[];
      },
      get: async <T>(sql: string, params?: readonly SqlValue[]) => {
        live();
        return (await query(client, sql, params)).rows[0] as T | undefined;
      },
      run: async (sql: string, params?: readonly SqlValue[]) => {
        live();
        return { changes: (await query(client, sql, params)).rowCount ?? 0 };
      },
      // Without parameters node-postgres uses the simple query protocol, which runs a whole script.
      [execScript]: async (sql: string) => {
        live();
        await client.query(sql);
      },
    };
  }

  private async lockForRetry(): Promise<string | null> {
    if (this.retryLock || this.lockOnRetry.length === 0) return this.retryLock;
    const found = await query(this.pool, `SELECT COUNT(to_regclass(t)) AS n FROM unnest(string_to_array(?, ',')) AS t`, [this.lockOnRetry.join(',')]);
    return found.rows[0]?.n === this.lockOnRetry.length ? (this.retryLock = `LOCK TABLE ${this.lockOnRetry.join(', ')} IN EXCLUSIVE MODE`) : null;
  }

  private usable(): void {
    if (this.closed) throw new DbError(`${this.description} is closed`);
  }
}

function query(on: pg.Pool | pg.PoolClient, sql: string, params: readonly SqlValue[] | undefined): Promise<pg.QueryResult> {
  const values = bindable(params);
  return on.query(numberPlaceholders(sql, values.length), values);
}

/** Parameters as sent: Buffers for bytes; integers beyond ±(2^53−1) refused, as on SQLite. */
function bindable(params: readonly SqlValue[] | undefined): unknown[] {
  if (!params) return [];
  return params.map((v, i) => {
    if (typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v)) {
      throw new DbError(`parameter ${i + 1} (${v}) is an integer beyond ±(2^53−1)`);
    }
    if (v instanceof Uint8Array && !Buffer.isBuffer(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    return v;
  });
}

function backoffMs(attempt: number): number {
  const base = 5 * 2 ** (attempt - 1);
  return base + Math.random() * base;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
