/**
 * The dock agent (`bwc dock`), the composition root. It opens the state directory (open.ts) and
 * wires the dock's parts, each with one job and the ports it is given (device/README.md, "The
 * agent's parts"). A camera event goes to the cameras, recording and custody parts in one
 * transaction, so it is durable and queued for the gateway before the camera gets its ack.
 */
import type { Logger } from 'pino';
import type { bwc } from '../proto/wire.js';
import type { CameraEvent } from './link/camera-link.js';
import type { LinkPort } from './link/transport.js';
import { DockCameras } from './link/cameras.js';
import { Recording } from './policy/recording.js';
import type { PolicyStore } from './policy/store.js';
import { Custody, type CustodyGateway } from './custody/custody.js';
import { Transfers, type ProgressEntry } from './custody/transfers.js';
import type { Db } from './store/dock-db.js';
import { Outbox } from './store/outbox.js';
import { Clips } from './store/clips.js';
import { DockState } from './store/state.js';
import { DockFaults } from './store/faults.js';
import { DockSync } from './sync/sync.js';
import type { GatewayTrust } from './sync/trust.js';
import { ChunkChangedError } from './sync/uploader.js';
import { Telemetry } from './sync/telemetry.js';
import { clockSyncSource, type ClockSyncSource } from './io/ntp.js';
import { CameraPorts } from './io/camera-ports.js';
import type { GpioBackend } from './io/gpio.js';
import { configuredIndicator, type DockIndicator } from './io/indicator.js';
import type { Timers } from './io/timers.js';
import { applyCommand, officerAt as officerOf } from './commands.js';
import { defaultDockLogger, openDock, type OpenedDock } from './open.js';
import type { DockConfig } from './config.js';

export { DockError, defaultDockLogger } from './open.js';
export type { ProgressEntry } from './custody/transfers.js';

type EventBody = Omit<bwc.v1.Event.$Properties, 'header'>;

/** Custody's way to the gateway, through the dock's MQTT sync (bound when custody calls it). */
function custodyGateway(sync: () => DockSync, report: (event: EventBody) => void): CustodyGateway {
  return {
    connected: () => sync().connected,
    report,
    upload: (clip, ranges, options) => sync().upload(clip, ranges, options),
    flush: () => sync().pump(),
    cancelUpload: (hash) => sync().uploader.cancel(hash),
    resend: (hash, manifest, key) => sync().requeue('manifest', 'ClipManifest', hash, manifest, key),
  };
}

export interface DockAgentOptions {
  config: DockConfig;
  log?: Logger;
  now?: () => number;
  /** Camera ports to link instead of the configured serial ports (tests, the demo's in-process cameras). */
  ports?: LinkPort[];
  /** The GPIO backend for the status light and button (default: this machine's, when io.led or io.button is set). */
  gpio?: GpioBackend;
  /** The timers of the status light and button (blink patterns, debouncing; default: the system's). */
  ioTimers?: Timers;
}

export class DockAgent {
  readonly config: DockConfig;
  readonly log: Logger;
  readonly deviceId: string;
  readonly fleet: string;
  readonly db: Db;
  readonly policy: PolicyStore;
  readonly trust: GatewayTrust;
  readonly outbox: Outbox;
  readonly clips: Clips;
  readonly state: DockState;
  readonly sync: DockSync;
  readonly #o: DockAgentOptions;
  readonly #clock: ClockSyncSource;
  readonly #transfers = new Transfers();
  readonly #faults: DockFaults;
  readonly #cameras: DockCameras;
  readonly #recording: Recording;
  readonly #custody: Custody;
  readonly #telemetry: Telemetry;
  readonly #ports: CameraPorts;
  #indicator: DockIndicator | null = null;
  #timers: NodeJS.Timeout[] = [];
  #stopping = false;

  private constructor(o: DockAgentOptions, d: OpenedDock, log: Logger) {
    const c = o.config;
    const now = o.now ?? Date.now;
    const bootedAtMs = now();
    [this.#o, this.config, this.log] = [o, c, log];
    ({ deviceId: this.deviceId, fleet: this.fleet, db: this.db, policy: this.policy, trust: this.trust } = d);
    const { deviceId, fleet, signer } = d;
    const [outbox, clips, state] = [new Outbox(d.db), new Clips(d.db), new DockState(d.db)];
    [this.outbox, this.clips, this.state] = [outbox, clips, state];
    this.#clock = clockSyncSource(c.clock.ntp);
    const clockSynced = (): boolean => this.#clock.synced();
    const report = (event: EventBody): void => {
      this.sync.send('event', 'Event', event);
    };
    const fault = (what: string, e: unknown): void => this.#faults.fault(what, e);
    const officerAt = (serial: string, at: number): string | null => officerOf(state, serial, at);
    const part = (name: string): Logger => log.child({ part: name });

    const onWritable = () => this.#custody.resumeLocal();
    this.#faults = new DockFaults({ dir: d.paths.dir, state, now, log: part('faults'), report, onWritable });
    const onLinked = (serial: string) => this.#custody.releaseVerified(serial);
    this.#cameras = new DockCameras({ now, log: part('cameras'), report, onLinked, onHandlerError: fault });
    this.#recording = new Recording({
      deviceId,
      office: c.office ?? null,
      clips,
      policy: d.policy,
      officerAt,
      clockSynced,
      now,
      log: part('recording'),
      report,
      alertCamera: (serial, alert) => this.#cameras.alert(serial, alert),
      onUnauthorized: (what) => this.#indicator?.flagUnauthorized(what),
      onClipReady: (serial, clipId) => this.#custody.hashAndSign(serial, clipId),
      guard: (what, fn) => this.#faults.guard(what, fn),
    });
    this.#custody = new Custody({
      deviceId,
      fleet,
      signer,
      storage: c.storage,
      clips,
      outbox,
      state,
      transfers: this.#transfers,
      fault,
      now,
      log: part('custody'),
      camera: (serial) => this.#cameras.port(serial),
      ackSigner: (ack) => d.trust.open(ack, 'Ack', now()).gateway.key,
      ackTimeoutMs: c.sync.ackTimeoutMs,
      storeOpen: () => d.db.open,
      gateway: custodyGateway(() => this.sync, report),
    });
    this.#telemetry = new Telemetry({
      dir: d.paths.dir,
      bootedAtMs,
      now,
      clips,
      outbox,
      officerAt,
      clockSynced,
      cameras: () => this.#cameras.list(),
      policyVersion: () => this.#recording.policyVersion,
      transfers: () => this.#transfers.list(),
      connected: () => this.sync.connected,
      stateFull: () => this.#faults.full,
      light: () => this.light,
    });
    const { maxInFlight, chunkWindow, ackTimeoutMs, statusIntervalS } = c.sync;
    this.sync = new DockSync({
      deviceId,
      fleet,
      signer,
      state,
      outbox,
      trust: d.trust,
      session: d.session,
      maxInFlight,
      chunkWindow,
      ackTimeoutMs,
      now,
      log,
      statusIntervalMs: statusIntervalS * 1000,
      birth: () => this.#telemetry.birth(),
      status: () => this.#telemetry.status(),
      onCommand: (cmd) => this.#onCommand(cmd),
      onConnected: () => this.#custody.resumeAtGateway(),
      onAck: (ack, bytes, gw) => this.#custody.onAck(ack, bytes, gw),
      onUploadSent: (h) => this.#custody.uploadSent(h),
      onUploadError: (h, e) => this.#custody.uploadFailed(h, e, e instanceof ChunkChangedError),
      onUploadProgress: (h, done, total) => this.#custody.uploadProgress(h, done, total),
      onFault: fault,
    });
    this.#ports = new CameraPorts({
      ...(o.ports ? { ports: o.ports } : {}),
      config: c.link,
      onLink: (link) => this.#cameras.watch(link),
      log,
      link: { onEvent: (ev) => this.#onCameraEvent(ev), dockClockSynced: clockSynced, eventNos: state.eventNos() },
    });
  }

  /** Opens the state directory of an enrolled dock. Throws DockError with what to do. */
  static open(o: DockAgentOptions): DockAgent {
    const log = o.log ?? defaultDockLogger(o.config.log.level);
    return new DockAgent(o, openDock(o.config, log, (o.now ?? Date.now)()), log);
  }

  async start(): Promise<void> {
    this.log.info(
      `dock ${this.deviceId} (fleet ${this.fleet}) starting; ${this.clips.countNotVerified()} clip(s) not yet verified, outbox ${this.outbox.depth().messages}`,
    );
    this.#custody.resumeLocal();
    this.sync.start();
    await this.#ports.start();
    this.#indicator = configuredIndicator(this.config.io, {
      ...(this.#o.gpio ? { gpio: this.#o.gpio } : {}),
      ...(this.#o.ioTimers ? { timers: this.#o.ioTimers } : {}),
      log: this.log.child({ part: 'io' }),
      signals: this.#telemetry.signals(),
      onShortPress: () => this.log.info(`button: ${this.#telemetry.statusLine()}`),
      onLongPress: () => {
        this.log.info("button held: re-sync requested (a Status now, and every unfinished clip's manifest again)");
        this.#faults.guard('re-sync', () => {
          this.sync.sendStatus();
          this.#custody.resumeAtGateway();
        });
      },
    });
    if (this.#indicator) this.#every(500, 'status light', () => this.#indicator?.refresh());
    this.#every(5000, 'stalled clips', () => this.#custody.checkStalled());
    this.#every(2000, 'progress', () => {
      this.#telemetry.writeProgress();
      if (!this.#stopping) this.#faults.probe();
    });
  }

  /** Graceful stop: finishes the custody step under way, publishes a clean Death, closes SQLite. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    for (const t of this.#timers) clearInterval(t);
    this.#recording.stop();
    this.#cameras.close();
    this.#ports.stop();
    await this.#custody.stop();
    await this.sync.stop();
    this.#indicator?.close();
    this.#clock.close();
    this.policy.close();
    this.db.close();
    this.log.info(`dock ${this.deviceId} stopped`);
  }

  progress(): ProgressEntry[] {
    return this.#transfers.list();
  }

  /** What the status light shows now (null: no light configured). */
  get light(): string | null {
    return this.#indicator?.state ?? null;
  }

  #every(ms: number, what: string, fn: () => void): void {
    const t = setInterval(() => this.#faults.guard(what, fn), ms);
    t.unref();
    this.#timers.push(t);
  }

  async #onCameraEvent(ev: CameraEvent): Promise<void> {
    this.state.transaction(() => {
      this.#cameras.onCameraEvent(ev);
      this.#recording.onCameraEvent(ev);
      this.#custody.onCameraEvent(ev);
    });
  }

  #onCommand(cmd: bwc.v1.Command): Promise<string> {
    return applyCommand(cmd, {
      now: this.#o.now ?? Date.now,
      policy: this.policy,
      sync: this.sync,
      state: this.state,
      clips: this.clips,
      log: this.log.child({ part: 'commands' }),
      reloadPolicy: () => this.#recording.policyChanged(),
      requestCameraStatus: () => this.#cameras.requestStatus(),
    });
  }
}
