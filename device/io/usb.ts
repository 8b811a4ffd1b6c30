/**
 * USB camera discovery: watches for cameras (by VID:PID) being plugged into the dock and finds the
 * tty each one exposes, so a link session starts when a camera docks and stops when it leaves.
 *
 * Hotplug comes from `usb` 3.x (its WebUSB API: `connect` / `disconnect` events and `getDevices()`).
 * Where there is no USB to watch (no /sys/bus/usb/devices: a container, CI, a laptop VM) or the
 * native module does not load, the watcher says so in one log line and the dock runs on its
 * statically configured ports only. It never crashes the dock.
 *
 * A USB device is mapped to its tty through sysfs (`/sys/class/tty/<tty>/device` leads up to the
 * USB device directory holding idVendor, idProduct and serial); where sysfs has no answer,
 * `SerialPort.list()` is asked (it runs `udevadm`, which is absent in containers: ENOENT is caught).
 */
import { EventEmitter } from 'node:events';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { systemTimers, type Timers } from './timers.js';

export interface UsbMatch {
  vendorId: number;
  productId: number;
}

/** Parses `VID:PID` in hex (`1209:b0c0`, `0x1209:0xB0C0`). */
export function parseUsbMatch(text: string): UsbMatch {
  const m = /^(?:0x)?([0-9a-f]{1,4}):(?:0x)?([0-9a-f]{1,4})$/i.exec(text.trim());
  if (!m) throw new Error(`USB id must be VID:PID in hex, e.g. 1209:b0c0, got "${text}"`);
  return { vendorId: parseInt(m[1]!, 16), productId: parseInt(m[2]!, 16) };
}

export const hex4 = (n: number): string => n.toString(16).padStart(4, '0');

/** What the dock knows of a plugged USB device, whichever backend reported it. */
export interface UsbDeviceRef {
  /** Stable for the time the device is plugged; used to pair connect and disconnect. */
  handle: string;
  vendorId: number;
  productId: number;
  serialNumber: string | null;
  /** sysfs device name (`1-1.3`) when the backend can tell it. */
  sysfsName: string | null;
}

/** A camera port ready for a link session. */
export interface CameraPort {
  path: string;
  source: 'usb' | 'static';
  vendorId?: number;
  productId?: number;
  serialNumber?: string | null;
  sysfsName?: string | null;
}

export interface UsbBackend {
  /** Null when hotplug can be watched here, else the reason it cannot (one line). */
  probe(): Promise<string | null>;
  list(): Promise<UsbDeviceRef[]>;
  /** Starts watching; returns the function that stops. */
  watch(onConnect: (d: UsbDeviceRef) => void, onDisconnect: (d: UsbDeviceRef) => void): () => void;
}

// ── tty mapping ─────────────────────────────────────────────────────────────────────────────

interface SysfsUsbDevice {
  dir: string;
  name: string;
  vendorId: number;
  productId: number;
  serial: string | null;
}

function readAttr(dir: string, name: string): string | null {
  try {
    return readFileSync(join(dir, name), 'utf8').trim();
  } catch {
    return null;
  }
}

/** The USB device directory above a sysfs node: the nearest ancestor that has an idVendor. */
function usbDeviceAbove(start: string, sysRoot: string): SysfsUsbDevice | null {
  for (let dir = start; dir.startsWith(sysRoot) && dir !== dirname(dir); dir = dirname(dir)) {
    const vid = readAttr(dir, 'idVendor');
    const pid = readAttr(dir, 'idProduct');
    if (vid !== null && pid !== null) {
      return { dir, name: basename(dir), vendorId: parseInt(vid, 16), productId: parseInt(pid, 16), serial: readAttr(dir, 'serial') };
    }
  }
  return null;
}

export interface TtyOnUsb {
  tty: string;
  usb: SysfsUsbDevice;
}

/** Every tty sysfs lists with the USB device it belongs to (ttys not on USB are left out). */
export function usbTtys(sysRoot = '/sys'): TtyOnUsb[] {
  const root = realpathOr(sysRoot);
  const classDir = join(sysRoot, 'class', 'tty');
  let names: string[];
  try {
    names = readdirSync(classDir);
  } catch {
    return [];
  }
  const out: TtyOnUsb[] = [];
  for (const tty of names.sort()) {
    let device: string;
    try {
      device = realpathSync(join(classDir, tty, 'device'));
    } catch {
      continue; // virtual ttys (tty0, ptmx…) have no device link
    }
    const usb = usbDeviceAbove(device, root);
    if (usb) out.push({ tty, usb });
  }
  return out;
}

function realpathOr(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/**
 * The tty device paths of a USB device, best match first: by its sysfs name when the backend
 * knows it, else by VID, PID and (when it has one) serial number.
 */
export function ttysForUsbDevice(d: UsbDeviceRef, options: { sysRoot?: string; devRoot?: string } = {}): string[] {
  const devRoot = options.devRoot ?? '/dev';
  const all = usbTtys(options.sysRoot);
  const byName = d.sysfsName ? all.filter((t) => t.usb.name === d.sysfsName) : [];
  const chosen =
    byName.length > 0
      ? byName
      : all.filter((t) => t.usb.vendorId === d.vendorId && t.usb.productId === d.productId && (d.serialNumber === null || t.usb.serial === d.serialNumber));
  return chosen.map((t) => join(devRoot, t.tty));
}

/** What `SerialPort.list()` returns, as far as the mapping needs it. */
export interface ListedSerialPort {
  path: string;
  vendorId?: string | undefined;
  productId?: string | undefined;
  serialNumber?: string | undefined;
}

/** The tty paths `SerialPort.list()` gives for a device; [] when the listing fails (no udevadm). */
export async function ttysFromSerialList(d: UsbDeviceRef, list: () => Promise<ListedSerialPort[]>): Promise<string[]> {
  let ports: ListedSerialPort[];
  try {
    ports = await list();
  } catch {
    return [];
  }
  return ports
    .filter(
      (p) =>
        p.vendorId?.toLowerCase() === hex4(d.vendorId) &&
        p.productId?.toLowerCase() === hex4(d.productId) &&
        (d.serialNumber === null || p.serialNumber === d.serialNumber),
    )
    .map((p) => p.path)
    .sort();
}

async function serialPortList(): Promise<ListedSerialPort[]> {
  const { SerialPort } = await import('serialport');
  return SerialPort.list();
}

// ── the libusb backend ──────────────────────────────────────────────────────────────────────

interface WebUsbDevice {
  vendorId: number;
  productId: number;
  serialNumber: string | null;
  bus?: string;
  ports?: number[];
  handle?: string;
}

/** sysfs names a device `{bus}-{port}.{port}…`; `usb` reports the bus and the port chain. */
export function sysfsNameOf(bus: string | undefined, ports: readonly number[] | undefined): string | null {
  if (bus && /^\d+-\d+(\.\d+)*$/.test(bus)) return bus;
  if (bus && /^\d+$/.test(bus) && ports && ports.length > 0) return `${Number(bus)}-${ports.join('.')}`;
  return null;
}

function refOf(d: WebUsbDevice): UsbDeviceRef {
  const sysfsName = sysfsNameOf(d.bus, d.ports);
  let serialNumber: string | null = null;
  try {
    serialNumber = d.serialNumber; // a getter that may need to open the device
  } catch {
    serialNumber = null;
  }
  return {
    handle: d.handle ?? `${sysfsName ?? '?'}:${hex4(d.vendorId)}:${hex4(d.productId)}`,
    vendorId: d.vendorId,
    productId: d.productId,
    serialNumber,
    sysfsName,
  };
}

/**
 * Hotplug through `usb` 3.x. Its listener setup fails later, uncaught, where
 * /sys/bus/usb/devices is missing, so `probe()` checks that first and every call here is guarded.
 */
export function libusbBackend(sysRoot = '/sys'): UsbBackend {
  type UsbModule = {
    usb: {
      addEventListener(t: string, l: (ev: { device: WebUsbDevice }) => void): void;
      removeEventListener(t: string, l: (ev: { device: WebUsbDevice }) => void): void;
      getDevices(): Promise<WebUsbDevice[]>;
    };
  };
  let mod: UsbModule | null = null;
  return {
    async probe() {
      if (!existsSync(join(sysRoot, 'bus', 'usb', 'devices'))) return `no ${join(sysRoot, 'bus', 'usb', 'devices')} (no USB bus visible here)`;
      try {
        mod = (await import('usb')) as unknown as UsbModule;
        await mod.usb.getDevices();
        return null;
      } catch (e) {
        return `libusb unavailable: ${(e as Error).message.split('\n')[0]}`;
      }
    },
    async list() {
      if (!mod) return [];
      return (await mod.usb.getDevices()).map(refOf);
    },
    watch(onConnect, onDisconnect) {
      if (!mod) return () => {};
      const usb = mod.usb;
      const c = (ev: { device: WebUsbDevice }) => onConnect(refOf(ev.device));
      const d = (ev: { device: WebUsbDevice }) => onDisconnect(refOf(ev.device));
      usb.addEventListener('connect', c);
      usb.addEventListener('disconnect', d);
      return () => {
        usb.removeEventListener('connect', c);
        usb.removeEventListener('disconnect', d);
      };
    },
  };
}

// ── the watcher ─────────────────────────────────────────────────────────────────────────────

export interface UsbWatcherOptions {
  match: readonly UsbMatch[];
  backend?: UsbBackend;
  sysRoot?: string;
  devRoot?: string;
  /** Asked when sysfs has no tty for a device. */
  listSerial?: () => Promise<ListedSerialPort[]>;
  /** A device must stay plugged this long before a session starts (a camera wiggled in its cradle). */
  settleMs?: number;
  /** How long to wait for the kernel to create the tty after the device appears. */
  ttyWaitMs?: number;
  pollMs?: number;
  timers?: Timers;
  /** The dock's logger (device/log.ts), or a child of it. */
  log?: Logger;
}

export interface UsbWatcherEvents {
  attach: [CameraPort];
  detach: [CameraPort];
}

/** Emits `attach` with the camera's tty when a matching camera docks, `detach` when it leaves. */
export class UsbCameraWatcher extends EventEmitter<UsbWatcherEvents> {
  readonly #o: UsbWatcherOptions;
  readonly #backend: UsbBackend;
  readonly #timers: Timers;
  readonly #attached = new Map<string, CameraPort>();
  readonly #pending = new Map<string, unknown>();
  #unwatch: (() => void) | null = null;
  #stopped = false;
  /** Null while watching; the reason hotplug is off otherwise. */
  unavailable: string | null = 'not started';

  constructor(options: UsbWatcherOptions) {
    super();
    this.#o = options;
    this.#backend = options.backend ?? libusbBackend(options.sysRoot);
    this.#timers = options.timers ?? systemTimers;
  }

  /** Cameras attached now. */
  get ports(): CameraPort[] {
    return [...this.#attached.values()];
  }

  /** Starts watching; resolves false (after one log line) when hotplug is not available here. */
  async start(): Promise<boolean> {
    this.#stopped = false;
    let reason: string | null;
    try {
      reason = await this.#backend.probe();
    } catch (e) {
      reason = (e as Error).message;
    }
    this.unavailable = reason;
    if (reason !== null) {
      this.#o.log?.warn(`usb: hotplug off (${reason}); using the configured ports only`);
      return false;
    }
    try {
      this.#unwatch = this.#backend.watch(
        (d) => this.#connect(d),
        (d) => this.#disconnect(d),
      );
      for (const d of await this.#backend.list()) this.#connect(d);
    } catch (e) {
      this.unavailable = (e as Error).message;
      this.#o.log?.warn(`usb: hotplug failed (${this.unavailable}); using the configured ports only`);
      this.#unwatch?.();
      this.#unwatch = null;
      return false;
    }
    this.#o.log?.info(`usb: watching for ${this.#o.match.map((m) => `${hex4(m.vendorId)}:${hex4(m.productId)}`).join(', ')}`);
    return true;
  }

  stop(): void {
    this.#stopped = true;
    this.#unwatch?.();
    this.#unwatch = null;
    for (const t of this.#pending.values()) this.#timers.clearTimeout(t);
    this.#pending.clear();
  }

  #matches(d: UsbDeviceRef): boolean {
    return this.#o.match.some((m) => m.vendorId === d.vendorId && m.productId === d.productId);
  }

  #connect(d: UsbDeviceRef): void {
    if (this.#stopped || !this.#matches(d) || this.#attached.has(d.handle) || this.#pending.has(d.handle)) return;
    const deadline = this.#timers.now() + (this.#o.settleMs ?? 500) + (this.#o.ttyWaitMs ?? 5000);
    const attempt = async (): Promise<void> => {
      this.#pending.delete(d.handle);
      if (this.#stopped) return;
      let ttys = ttysForUsbDevice(d, { sysRoot: this.#o.sysRoot, devRoot: this.#o.devRoot });
      if (ttys.length === 0) ttys = await ttysFromSerialList(d, this.#o.listSerial ?? serialPortList);
      if (this.#stopped) return;
      const path = ttys[0];
      if (path) {
        const port: CameraPort = {
          path,
          source: 'usb',
          vendorId: d.vendorId,
          productId: d.productId,
          serialNumber: d.serialNumber,
          sysfsName: d.sysfsName,
        };
        this.#attached.set(d.handle, port);
        this.#o.log?.info(`usb: camera ${hex4(d.vendorId)}:${hex4(d.productId)}${d.serialNumber ? ` ${d.serialNumber}` : ''} on ${path}`);
        this.emit('attach', port);
      } else if (this.#timers.now() < deadline) {
        this.#pending.set(
          d.handle,
          this.#timers.setTimeout(() => void attempt(), this.#o.pollMs ?? 200),
        );
      } else {
        this.#o.log?.warn(
          `usb: camera ${hex4(d.vendorId)}:${hex4(d.productId)}${d.sysfsName ? ` at ${d.sysfsName}` : ''} has no tty; is its CDC-ACM driver loaded?`,
        );
      }
    };
    this.#pending.set(
      d.handle,
      this.#timers.setTimeout(() => void attempt(), this.#o.settleMs ?? 500),
    );
  }

  #disconnect(d: UsbDeviceRef): void {
    const pending = this.#pending.get(d.handle);
    if (pending !== undefined) {
      this.#timers.clearTimeout(pending);
      this.#pending.delete(d.handle);
    }
    const port = this.#attached.get(d.handle);
    if (!port) return;
    this.#attached.delete(d.handle);
    this.#o.log?.info(`usb: camera on ${port.path} unplugged`);
    this.emit('detach', port);
  }
}

// ── sessions per port ───────────────────────────────────────────────────────────────────────

/** A running link session on one port, as the supervisor sees it. */
export interface PortSession {
  stop(): void;
}

export interface SupervisorOptions {
  /** Ports linked whether or not USB hotplug works (a UART, a fixed /dev/serial/by-id path). */
  staticPorts: readonly string[];
  watcher?: UsbCameraWatcher;
  start(port: CameraPort): PortSession;
  /** The dock's logger (device/log.ts), or a child of it. */
  log?: Logger;
}

/**
 * Keeps one link session per camera port: the static ports from start to stop, and each USB camera
 * from attach to detach. A static port that is also found by USB is linked once.
 */
export class PortSupervisor {
  readonly #o: SupervisorOptions;
  readonly #sessions = new Map<string, { port: CameraPort; session: PortSession }>();
  #onAttach = (p: CameraPort) => this.#start(p);
  #onDetach = (p: CameraPort) => {
    if (this.#o.staticPorts.includes(p.path)) return;
    const s = this.#sessions.get(p.path);
    if (!s) return;
    this.#sessions.delete(p.path);
    s.session.stop();
  };

  constructor(options: SupervisorOptions) {
    this.#o = options;
  }

  /** Ports with a running session. */
  get active(): CameraPort[] {
    return [...this.#sessions.values()].map((s) => s.port);
  }

  async start(): Promise<void> {
    for (const path of this.#o.staticPorts) this.#start({ path, source: 'static' });
    const w = this.#o.watcher;
    if (!w) return;
    w.on('attach', this.#onAttach);
    w.on('detach', this.#onDetach);
    await w.start();
  }

  stop(): void {
    const w = this.#o.watcher;
    if (w) {
      w.off('attach', this.#onAttach);
      w.off('detach', this.#onDetach);
      w.stop();
    }
    for (const s of this.#sessions.values()) s.session.stop();
    this.#sessions.clear();
  }

  #start(port: CameraPort): void {
    if (this.#sessions.has(port.path)) return;
    try {
      this.#sessions.set(port.path, { port, session: this.#o.start(port) });
    } catch (e) {
      this.#o.log?.warn(`${port.path}: cannot start a link session: ${(e as Error).message}`);
    }
  }
}
