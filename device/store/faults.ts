/**
 * Background work that failed, and the one fault the dock cannot fix itself: a full state directory.
 * Nothing in the background can stop the agent: a failure is logged and what failed is retried. A
 * full state directory (SQLite `SQLITE_FULL`, `ENOSPC`, `EDQUOT`) is said in words field IT acts on,
 * at most every 30 s; nothing is lost meanwhile (camera events stay on the cameras, the outbox keeps
 * what is unacked). `probe()` finds out when the directory can be written again, says so once and
 * tells the gateway (a STORAGE_LOW alert there).
 */
import type { Logger } from 'pino';
import { pb, type bwc } from '../../proto/wire.js';
import type { DockState } from './state.js';

/** SQLite or the file system says the disk (or quota) is full. */
export function isStorageFull(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return (
    code === 'SQLITE_FULL' ||
    code === 'ENOSPC' ||
    code === 'EDQUOT' ||
    /database or disk is full|no space left on device/i.test((e as Error | null)?.message ?? '')
  );
}

export interface DockFaultsOptions {
  /** The state directory, named in what field IT reads. */
  dir: string;
  /** Where a probe writes (a key in the dock's state table). */
  state: Pick<DockState, 'set'>;
  now(): number;
  /** The `faults` part of the dock's logger (device/log.ts). */
  log: Logger;
  /** An event for the gateway. */
  report(event: Omit<bwc.v1.Event.$Properties, 'header'>): void;
  /** The directory is writable again: custody resumes. */
  onWritable(): void;
}

const FULL_REPEAT_MS = 30_000;

export class DockFaults {
  readonly #o: DockFaultsOptions;
  /** Since when the state directory has been full (null: it is not). */
  #fullSince: number | null = null;
  #fullLogged = 0;

  constructor(options: DockFaultsOptions) {
    this.#o = options;
  }

  /** The state directory is full now. */
  get full(): boolean {
    return this.#fullSince !== null;
  }

  /** Runs `fn`; a failure is a fault, not a crash. */
  guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.fault(what, e);
    }
  }

  fault(what: string, e: unknown): void {
    if (isStorageFull(e)) {
      const now = this.#o.now();
      this.#fullSince ??= now;
      if (now - this.#fullLogged >= FULL_REPEAT_MS) {
        this.#fullLogged = now;
        this.#o.log.error(
          `state directory ${this.#o.dir} is full: ${what} not saved (${(e as Error).message}); nothing is lost, it is retried when space is freed`,
        );
      }
      return;
    }
    this.#o.log.error(`${what}: ${(e as Error).message}`);
  }

  /** While the state directory is full: is it writable again? Then the gateway and `onWritable` are told. */
  probe(): void {
    if (this.#fullSince === null) return;
    try {
      this.#o.state.set('state_probe', String(this.#o.now()));
    } catch (e) {
      if (isStorageFull(e)) return;
      throw e;
    }
    const since = this.#fullSince;
    this.#fullSince = null;
    this.#fullLogged = 0;
    const detail = `dock state directory was full for ${Math.round((this.#o.now() - since) / 1000)} s; camera events were held on the cameras`;
    this.#o.log.warn(`state directory ${this.#o.dir} is writable again: ${detail}`);
    this.#o.report({
      kind: pb.EventKind.EVENT_KIND_ALERT,
      alert: pb.AlertKind.ALERT_KIND_STORAGE_LOW,
      occurredAtMs: this.#o.now(),
      detail,
    });
    this.#o.onWritable();
  }
}
