/**
 * The gateway database on SQLite (better-sqlite3): one gateway, one file. WAL, foreign keys on, a
 * busy timeout for other processes.
 *
 * Durability: a write's promise resolves only once the write would survive a power loss. With
 * synchronous=FULL SQLite would fsync inside COMMIT, and better-sqlite3 would block the event loop
 * for every commit (3–7 ms here). Instead the connection runs synchronous=NORMAL — in WAL mode
 * nothing is synced at commit, the database is never corrupted, and SQLite still syncs around
 * checkpoints — and after each committed write this module fsyncs the `-wal` file on libuv's
 * thread pool before resolving. One fsync that starts after a write covers it and every earlier
 * one, so concurrent writers share fsyncs; a file database opened here is exactly as durable as
 * synchronous=FULL, without stopping the thread. (`:memory:` databases are not synced.)
 *
 * better-sqlite3 is synchronous while `tx(fn)` takes an async fn, so between two awaits of `fn`
 * other code could run statements on the same connection — inside the open transaction. An async
 * mutex prevents that: a transaction holds it from BEGIN IMMEDIATE to COMMIT/ROLLBACK, and a
 * statement outside a transaction waits for it (FIFO, behind transactions already waiting).
 * Calling the Db itself from inside its own transaction would wait for itself; it is refused.
 * `txNow(fn)` (the engine capability of db.ts) runs a synchronous fn instead: no await between its
 * statements, and no AsyncLocalStorage needed to know that a call comes from inside it.
 *
 * Integers are read as BigInt and returned as numbers, refused beyond ±(2^53−1) (the same rule as
 * PostgreSQL BIGINT), rather than rounded silently.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { closeSync, fdatasync, fstatSync, open as fsOpen } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { DbError, type Db, type Queryable, type Row, type SqlValue, type SyncQueryable } from './db.js';
import { execScript, type ScriptRunner } from './migrate.js';
import { Checkpointer, WAL_AUTOCHECKPOINT_PAGES, WAL_SIZE_LIMIT } from './checkpointer.js';

const BUSY_TIMEOUT_MS = 5000;
const STATEMENT_CACHE_SIZE = 500;
type Statement = Database.Statement<unknown[], unknown>;

export interface SqliteOptions {
  /** How the `-wal` file is made durable; tests replace it to watch the ordering. */
  fsyncWal?: (walPath: string) => Promise<void>;
  /**
   * WAL checkpoints on a worker thread (Checkpointer; the default). `false` leaves them to SQLite,
   * inside the COMMIT that crosses 1,000 pages, as when the thread cannot run: for a connection
   * too short-lived or too lightly used to repay starting a thread (tests make hundreds).
   */
  checkpointThread?: boolean;
}

/**
 * fdatasync of the `-wal` file on libuv's pool, through a descriptor opened once and kept: opening
 * and closing the file for every sync cost two more trips to the pool and a FileHandle each. While
 * this connection is open SQLite never removes its WAL (only the last connection's close does), and
 * restarting or cutting the WAL back keeps the same file; should the file have been unlinked even
 * so (nlink 0), it is opened again by name before the sync. A missing WAL has nothing to sync.
 */
class WalSyncer {
  #fd: number | null = null;
  #closed = false;

  constructor(private readonly path: string) {}

  async sync(): Promise<void> {
    if (this.#fd !== null && fstatSync(this.#fd).nlink === 0) this.#drop();
    if (this.#fd === null) {
      let fd: number;
      try {
        fd = await new Promise<number>((res, rej) => fsOpen(this.path, 'r', (e, f) => (e ? rej(e) : res(f))));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw e;
      }
      if (this.#closed || this.#fd !== null) {
        closeSync(fd); // closed meanwhile, or another sync opened it first
        if (this.#closed) return;
      } else {
        this.#fd = fd;
      }
    }
    const fd = this.#fd!;
    await new Promise<void>((res, rej) => fdatasync(fd, (e) => (e ? rej(e) : res())));
  }

  #drop(): void {
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }

  close(): void {
    this.#closed = true;
    this.#drop();
  }
}

export function openSqlite(path: string, options: SqliteOptions = {}): Db {
  const description = `sqlite:${path === ':memory:' ? path : resolve(path)}`;
  let sqlite: Database.Database;
  try {
    sqlite = new Database(path, { timeout: BUSY_TIMEOUT_MS });
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma(path === ':memory:' ? 'synchronous = FULL' : 'synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
    if (path !== ':memory:') {
      // Checkpoints run on a worker thread (Checkpointer), not inside a COMMIT on the event loop;
      // the writer's own only if that thread falls far behind.
      if (options.checkpointThread !== false) sqlite.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
      sqlite.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
    }
    sqlite.defaultSafeIntegers(true);
  } catch (err) {
    throw new DbError(`cannot open ${description}: ${(err as Error).message}`, { cause: err });
  }
  const wal = path === ':memory:' ? null : `${resolve(path)}-wal`;
  const syncer = wal !== null && !options.fsyncWal ? new WalSyncer(wal) : null;
  return new SqliteDb(
    sqlite,
    description,
    wal,
    options.fsyncWal ?? (() => syncer!.sync()),
    path === ':memory:' ? null : resolve(path),
    syncer,
    options.checkpointThread !== false,
  );
}

/** One open transaction; `open` turns false when it ends, so a leaked Queryable cannot write later. */
interface TxScope {
  open: boolean;
}

class SqliteDb implements Db {
  readonly dialect = 'sqlite' as const;
  private readonly statements = new Map<string, { stmt: Statement; placeholders: number }>();
  /**
   * The open `tx()` transaction of the async code that runs inside it. While any AsyncLocalStorage
   * is enabled, Node runs hooks on every promise of the process, so it is enabled only while such
   * a transaction is open (`run` enables it, `disable` at the end of the transaction).
   */
  private readonly inTx = new AsyncLocalStorage<TxScope>();
  /** The open `txNow()` transaction, while its fn runs (synchronously). */
  private nowScope: TxScope | null = null;
  private held = false;
  private readonly waiters: (() => void)[] = [];
  private closed = false;

  /** Writes committed so far (a generation count), and the waiters for their fsync. */
  private writeGen = 0;
  private syncWaiters: { gen: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private syncing = false;

  /**
   * A second, read-only connection for reads made while a transaction holds the writer: in WAL
   * mode it reads the last committed snapshot at once, so a dashboard listing 10,000 devices does
   * not queue behind hundreds of ingest transactions (each a few awaits long). Opened on first use;
   * none for an in-memory database (a reader there waits its turn).
   */
  private reader: Database.Database | null = null;
  private readonly readerStatements = new Map<string, Statement>();
  readonly checkpointer: Checkpointer | null;

  constructor(
    private readonly sqlite: Database.Database,
    readonly description: string,
    private readonly walPath: string | null,
    private readonly fsyncWal: (walPath: string) => Promise<void>,
    private readonly file: string | null = null,
    private readonly walSyncer: WalSyncer | null = null,
    checkpointThread = true,
  ) {
    this.checkpointer =
      file === null || !checkpointThread
        ? null
        : new Checkpointer(file, BUSY_TIMEOUT_MS, () => {
            if (!this.closed) this.sqlite.pragma('wal_autocheckpoint = 1000'); // SQLite's default: checkpoints inside COMMIT again
          });
  }

  async all<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    const snapshot = this.snapshotRead(sql, params, 'all');
    if (snapshot) return snapshot.rows as T[];
    const rows = await this.outside(() => this.allNow<T>(sql, params));
    if (!this.readonly(sql)) await this.durable();
    return rows;
  }

  async get<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    const snapshot = this.snapshotRead(sql, params, 'get');
    if (snapshot) return snapshot.rows[0] as T | undefined;
    const row = await this.outside(() => this.getNow<T>(sql, params));
    if (!this.readonly(sql)) await this.durable();
    return row;
  }

  /**
   * A read-only statement outside any transaction, while a transaction holds the writer: read the
   * committed snapshot on the reader connection now. Null: run it on the writer, in turn (the
   * writer is free, the statement writes, the database is in memory, or this is inside a tx).
   */
  private snapshotRead(sql: string, params: readonly SqlValue[] | undefined, mode: 'all' | 'get'): { rows: Row[] } | null {
    if (!this.held || this.file === null || this.closed || this.nowScope?.open || this.inTx.getStore()?.open) return null;
    let stmt = this.readerStatements.get(sql);
    if (!stmt) {
      try {
        if (!this.reader) {
          this.reader = new Database(this.file, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
          this.reader.defaultSafeIntegers(true);
        }
        stmt = this.reader.prepare(sql);
      } catch {
        return null; // not a statement a read-only connection takes (it writes)
      }
      if (!stmt.readonly || !stmt.reader) return null;
      if (this.readerStatements.size >= STATEMENT_CACHE_SIZE) this.readerStatements.delete(this.readerStatements.keys().next().value!);
      this.readerStatements.set(sql, stmt);
    }
    const given = params?.length ?? 0;
    const placeholders = sql.split('?').length - 1;
    if (placeholders !== given) {
      throw new DbError(`SQL has ${placeholders} ? placeholder(s) but ${given} parameter(s) were given (a literal ? is not allowed): ${sql.slice(0, 120)}`);
    }
    const values = bindable(params);
    if (mode === 'get') {
      const row = stmt.get(...values) as Row | undefined;
      return { rows: row === undefined ? [] : [numbers(row, this.description)] };
    }
    return { rows: (stmt.all(...values) as Row[]).map((row) => numbers(row, this.description)) };
  }

  async run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }> {
    const r = await this.outside(() => this.runNow(sql, params));
    if (!this.readonly(sql)) await this.durable();
    return r;
  }

  private readonly(sql: string): boolean {
    return this.statements.get(sql)?.stmt.readonly ?? false;
  }

  /**
   * Resolves once an fsync of the WAL that started after this call has finished: everything
   * committed before the call is then on disk. Concurrent callers share fsyncs.
   */
  private durable(): Promise<void> {
    if (this.walPath === null) return Promise.resolve();
    this.checkpointer?.wrote();
    const gen = ++this.writeGen;
    return new Promise((resolve, reject) => {
      this.syncWaiters.push({ gen, resolve, reject });
      if (!this.syncing) void this.syncLoop();
    });
  }

  private async syncLoop(): Promise<void> {
    this.syncing = true;
    try {
      while (this.syncWaiters.length > 0) {
        const covered = this.writeGen; // this fsync starts after every write counted so far
        let failure: Error | null = null;
        try {
          await this.fsyncWal(this.walPath!);
        } catch (e) {
          failure = new DbError(`${this.description}: cannot make the write durable (fsync of the WAL failed: ${(e as Error).message})`, {
            cause: e,
          });
        }
        const done = this.syncWaiters.filter((w) => w.gen <= covered);
        this.syncWaiters = this.syncWaiters.filter((w) => w.gen > covered);
        for (const w of done) {
          if (failure) w.reject(failure);
          else w.resolve();
        }
      }
    } finally {
      this.syncing = false;
    }
  }

  async tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    this.refuseReentry('tx');
    await this.acquire();
    const scope: TxScope = { open: true };
    let result: T;
    try {
      this.usable();
      this.sqlite.exec('BEGIN IMMEDIATE');
      try {
        result = await this.inTx.run(scope, () => fn(this.scoped(scope)));
        scope.open = false;
        // Some errors (SQLITE_FULL, SQLITE_IOERR…) roll the transaction back by themselves.
        if (!this.sqlite.inTransaction) throw new DbError(`${this.description}: SQLite rolled the transaction back before it could commit`);
        this.sqlite.exec('COMMIT');
      } catch (err) {
        scope.open = false;
        if (this.sqlite.inTransaction) this.sqlite.exec('ROLLBACK');
        throw err;
      }
    } finally {
      scope.open = false;
      // No transaction is open now (they run one at a time): the promise hooks can go until the next.
      this.inTx.disable();
      this.release();
    }
    // The next transaction may start while this one's fsync runs; this caller waits for it.
    await this.durable();
    return result;
  }

  async txNow<T>(fn: (q: SyncQueryable) => T): Promise<T> {
    this.refuseReentry('tx');
    if (this.held) await this.acquire();
    else this.held = true;
    const scope: TxScope = { open: true };
    let result: T;
    try {
      this.usable();
      this.sqlite.exec('BEGIN IMMEDIATE');
      this.nowScope = scope;
      try {
        result = fn(this.now(scope));
        if (typeof (result as { then?: unknown } | null)?.then === 'function') {
          throw new DbError(`${this.description}: txNow() was given a function that returned a promise; use tx() for async work`);
        }
        scope.open = false;
        this.nowScope = null;
        if (!this.sqlite.inTransaction) throw new DbError(`${this.description}: SQLite rolled the transaction back before it could commit`);
        this.sqlite.exec('COMMIT');
      } catch (err) {
        scope.open = false;
        this.nowScope = null;
        if (this.sqlite.inTransaction) this.sqlite.exec('ROLLBACK');
        throw err;
      }
    } finally {
      scope.open = false;
      this.nowScope = null;
      this.release();
    }
    await this.durable();
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.acquire();
    this.closed = true;
    // The checkpoint connection closes first, so the writer's close is the last one: SQLite then
    // checkpoints the whole WAL and removes it.
    await this.checkpointer?.close();
    this.statements.clear();
    this.readerStatements.clear();
    this.reader?.close();
    this.reader = null;
    this.sqlite.close();
    this.walSyncer?.close();
    this.release();
  }

  /** The Queryable a transaction's fn receives: runs at once (the tx holds the mutex). */
  private scoped(scope: TxScope): Queryable & ScriptRunner {
    const live = () => {
      if (!scope.open) throw new DbError(`${this.description}: the transaction has ended; its Queryable can no longer be used`);
    };
    return {
      dialect: 'sqlite',
      all: async <T>(sql: string, params?: readonly SqlValue[]) => {
        live();
        return this.allNow<T>(sql, params);
      },
      get: async <T>(sql: string, params?: readonly SqlValue[]) => {
        live();
        return this.getNow<T>(sql, params);
      },
      run: async (sql: string, params?: readonly SqlValue[]) => {
        live();
        return this.runNow(sql, params);
      },
      [execScript]: async (sql: string) => {
        live();
        this.sqlite.exec(sql);
      },
    };
  }

  /** The SyncQueryable a `txNow` fn receives. */
  private now(scope: TxScope): SyncQueryable {
    const live = () => {
      if (!scope.open) throw new DbError(`${this.description}: the transaction has ended; its Queryable can no longer be used`);
    };
    return {
      dialect: 'sqlite',
      all: <T>(sql: string, params?: readonly SqlValue[]) => {
        live();
        return this.allNow<T>(sql, params);
      },
      get: <T>(sql: string, params?: readonly SqlValue[]) => {
        live();
        return this.getNow<T>(sql, params);
      },
      run: (sql: string, params?: readonly SqlValue[]) => {
        live();
        return this.runNow(sql, params);
      },
    };
  }

  /** A statement outside a transaction: at once when the mutex is free, else in turn. */
  private async outside<T>(work: () => T): Promise<T> {
    this.refuseReentry('statement');
    if (!this.held) {
      this.usable();
      return work();
    }
    await this.acquire();
    try {
      this.usable();
      return work();
    } finally {
      this.release();
    }
  }

  private allNow<T>(sql: string, params: readonly SqlValue[] | undefined): T[] {
    const stmt = this.prepare(sql, params);
    const values = bindable(params);
    if (!stmt.reader) {
      stmt.run(...values);
      return [];
    }
    return (stmt.all(...values) as Row[]).map((row) => numbers(row, this.description)) as T[];
  }

  private getNow<T>(sql: string, params: readonly SqlValue[] | undefined): T | undefined {
    const stmt = this.prepare(sql, params);
    const values = bindable(params);
    if (!stmt.reader) {
      stmt.run(...values);
      return undefined;
    }
    const row = stmt.get(...values) as Row | undefined;
    return row === undefined ? undefined : (numbers(row, this.description) as T);
  }

  private runNow(sql: string, params: readonly SqlValue[] | undefined): { changes: number } {
    const info = this.prepare(sql, params).run(...bindable(params));
    return { changes: Number(info.changes) };
  }

  /**
   * Prepared statements, cached by SQL text (the least recently used is dropped beyond the limit).
   * Every `?` must be a parameter, as on PostgreSQL, so SQL that works here works there.
   */
  private prepare(sql: string, params: readonly SqlValue[] | undefined): Statement {
    let cached = this.statements.get(sql);
    if (cached) {
      this.statements.delete(sql);
    } else {
      cached = { stmt: this.sqlite.prepare(sql), placeholders: sql.split('?').length - 1 };
      if (this.statements.size >= STATEMENT_CACHE_SIZE) this.statements.delete(this.statements.keys().next().value!);
    }
    this.statements.set(sql, cached);
    const given = params?.length ?? 0;
    if (cached.placeholders !== given) {
      throw new DbError(
        `SQL has ${cached.placeholders} ? placeholder(s) but ${given} parameter(s) were given (a literal ? is not allowed): ${sql.slice(0, 120)}`,
      );
    }
    return cached.stmt;
  }

  private acquire(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Hands the mutex to the next waiter, or frees it. */
  private release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.held = false;
  }

  private refuseReentry(what: 'tx' | 'statement'): void {
    if (this.nowScope?.open || this.inTx.getStore()?.open) {
      throw new DbError(
        what === 'tx'
          ? `${this.description}: tx() called inside a transaction of the same database (transactions do not nest)`
          : `${this.description}: a statement on the Db inside its own transaction would wait for that transaction; use the Queryable passed to tx()`,
      );
    }
  }

  private usable(): void {
    if (this.closed) throw new DbError(`${this.description} is closed`);
  }
}

/**
 * Parameters as better-sqlite3 should bind them: Buffers for bytes, and integers as BigInt —
 * better-sqlite3 binds every JS number as REAL, so 5 would be stored as '5.0' in a TEXT column
 * and be typeof 'real' where no column affinity applies. Integers beyond ±(2^53−1) are refused.
 */
function bindable(params: readonly SqlValue[] | undefined): unknown[] {
  if (!params) return [];
  return params.map((v, i) => {
    if (typeof v === 'number' && Number.isInteger(v)) {
      if (!Number.isSafeInteger(v)) throw new DbError(`parameter ${i + 1} (${v}) is an integer beyond ±(2^53−1)`);
      return BigInt(v);
    }
    if (v instanceof Uint8Array && !Buffer.isBuffer(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    return v;
  });
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

/** A row with its BigInts as numbers; an integer beyond ±(2^53−1) is refused. */
function numbers(row: Row, where: string): Row {
  for (const key in row) {
    const v = row[key];
    if (typeof v !== 'bigint') continue;
    if (v > MAX_SAFE || v < MIN_SAFE) {
      throw new DbError(`${where}: column ${key} holds ${v}, an integer beyond ±(2^53−1)`);
    }
    row[key] = Number(v);
  }
  return row;
}
