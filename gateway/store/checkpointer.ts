// The SQLite engine's WAL checkpoints (sqlite.ts); gateway/store/README.md "Transactions" says why.
import { Worker } from 'node:worker_threads';

/** A WAL checkpoint after this many committed writes, or this long after the last one with any write since. */
const CHECKPOINT_EVERY_WRITES = 16;
const CHECKPOINT_EVERY_MS = 5000;
/** Checkpoints run back to back, at most, to copy the commits that arrived during the one before. */
const CHECKPOINT_CHASES = 4;
/** A checkpoint that left frames is followed by one this long after, when nothing else started one. */
const CHECKPOINT_FOLLOW_UP_MS = 250;
/** ...and only once the WAL holds this many frames (4 MiB): a small WAL can wait for a quiet moment. */
const CHASE_ABOVE_FRAMES = 1024;
/** The writer checkpoints by itself (in COMMIT) only beyond this many WAL pages (32 MiB). */
export const WAL_AUTOCHECKPOINT_PAGES = 8192;
/** After a checkpoint lets SQLite start the WAL again, the file is cut back to this size. */
export const WAL_SIZE_LIMIT = 16 * 1024 * 1024;

/**
 * WAL checkpoints on a worker thread with a connection of its own (checkpoint-worker.mjs). SQLite's
 * automatic checkpoint runs inside the COMMIT that crosses wal_autocheckpoint, on the event loop:
 * it copies the WAL into the database and fsyncs it, 15–25 ms under ingest load every few commits.
 * A PASSIVE checkpoint from another connection blocks neither the writer nor the readers.
 *
 * SQLite starts the WAL file over only when a checkpoint has copied every frame before the next
 * write begins. A checkpoint that ends with frames left (commits arrived while it ran) is run again
 * at once while the WAL holds 4 MiB or more, so it catches up between two commits; a smaller one
 * is copied by a follow-up checkpoint after a pause. If the thread ever falls far behind, the
 * writer's own automatic checkpoint at WAL_AUTOCHECKPOINT_PAGES bounds the file.
 * Started on first need; if the thread cannot run, the writer goes back to SQLite's default.
 */
export class Checkpointer {
  #worker: Worker | null = null;
  #exited: Promise<void> = Promise.resolve();
  #busy = false;
  #failed = false;
  #writesSince = 0;
  #chases = 0;
  #followUp: NodeJS.Timeout | null = null;
  #lastAt = Date.now();
  /** Checkpoints run, and the last one's WAL frames and frames copied (for tests and benchmarks). */
  readonly stats = { runs: 0, log: 0, checkpointed: 0 };

  constructor(
    private readonly file: string,
    private readonly busyTimeoutMs: number,
    private readonly onFailure: (e: Error) => void,
  ) {}

  /** Called after every committed write; starts a checkpoint when one is due and none is running. */
  wrote(): void {
    this.#writesSince++;
    if (this.#busy || this.#failed) return;
    this.#chases = 0;
    if (this.#writesSince < CHECKPOINT_EVERY_WRITES && Date.now() - this.#lastAt < CHECKPOINT_EVERY_MS) return;
    this.#run();
  }

  #run(): void {
    if (this.#followUp) clearTimeout(this.#followUp);
    this.#followUp = null;
    if (this.#failed) return;
    if (!this.#worker) {
      let w: Worker;
      try {
        w = new Worker(new URL('./checkpoint-worker.mjs', import.meta.url), {
          workerData: { file: this.file, busyTimeoutMs: this.busyTimeoutMs },
        });
      } catch (e) {
        this.#fail(e as Error);
        return;
      }
      w.unref();
      w.on('message', (r: { ok: boolean; log?: number; checkpointed?: number }) => this.#done(r));
      w.on('error', (e) => this.#fail(e));
      this.#exited = new Promise<void>((res) =>
        w.once('exit', () => {
          if (this.#worker === w) this.#fail(new Error('the checkpoint thread exited'));
          res();
        }),
      );
      this.#worker = w;
    }
    this.#busy = true;
    this.#writesSince = 0;
    this.#worker.postMessage({ op: 'checkpoint' });
  }

  #done(r: { ok: boolean; log?: number; checkpointed?: number }): void {
    this.#busy = false;
    this.#lastAt = Date.now();
    if (!r.ok) return; // SQLITE_BUSY from another process's checkpoint…: retried at the next one due
    this.stats.runs++;
    this.stats.log = r.log ?? 0;
    this.stats.checkpointed = r.checkpointed ?? 0;
    // Commits that arrived while it ran (or frames a reader kept it from copying) are left. Once
    // the WAL is large, chase them a few times so that it is fully copied when the next write
    // begins, which lets SQLite start the file over; then wait for the next checkpoint due.
    const left = this.#writesSince > 0 || this.stats.checkpointed < this.stats.log;
    if (!left) {
      this.#chases = 0;
    } else if (this.stats.log >= CHASE_ABOVE_FRAMES && this.#chases < CHECKPOINT_CHASES) {
      this.#chases++;
      this.#run();
    } else {
      // Copy the rest once writes pause, so the next write after the pause starts the file over.
      this.#chases = 0;
      this.#followUp ??= setTimeout(() => {
        this.#followUp = null;
        if (!this.#busy) this.#run();
      }, CHECKPOINT_FOLLOW_UP_MS);
      this.#followUp.unref();
    }
  }

  #fail(e: Error): void {
    this.#failed = true;
    this.#busy = false;
    this.#worker = null;
    this.onFailure(e);
  }

  /** Stops the thread and waits for it to close its connection. */
  async close(): Promise<void> {
    const w = this.#worker;
    this.#worker = null;
    this.#failed = true;
    if (this.#followUp) clearTimeout(this.#followUp);
    if (w) {
      w.ref(); // keep the process alive until the thread has closed its connection
      w.postMessage({ op: 'close' });
    }
    await this.#exited;
  }
}
