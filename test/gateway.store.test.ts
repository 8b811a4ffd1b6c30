/**
 * The gateway database: one suite that SQLite and PostgreSQL must both pass (migrations, transactions,
 * values, placeholders, conflicts), then what only one engine has (SQLite's transaction mutex,
 * PostgreSQL's retries, advisory-locked migrations and URL handling). PostgreSQL is a real,
 * throw-away cluster started for this file.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DbError, get, run, runSteps, type Db, type Queryable, type Steps } from '../gateway/store/db.js';
import { migrate } from '../gateway/store/migrate.js';
import { openGatewayDb } from '../gateway/store/open.js';
import { openPostgres } from '../gateway/store/postgres.js';
import { MIGRATIONS } from '../gateway/store/schema.js';
import { openSqlite } from '../gateway/store/sqlite.js';
import { TxBatcher, UnitRefusal } from '../gateway/ingest/batcher.js';
import { tempDir } from './helpers.js';
import { engines } from './tiers.js';
import { startPostgres, type TestPostgres } from './pg.js';

interface Engine {
  /** A new, empty database. */
  target(): Promise<string>;
  /** The engine's Db on a target, not migrated. */
  connect(target: string): Promise<Db>;
}

const LATEST = MIGRATIONS.at(-1)!.version;
const opened: Db[] = [];
const track = <T extends Db>(db: T): T => {
  opened.push(db);
  return db;
};
afterEach(async () => {
  for (const db of opened.splice(0)) await db.close();
});

const openMigrated = async (engine: Engine) => track(await openGatewayDb(await engine.target()));

async function scratch(db: Db): Promise<void> {
  await db.run(
    `CREATE TABLE scratch (k TEXT PRIMARY KEY, n ${db.dialect === 'postgres' ? 'BIGINT' : 'INTEGER'}, b ${db.dialect === 'postgres' ? 'BYTEA' : 'BLOB'})`,
  );
}

async function insertMessage(q: Queryable, hash: string, seq: number, suffix = ''): Promise<{ changes: number }> {
  return q.run(`INSERT INTO messages (hash, device_id, type, seq, claimed_at, received_at, envelope) VALUES (?, ?, ?, ?, ?, ?, ?)${suffix}`, [
    hash,
    'dock-1',
    'status',
    seq,
    null,
    1_700_000_000_000,
    Buffer.from([1, 2, 3]),
  ]);
}

function storeSuite(engine: () => Engine): void {
  it('applies every migration once; migrating again or reopening applies none', async () => {
    const target = await engine().target();
    const db = track(await engine().connect(target));
    expect(await migrate(db)).toEqual({ applied: MIGRATIONS.map((m) => m.version) });
    expect(await migrate(db)).toEqual({ applied: [] });
    await db.close();
    const again = track(await openGatewayDb(target));
    const rows = await again.all<{ version: number; name: string; applied_at: number }>('SELECT version, name, applied_at FROM schema_migrations');
    expect(rows.map((r) => [r.version, r.name])).toEqual(MIGRATIONS.map((m) => [m.version, m.name]));
    expect(typeof rows[0]!.applied_at).toBe('number');
    expect(await again.get<{ n: number }>('SELECT count(*) AS n FROM devices')).toEqual({ n: 0 });
  });

  it('applies only the pending migrations, in version order', async () => {
    const db = track(await engine().connect(await engine().target()));
    const first = { version: 1, name: 'one', sql: 'CREATE TABLE a (id {ID}, v {INT}, b {BLOB});' };
    const second = { version: 2, name: 'two', sql: 'ALTER TABLE a ADD COLUMN w {INT};\nCREATE INDEX a_v ON a(v);' };
    expect(await migrate(db, [first])).toEqual({ applied: [1] });
    expect(await migrate(db, [second, first])).toEqual({ applied: [2] });
    await db.run('INSERT INTO a (v, b, w) VALUES (?, ?, ?)', [1, Buffer.from('x'), 2]);
    expect(await db.all('SELECT id, v, w FROM a')).toEqual([{ id: 1, v: 1, w: 2 }]);
  });

  it('allows gaps in version numbers: a version that fills a gap later is applied then, and the newer one is not run again', async () => {
    const db = track(await engine().connect(await engine().target()));
    const one = { version: 1, name: 'one', sql: 'CREATE TABLE a (v {INT});' };
    const nine = { version: 9, name: 'nine', sql: 'CREATE TABLE b (v {INT});' };
    const eleven = { version: 11, name: 'eleven', sql: 'CREATE TABLE c (v {INT});' };
    expect(await migrate(db, [one, eleven])).toEqual({ applied: [1, 11] });
    expect(await migrate(db, [one, nine, eleven])).toEqual({ applied: [9] });
    expect((await db.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).map((r) => r.version)).toEqual([1, 9, 11]);
  });

  it('rolls back a migration that fails, leaving its version unapplied', async () => {
    const db = track(await engine().connect(await engine().target()));
    const broken = { version: 1, name: 'broken', sql: 'CREATE TABLE ok (id {INT});\nCREATE TABLE ok (id {INT});' };
    await expect(migrate(db, [broken])).rejects.toThrow(/migration 1 \(broken\) failed/);
    expect(await db.all('SELECT version FROM schema_migrations')).toEqual([]);
    expect(await migrate(db, [{ version: 1, name: 'fixed', sql: 'CREATE TABLE ok (id {INT});' }])).toEqual({ applied: [1] });
  });

  it('refuses to open a database whose schema is newer than this gateway knows', async () => {
    const target = await engine().target();
    const db = await openGatewayDb(target);
    await db.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [LATEST + 1, 'from the future', 0]);
    await db.close();
    const refused = openGatewayDb(target);
    await expect(refused).rejects.toThrow(DbError);
    await expect(refused).rejects.toThrow(new RegExp(`schema version ${LATEST + 1}, newer than this gateway knows \\(${LATEST}\\)`));
  });

  it('commits a transaction when fn resolves, and writes nothing when fn throws', async () => {
    const db = await openMigrated(engine());
    await scratch(db);
    const value = await db.tx(async (q) => {
      await q.run('INSERT INTO scratch (k, n) VALUES (?, ?)', ['kept', 1]);
      return 'done';
    });
    expect(value).toBe('done');
    await expect(
      db.tx(async (q) => {
        await q.run('INSERT INTO scratch (k, n) VALUES (?, ?)', ['lost', 2]);
        await q.run('UPDATE scratch SET n = ? WHERE k = ?', [9, 'kept']);
        expect(await q.get('SELECT n FROM scratch WHERE k = ?', ['lost'])).toEqual({ n: 2 });
        throw new Error('abandon');
      }),
    ).rejects.toThrow('abandon');
    expect(await db.all('SELECT k, n FROM scratch ORDER BY k')).toEqual([{ k: 'kept', n: 1 }]);
  });

  it('refuses a Queryable used after its transaction ended', async () => {
    const db = await openMigrated(engine());
    let leaked: Queryable | undefined;
    await db.tx(async (q) => {
      leaked = q;
    });
    await expect(leaked!.all('SELECT 1 AS one')).rejects.toThrow(/transaction has ended/);
  });

  it('runs work written as steps with the same results and errors as awaited statements, each unit of a batch isolated', async () => {
    const db = await openMigrated(engine());
    await scratch(db);
    await db.run('INSERT INTO scratch (k, n) VALUES (?, ?)', ['taken', 0]);
    function* insert(k: string, n: number): Steps<number> {
      const r = yield* run('INSERT INTO scratch (k, n) VALUES (?, ?)', [k, n]);
      return r.changes;
    }
    // Outside a batch: on the Queryable of a transaction; a statement's error is thrown at its yield
    // (after which PostgreSQL writes nothing more in that transaction, as with awaited statements).
    expect(await db.tx((q) => runSteps(q, insert('a', 1)))).toBe(1);
    const seen = await db.tx((q) =>
      runSteps(
        q,
        (function* (): Steps<string> {
          try {
            yield* insert('taken', 2);
          } catch (e) {
            return `caught: ${e instanceof Error}`;
          }
          return 'not refused';
        })(),
      ),
    );
    expect(seen).toBe('caught: true');
    // In a batch: a unit that throws after writing is rolled back alone (its savepoint); a refusal
    // without a savepoint reaches its caller; the others commit.
    const batcher = new TxBatcher(db, { delayMs: 0 });
    const results = await Promise.allSettled([
      batcher.steps(() => insert('b', 2)),
      batcher.steps(function* () {
        yield* insert('c', 3);
        throw new Error('unit failed after writing');
      }),
      batcher.steps(
        function* () {
          const row = yield* get<{ n: number }>('SELECT n FROM scratch WHERE k = ?', ['b']);
          if (row?.n !== 2) throw new Error('did not see the unit before it in the batch');
          throw new UnitRefusal('refused before writing');
        },
        { savepoint: false },
      ),
      batcher.steps(() => insert('d', 4), { savepoint: false }),
    ]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      1,
      'unit failed after writing',
      'refused before writing',
      1,
    ]);
    expect(batcher.stats).toEqual({ batches: 1, units: 4 });
    expect(await db.all('SELECT k, n FROM scratch ORDER BY k')).toEqual([
      { k: 'a', n: 1 },
      { k: 'b', n: 2 },
      { k: 'd', n: 4 },
      { k: 'taken', n: 0 },
    ]);
  });

  it('returns bytes as Buffers, byte for byte, whether given a Buffer or a Uint8Array', async () => {
    const db = await openMigrated(engine());
    await scratch(db);
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const view = new Uint8Array(new Uint8Array(all).buffer, 10, 5); // a view with an offset
    await db.run('INSERT INTO scratch (k, b) VALUES (?, ?), (?, ?)', ['all', all, 'view', view]);
    const rows = await db.all<{ k: string; b: unknown }>('SELECT k, b FROM scratch ORDER BY k');
    expect(rows.map((r) => Buffer.isBuffer(r.b))).toEqual([true, true]);
    expect(rows[0]!.b).toEqual(all);
    expect(rows[1]!.b).toEqual(Buffer.from([10, 11, 12, 13, 14]));
  });

  it('round-trips integers up to ±(2^53−1) as numbers, and refuses a stored integer beyond', async () => {
    const db = await openMigrated(engine());
    await scratch(db);
    await db.run('INSERT INTO scratch (k, n) VALUES (?, ?), (?, ?), (?, ?)', [
      'max',
      Number.MAX_SAFE_INTEGER,
      'min',
      Number.MIN_SAFE_INTEGER,
      'ms',
      1_763_900_000_123,
    ]);
    expect(await db.all('SELECT k, n FROM scratch ORDER BY k')).toEqual([
      { k: 'max', n: Number.MAX_SAFE_INTEGER },
      { k: 'min', n: Number.MIN_SAFE_INTEGER },
      { k: 'ms', n: 1_763_900_000_123 },
    ]);
    expect(await db.get('SELECT count(*) AS c FROM scratch')).toEqual({ c: 3 });
    await db.run('UPDATE scratch SET n = n + 1 WHERE k = ?', ['max']);
    const read = db.get('SELECT n FROM scratch WHERE k = ?', ['max']);
    await expect(read).rejects.toThrow(DbError);
    await expect(read).rejects.toThrow(/9007199254740992.*beyond ±\(2\^53−1\)/);
    await expect(db.run('INSERT INTO scratch (k, n) VALUES (?, ?)', ['over', 2 ** 53])).rejects.toThrow(
      /parameter 2 \(9007199254740992\) is an integer beyond/,
    );
  });

  it('stores an integer given for a TEXT column as its decimal digits', async () => {
    const db = await openMigrated(engine());
    await scratch(db);
    await db.run('INSERT INTO scratch (k) VALUES (?)', [5]);
    expect(await db.get('SELECT k FROM scratch')).toEqual({ k: '5' });
  });

  it('binds hundreds of ? placeholders in order', async () => {
    const db = await openMigrated(engine());
    await scratch(db);
    const rows = Array.from({ length: 300 }, (_, i) => [`k${String(i).padStart(3, '0')}`, i * 7, Buffer.from([i & 0xff])] as const);
    const sql = `INSERT INTO scratch (k, n, b) VALUES ${rows.map(() => '(?, ?, ?)').join(', ')}`;
    expect(await db.run(sql, rows.flat())).toEqual({ changes: 300 });
    const back = await db.all<{ k: string; n: number; b: Buffer }>('SELECT k, n, b FROM scratch ORDER BY k');
    expect(back.map((r) => [r.k, r.n, r.b])).toEqual(rows.map((r) => [...r]));
  });

  it('refuses SQL whose ? count does not match its parameters (a literal ? is not portable)', async () => {
    const db = await openMigrated(engine());
    await expect(db.all("SELECT 'why?' AS q")).rejects.toThrow(/1 \? placeholder\(s\) but 0 parameter\(s\)/);
    await expect(db.all('SELECT count(*) AS n FROM devices WHERE device_id = ?', ['a', 'b'])).rejects.toThrow(DbError);
  });

  it('surfaces a UNIQUE violation as an error, and ON CONFLICT DO NOTHING as changes 0', async () => {
    const db = await openMigrated(engine());
    expect(await insertMessage(db, 'h1', 1)).toEqual({ changes: 1 });
    await expect(insertMessage(db, 'h1', 2)).rejects.toThrow(/unique/i);
    await expect(insertMessage(db, 'h2', 1)).rejects.toThrow(/unique/i); // UNIQUE (device_id, type, seq)
    expect(await insertMessage(db, 'h1', 1, ' ON CONFLICT DO NOTHING')).toEqual({ changes: 0 });
    expect(await insertMessage(db, 'h3', 1, ' ON CONFLICT DO NOTHING')).toEqual({ changes: 0 });
    expect(await db.tx((q) => insertMessage(q, 'h4', 2, ' ON CONFLICT DO NOTHING'))).toEqual({ changes: 1 });
    expect(await db.all('SELECT hash FROM messages ORDER BY hash')).toEqual([{ hash: 'h1' }, { hash: 'h4' }]);
  });

  it('returns generated ids with RETURNING, and undefined from get() when there is no row', async () => {
    const db = await openMigrated(engine());
    const insert = 'INSERT INTO alerts (kind, severity, message, raised_at, last_at) VALUES (?, ?, ?, ?, ?) RETURNING id';
    const a = await db.get<{ id: number }>(insert, ['gap', 'warning', 'seq 4 missing', 1, 1]);
    const b = await db.all<{ id: number }>(insert, ['gap', 'warning', 'seq 5 missing', 2, 2]);
    expect(a).toEqual({ id: 1 });
    expect(b).toEqual([{ id: 2 }]);
    expect(await db.get('SELECT id FROM alerts WHERE id = ?', [99])).toBeUndefined();
  });
}

describe('gateway store on SQLite', () => {
  const dir = tempDir('bwc-gateway-store-');
  let n = 0;
  const sqlite: Engine = {
    target: async () => join(dir, `g${n++}.db`),
    connect: async (path) => openSqlite(path),
  };
  storeSuite(() => sqlite);

  it('creates the directory of a new database file', async () => {
    const path = join(dir, 'nested', 'deeper', 'gateway.db');
    const db = track(await openGatewayDb(path));
    expect(db.description).toBe(`sqlite:${path}`);
    expect(await db.get('SELECT max(version) AS v FROM schema_migrations')).toEqual({ v: LATEST });
  });

  it('checkpoints on a worker thread by default, and inside COMMIT at 1,000 pages with checkpointThread: false', async () => {
    type WithCheckpointer = Db & { checkpointer?: { stats: { runs: number } } | null };
    const autocheckpoint = async (db: Db) => (await db.get<{ wal_autocheckpoint: number }>('PRAGMA wal_autocheckpoint'))?.wal_autocheckpoint;
    const threaded = track(await openGatewayDb(join(dir, 'threaded.db'))) as WithCheckpointer;
    expect(threaded.checkpointer).toBeTruthy();
    expect(await autocheckpoint(threaded)).toBe(8192);
    const inline = track(await openGatewayDb(join(dir, 'inline.db'), { sqlite: { checkpointThread: false } })) as WithCheckpointer;
    expect(inline.checkpointer).toBeNull();
    expect(await autocheckpoint(inline)).toBe(1000);
    // Writes work as ever, and SQLite's own checkpoint keeps the WAL short: 12.5 MiB written, under 8 MiB of WAL.
    await scratch(inline);
    for (let i = 0; i < 100; i++) await inline.run('INSERT INTO scratch (k, n, b) VALUES (?, ?, ?)', [`k${i}`, i, Buffer.alloc(128 * 1024, i)]);
    expect(await inline.get('SELECT count(*) AS n FROM scratch')).toEqual({ n: 100 });
    expect(statSync(join(dir, 'inline.db-wal')).size).toBeLessThan(8 * 1024 * 1024);
  });

  it('runs 50 concurrent read-modify-write transactions one at a time: the counter ends at 50', async () => {
    const db = await openMigrated(sqlite);
    await scratch(db);
    await db.run('INSERT INTO scratch (k, n) VALUES (?, ?)', ['c', 0]);
    const increment = () =>
      db.tx(async (q) => {
        const { n } = (await q.get<{ n: number }>('SELECT n FROM scratch WHERE k = ?', ['c']))!;
        await new Promise((r) => setImmediate(r)); // another task could run here
        await q.run('UPDATE scratch SET n = ? WHERE k = ?', [n + 1, 'c']);
      });
    await Promise.all(Array.from({ length: 50 }, increment));
    expect(await db.get('SELECT n FROM scratch WHERE k = ?', ['c'])).toEqual({ n: 50 });
  });

  it('makes a statement outside a transaction wait for it, so it never sees uncommitted rows', async () => {
    const db = await openMigrated(sqlite);
    await scratch(db);
    let inside!: () => void;
    const written = new Promise<void>((r) => {
      inside = r;
    });
    let asked!: () => void;
    const outsideAsked = new Promise<void>((r) => {
      asked = r;
    });
    const tx = db.tx(async (q) => {
      await q.run('INSERT INTO scratch (k, n) VALUES (?, ?)', ['uncommitted', 1]);
      inside();
      await outsideAsked; // the statement outside is issued while this transaction is open
      throw new Error('rolled back');
    });
    await written;
    const seen = db.all('SELECT k FROM scratch'); // same connection: without the mutex it would read the open tx
    asked();
    await expect(tx).rejects.toThrow('rolled back');
    expect(await seen).toEqual([]);
  });

  it('refuses to use the Db inside its own transaction instead of waiting for itself forever', async () => {
    const db = await openMigrated(sqlite);
    await expect(db.tx(() => db.all('SELECT 1 AS one'))).rejects.toThrow(/use the Queryable passed to tx\(\)/);
    await expect(db.tx(() => db.tx(async () => 1))).rejects.toThrow(/transactions do not nest/);
    expect(await db.tx((q) => q.get('SELECT 1 AS one'))).toEqual({ one: 1 });
  });

  it('runs a batch of units written as steps in one turn of the event loop (txNow), with no await between statements', async () => {
    const db = await openMigrated(sqlite);
    await scratch(db);
    expect(typeof db.txNow).toBe('function');
    const batcher = new TxBatcher(db, { delayMs: 0 });
    let turned = false;
    const order: string[] = [];
    const units = ['a', 'b', 'c'].map((k, i) =>
      batcher.steps(function* () {
        if (i === 0) queueMicrotask(() => (turned = true)); // runs at the first await, if there is one
        yield* run('INSERT INTO scratch (k, n) VALUES (?, ?)', [k, i]);
        order.push(`${k}:${turned ? 'after an await' : 'same turn'}`);
      }),
    );
    await Promise.all(units);
    expect(order).toEqual(['a:same turn', 'b:same turn', 'c:same turn']);
    expect(batcher.stats).toEqual({ batches: 1, units: 3 });
    // A batch with an async unit among them runs every statement awaited, as before.
    turned = false;
    order.length = 0;
    await Promise.all([
      batcher.run(async (q) => {
        queueMicrotask(() => (turned = true));
        await q.run('INSERT INTO scratch (k, n) VALUES (?, ?)', ['d', 3]);
      }),
      batcher.steps(function* () {
        yield* run('INSERT INTO scratch (k, n) VALUES (?, ?)', ['e', 4]);
        order.push(`e:${turned ? 'after an await' : 'same turn'}`);
      }),
    ]);
    expect(order).toEqual(['e:after an await']);
    expect(await db.all<{ k: string }>('SELECT k FROM scratch ORDER BY k')).toEqual(['a', 'b', 'c', 'd', 'e'].map((k) => ({ k })));
  });

  it('txNow commits when fn returns, writes nothing when it throws, and refuses an async fn, the Db inside it and a leaked Queryable', async () => {
    const db = await openMigrated(sqlite);
    await scratch(db);
    expect(await db.txNow!((q) => q.run('INSERT INTO scratch (k, n) VALUES (?, ?)', ['kept', 1]).changes)).toBe(1);
    await expect(
      db.txNow!((q) => {
        q.run('INSERT INTO scratch (k, n) VALUES (?, ?)', ['lost', 2]);
        expect(q.get('SELECT n FROM scratch WHERE k = ?', ['lost'])).toEqual({ n: 2 });
        throw new Error('abandon');
      }),
    ).rejects.toThrow('abandon');
    await expect(db.txNow!(async (q) => q.run('INSERT INTO scratch (k, n) VALUES (?, ?)', ['async', 3]))).rejects.toThrow(/returned a promise; use tx\(\)/);
    const refusal = (p: Promise<unknown>) =>
      p.then(
        () => 'ran',
        (e: unknown) => (e as Error).message,
      );
    let inside: Promise<string> | undefined;
    let nested: Promise<string> | undefined;
    await expect(
      db.txNow!(() => {
        inside = refusal(db.all('SELECT k FROM scratch'));
        nested = refusal(db.txNow!(() => 1));
        return 1;
      }),
    ).resolves.toBe(1);
    expect(await inside).toMatch(/use the Queryable passed to tx\(\)/);
    expect(await nested).toMatch(/transactions do not nest/);
    let leaked: { get(sql: string): unknown } | undefined;
    await db.txNow!((q) => {
      leaked = q;
    });
    expect(() => leaked!.get('SELECT 1 AS one')).toThrow(/transaction has ended/);
    // The Db inside an async transaction is still refused after transactions of both kinds.
    await expect(db.tx(() => db.all('SELECT 1 AS one'))).rejects.toThrow(/use the Queryable passed to tx\(\)/);
    expect(await db.all('SELECT k, n FROM scratch ORDER BY k')).toEqual([{ k: 'kept', n: 1 }]);
  });

  it('refuses statements once closed', async () => {
    const db = openSqlite(':memory:');
    await db.close();
    await expect(db.get('SELECT 1 AS one')).rejects.toThrow(/sqlite::memory: is closed/);
  });

  it('reports a file it cannot open as one line naming it', async () => {
    const path = join(dir, 'not-a-dir');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path, 'a file, not a directory');
    const err = await openGatewayDb(join(path, 'gateway.db')).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DbError);
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).not.toContain('\n');
  });
});

describe.skipIf(!engines().includes('postgres'))('gateway store on PostgreSQL', () => {
  let cluster: TestPostgres | undefined;
  beforeAll(async () => {
    cluster = await startPostgres();
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  const postgres: Engine = {
    target: () => cluster!.newDatabase(),
    connect: (url) => openPostgres(url),
  };
  storeSuite(() => postgres);

  const withPassword = (url: string) => url.replace('postgres://bwc@', 'postgres://bwc:s3cret-pw@');

  it('lets two gateways open one empty database at once: both succeed, the migration is applied once', async () => {
    const url = await postgres.target();
    const [a, b] = await Promise.all([openGatewayDb(url), openGatewayDb(url)]).then((dbs) => dbs.map(track));
    expect(await a!.all('SELECT version FROM schema_migrations')).toEqual(MIGRATIONS.map((m) => ({ version: m.version })));
    expect(await b!.get('SELECT count(*) AS n FROM devices')).toEqual({ n: 0 });
    const url2 = await postgres.target();
    const [c, d] = [track(await openPostgres(url2)), track(await openPostgres(url2))];
    const results = await Promise.all([migrate(c), migrate(d)]);
    // Each migration takes the lock on its own, so the two may share the work: every version is
    // applied by exactly one of them.
    expect(results.flatMap((r) => r.applied).sort((x, y) => x - y)).toEqual(MIGRATIONS.map((m) => m.version));
  });

  it('retries a transaction that lost a serialization conflict: two concurrent increments end at 2', async () => {
    const db = await openMigrated(postgres);
    await scratch(db);
    await db.run('INSERT INTO scratch (k, n) VALUES (?, ?)', ['c', 0]);
    let reads = 0;
    let bothRead!: () => void;
    const barrier = new Promise<void>((r) => {
      bothRead = r;
    });
    let attempts = 0;
    const increment = () =>
      db.tx(async (q) => {
        attempts++;
        const { n } = (await q.get<{ n: number }>('SELECT n FROM scratch WHERE k = ?', ['c']))!;
        if (++reads === 2) bothRead();
        await barrier; // both have read 0 before either writes
        await q.run('UPDATE scratch SET n = ? WHERE k = ?', [n + 1, 'c']);
      });
    await Promise.all([increment(), increment()]);
    expect(await db.get('SELECT n FROM scratch WHERE k = ?', ['c'])).toEqual({ n: 2 });
    expect(attempts).toBe(3);
  });

  it('re-runs fn after a serialization failure (40001) or a deadlock (40P01), and gives up after 5 retries', async () => {
    const db = await openMigrated(postgres);
    await scratch(db);
    const failWith = (code: string) => `DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = '${code}'; END $$`;
    for (const code of ['40001', '40P01']) {
      let attempts = 0;
      await db.tx(async (q) => {
        attempts++;
        await q.run('INSERT INTO scratch (k, n) VALUES (?, ?)', [code, attempts]);
        if (attempts < 3) await q.run(failWith(code));
      });
      expect(attempts).toBe(3);
      expect(await db.get('SELECT n FROM scratch WHERE k = ?', [code])).toEqual({ n: 3 }); // earlier runs rolled back
    }
    let attempts = 0;
    const hopeless = db.tx(async (q) => {
      attempts++;
      await q.run(failWith('40001'));
    });
    await expect(hopeless).rejects.toMatchObject({ code: '40001' });
    expect(attempts).toBe(6);
    let other = 0;
    await expect(
      db.tx(async (q) => {
        other++;
        await q.run(failWith('23505'));
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(other).toBe(1);
  });

  it('re-runs a transaction holding the lockOnRetry tables, and skips that lock while a table does not exist yet', async () => {
    const url = await postgres.target();
    const setup = track(await openPostgres(url));
    await scratch(setup);
    await expect(openPostgres(url, { lockOnRetry: ['scratch; DROP TABLE scratch'] })).rejects.toThrow(/not a plain table name/);
    const held = (q: Queryable) =>
      q.all<{ mode: string }>(`SELECT mode FROM pg_locks WHERE locktype = 'relation' AND relation = to_regclass('scratch') AND pid = pg_backend_pid()`);
    const failOnce = async (db: Db) => {
      const seen: string[][] = [];
      await db.tx(async (q) => {
        seen.push((await held(q)).map((l) => l.mode).filter((m) => m === 'ExclusiveLock'));
        if (seen.length === 1) await q.run(`DO $$ BEGIN RAISE EXCEPTION 'forced' USING ERRCODE = '40001'; END $$`);
      });
      return seen;
    };
    expect(await failOnce(track(await openPostgres(url, { lockOnRetry: ['scratch'] })))).toEqual([[], ['ExclusiveLock']]);
    // Before the migration that creates it, the table cannot be locked: the re-run goes on without it.
    expect(await failOnce(track(await openPostgres(url, { lockOnRetry: ['scratch', 'not_yet_created'] })))).toEqual([[], []]);
  });

  it('resolves a real deadlock by retrying the transaction PostgreSQL aborted', async () => {
    const db = await openMigrated(postgres);
    await scratch(db);
    await db.run('INSERT INTO scratch (k, n) VALUES (?, ?), (?, ?)', ['a', 0, 'b', 0]);
    let locked = 0;
    let bothLocked!: () => void;
    const barrier = new Promise<void>((r) => {
      bothLocked = r;
    });
    const move = (first: string, second: string) =>
      db.tx(async (q) => {
        await q.run('UPDATE scratch SET n = n + 1 WHERE k = ?', [first]);
        if (++locked === 2) bothLocked();
        await barrier;
        await q.run('UPDATE scratch SET n = n + 1 WHERE k = ?', [second]);
      });
    await Promise.all([move('a', 'b'), move('b', 'a')]);
    expect(await db.all('SELECT k, n FROM scratch ORDER BY k')).toEqual([
      { k: 'a', n: 2 },
      { k: 'b', n: 2 },
    ]);
  });

  it('never puts the password in its description or its errors', async () => {
    const url = withPassword(await postgres.target());
    const db = track(await openGatewayDb(url));
    expect(db.description).toMatch(/^postgres:\/\/127\.0\.0\.1:\d+\/bwc_\d+$/);
    expect(db.description).not.toContain('s3cret-pw');
    const unreachable = url.replace(/:(\d+)\//, ':1/');
    const err = await openGatewayDb(unreachable).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DbError);
    expect((err as Error).message).toMatch(/^cannot connect to postgres:\/\/127\.0\.0\.1:1\/bwc_\d+: .*ECONNREFUSED/);
    expect((err as Error).message).not.toContain('s3cret-pw');
    expect((err as Error).message).not.toContain('\n');
  });

  it("parses BIGINT on its own pool only: pg's global parser still returns strings", async () => {
    const db = await openMigrated(postgres);
    expect(await db.get('SELECT CAST(? AS BIGINT) AS n', ['42'])).toEqual({ n: 42 });
    expect(pg.types.getTypeParser(20, 'text')('42')).toBe('42');
  });
});

describe('SQLite writes resolve only once durable', () => {
  /** An fsync the test releases by hand, recording what each one covered. */
  function manualFsync() {
    const calls: { release: () => void; fail: (e: Error) => void }[] = [];
    const fsyncWal = (_wal: string) =>
      new Promise<void>((resolve, reject) => {
        calls.push({ release: resolve, fail: reject });
      });
    return { calls, fsyncWal };
  }
  const settle = () => new Promise((r) => setImmediate(r));
  /** Waits, turn of the event loop by turn, for a state the code under test reaches by itself. */
  const until = async (ok: () => boolean) => {
    while (!ok()) await settle();
  };

  it('holds a write until an fsync that started after it has finished, and lets concurrent writes share one', async () => {
    const { calls, fsyncWal } = manualFsync();
    const db = openSqlite(join(tempDir(), 'durable.db'), { fsyncWal });
    const create = db.run('CREATE TABLE t (x INTEGER)');
    await settle();
    calls.shift()!.release();
    await create;
    let first = false;
    const w1 = db.run('INSERT INTO t (x) VALUES (1)').then(() => {
      first = true;
    });
    await settle();
    expect(calls).toHaveLength(1);
    expect(first).toBe(false);
    // Two more writes while that fsync runs: they need the next one, and share it.
    let second = 0;
    const w2 = db.run('INSERT INTO t (x) VALUES (2)').then(() => {
      second++;
    });
    const w3 = db
      .tx(async (q) => {
        await q.run('INSERT INTO t (x) VALUES (3)');
      })
      .then(() => {
        second++;
      });
    await settle();
    expect(second).toBe(0);
    calls.shift()!.release();
    await w1;
    expect(first).toBe(true);
    await settle();
    expect(second).toBe(0);
    expect(calls).toHaveLength(1);
    calls.shift()!.release();
    await Promise.all([w2, w3]);
    expect(second).toBe(2);
    // Reads need no fsync.
    expect(await db.all('SELECT x FROM t ORDER BY x')).toEqual([{ x: 1 }, { x: 2 }, { x: 3 }]);
    expect(calls).toHaveLength(0);
    await db.close();
  });

  it('rejects the writes an fsync failed to cover, naming the cause', async () => {
    const { calls, fsyncWal } = manualFsync();
    const db = openSqlite(join(tempDir(), 'eio.db'), { fsyncWal });
    const create = db.run('CREATE TABLE t (x INTEGER)');
    await settle();
    calls.shift()!.release();
    await create;
    const w = db.run('INSERT INTO t (x) VALUES (1)');
    await settle();
    calls.shift()!.fail(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
    await expect(w).rejects.toThrow(/cannot make the write durable \(fsync of the WAL failed: EIO: i\/o error\)/);
    await db.close();
  });

  it('starts the next group-commit batch while the one before waits for its fsync, and resolves neither before its own', async () => {
    const { calls, fsyncWal } = manualFsync();
    const db = openSqlite(join(tempDir(), 'batches.db'), { fsyncWal });
    const create = db.run('CREATE TABLE t (x INTEGER)');
    await settle();
    calls.shift()!.release();
    await create;
    const batcher = new TxBatcher(db, { delayMs: 0 });
    let firstDone = false;
    const first = batcher
      .run((q) => q.run('INSERT INTO t (x) VALUES (1)'), { savepoint: false })
      .then(() => {
        firstDone = true;
      });
    await until(() => calls.length === 1); // the first batch committed; its fsync runs
    // A unit queued now runs in the next batch while that fsync is still under way.
    let secondRan!: () => void;
    const ran = new Promise<void>((r) => {
      secondRan = r;
    });
    let secondDone = false;
    const second = batcher
      .run(
        async (q) => {
          secondRan();
          return q.run('INSERT INTO t (x) VALUES (2)');
        },
        { savepoint: false },
      )
      .then(() => {
        secondDone = true;
      });
    await ran;
    expect(firstDone).toBe(false);
    await until(() => calls.length === 1 && batcher.stats.batches === 0);
    calls.shift()!.release(); // the first fsync started before the second commit: it covers only the first
    await first;
    expect(secondDone).toBe(false);
    await until(() => calls.length === 1);
    calls.shift()!.release();
    await second;
    expect(await db.all('SELECT x FROM t ORDER BY x')).toEqual([{ x: 1 }, { x: 2 }]);
    await db.close();
  }, 10_000);

  it('resolves a txNow transaction only once an fsync that started after its commit has finished', async () => {
    const { calls, fsyncWal } = manualFsync();
    const db = openSqlite(join(tempDir(), 'now.db'), { fsyncWal });
    const create = db.run('CREATE TABLE t (x INTEGER)');
    await settle();
    calls.shift()!.release();
    await create;
    let done = false;
    const w = db.txNow!((q) => q.run('INSERT INTO t (x) VALUES (1)')).then(() => {
      done = true;
    });
    await until(() => calls.length === 1);
    expect(done).toBe(false);
    calls.shift()!.release();
    await w;
    expect(done).toBe(true);
    await db.close();
  });

  it('syncs the real WAL file by default', async () => {
    const path = join(tempDir(), 'real.db');
    const db = openSqlite(path);
    await db.run('CREATE TABLE t (x INTEGER)');
    await db.run('INSERT INTO t (x) VALUES (1)');
    expect(existsSync(`${path}-wal`)).toBe(true);
    expect(await db.get('PRAGMA synchronous')).toEqual({ synchronous: 1 });
    await db.close();
  });
});
