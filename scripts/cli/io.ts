/**
 * `bwc io check`: what field IT runs on a freshly installed dock. Shows how the configured BCM pins
 * map to sysfs, plays every LED pattern, reports button presses, and lists the cameras on USB
 * with their ttys (or why hotplug is off here).
 */
import type { Command } from 'commander';
import { Button, headerChip, LED_PATTERNS, LED_STATES, listGpioChips, openGpio, StatusLed, sysfsGpioNumber, type GpioBackend } from '../../device/io/gpio.js';
import { join } from 'node:path';
import { textLogger } from '../../device/log.js';
import { hex4, parseUsbMatch, usbTtys, UsbCameraWatcher, type UsbMatch } from '../../device/io/usb.js';
import { CliError } from './common.js';

interface CheckOptions {
  led?: string;
  button?: string;
  usb: string[];
  sys: string;
  dev: string;
  seconds: string;
  json?: boolean;
}

function bcmOption(name: string, v: string | undefined): number | null {
  if (v === undefined) return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 63) throw new CliError(`--${name} must be a BCM pin number 0–63, got "${v}"`);
  return n;
}

async function check(opts: CheckOptions): Promise<void> {
  const led = bcmOption('led', opts.led);
  const button = bcmOption('button', opts.button);
  const seconds = Number(opts.seconds);
  if (!Number.isFinite(seconds) || seconds < 0) throw new CliError(`--seconds must be a number ≥ 0, got "${opts.seconds}"`);
  let match: UsbMatch[];
  try {
    match = opts.usb.map(parseUsbMatch);
  } catch (e) {
    throw new CliError(`--usb: ${(e as Error).message}`);
  }
  const report: Record<string, unknown> = {};
  const say = (line: string) => {
    if (!opts.json) process.stdout.write(`${line}\n`);
  };
  const notes: string[] = [];
  const note = (m: string) => {
    notes.push(m);
    say(m);
  };

  // GPIO: the mapping is shown whatever the backend, so a wrong chip is caught before wiring.
  const pins: Record<string, unknown> = {};
  try {
    const chips = listGpioChips(opts.sys);
    const chip = headerChip(chips);
    report.gpioChip = chip;
    say(`gpio chip: ${chip.name} "${chip.label}", base ${chip.base}, ${chip.ngpio} lines`);
    for (const [name, bcm] of [
      ['led', led],
      ['button', button],
    ] as const) {
      if (bcm === null) continue;
      try {
        const sysfs = sysfsGpioNumber(bcm, chips);
        pins[name] = { bcm, sysfs };
        say(`${name}: BCM ${bcm} is sysfs GPIO ${sysfs}`);
      } catch (e) {
        pins[name] = { bcm, error: (e as Error).message };
        note(`${name}: ${(e as Error).message}`);
      }
    }
  } catch (e) {
    report.gpioChip = null;
    note(`gpio: ${(e as Error).message}`);
  }
  report.pins = pins;
  const gpio: GpioBackend = openGpio({ sysRoot: opts.sys, log: note });
  report.gpioBackend = gpio.kind;

  const presses: string[] = [];
  const btn =
    button !== null
      ? new Button(gpio.input(button), {
          onPress: (kind) => {
            presses.push(kind);
            say(`button: ${kind} press`);
          },
          onError: (e) => note(`button: ${e.message}`),
        })
      : null;

  // USB: list what is plugged now (and what arrives while the LED plays).
  const cameras: unknown[] = [];
  let watcher: UsbCameraWatcher | null = null;
  if (match.length > 0) {
    // What sysfs shows plugged in now, whether or not hotplug can be watched.
    const present = usbTtys(opts.sys)
      .filter((t) => match.some((m) => m.vendorId === t.usb.vendorId && m.productId === t.usb.productId))
      .map((t) => ({
        path: join(opts.dev, t.tty),
        vendorId: hex4(t.usb.vendorId),
        productId: hex4(t.usb.productId),
        serial: t.usb.serial,
        usb: t.usb.name,
      }));
    report.usbTtys = present;
    for (const p of present) say(`usb: camera ${p.vendorId}:${p.productId}${p.serial ? ` ${p.serial}` : ''} at ${p.usb} on ${p.path}`);
    watcher = new UsbCameraWatcher({ match, sysRoot: opts.sys, devRoot: opts.dev, settleMs: 0, log: textLogger((_l, m) => note(m)) });
    watcher.on('attach', (p) => cameras.push(p));
    report.usbHotplug = await watcher.start();
    if (watcher.unavailable) report.usbUnavailable = watcher.unavailable;
  }

  if (led !== null) {
    const statusLed = new StatusLed(gpio.output(led));
    const per = LED_STATES.length > 1 ? (seconds * 1000) / (LED_STATES.length - 1) : 0;
    for (const state of LED_STATES.filter((s) => s !== 'off')) {
      say(`led: ${state} (${LED_PATTERNS[state].join('/') || 'dark'} ms)`);
      statusLed.show(state);
      await new Promise((r) => setTimeout(r, per));
    }
    statusLed.close();
  } else if (seconds > 0) {
    await new Promise((r) => setTimeout(r, seconds * 1000));
  }
  watcher?.stop();
  btn?.close();
  report.cameras = cameras;
  report.buttonPresses = presses;
  report.notes = notes;
  if (match.length > 0 && !opts.json) {
    if (cameras.length === 0 && (report.usbTtys as unknown[]).length === 0)
      say(`usb: no camera ${match.map((m) => `${hex4(m.vendorId)}:${hex4(m.productId)}`).join(', ')} found`);
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
}

export function registerIo(program: Command): void {
  const io = program.command('io').description('Dock hardware: USB camera discovery, status LED and button.');
  io.command('check')
    .description('Check a dock installation: BCM→sysfs GPIO mapping, LED patterns, button presses, cameras on USB.')
    .option('--led <bcm>', 'status LED pin (BCM number)')
    .option('--button <bcm>', 'button pin (BCM number, wired to ground with a pull-up)')
    .option('--usb <vid:pid>', 'camera USB id to look for (repeatable)', (v: string, p: string[]) => [...p, v], [])
    .option('--seconds <s>', 'how long to play the LED patterns and listen for the button', '12')
    .option('--sys <dir>', 'sysfs root (for testing against a copied tree)', '/sys')
    .option('--dev <dir>', 'device directory that ttys are named under', '/dev')
    .option('--json', 'one JSON report on stdout instead of lines')
    .addHelpText('after', '\nExample:\n  $ bwc io check --led 17 --button 27 --usb 1209:b0c0\n')
    .action(check);
}
