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

/** The gateway's sweep, in order: what each part does every `sweepIntervalMs`. */
export function gatewaySweeps(p: {
  ingest: { sweep(): Promise<{ failed: readonly string[] }> };
  fleet: { sweep(): Promise<unknown> };
  secondDecisions: { sweep(): Promise<unknown> };
  auth: { pruneSessions(): Promise<unknown> };
  audit: { sweep(exportDir: string): Promise<unknown> };
  history: { maybeSample(now: number): Promise<unknown> };
  auditExportDir: string;
  log: Logger;
}): SweepStep[] {
  return [
    {
      name: 'ingest',
      run: async () => {
        for (const f of (await p.ingest.sweep()).failed) p.log.warn({}, `sweep: cannot finish the ${f}; tried again at the next sweep`);
      },
    },
    { name: 'fleet', run: async () => void (await p.fleet.sweep()) },
    { name: 'second decision', run: async () => void (await p.secondDecisions.sweep()) },
    { name: 'sessions', run: async () => void (await p.auth.pruneSessions()) },
    { name: 'audit', run: async () => void (await p.audit.sweep(p.auditExportDir)) },
    { name: 'history', run: async (t) => void (await p.history.maybeSample(t)) },
  ];
}
