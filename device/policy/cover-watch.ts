/**
 * Whole-recording coverage on the dock (DESIGN §5, second round): while a recording runs, the dock
 * knows when its basis ends (the decision's `coveredUntil`: a grant's expiry, a revocation's
 * effective time, a plan's end). At that instant it decides again, alerts the officer on the
 * camera and reports the new decision; it never stops the camera.
 *
 * One timer per running clip. `setTimeout` holds at most 2^31−1 ms (about 24.8 days), so a
 * farther end is reached in steps. The clock and the timer functions are injected, so tests drive
 * it with a fake clock.
 */
export interface CoverWatchOptions {
  now: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (handle: unknown) => void;
}

const MAX_DELAY_MS = 2 ** 31 - 1;

export class CoverWatch {
  readonly #o: Required<CoverWatchOptions>;
  readonly #timers = new Map<string, { endsAt: number; handle: unknown }>();

  constructor(options: CoverWatchOptions) {
    this.#o = {
      setTimer: (fn, ms) => {
        const t = setTimeout(fn, ms);
        t.unref();
        return t;
      },
      clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
      ...options,
    };
  }

  /** Calls `onEnd` once `endsAt` is reached (at once if it has passed); replaces an earlier watch of the same clip. */
  watch(key: string, endsAt: number, onEnd: () => void): void {
    const held = this.#timers.get(key);
    if (held?.endsAt === endsAt) return;
    this.clear(key);
    const arm = (): void => {
      const delay = Math.max(0, endsAt - this.#o.now());
      const handle = this.#o.setTimer(
        () => {
          if (this.#timers.get(key)?.handle !== handle) return;
          if (endsAt - this.#o.now() > 0) {
            arm(); // a far end is reached in steps, or the timer fired early
            return;
          }
          this.#timers.delete(key);
          onEnd();
        },
        Math.min(delay, MAX_DELAY_MS),
      );
      this.#timers.set(key, { endsAt, handle });
    };
    arm();
  }

  clear(key: string): void {
    const held = this.#timers.get(key);
    if (!held) return;
    this.#o.clearTimer(held.handle);
    this.#timers.delete(key);
  }

  clearAll(): void {
    for (const key of [...this.#timers.keys()]) this.clear(key);
  }

  /** The clips watched, with when their basis ends (for status and tests). */
  watched(): ReadonlyMap<string, number> {
    return new Map([...this.#timers].map(([k, v]) => [k, v.endsAt]));
  }
}
