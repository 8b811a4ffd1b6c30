/**
 * The gateway's periodic work, every `sweepIntervalMs` and on demand (tests): finishing clips
 * whose assembly lease expired, the fleet's checks, the second decision's waits, expired
 * sessions, audit checkpoints and their export, the dashboard's fleet samples. One sweep at a
 * time; a failing step is logged under its name, the steps after it still run, and the next sweep
 * tries it again.
 */
import type { Logger } from '../api/http.js';
import type { Shutdown } from './shutdown.js';

export interface SweepStep {
  readonly name: string;
  run(now: number): Promise<void>;
}

export class Sweeper {
  readonly #steps: readonly SweepStep[];
  readonly #log: Logger;
  readonly #now: () => number;
  #sweeping: Promise<void> | null = null;

  constructor(o: { steps: readonly SweepStep[]; log: Logger; now: () => number }) {
    this.#steps = o.steps;
    this.#log = o.log;
    this.#now = o.now;
  }

  /** Runs every step now, or waits for the sweep already running. */
  async sweep(): Promise<void> {
    this.#sweeping ??= (async () => {
      for (const s of this.#steps) {
        try {
          await s.run(this.#now());
        } catch (e) {
          this.#log.warn({ err: e }, `sweep: ${s.name}: ${(e as Error).message}`);
        }
      }
    })().finally(() => {
      this.#sweeping = null;
    });
    await this.#sweeping;
  }

  /** Sweeps every `intervalMs` until the gateway stops. */
  start(intervalMs: number, shutdown: Shutdown): void {
    const timer = setInterval(() => void this.sweep(), intervalMs);
    timer.unref();
    shutdown.add(async () => {
      clearInterval(timer);
      await this.#sweeping;
    });
  }
}
