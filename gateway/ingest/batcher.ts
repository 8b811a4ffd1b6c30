/**
 * Group commit: many messages' database work in one transaction, so a burst costs one fsync per
 * batch instead of one per message (3–7 ms each on SQLite here).
 *
 * Each unit of work runs inside the shared transaction under its own SAVEPOINT: a unit that throws
 * (a refused message) is rolled back alone and its caller gets the error; the others commit. The
 * callers' promises settle only after the COMMIT, so nothing is acknowledged before it is durable.
 * On PostgreSQL the whole batch may be re-run after a serialization failure (Db.tx retries it), so
 * units must touch nothing but the database.
 *
 * A unit is an async function of the transaction's Queryable (`run`), or its statements written as
 * `Steps` (`steps`, store/db.ts). When every unit of a batch is written as steps and the engine
 * offers `txNow` (SQLite), the whole batch — BEGIN, each unit's statements and savepoints, COMMIT —
 * runs in one turn of the event loop, with no promise per statement; otherwise each statement is
 * awaited in turn. Both give the same results, errors and isolation.
 */
import { runSteps, runStepsNow, type Db, type Queryable, type Steps, type SyncQueryable } from '../store/db.js';

interface Unit {
  fn: ((q: Queryable) => Promise<unknown>) | null;
  steps: (() => Steps<unknown>) | null;
  savepoint: boolean;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** PostgreSQL errors that must abort the whole transaction so Db.tx can retry it. */
function mustAbortBatch(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code === '40001' || code === '40P01';
}

/**
 * What a unit run without a savepoint throws to refuse its input (having written nothing). Any
 * other error from such a unit fails the batch.
 */
export class UnitRefusal extends Error {}

export class TxBatcher {
  readonly #db: Db;
  readonly #maxBatch: number;
  readonly #delayMs: number;
  #queue: Unit[] = [];
  #running = false;
  /** Batches committed and units in them (for metrics and benchmarks). */
  stats = { batches: 0, units: 0 };

  constructor(db: Db, options: { maxBatch?: number; delayMs?: number } = {}) {
    this.#db = db;
    this.#maxBatch = options.maxBatch ?? 256;
    this.#delayMs = options.delayMs ?? 2;
  }

  /**
   * Runs `fn` in the next batch; resolves with its result after the batch commits. With
   * `savepoint: false` the unit promises that it writes nothing before any error it throws (it
   * checks first and writes last), which saves two statements; an unexpected error after its
   * write fails the whole batch, and every caller of it sees the error.
   */
  run<T>(fn: (q: Queryable) => Promise<T>, options: { savepoint?: boolean } = {}): Promise<T> {
    return this.#enqueue(fn, null, options);
  }

  /** As `run`, for a unit written as `Steps`: `steps()` makes a new generator each time the unit runs. */
  steps<T>(steps: () => Steps<T>, options: { savepoint?: boolean } = {}): Promise<T> {
    return this.#enqueue(null, steps, options);
  }

  #enqueue<T>(fn: ((q: Queryable) => Promise<T>) | null, steps: (() => Steps<T>) | null, options: { savepoint?: boolean }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ fn, steps, savepoint: options.savepoint ?? true, resolve: resolve as (v: unknown) => void, reject });
      if (!this.#running) {
        this.#running = true;
        // Let work that is arriving join the batch: a commit (an fsync, which blocks the thread on
        // SQLite) is worth sharing among as many messages as a millisecond or two brings.
        if (this.#queue.length >= this.#maxBatch || this.#delayMs === 0) setImmediate(() => void this.#drain());
        else setTimeout(() => void this.#drain(), this.#delayMs);
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      let ran!: () => void;
      const unitsRan = new Promise<void>((resolve) => {
        ran = resolve;
      });
      const settled = this.#commit(batch, ran);
      // On SQLite a transaction's promise resolves only once its commit is durable (an fsync of the
      // WAL on libuv's pool), while the connection is free again as soon as it has committed. The
      // next batch therefore starts once this one's units have run: its BEGIN waits for this
      // COMMIT (the engine's mutex), its own commit shares or follows this fsync, and no caller
      // hears of its unit before the fsync that covers it. On PostgreSQL COMMIT is the durable
      // step and overlapping batches would only conflict on the rows they all update (the audit
      // head), so the next batch waits for this one to settle.
      await (this.#db.dialect === 'sqlite' ? Promise.race([unitsRan, settled]) : settled);
    }
    this.#running = false;
  }

  /** One batch in one transaction; `ran` is called once its units have run (before COMMIT). */
  async #commit(batch: Unit[], ran: () => void): Promise<void> {
    let outcomes: Outcome[] = [];
    try {
      const db = this.#db;
      if (db.txNow && batch.every((u) => u.steps !== null)) {
        await db.txNow((q) => {
          try {
            outcomes = batch.map((u) => unitNow(q, u));
          } finally {
            ran();
          }
        });
      } else {
        await db.tx(async (q) => {
          outcomes = [];
          try {
            for (const u of batch) outcomes.push(await unitAsync(q, u));
          } finally {
            ran();
          }
        });
      }
    } catch (error) {
      for (const u of batch) u.reject(error);
      return;
    }
    this.stats.batches++;
    this.stats.units += batch.length;
    batch.forEach((u, i) => {
      const o = outcomes[i]!;
      if (o.ok) u.resolve(o.value);
      else u.reject(o.error);
    });
  }
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** A unit's error that stays the unit's own (its caller hears of it); any other fails the batch. */
function isolated(u: Unit, error: unknown): boolean {
  return !mustAbortBatch(error) && (u.savepoint || error instanceof UnitRefusal);
}

async function unitAsync(q: Queryable, u: Unit): Promise<Outcome> {
  const work = () => (u.steps ? runSteps(q, u.steps()) : u.fn!(q));
  if (!u.savepoint) {
    try {
      return { ok: true, value: await work() };
    } catch (error) {
      if (!isolated(u, error)) throw error;
      return { ok: false, error };
    }
  }
  await q.run('SAVEPOINT bwc_unit');
  try {
    const value = await work();
    await q.run('RELEASE SAVEPOINT bwc_unit');
    return { ok: true, value };
  } catch (error) {
    if (!isolated(u, error)) throw error;
    await q.run('ROLLBACK TO SAVEPOINT bwc_unit');
    await q.run('RELEASE SAVEPOINT bwc_unit');
    return { ok: false, error };
  }
}

/** The same as `unitAsync`, every statement at once (a batch run by `txNow`). */
function unitNow(q: SyncQueryable, u: Unit): Outcome {
  if (!u.savepoint) {
    try {
      return { ok: true, value: runStepsNow(q, u.steps!()) };
    } catch (error) {
      if (!isolated(u, error)) throw error;
      return { ok: false, error };
    }
  }
  q.run('SAVEPOINT bwc_unit');
  try {
    const value = runStepsNow(q, u.steps!());
    q.run('RELEASE SAVEPOINT bwc_unit');
    return { ok: true, value };
  } catch (error) {
    if (!isolated(u, error)) throw error;
    q.run('ROLLBACK TO SAVEPOINT bwc_unit');
    q.run('RELEASE SAVEPOINT bwc_unit');
    return { ok: false, error };
  }
}
