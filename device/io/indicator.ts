/**
 * The dock's status light and button as the dock agent uses them (the pins and patterns are in
 * gpio.ts). The light shows the most urgent of:
 *
 * - `error`: the dock needs field IT (its state directory is full, or it has not reached the broker
 *   for `offlineAfterMs`);
 * - `unauthorized`: a recording was decided UNAUTHORIZED or PROHIBITED (1061.2 §4): the officer
 *   should know before walking away; a short press acknowledges it (the same recording does not
 *   flag again when it is decided again at its stop), or it stops after `flagMs`;
 * - `recording`: a docked camera is recording;
 * - `syncing`: clips are being hashed or offloaded, or messages wait in the outbox;
 * - `idle`: everything at the gateway; a slow heartbeat that says the dock is alive.
 *
 * A short press also writes a status line to the log (for field IT at the dock); a long press asks
 * for a re-sync now (a Status, and every unfinished clip's manifest sent again).
 */
import type { Logger } from 'pino';
import { mostUrgent, openGpio, StatusLed, Button, type GpioBackend, type LedState } from './gpio.js';
import { systemTimers, type Timers } from './timers.js';

export interface DockSignals {
  /** A camera on this dock is recording. */
  recording(): boolean;
  /** Hashing or offload under way, or messages in the outbox. */
  busy(): boolean;
  /** The dock cannot keep custody without help (a full state directory). */
  fault(): boolean;
  /** Connected to the broker now. */
  connected(): boolean;
}

export interface DockIndicatorOptions {
  gpio: GpioBackend;
  /** BCM line of the LED; none: no light. */
  led?: number;
  /** BCM line of the button; none: no button. */
  button?: number;
  buttonActiveLow?: boolean;
  signals: DockSignals;
  onShortPress?(): void;
  onLongPress?(): void;
  /** How long the unauthorized flicker lasts without a press. */
  flagMs?: number;
  /** Not connected this long is a fault. */
  offlineAfterMs?: number;
  timers?: Timers;
  log?(message: string): void;
}

export class DockIndicator {
  readonly #o: Required<Pick<DockIndicatorOptions, 'flagMs' | 'offlineAfterMs' | 'timers'>> & DockIndicatorOptions;
  readonly #led: StatusLed | null;
  readonly #button: Button | null;
  /** Recordings flagged, by key, until when; and those the officer has acknowledged. */
  readonly #flags = new Map<string, number>();
  readonly #acknowledged = new Set<string>();
  #disconnectedSince: number | null = null;

  constructor(o: DockIndicatorOptions) {
    this.#o = { flagMs: 10 * 60_000, offlineAfterMs: 60_000, timers: systemTimers, ...o };
    const t = this.#o.timers;
    this.#led = o.led === undefined ? null : new StatusLed(o.gpio.output(o.led), t);
    this.#button =
      o.button === undefined
        ? null
        : new Button(o.gpio.input(o.button), {
            activeLow: o.buttonActiveLow ?? true,
            timers: t,
            onPress: (kind) => {
              if (kind === 'short') {
                // Seen: these recordings do not flag again (a decision is taken again at the stop).
                for (const key of this.#flags.keys()) this.#acknowledged.add(key);
                this.#flags.clear();
                o.onShortPress?.();
              } else {
                o.onLongPress?.();
              }
              this.refresh();
            },
            onError: (e) => o.log?.(`button: ${e.message}`),
          });
  }

  /** What the light shows now (also when there is no LED, for the status report). */
  get state(): LedState {
    return this.#led?.state ?? this.compute();
  }

  /** An unauthorized or prohibited decision about the recording `key` (e.g. camera and clip id). */
  flagUnauthorized(key = ''): void {
    if (this.#acknowledged.has(key)) return;
    this.#flags.set(key, this.#o.timers.now() + this.#o.flagMs);
    if (this.#acknowledged.size > 1000) this.#acknowledged.clear();
    this.refresh();
  }

  compute(): LedState {
    const now = this.#o.timers.now();
    const s = this.#o.signals;
    if (s.connected()) this.#disconnectedSince = null;
    else this.#disconnectedSince ??= now;
    const states: LedState[] = ['idle'];
    if (s.fault() || (this.#disconnectedSince !== null && now - this.#disconnectedSince >= this.#o.offlineAfterMs)) states.push('error');
    for (const [key, until] of this.#flags) if (now >= until) this.#flags.delete(key);
    if (this.#flags.size > 0) states.push('unauthorized');
    if (s.recording()) states.push('recording');
    if (s.busy()) states.push('syncing');
    return mostUrgent(states);
  }

  /** Shows the current state (the agent calls it on changes and every half second). */
  refresh(): void {
    this.#led?.show(this.compute());
  }

  close(): void {
    this.#led?.close();
    this.#button?.close();
  }
}

/**
 * The light and button the dock's config names (`io.led`, `io.button`) on this machine's GPIO (or
 * the backend given), or null when it names neither.
 */
export function configuredIndicator(
  io: { led?: number | undefined; button?: number | undefined; buttonActiveLow: boolean },
  o: Pick<DockIndicatorOptions, 'signals' | 'onShortPress' | 'onLongPress' | 'timers'> & { gpio?: GpioBackend; log: Logger },
): DockIndicator | null {
  if (io.led === undefined && io.button === undefined) return null;
  return new DockIndicator({
    gpio: o.gpio ?? openGpio({ log: (m) => o.log.info(m) }),
    ...(io.led !== undefined ? { led: io.led } : {}),
    ...(io.button !== undefined ? { button: io.button } : {}),
    buttonActiveLow: io.buttonActiveLow,
    signals: o.signals,
    ...(o.onShortPress ? { onShortPress: o.onShortPress } : {}),
    ...(o.onLongPress ? { onLongPress: o.onLongPress } : {}),
    ...(o.timers ? { timers: o.timers } : {}),
    log: (m) => o.log.warn(m),
  });
}
