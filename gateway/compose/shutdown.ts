/**
 * The gateway's stops, run in the reverse order of their starts: each part registers how to stop
 * as it starts, and a failing stop is logged and the others still run.
 */
import type { Logger } from '../api/http.js';

export class Shutdown {
  readonly #steps: (() => Promise<void> | void)[] = [];
  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** `stop` runs before every stop added earlier. */
  add(stop: () => Promise<void> | void): void {
    this.#steps.push(stop);
  }

  async run(): Promise<void> {
    for (const f of this.#steps.reverse()) {
      try {
        await f();
      } catch (e) {
        this.#log.warn({ err: e }, `shutdown: ${(e as Error).message}`);
      }
    }
    this.#steps.length = 0;
  }
}
