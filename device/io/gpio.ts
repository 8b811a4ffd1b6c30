/**
 * The dock's status LED and its optional button, over Linux sysfs GPIO (`onoff`) behind an
 * interface, with a no-op backend where there is no GPIO (a laptop, a container, CI).
 *
 * Configuration names pins by their BCM number (the number printed on every Raspberry Pi pinout).
 * sysfs does not: since kernel 6.6 (Raspberry Pi OS Bookworm) the SoC's GPIO chip is registered at
 * a dynamic base, 512 on a Pi 4 and 571 on a Pi 5, so BCM 17 is sysfs GPIO 529 or 588. The number
 * is computed from /sys/class/gpio/gpiochip{N}/{base,label,ngpio}, never assumed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { Timers } from './timers.js';
import { systemTimers } from './timers.js';

/** Labels of the GPIO chips that carry the 40-pin header's BCM numbering, most specific first. */
export const HEADER_CHIP_LABELS = ['pinctrl-rp1', 'pinctrl-bcm2712', 'pinctrl-bcm2711', 'pinctrl-bcm2835', 'raspberrypi-gpio'] as const;

export interface GpioChip {
  /** The sysfs directory name, e.g. `gpiochip512`. */
  name: string;
  base: number;
  ngpio: number;
  label: string;
}

export class GpioMapError extends Error {
  override name = 'GpioMapError';
}

/** The GPIO chips sysfs lists under `{sysRoot}/class/gpio`, sorted by base. */
export function listGpioChips(sysRoot = '/sys'): GpioChip[] {
  const dir = join(sysRoot, 'class', 'gpio');
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /^gpiochip\d+$/.test(n));
  } catch (e) {
    throw new GpioMapError(`cannot list ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const chips: GpioChip[] = [];
  for (const name of names) {
    const read = (f: string) => readFileSync(join(dir, name, f), 'utf8').trim();
    try {
      const base = Number(read('base'));
      const ngpio = Number(read('ngpio'));
      if (!Number.isInteger(base) || !Number.isInteger(ngpio)) continue;
      chips.push({ name, base, ngpio, label: read('label') });
    } catch {
      // A chip without readable attributes is not one we can drive.
    }
  }
  return chips.sort((a, b) => a.base - b.base);
}

/** The chip whose lines are the header's BCM numbers: a known SoC label, else the only chip there is. */
export function headerChip(chips: readonly GpioChip[]): GpioChip {
  for (const label of HEADER_CHIP_LABELS) {
    const chip = chips.find((c) => c.label === label);
    if (chip) return chip;
  }
  if (chips.length === 1 && chips[0]) return chips[0];
  const seen = chips.map((c) => `${c.name} "${c.label}"`).join(', ') || 'none';
  throw new GpioMapError(`no GPIO chip with a Raspberry Pi header label (${HEADER_CHIP_LABELS.join(', ')}); found ${seen}`);
}

/** The sysfs GPIO number of a BCM pin: the header chip's base plus the BCM number. */
export function sysfsGpioNumber(bcm: number, chips: readonly GpioChip[]): number {
  if (!Number.isInteger(bcm) || bcm < 0) throw new GpioMapError(`BCM pin must be a whole number ≥ 0, got ${bcm}`);
  const chip = headerChip(chips);
  if (bcm >= chip.ngpio) throw new GpioMapError(`BCM ${bcm} is beyond ${chip.name} "${chip.label}" (${chip.ngpio} lines)`);
  return chip.base + bcm;
}

export type PinValue = 0 | 1;

export interface OutputPin {
  write(value: PinValue): void;
  close(): void;
}

export interface InputPin {
  read(): PinValue;
  /** Calls back on every edge with the new value; errors are reported, never thrown. */
  watch(onValue: (value: PinValue) => void, onError: (e: Error) => void): void;
  close(): void;
}

export interface GpioBackend {
  /** `sysfs` drives real pins; `none` accepts every call and does nothing. */
  readonly kind: 'sysfs' | 'none';
  output(bcm: number): OutputPin;
  input(bcm: number): InputPin;
}

/** Accepts every call and drives nothing: for docks without GPIO. */
export const noGpio: GpioBackend = {
  kind: 'none',
  output: () => ({ write: () => {}, close: () => {} }),
  input: () => ({ read: () => 0, watch: () => {}, close: () => {} }),
};

interface OnoffGpio {
  readSync(): PinValue;
  writeSync(v: PinValue): void;
  watch(cb: (err: Error | null | undefined, v: PinValue) => void): void;
  unwatchAll(): void;
  unexport(): void;
}
interface OnoffModule {
  Gpio: { accessible: boolean; new (gpio: number, direction: 'in' | 'out', edge?: 'both'): OnoffGpio };
}

function loadOnoff(): OnoffModule {
  return createRequire(import.meta.url)('onoff') as OnoffModule;
}

/** The sysfs backend: BCM numbers mapped through the chip table read once at start. */
export function sysfsGpio(chips: readonly GpioChip[], onoff: OnoffModule = loadOnoff()): GpioBackend {
  return {
    kind: 'sysfs',
    output(bcm) {
      const pin = new onoff.Gpio(sysfsGpioNumber(bcm, chips), 'out');
      return {
        write: (v) => pin.writeSync(v),
        close: () => {
          pin.writeSync(0);
          pin.unexport();
        },
      };
    },
    input(bcm) {
      const pin = new onoff.Gpio(sysfsGpioNumber(bcm, chips), 'in', 'both');
      return {
        read: () => pin.readSync(),
        watch: (onValue, onError) => pin.watch((err, v) => (err ? onError(err) : onValue(v))),
        close: () => {
          pin.unwatchAll();
          pin.unexport();
        },
      };
    },
  };
}

/**
 * The GPIO backend for this machine: sysfs when `onoff` says GPIO is accessible and the header chip
 * is found, else the no-op backend, with one log line saying why. Never throws.
 */
export function openGpio(options: { sysRoot?: string; log?: (message: string) => void; onoff?: OnoffModule } = {}): GpioBackend {
  const log = options.log ?? (() => {});
  let onoff: OnoffModule;
  try {
    onoff = options.onoff ?? loadOnoff();
  } catch (e) {
    log(`gpio: onoff failed to load (${(e as Error).message}); LED and button disabled`);
    return noGpio;
  }
  if (!onoff.Gpio.accessible) {
    log('gpio: no accessible sysfs GPIO on this machine; LED and button disabled');
    return noGpio;
  }
  try {
    const chips = listGpioChips(options.sysRoot);
    const chip = headerChip(chips);
    log(`gpio: using ${chip.name} "${chip.label}" (BCM n is sysfs ${chip.base}+n)`);
    return sysfsGpio(chips, onoff);
  } catch (e) {
    log(`gpio: ${(e as Error).message}; LED and button disabled`);
    return noGpio;
  }
}

// ── Status LED ──────────────────────────────────────────────────────────────────────────────

/** What the dock's LED shows, most urgent first (see `mostUrgent`). */
export const LED_STATES = ['error', 'unauthorized', 'recording', 'syncing', 'idle', 'off'] as const;
export type LedState = (typeof LED_STATES)[number];

/**
 * LED patterns: alternating on/off durations in ms, looped; `[]` is dark and `[1]` solid on.
 * Each is told apart at a glance: a slow heartbeat when idle, solid while a camera records, an even
 * blink while syncing, a fast flicker for an unauthorized or prohibited recording, and three quick
 * pulses then a pause for a fault that needs field IT.
 */
export const LED_PATTERNS: Readonly<Record<LedState, readonly number[]>> = {
  idle: [100, 1900],
  recording: [1],
  syncing: [500, 500],
  unauthorized: [100, 100],
  error: [150, 150, 150, 150, 150, 1250],
  off: [],
};

/** The state to show when several hold at once (one dock, many cameras). */
export function mostUrgent(states: Iterable<LedState>): LedState {
  let best: LedState = 'off';
  for (const s of states) if (LED_STATES.indexOf(s) < LED_STATES.indexOf(best)) best = s;
  return best;
}

/** Plays one LED pattern at a time on an output pin, on an injectable clock. */
export class StatusLed {
  readonly #pin: OutputPin;
  readonly #timers: Timers;
  #state: LedState = 'off';
  #timer: unknown = null;
  #lit: PinValue = 0;

  constructor(pin: OutputPin, timers: Timers = systemTimers) {
    this.#pin = pin;
    this.#timers = timers;
    this.#set(0);
  }

  get state(): LedState {
    return this.#state;
  }

  /** Whether the LED is lit right now. */
  get lit(): boolean {
    return this.#lit === 1;
  }

  show(state: LedState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#cancel();
    const pattern = LED_PATTERNS[state];
    if (pattern.length === 0) this.#set(0);
    else if (pattern.length === 1) this.#set(1);
    else this.#step(pattern, 0);
  }

  close(): void {
    this.#cancel();
    this.#state = 'off';
    this.#pin.write(0);
    this.#pin.close();
  }

  #step(pattern: readonly number[], i: number): void {
    this.#set(i % 2 === 0 ? 1 : 0);
    this.#timer = this.#timers.setTimeout(() => this.#step(pattern, (i + 1) % pattern.length), pattern[i] ?? 0);
  }

  #set(v: PinValue): void {
    this.#lit = v;
    this.#pin.write(v);
  }

  #cancel(): void {
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = null;
  }
}

// ── Button ──────────────────────────────────────────────────────────────────────────────────

export interface ButtonOptions {
  /** The line reads 0 when pressed (a button to ground with a pull-up): the usual wiring. */
  activeLow?: boolean;
  /** A level must hold this long to count (contact bounce). */
  debounceMs?: number;
  /** Held at least this long, a press is a long press. */
  longPressMs?: number;
  timers?: Timers;
  onPress?(kind: 'short' | 'long'): void;
  onError?(e: Error): void;
}

/**
 * A debounced push button: reports a short press on release, a long press as soon as it has been
 * held long enough (field IT holds it to ask for a re-sync; officers tap it to check status).
 */
export class Button {
  readonly #pin: InputPin;
  readonly #o: Required<Omit<ButtonOptions, 'onPress' | 'onError'>> & Pick<ButtonOptions, 'onPress' | 'onError'>;
  #stable: boolean;
  #pending: unknown = null;
  #longTimer: unknown = null;
  #longFired = false;
  presses = { short: 0, long: 0 };

  constructor(pin: InputPin, options: ButtonOptions = {}) {
    this.#pin = pin;
    this.#o = { activeLow: true, debounceMs: 30, longPressMs: 3000, timers: systemTimers, ...options };
    this.#stable = this.#pressed(pin.read());
    pin.watch(
      (v) => this.#edge(v),
      (e) => this.#o.onError?.(e),
    );
  }

  /** One edge from the pin: the level must hold `debounceMs` before it counts. */
  #edge(v: PinValue): void {
    const t = this.#o.timers;
    if (this.#pending !== null) t.clearTimeout(this.#pending);
    const pressed = this.#pressed(v);
    this.#pending = t.setTimeout(() => {
      this.#pending = null;
      if (pressed === this.#stable) return;
      this.#stable = pressed;
      if (pressed) {
        this.#longFired = false;
        this.#longTimer = t.setTimeout(
          () => {
            this.#longTimer = null;
            this.#longFired = true;
            this.presses.long++;
            this.#o.onPress?.('long');
          },
          Math.max(0, this.#o.longPressMs - this.#o.debounceMs),
        );
      } else {
        if (this.#longTimer !== null) t.clearTimeout(this.#longTimer);
        this.#longTimer = null;
        if (!this.#longFired) {
          this.presses.short++;
          this.#o.onPress?.('short');
        }
      }
    }, this.#o.debounceMs);
  }

  #pressed(v: PinValue): boolean {
    return this.#o.activeLow ? v === 0 : v === 1;
  }

  close(): void {
    const t = this.#o.timers;
    if (this.#pending !== null) t.clearTimeout(this.#pending);
    if (this.#longTimer !== null) t.clearTimeout(this.#longTimer);
    this.#pin.close();
  }
}
