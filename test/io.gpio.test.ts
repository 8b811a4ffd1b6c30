/**
 * GPIO for the dock's LED and button: the BCM → sysfs number mapping on each Raspberry Pi kernel
 * generation (against fake sysfs trees), the no-op fallback, LED patterns and button debouncing
 * on a fake clock.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Button,
  GpioMapError,
  headerChip,
  LED_PATTERNS,
  LED_STATES,
  listGpioChips,
  mostUrgent,
  noGpio,
  openGpio,
  StatusLed,
  sysfsGpioNumber,
  type InputPin,
  type OutputPin,
  type PinValue,
} from '../device/io/gpio.js';
import { FakeClock } from '../device/link/clock.js';
import { runBwc, tempDir } from './helpers.js';

/** Writes /sys/class/gpio/gpiochipN/{base,ngpio,label} for each chip. */
function fakeSysfs(chips: { base: number; ngpio: number; label: string }[]): string {
  const root = tempDir();
  mkdirSync(join(root, 'class', 'gpio'), { recursive: true });
  writeFileSync(join(root, 'class', 'gpio', 'export'), '');
  for (const c of chips) {
    const d = join(root, 'class', 'gpio', `gpiochip${c.base}`);
    mkdirSync(d);
    writeFileSync(join(d, 'base'), `${c.base}\n`);
    writeFileSync(join(d, 'ngpio'), `${c.ngpio}\n`);
    writeFileSync(join(d, 'label'), `${c.label}\n`);
  }
  return root;
}

// Chip tables as the kernels publish them.
const PI4_BOOKWORM = [
  { base: 512, ngpio: 58, label: 'pinctrl-bcm2711' },
  { base: 570, ngpio: 8, label: 'raspberrypi-exp-gpio' },
];
const PI5_BOOKWORM = [
  { base: 512, ngpio: 32, label: 'gpio-brcmstb@107d508500' },
  { base: 544, ngpio: 4, label: 'gpio-brcmstb@107d508520' },
  { base: 548, ngpio: 17, label: 'gpio-brcmstb@107d517c00' },
  { base: 565, ngpio: 6, label: 'gpio-brcmstb@107d517c20' },
  { base: 571, ngpio: 54, label: 'pinctrl-rp1' },
];
const PI3_LEGACY = [
  { base: 0, ngpio: 54, label: 'pinctrl-bcm2835' },
  { base: 504, ngpio: 8, label: 'raspberrypi-exp-gpio' },
];

describe('BCM → sysfs GPIO number (kernel ≥ 6.6 numbers from the chip base)', () => {
  it.each([
    ['a Pi 4 on Bookworm', PI4_BOOKWORM, 17, 529],
    ['a Pi 5 on Bookworm', PI5_BOOKWORM, 17, 588],
    ['a Pi 3 on a legacy kernel', PI3_LEGACY, 17, 17],
    ['a Pi 5, BCM 0', PI5_BOOKWORM, 0, 571],
  ])('maps on %s', (_name, chips, bcm, sysfs) => {
    const listed = listGpioChips(fakeSysfs(chips));
    expect(listed.map((c) => c.base)).toEqual(chips.map((c) => c.base).sort((a, b) => a - b));
    expect(sysfsGpioNumber(bcm, listed)).toBe(sysfs);
  });

  it('picks the header chip by label, not by lowest base', () => {
    expect(headerChip(listGpioChips(fakeSysfs(PI5_BOOKWORM))).label).toBe('pinctrl-rp1');
  });

  it('refuses a pin beyond the chip, a negative pin, and a machine with no header chip', () => {
    const pi4 = listGpioChips(fakeSysfs(PI4_BOOKWORM));
    expect(() => sysfsGpioNumber(58, pi4)).toThrow(/BCM 58 is beyond gpiochip512 "pinctrl-bcm2711" \(58 lines\)/);
    expect(() => sysfsGpioNumber(-1, pi4)).toThrow(GpioMapError);
    const other = listGpioChips(
      fakeSysfs([
        { base: 0, ngpio: 32, label: 'gpio-a' },
        { base: 32, ngpio: 32, label: 'gpio-b' },
      ]),
    );
    expect(() => sysfsGpioNumber(3, other)).toThrow(/no GPIO chip with a Raspberry Pi header label .*found gpiochip0 "gpio-a", gpiochip32 "gpio-b"/);
  });

  it('uses the only chip there is on an unknown board', () => {
    expect(sysfsGpioNumber(5, listGpioChips(fakeSysfs([{ base: 400, ngpio: 32, label: 'gpio-x' }])))).toBe(405);
  });

  it('says which directory is missing when there is no sysfs GPIO at all', () => {
    expect(() => listGpioChips(tempDir())).toThrow(/cannot list .*class\/gpio: ENOENT/);
  });
});

/** A stand-in for onoff: records what was exported and written. */
function fakeOnoff(accessible: boolean) {
  const made: { n: number; dir: string; writes: number[] }[] = [];
  class Gpio {
    static accessible = accessible;
    rec: { n: number; dir: string; writes: number[] };
    constructor(n: number, dir: string) {
      this.rec = { n, dir, writes: [] };
      made.push(this.rec);
    }
    readSync(): PinValue {
      return 1;
    }
    writeSync(v: PinValue) {
      this.rec.writes.push(v);
    }
    watch() {}
    unwatchAll() {}
    unexport() {}
  }
  return { onoff: { Gpio }, made };
}

describe('choosing a GPIO backend', () => {
  it('drives sysfs GPIO 529 for BCM 17 on a Pi 4 when GPIO is accessible', () => {
    const logs: string[] = [];
    const { onoff, made } = fakeOnoff(true);
    const gpio = openGpio({ sysRoot: fakeSysfs(PI4_BOOKWORM), onoff, log: (m) => logs.push(m) });
    expect(gpio.kind).toBe('sysfs');
    gpio.output(17).write(1);
    gpio.input(27);
    expect(made).toEqual([
      { n: 529, dir: 'out', writes: [1] },
      { n: 539, dir: 'in', writes: [] },
    ]);
    expect(logs).toEqual(['gpio: using gpiochip512 "pinctrl-bcm2711" (BCM n is sysfs 512+n)']);
  });

  it('falls back to the no-op backend with one log line when GPIO is not accessible', () => {
    const logs: string[] = [];
    const { onoff, made } = fakeOnoff(false);
    const gpio = openGpio({ sysRoot: fakeSysfs(PI4_BOOKWORM), onoff, log: (m) => logs.push(m) });
    expect(gpio).toBe(noGpio);
    gpio.output(17).write(1);
    expect(made).toHaveLength(0);
    expect(logs).toEqual(['gpio: no accessible sysfs GPIO on this machine; LED and button disabled']);
  });

  it('falls back with one log line when GPIO is accessible but no header chip is found', () => {
    const logs: string[] = [];
    const gpio = openGpio({ sysRoot: tempDir(), onoff: fakeOnoff(true).onoff, log: (m) => logs.push(m) });
    expect(gpio.kind).toBe('none');
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^gpio: cannot list .*; LED and button disabled$/);
  });

  it('loads the real onoff and follows its own verdict on this machine', () => {
    const { Gpio } = createRequire(import.meta.url)('onoff') as { Gpio: { accessible: boolean } };
    const logs: string[] = [];
    const gpio = openGpio({ log: (m) => logs.push(m) });
    if (!Gpio.accessible) expect(gpio.kind).toBe('none');
    expect(logs).toHaveLength(1);
  });
});

/** An output pin that records (time, value) on a fake clock. */
function recordingPin(clock: FakeClock) {
  const t0 = clock.now();
  const writes: [number, PinValue][] = [];
  let closed = false;
  const pin: OutputPin = {
    write: (v) => writes.push([clock.now() - t0, v]),
    close: () => {
      closed = true;
    },
  };
  return { pin, writes, closed: () => closed };
}

describe('status LED patterns', () => {
  it('every state has its own pattern', () => {
    const seen = new Set(LED_STATES.map((s) => LED_PATTERNS[s].join('/')));
    expect(seen.size).toBe(LED_STATES.length);
  });

  it('plays the idle heartbeat: 100 ms on every 2 s', () => {
    const clock = new FakeClock();
    const { pin, writes } = recordingPin(clock);
    const led = new StatusLed(pin, clock);
    led.show('idle');
    clock.advance(4100);
    expect(writes).toEqual([
      [0, 0],
      [0, 1],
      [100, 0],
      [2000, 1],
      [2100, 0],
      [4000, 1],
      [4100, 0],
    ]);
  });

  it('holds solid while recording and leaves one timer at most when states change', () => {
    const clock = new FakeClock();
    const { pin, writes, closed } = recordingPin(clock);
    const led = new StatusLed(pin, clock);
    led.show('unauthorized');
    clock.advance(250);
    expect(clock.pending).toBe(1);
    led.show('recording');
    expect(clock.pending).toBe(0);
    expect(led.lit).toBe(true);
    const before = writes.length;
    clock.advance(10_000);
    expect(writes.length).toBe(before);
    led.show('error');
    clock.advance(1500);
    expect(writes.slice(before).map(([t, v]) => `${t - 10_250}:${v}`)).toEqual(['0:1', '150:0', '300:1', '450:0', '600:1', '750:0']);
    led.close();
    expect(closed()).toBe(true);
    expect(writes.at(-1)?.[1]).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('shows the most urgent of several states', () => {
    expect(mostUrgent(['idle', 'recording', 'syncing'])).toBe('recording');
    expect(mostUrgent(['recording', 'unauthorized'])).toBe('unauthorized');
    expect(mostUrgent(['unauthorized', 'error', 'idle'])).toBe('error');
    expect(mostUrgent([])).toBe('off');
  });
});

/** An input pin whose edges the test drives. */
function drivenPin(initial: PinValue) {
  let level = initial;
  let cb: ((v: PinValue) => void) | null = null;
  const pin: InputPin = {
    read: () => level,
    watch: (f) => {
      cb = f;
    },
    close: () => {
      cb = null;
    },
  };
  return {
    pin,
    set: (v: PinValue) => {
      level = v;
      cb?.(v);
    },
  };
}

describe('button', () => {
  it('counts one short press through contact bounce (active low)', () => {
    const clock = new FakeClock();
    const { pin, set } = drivenPin(1);
    const presses: string[] = [];
    const b = new Button(pin, { timers: clock, debounceMs: 30, onPress: (k) => presses.push(k) });
    for (const v of [0, 1, 0, 1, 0] as PinValue[]) {
      set(v);
      clock.advance(3);
    }
    clock.advance(200);
    for (const v of [1, 0, 1] as PinValue[]) {
      set(v);
      clock.advance(2);
    }
    clock.advance(100);
    expect(presses).toEqual(['short']);
    expect(b.presses).toEqual({ short: 1, long: 0 });
  });

  it('ignores a glitch shorter than the debounce time', () => {
    const clock = new FakeClock();
    const { pin, set } = drivenPin(1);
    const presses: string[] = [];
    new Button(pin, { timers: clock, debounceMs: 30, onPress: (k) => presses.push(k) });
    set(0);
    clock.advance(10);
    set(1);
    clock.advance(100);
    expect(presses).toEqual([]);
  });

  it('reports a long press once, while still held, and no short press on release', () => {
    const clock = new FakeClock();
    const { pin, set } = drivenPin(0);
    const presses: string[] = [];
    const b = new Button(pin, { timers: clock, activeLow: false, debounceMs: 20, longPressMs: 3000, onPress: (k) => presses.push(k) });
    set(1);
    clock.advance(2999);
    expect(presses).toEqual([]);
    clock.advance(1);
    expect(presses).toEqual(['long']);
    clock.advance(5000);
    set(0);
    clock.advance(50);
    expect(presses).toEqual(['long']);
    b.close();
    expect(clock.pending).toBe(0);
  });
});

describe('bwc io check', () => {
  it('shows the BCM → sysfs mapping from the given sysfs tree and runs on the no-op backend here', () => {
    const sys = fakeSysfs(PI5_BOOKWORM);
    const r = runBwc(['io', 'check', '--sys', sys, '--led', '17', '--button', '27', '--seconds', '0', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      gpioChip: { label: string; base: number };
      pins: Record<string, { sysfs: number }>;
      gpioBackend: string;
    };
    expect(report.gpioChip).toMatchObject({ label: 'pinctrl-rp1', base: 571 });
    expect(report.pins.led?.sysfs).toBe(588);
    expect(report.pins.button?.sysfs).toBe(598);
    const { Gpio } = createRequire(import.meta.url)('onoff') as { Gpio: { accessible: boolean } };
    if (!Gpio.accessible) expect(report.gpioBackend).toBe('none');
  });

  it('refuses a pin that is not a BCM number', () => {
    const r = runBwc(['io', 'check', '--led', 'GPIO17']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('bwc io check: --led must be a BCM pin number 0–63, got "GPIO17"');
  });
});
