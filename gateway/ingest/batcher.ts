/**
 * Group commit: many messages' database work in one transaction, so a burst costs one fsync per
 * batch instead of one per message (on SQLite with synchronous=FULL, about 3 ms each).
 *
 * Each unit of work runs inside the shared transaction under its own SAVEPOINT: a unit that throws
 * (a refused message) is rolled back alone and its caller gets the error; the others commit. The
 * callers' promises settle only after the COMMIT, so nothing is acknowledged before it is durable.
 * On PostgreSQL the whole batch may be re-run after a serialization failure (Db.tx retries it), so
 * units must touch nothing but the database.
 */
import type { Db, Queryable } from '../store/db.js';

interface Unit {
  fn: (q: Queryable) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** PostgreSQL errors that must abort the whole transaction so Db.tx can retry it. */
function mustAbortBatch(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code === '40001' || code === '40P01';
}

export class TxBatcher {
  readonly #db: Db;
  readonly #maxBatch: number;
  #queue: Unit[] = [];
  #running = false;
  /** Batches committed and units in them (for metrics and benchmarks). */
  stats = { batches: 0, units: 0 };

  constructor(db: Db, options: { maxBatch?: number } = {}) {
    this.#db = db;
    this.#maxBatch = options.maxBatch ?? 256;
  }

  /** Runs `fn` in the next batch; resolves with its result after the batch commits. */
  run<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.#running) {
        this.#running = true;
        // Let the callers of this tick join the batch.
        setImmediate(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch);
      let outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
      try {
        await this.#db.tx(async (q) => {
          outcomes = [];
          for (const u of batch) {
            await q.run('SAVEPOINT bwc_unit');
            try {
              const value = await u.fn(q);
              await q.run('RELEASE SAVEPOINT bwc_unit');
              outcomes.push({ ok: true, value });
            } catch (error) {
              if (mustAbortBatch(error)) throw error;
              await q.run('ROLLBACK TO SAVEPOINT bwc_unit');
              await q.run('RELEASE SAVEPOINT bwc_unit');
              outcomes.push({ ok: false, error });
            }
          }
        });
      } catch (error) {
        for (const u of batch) u.reject(error);
        continue;
      }
      this.stats.batches++;
      this.stats.units += batch.length;
      batch.forEach((u, i) => {
        const o = outcomes[i]!;
        if (o.ok) u.resolve(o.value);
        else u.reject(o.error);
      });
    }
    this.#running = false;
  }
}
