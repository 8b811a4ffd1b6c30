/**
 * The dock agent (`bwc dock`): the composition of the camera links, the policy engine, custody and
 * sync (DESIGN §3). Each clip moves through persisted custody states:
 *
 *   RECORDING → CLOSED → HASHED → SIGNED → MANIFEST_ACKED → UPLOADED → VERIFIED → RELEASED
 *
 * - Camera events arrive from the links; each is made durable (and reported) before the camera's
 *   frame is acked. Activations are decided as of their own time with the officer from the signed
 *   camera assignment in force then, and the clock state; decisions alert the camera and go to the
 *   gateway as events.
 * - ClipReady starts custody work in the background (hashing runs on worker threads), so a 2 GiB
 *   hash never delays a decision. The manifest (with the decision embedded) is signed and queued in
 *   the same transaction that advances the chain head.
 * - Only the gateway's signed VERIFIED ack for exactly the manifest's SHA-256 and length moves a
 *   clip to VERIFIED; only then is the camera told (ReleaseClip) it may free those bytes. RELEASED
 *   is recorded when the camera confirms.
 * - A restart resumes every clip from its persisted state: CLOSED and HASHED are hashed again,
 *   SIGNED waits in the outbox, MANIFEST_ACKED and UPLOADED resend their manifest to learn what the
 *   gateway still needs.
 */
import { mkdirSync, accessSync, constants as fsc, existsSync, readFileSync, writeFileSync, renameSync, statfsSync } from 'node:fs';
import { hostname } from 'node:os';
import { pino, type Logger } from 'pino';
import { pb, type bwc } from '../proto/wire.js';
import { openEnvelope } from '../proto/envelope.js';
import { trustPublicKey } from '../proto/ed25519.js';
import { hashClipFile, ClipFileError, type ClipDigest } from '../proto/clip-hash.js';
import { VerifiedClip } from '../proto/ack.js';
import { fromHex, toHex } from '../proto/bytes.js';
import { decisionToProto, type DecisionJson } from '../proto/decision.js';
import { STOP_REASONS, DEVICE_ROLES } from '../proto/vocab.js';
import { SOFTWARE_VERSION } from '../proto/version.js';
import type { GatewayCert } from '../proto/gateway-cert.js';
import { CameraLink, type CameraEvent, type CameraInfo } from './link/camera-link.js';
import { LinkPortRunner } from './link/port-runner.js';
import { serialLinkPort, type LinkPort } from './link/transport.js';
import { decide } from '../proto/decide.js';
import { alertFor } from './policy/alerts.js';
import { CoverWatch } from './policy/cover-watch.js';
import { sameId, timeOrNull } from '../proto/canonical.js';
import { PolicyStore } from './policy/store.js';
import type { MemoryPolicyCache } from '../proto/policy-cache.js';
import type { Activation } from '../proto/activation.js';
import { loadDeviceKey, type DeviceKey } from './custody/keys.js';
import { signManifest } from './custody/manifest.js';
import { applyEvent, manifestFacts, startedFacts, unannouncedFacts, type EventContext, type RecordFacts } from './custody/record.js';
import { resolveClipPath, storageMount, ClipPathError } from './custody/clip-source.js';
import { openDockDb, type Db } from './store/dock-db.js';
import { Outbox } from './store/outbox.js';
import { Clips, NOT_VERIFIED, clipKey, type ClipRow } from './store/clips.js';
import { applyCommand, type Assignment } from './commands.js';
import { DockState } from './store/state.js';
import { DockSync } from './sync/sync.js';
import { GatewayTrust } from './sync/trust.js';
import { readEnrollment, EnrollmentError } from './sync/enroll.js';
import { ChunkChangedError, type UploadSource } from './sync/uploader.js';
import { clockSyncSource, type ClockSyncSource } from './io/ntp.js';
import { UsbCameraWatcher, PortSupervisor, parseUsbMatch } from './io/usb.js';
import { openGpio, type GpioBackend } from './io/gpio.js';
import { DockIndicator } from './io/indicator.js';
import { statePaths, type DockConfig } from './config.js';

/** SQLite or the file system says the disk (or quota) is full. */
export function isStorageFull(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT' || /database or disk is full|no space left on device/i.test((e as Error | null)?.message ?? '');
}

export class DockError extends Error {
  override name = 'DockError';
}

interface CameraSeen {
  info: CameraInfo;
  link: CameraLink | null;
  status: bwc.v1.CameraStatus.$Properties | null;
  lastSeenMs: number;
}

export interface DockAgentOptions {
  config: DockConfig;
  log?: Logger;
  now?: () => number;
  /** Camera ports to link instead of the configured serial ports (tests, the demo's in-process cameras). */
  ports?: LinkPort[];
  /** The GPIO backend for the status light and button (default: this machine's, when io.led or io.button is set). */
  gpio?: GpioBackend;
}

export interface ProgressEntry {
  cameraSerial: string;
  clipId: string;
  phase: 'hash' | 'upload';
  doneBytes: number;
  totalBytes: number;
}

export function defaultDockLogger(level = 'info'): Logger {
  return pino({ name: 'bwc-dock', level }, pino.destination(2));
}

const RESEND_CHECK_MS = 5000;

export class DockAgent {
  readonly config: DockConfig;
  readonly deviceId: string;
  readonly fleet: string;
  readonly log: Logger;
  readonly db: Db;
  readonly outbox: Outbox;
  readonly clips: Clips;
  readonly state: DockState;
  readonly policy: PolicyStore;
  readonly trust: GatewayTrust;
  readonly sync: DockSync;
  readonly #signer: DeviceKey;
  readonly #now: () => number;
  readonly #clock: ClockSyncSource;
  readonly #paths: ReturnType<typeof statePaths>;
  readonly #ports: LinkPort[] | undefined;
  readonly #gpio: GpioBackend | undefined;
  #indicator: DockIndicator | null = null;
  #cache: MemoryPolicyCache;
  readonly #cameras = new Map<string, CameraSeen>();
  readonly #custody = new Map<string, Promise<void>>();
  readonly #progress = new Map<string, ProgressEntry>();
  readonly #manifestInfo = new Map<string, UploadSource>();
  #runners: LinkPortRunner[] = [];
  #supervisor: PortSupervisor | null = null;
  #timers: NodeJS.Timeout[] = [];
  readonly #cover: CoverWatch;
  #stopping = false;
  /** Since when the state directory has been full (null: it is not). */
  #stateFull: number | null = null;
  #stateFullLogged = 0;
  readonly #bootedAt: number;

  private constructor(o: DockAgentOptions, parts: {
    deviceId: string; fleet: string; signer: DeviceKey; db: Db; policy: PolicyStore; trust: GatewayTrust; mqtt: { url: string; username?: string; password?: string };
    paths: ReturnType<typeof statePaths>; log: Logger;
  }) {
    this.config = o.config;
    this.deviceId = parts.deviceId;
    this.fleet = parts.fleet;
    this.log = parts.log;
    this.#now = o.now ?? Date.now;
    this.#bootedAt = this.#now();
    this.#signer = parts.signer;
    this.#paths = parts.paths;
    this.#ports = o.ports;
    this.#gpio = o.gpio;
    this.db = parts.db;
    this.outbox = new Outbox(parts.db);
    this.clips = new Clips(parts.db);
    this.state = new DockState(parts.db);
    this.policy = parts.policy;
    this.trust = parts.trust;
    this.#cache = parts.policy.load();
    this.#cover = new CoverWatch({ now: this.#now });
    this.#clock = clockSyncSource(o.config.clock.ntp);
    const c = o.config;
    const tlsFile = (field: 'ca' | 'cert' | 'key'): { [k: string]: Buffer } => {
      const path = c.mqtt.tls?.[field];
      if (!path) return {};
      try {
        return { [field]: readFileSync(path) };
      } catch (e) {
        throw new DockError(`mqtt.tls.${field}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    };
    const tls = c.mqtt.tls ? { rejectUnauthorized: c.mqtt.tls.rejectUnauthorized, ...tlsFile('ca'), ...tlsFile('cert'), ...tlsFile('key') } : undefined;
    const log = this.log;
    this.sync = new DockSync({
      deviceId: this.deviceId, fleet: this.fleet, signer: this.#signer, state: this.state, outbox: this.outbox, trust: this.trust,
      session: {
        url: parts.mqtt.url, protocolVersion: c.mqtt.protocolVersion, keepaliveS: c.mqtt.keepaliveS, connectTimeoutMs: c.mqtt.connectTimeoutMs,
        backoffMinMs: c.mqtt.backoffMinMs, backoffMaxMs: c.mqtt.backoffMaxMs, watchdogMs: c.mqtt.watchdogMs,
        ...(parts.mqtt.username !== undefined ? { username: parts.mqtt.username } : {}),
        ...(parts.mqtt.password !== undefined ? { password: parts.mqtt.password } : {}),
        ...(tls ? { tls } : {}),
      },
      maxInFlight: c.sync.maxInFlight, chunkWindow: c.sync.chunkWindow, ackTimeoutMs: c.sync.ackTimeoutMs, statusIntervalMs: c.sync.statusIntervalS * 1000,
      birth: () => this.#birth(),
      status: () => this.#status(),
      onAck: (ack, bytes, gw) => this.#onAck(ack, bytes, gw),
      onCommand: (cmd) => this.#onCommand(cmd),
      onConnected: () => this.#resumeAtGateway(),
      onUploadSent: (h) => this.#onUploadSent(h),
      onUploadError: (h, e) => this.#onUploadError(h, e),
      onUploadProgress: (h, done, total) => this.#onUploadProgress(h, done, total),
      onFault: (what, e) => this.#fault(what, e),
      log: {
        info: (m) => log.info(m), warn: (m) => log.warn(m), debug: (m) => log.debug(m), error: (m) => log.error(m),
      },
      now: this.#now,
    });
  }

  /** Opens the state directory of an enrolled dock. Throws DockError with what to do. */
  static open(o: DockAgentOptions): DockAgent {
    const c = o.config;
    const log = o.log ?? defaultDockLogger(c.log.level);
    const paths = statePaths(c);
    try {
      mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
      accessSync(paths.dir, fsc.W_OK);
    } catch (e) {
      throw new DockError(`state directory ${paths.dir} is not writable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    let enrollment;
    try {
      enrollment = readEnrollment(paths.enrollment);
    } catch (e) {
      throw new DockError((e as EnrollmentError).message);
    }
    if (!enrollment) throw new DockError(`this dock is not enrolled (no ${paths.enrollment}); run \`bwc dock enroll\` first`);
    if (c.deviceId && c.deviceId !== enrollment.deviceId) throw new DockError(`config deviceId ${c.deviceId} differs from the enrolled device ${enrollment.deviceId}`);
    if (c.fleet && c.fleet !== enrollment.fleet) throw new DockError(`config fleet ${c.fleet} differs from the enrolled fleet ${enrollment.fleet}`);
    let signer: DeviceKey;
    try {
      signer = loadDeviceKey(paths.keyDir);
    } catch (e) {
      throw new DockError(`device key: ${(e as Error).message}`);
    }
    let db: Db;
    try {
      db = openDockDb(paths.db);
    } catch (e) {
      throw new DockError(`cannot open the dock database ${paths.db}: ${(e as Error).message}`);
    }
    const state = new DockState(db);
    if (state.get('decommissioned')) {
      db.close();
      throw new DockError(`this dock was decommissioned on ${state.get('decommissioned')}; it no longer runs`);
    }
    const root = trustPublicKey(Buffer.from(enrollment.rootPublicKey, 'hex'), 'pinned root key');
    const trust = new GatewayTrust(root, enrollment.fleet);
    const now = (o.now ?? Date.now)();
    for (const cert of [enrollment.gatewayCertificate, ...(state.json<string[]>('gateway_certs') ?? [])]) {
      try {
        trust.addCertificate(Buffer.from(cert, 'base64'), now);
      } catch (e) {
        log.warn(`a stored gateway certificate is no longer accepted: ${(e as Error).message}`);
      }
    }
    const policy = PolicyStore.open(paths.policyDb, { root });
    const passwordFile = c.mqtt.passwordFile ?? paths.mqttPassword;
    const password = existsSync(passwordFile) ? readFileSync(passwordFile, 'utf8').trim() : undefined;
    const username = c.mqtt.username ?? (enrollment.mqttUsername || undefined);
    return new DockAgent(o, {
      deviceId: enrollment.deviceId, fleet: enrollment.fleet, signer, db, policy, trust, paths, log,
      mqtt: { url: c.mqtt.url ?? enrollment.brokerUrl, ...(username ? { username } : {}), ...(password ? { password } : {}) },
    });
  }

  // ── lifecycle ─────────────────────────────────────────────────────────────────────────────

  async start(): Promise<void> {
    const c = this.config;
    this.log.info(`dock ${this.deviceId} (fleet ${this.fleet}) starting; ${this.clips.countNotVerified()} clip(s) not yet verified, outbox ${this.outbox.depth().messages}`);
    this.#resumeLocal();
    this.sync.start();
    const linkOptions = {
      onEvent: (ev: CameraEvent) => this.#onCameraEvent(ev),
      dockClockSynced: () => this.#clock.synced(),
      eventNos: this.state.eventNos(),
    };
    const runnerFor = (port: LinkPort) => {
      const r = new LinkPortRunner({
        port, link: linkOptions, log: (level, m) => this.log[level](`link ${m}`),
        onLink: (link) => this.#watchLink(link),
      }).start();
      this.#runners.push(r);
      return r;
    };
    if (this.#ports) {
      for (const p of this.#ports) runnerFor(p);
    } else {
      const watcher = c.link.usb.length > 0 ? new UsbCameraWatcher({ match: c.link.usb.map(parseUsbMatch), log: (level, m) => this.log[level](m) }) : undefined;
      this.#supervisor = new PortSupervisor({
        staticPorts: c.link.ports,
        ...(watcher ? { watcher } : {}),
        start: (port) => {
          const r = runnerFor(serialLinkPort(port.path, c.link.baudRate));
          return { stop: () => r.stop() };
        },
        log: (level, m) => this.log[level](m),
      });
      await this.#supervisor.start();
    }
    if (c.io.led !== undefined || c.io.button !== undefined) {
      this.#indicator = new DockIndicator({
        gpio: this.#gpio ?? openGpio({ log: (m) => this.log.info(m) }),
        ...(c.io.led !== undefined ? { led: c.io.led } : {}), ...(c.io.button !== undefined ? { button: c.io.button } : {}),
        buttonActiveLow: c.io.buttonActiveLow,
        signals: {
          recording: () => this.clips.inStates(['RECORDING']).length > 0,
          busy: () => this.#progress.size > 0 || this.outbox.depth().messages > 0,
          fault: () => this.#stateFull !== null,
          connected: () => this.sync.connected,
        },
        onShortPress: () => this.log.info(`button: ${this.#statusLine()}`),
        onLongPress: () => {
          this.log.info('button held: re-sync requested (a Status now, and every unfinished clip\'s manifest again)');
          this.#guard('re-sync', () => { this.sync.sendStatus(); this.#resumeAtGateway(); });
        },
        log: (m) => this.log.warn(m),
      });
      const light = setInterval(() => this.#guard('status light', () => this.#indicator?.refresh()), 500);
      light.unref();
      this.#timers.push(light);
    }
    const resend = setInterval(() => this.#guard('stalled clips', () => this.#checkStalled()), RESEND_CHECK_MS);
    const progress = setInterval(() => this.#guard('progress', () => { this.#writeProgress(); this.#probeStateDir(); }), 2000);
    resend.unref();
    progress.unref();
    this.#timers.push(resend, progress);
  }

  /** Graceful stop: finishes the custody step under way, publishes a clean Death, closes SQLite. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    for (const t of this.#timers) clearInterval(t);
    this.#cover.clearAll();
    this.#supervisor?.stop();
    for (const r of this.#runners) r.stop();
    await Promise.allSettled([...this.#custody.values()]);
    await this.sync.stop();
    this.#indicator?.close();
    this.#clock.close();
    this.policy.close();
    this.db.close();
    this.log.info(`dock ${this.deviceId} stopped`);
  }

  // ── faults ────────────────────────────────────────────────────────────────────────────────

  #guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.#fault(what, e);
    }
  }

  /**
   * Background work that failed. A full state directory is said in words field IT acts on, at
   * most every 30 s; nothing is lost meanwhile (camera events stay on the cameras, the outbox
   * keeps what is unacked) and custody resumes once the directory can be written again.
   */
  #fault(what: string, e: unknown): void {
    if (isStorageFull(e)) {
      const now = this.#now();
      this.#stateFull ??= now;
      if (now - this.#stateFullLogged >= 30_000) {
        this.#stateFullLogged = now;
        this.log.error(`state directory ${this.#paths.dir} is full: ${what} not saved (${(e as Error).message}); nothing is lost, it is retried when space is freed`);
      }
      return;
    }
    this.log.error(`${what}: ${(e as Error).message}`);
  }

  /** While the state directory is full: is it writable again? Then custody resumes. */
  #probeStateDir(): void {
    if (this.#stateFull === null || this.#stopping) return;
    try {
      this.state.set('state_probe', String(this.#now()));
    } catch (e) {
      if (isStorageFull(e)) return;
      throw e;
    }
    const since = this.#stateFull;
    this.#stateFull = null;
    this.#stateFullLogged = 0;
    const detail = `dock state directory was full for ${Math.round((this.#now() - since) / 1000)} s; camera events were held on the cameras`;
    this.log.warn(`state directory ${this.#paths.dir} is writable again: ${detail}`);
    this.sync.send('event', 'Event', { kind: pb.EventKind.EVENT_KIND_ALERT, alert: pb.AlertKind.ALERT_KIND_STORAGE_LOW, occurredAtMs: this.#now(), detail });
    this.#resumeLocal();
  }

  // ── camera events ─────────────────────────────────────────────────────────────────────────

  #watchLink(link: CameraLink): void {
    link.on('connected', (info) => {
      const seen = this.#cameras.get(info.cameraSerial);
      this.#cameras.set(info.cameraSerial, { info, link, status: seen?.status ?? null, lastSeenMs: this.#now() });
      this.log.info(`camera ${info.cameraSerial} (${info.model} ${info.firmware}) connected, clock offset ${info.offsetMs} ms`);
      this.sync.send('event', 'Event', {
        kind: pb.EventKind.EVENT_KIND_CAMERA_CONNECTED, cameraSerial: info.cameraSerial, occurredAtMs: this.#now(),
        detail: `${info.model} ${info.firmware}; clock offset ${info.offsetMs} ms`,
      });
      this.#releaseVerified(info.cameraSerial);
    });
    link.on('closed', () => {
      const info = link.camera;
      if (!info) return;
      const seen = this.#cameras.get(info.cameraSerial);
      if (seen?.link === link) {
        seen.link = null;
        if (!this.#stopping) {
          this.sync.send('event', 'Event', { kind: pb.EventKind.EVENT_KIND_CAMERA_DISCONNECTED, cameraSerial: info.cameraSerial, occurredAtMs: this.#now() });
        }
      }
    });
    // Not acked: the camera keeps the event and sends it again.
    link.on('handlerError', (e) => this.#fault(`camera event from ${link.camera?.cameraSerial ?? 'a camera'} (kept by the camera, resent)`, e));
    // A camera that did not ack a frame through every retransmission: the link is closed and the
    // port reopened, so the camera greets again and what was owed to it (releases) is sent again.
    link.on('linkDown', (reason) => {
      this.log.warn(`camera ${link.camera?.cameraSerial ?? 'link'}: ${reason}; reopening the link`);
      link.close();
    });
  }

  /**
   * Each camera event is durable (and queued for the gateway) before the camera gets its ack: its
   * writes share one transaction, so one fsync, and a failure leaves nothing half-applied (the camera
   * resends the event).
   */
  async #onCameraEvent(ev: CameraEvent): Promise<void> {
    const seen = this.#cameras.get(ev.camera.cameraSerial);
    if (seen) seen.lastSeenMs = this.#now();
    this.state.transaction(() => this.#applyCameraEvent(ev, seen));
  }

  #context(ev: CameraEvent): EventContext {
    const serial = ev.camera.cameraSerial;
    return {
      model: ev.camera.model, firmware: ev.camera.firmware, deviceRole: DEVICE_ROLES.code(ev.camera.deviceRole) ?? 'bwc', offsetMs: ev.camera.offsetMs,
      atMs: ev.atMs, replayed: ev.replayed, clockSynced: this.#clock.synced(), office: this.config.office ?? null,
      officerAt: (at) => this.#officerAt(serial, at),
    };
  }

  #applyCameraEvent(ev: CameraEvent, seen: CameraSeen | undefined): void {
    const f = ev.frame;
    const serial = ev.camera.cameraSerial;
    const base = { cameraSerial: serial, cameraEventNo: ev.eventNo, replayed: ev.replayed, occurredAtMs: ev.atMs };
    if (f.recordingStarted) {
      const s = f.recordingStarted as bwc.v1.RecordingStarted;
      const facts = startedFacts(s, this.#context(ev));
      this.clips.ensure(serial, s.clipId, 'RECORDING', facts, this.#now(), `started (${facts.trigger})`);
      this.#decide(serial, s.clipId, ev, 'started');
    } else if (f.activityTagged) {
      const t = f.activityTagged as bwc.v1.ActivityTagged;
      this.#updateFacts(serial, t.clipId, ev);
      this.sync.send('event', 'Event', { ...base, kind: pb.EventKind.EVENT_KIND_ACTIVITY_TAGGED, clipId: t.clipId, activity: t.activity, ...this.#manifestRef(serial, t.clipId) });
      this.#decide(serial, t.clipId, ev, 'tagged');
    } else if (f.muted) {
      const m = f.muted as bwc.v1.Muted;
      this.#updateFacts(serial, m.clipId, ev);
      this.sync.send('event', 'Event', { ...base, kind: pb.EventKind.EVENT_KIND_MUTED, clipId: m.clipId, detail: m.reason });
    } else if (f.unmuted) {
      const u = f.unmuted as bwc.v1.Unmuted;
      this.#updateFacts(serial, u.clipId, ev);
      this.sync.send('event', 'Event', { ...base, kind: pb.EventKind.EVENT_KIND_UNMUTED, clipId: u.clipId });
    } else if (f.recordingStopped) {
      const s = f.recordingStopped as bwc.v1.RecordingStopped;
      this.#updateFacts(serial, s.clipId, ev);
      const row = this.clips.get(serial, s.clipId);
      if (row?.state === 'RECORDING') this.clips.update(serial, s.clipId, { state: 'CLOSED' }, this.#now(), `stopped (${STOP_REASONS.code(s.reason) ?? 'unspecified'})`);
      this.sync.send('event', 'Event', { ...base, kind: pb.EventKind.EVENT_KIND_RECORDING_STOPPED, clipId: s.clipId, detail: STOP_REASONS.code(s.reason) ?? '' });
      this.#decide(serial, s.clipId, ev, 'stopped');
    } else if (f.clipReady) {
      this.#onClipReady(ev, f.clipReady as bwc.v1.ClipReady);
    } else if (f.status) {
      if (seen) seen.status = f.status as bwc.v1.CameraStatus;
    } else if (f.tamper) {
      const t = f.tamper as bwc.v1.Tamper;
      this.log.warn(`camera ${serial}: tamper ${pb.TamperKind[t.kind]}: ${t.detail}`);
      this.sync.send('event', 'Event', { ...base, kind: pb.EventKind.EVENT_KIND_TAMPER, tamper: t.kind, detail: t.detail, occurredAtMs: t.atMs ? t.atMs + ev.camera.offsetMs : ev.atMs });
    } else if (f.clipReleased) {
      this.#onClipReleased(serial, f.clipReleased as bwc.v1.ClipReleased);
    } else if (f.replayComplete) {
      this.log.info(`camera ${serial}: replay of its event log complete (last event ${String(f.replayComplete.lastEventNo)})`);
    }
  }

  #manifestRef(serial: string, clipId: string): { manifestHash?: Buffer } {
    const h = this.clips.get(serial, clipId)?.manifest_hash;
    return h ? { manifestHash: Buffer.from(h, 'hex') } : {};
  }

  #facts(row: ClipRow): RecordFacts {
    return JSON.parse(row.facts) as RecordFacts;
  }

  /** Applies the event to the clip's facts; a clip the dock never heard start gets a row (flagged unannounced). */
  #updateFacts(serial: string, clipId: string, ev: CameraEvent): RecordFacts {
    const e = this.#context(ev);
    const row = this.clips.get(serial, clipId) ?? this.clips.ensure(serial, clipId, 'CLOSED', unannouncedFacts(e), this.#now(), 'first heard of after its start');
    const facts = this.#facts(row);
    applyEvent(facts, ev.frame, e);
    this.clips.update(serial, clipId, { facts: JSON.stringify(facts) }, this.#now());
    return facts;
  }

  #officerAt(serial: string, at: number): string | null {
    const list = this.state.json<Assignment[]>('assignments') ?? [];
    const hit = list.filter((a) => sameId(a.cameraSerial, serial) && a.fromMs <= at && (a.toMs === 0 || at < a.toMs)).sort((a, b) => b.fromMs - a.fromMs)[0];
    return hit?.officerId ?? null;
  }

  #activation(serial: string, clipId: string, f: RecordFacts): Activation {
    return {
      cameraSerial: serial, officerId: f.officerId, deviceId: this.deviceId, deviceRole: f.deviceRole, trigger: f.trigger, activity: f.activity,
      purposes: f.purposes, method: f.method, office: f.office, at: f.startedAtMs, stoppedAt: f.stoppedAtMs, clock: f.clock, replayed: f.replayed, clipId,
    };
  }

  /** decide() as of the activation's own time; the decision is kept, reported and (live) alerted. */
  #decide(serial: string, clipId: string, ev: CameraEvent, why: string): void {
    const row = this.clips.get(serial, clipId);
    if (!row) return;
    const facts = this.#facts(row);
    const d = decide(this.#activation(serial, clipId, facts), this.#cache, this.#now());
    facts.decision = d;
    this.clips.update(serial, clipId, { facts: JSON.stringify(facts) }, this.#now());
    this.sync.send('event', 'Event', {
      kind: pb.EventKind.EVENT_KIND_ACTIVATION_DECIDED, cameraSerial: serial, clipId, decision: decisionToProto(d), occurredAtMs: facts.startedAtMs,
      cameraEventNo: ev.eventNo, replayed: ev.replayed, officerId: facts.officerId ?? '', detail: why,
    });
    if (d.decision !== 'AUTHORIZED') this.log.warn(`camera ${serial} clip ${clipId} (${why}): ${d.decision} ${d.reasons.join(', ')}`);
    if (!ev.replayed) this.#alertCamera(serial, clipId, d);
    this.#watchCover(serial, clipId, facts, d, ev.replayed);
  }

  #alertCamera(serial: string, clipId: string, d: DecisionJson): void {
    const alert = alertFor(d, clipId);
    if (!alert) return;
    this.#cameras.get(serial)?.link?.alert(alert);
    if (d.decision === 'UNAUTHORIZED' || d.decision === 'PROHIBITED') this.#indicator?.flagUnauthorized(`${serial}/${clipId}/${d.decision}`);
  }

  /**
   * DESIGN §5 whole-recording coverage: a live recording whose basis has an end is watched; at that
   * instant it is decided again (#coverEnded). A stopped or replayed recording is not watched.
   */
  #watchCover(serial: string, clipId: string, facts: RecordFacts, d: DecisionJson, replayed: boolean): void {
    const key = this.#key(serial, clipId);
    if (replayed || facts.replayed || facts.stoppedAtMs !== null || d.decision !== 'AUTHORIZED' || !d.coveredUntil) {
      this.#cover.clear(key);
      return;
    }
    this.#cover.watch(key, timeOrNull(d.coveredUntil)!, () => this.#guard('basis end', () => this.#coverEnded(serial, clipId)));
  }

  /**
   * A running recording's basis ended (or the policy changed under it): decided again through now.
   * If it is no longer covered, the officer is alerted on the camera at once, as for an unauthorized
   * start, and the gateway gets the decision (BASIS_ENDED, with coveredUntil). The camera records on.
   */
  #coverEnded(serial: string, clipId: string): void {
    const row = this.clips.get(serial, clipId);
    if (!row || row.state !== 'RECORDING') return;
    const facts = this.#facts(row);
    if (facts.stoppedAtMs !== null) return;
    const before = facts.decision;
    const now = this.#now();
    const d = decide(this.#activation(serial, clipId, facts), this.#cache, now, { through: now });
    facts.decision = d;
    this.clips.update(serial, clipId, { facts: JSON.stringify(facts) }, now, d.decision === 'AUTHORIZED' ? undefined : `basis ended: ${d.reasons.join(', ')}`);
    if (d.decision === 'AUTHORIZED') {
      this.#watchCover(serial, clipId, facts, d, false);
      return;
    }
    if (before?.decision !== 'AUTHORIZED') return; // already alerted for this clip
    this.sync.send('event', 'Event', {
      kind: pb.EventKind.EVENT_KIND_BASIS_ENDED, cameraSerial: serial, clipId, decision: decisionToProto(d), occurredAtMs: now,
      officerId: facts.officerId ?? '', detail: `basis ${before.basis?.kind ?? ''} ${before.basis?.id ?? ''} ended at ${d.coveredUntil ?? 'now'}; recording goes on`,
    });
    this.log.warn(`camera ${serial} clip ${clipId}: its basis ended at ${d.coveredUntil ?? new Date(now).toISOString()} while recording: ${d.decision} ${d.reasons.join(', ')}`);
    this.#alertCamera(serial, clipId, d);
  }

  /** The policy cache changed (a revocation, a new bundle): every live recording is judged again now. */
  #recheckRunning(): void {
    for (const row of this.clips.inStates(['RECORDING'])) {
      const facts = this.#facts(row);
      if (facts.replayed || facts.stoppedAtMs !== null || facts.decision?.decision !== 'AUTHORIZED') continue;
      this.#coverEnded(row.camera_serial, row.clip_id);
    }
  }

  #onClipReady(ev: CameraEvent, r: bwc.v1.ClipReady): void {
    const serial = ev.camera.cameraSerial;
    const held = this.clips.get(serial, r.clipId);
    if (held && !['RECORDING', 'CLOSED', 'FAILED'].includes(held.state)) {
      this.log.info(`camera ${serial} clip ${r.clipId}: ClipReady again while ${held.state}; nothing to redo`);
      return;
    }
    const facts = this.#updateFacts(serial, r.clipId, ev);
    this.clips.update(serial, r.clipId, { state: 'CLOSED', path: r.path, size: Number(r.size), storage_label: ev.camera.storageLabel || serial, error: null }, this.#now(), `ready: ${r.path} (${r.size} bytes)`);
    if (facts.decision === null) this.#decide(serial, r.clipId, ev, 'ready');
    this.#startCustody(serial, r.clipId);
  }

  #onClipReleased(serial: string, r: bwc.v1.ClipReleased): void {
    const row = this.clips.get(serial, r.clipId);
    if (!row) return;
    const same = row.sha256 !== null && toHex(r.sha256) === row.sha256;
    if (r.freed && same && row.state === 'VERIFIED') {
      this.clips.update(serial, r.clipId, { state: 'RELEASED' }, this.#now(), 'the camera freed the verified bytes');
      this.sync.send('event', 'Event', {
        kind: pb.EventKind.EVENT_KIND_CLIP_RELEASED, cameraSerial: serial, clipId: r.clipId, occurredAtMs: this.#now(),
        clipSha256: r.sha256, ...(row.manifest_hash ? { manifestHash: Buffer.from(row.manifest_hash, 'hex') } : {}), detail: r.detail,
      });
    } else {
      this.log.warn(`camera ${serial} clip ${r.clipId}: release not confirmed (freed ${r.freed}, ${same ? 'same' : 'other'} SHA-256, state ${row.state}): ${r.detail}`);
    }
  }

  // ── custody ───────────────────────────────────────────────────────────────────────────────

  #key(serial: string, clipId: string): string {
    return clipKey(serial, clipId);
  }

  #startCustody(serial: string, clipId: string): void {
    const key = this.#key(serial, clipId);
    if (this.#custody.has(key) || this.#stopping) return;
    const work = this.#hashAndSign(serial, clipId).catch((e: unknown) => {
      this.#fault(`custody of clip ${key} (resumed when the state directory can be written)`, e);
    }).finally(() => {
      this.#custody.delete(key);
      this.#progress.delete(`hash:${key}`);
    });
    this.#custody.set(key, work);
  }

  async #hashAndSign(serial: string, clipId: string): Promise<void> {
    const row = this.clips.get(serial, clipId);
    if (!row || !['CLOSED', 'HASHED'].includes(row.state) || !row.path) return;
    let digest: ClipDigest;
    try {
      const mount = storageMount(row.storage_label ?? serial, this.config.storage);
      const path = await resolveClipPath(mount, row.path);
      const key = this.#key(serial, clipId);
      let lastLog = 0;
      digest = await hashClipFile(path, {
        maxBytes: row.size ?? undefined,
        onProgress: (done, total) => {
          this.#progress.set(`hash:${key}`, { cameraSerial: serial, clipId, phase: 'hash', doneBytes: done, totalBytes: total });
          const t = this.#now();
          if (t - lastLog >= 5000 && total > 0) {
            lastLog = t;
            this.log.info({ clip: key, phase: 'hash', doneBytes: done, totalBytes: total }, `hashing ${key}: ${Math.floor((done / total) * 100)}%`);
          }
        },
      });
    } catch (e) {
      if (e instanceof ClipPathError || e instanceof ClipFileError) {
        this.clips.update(serial, clipId, { state: 'FAILED', error: e.message }, this.#now(), e.message);
        this.sync.send('event', 'Event', { kind: pb.EventKind.EVENT_KIND_LINK_ERROR, cameraSerial: serial, clipId, occurredAtMs: this.#now(), detail: `clip cannot be read: ${e.message}` });
        this.log.error(`clip ${serial}/${clipId} cannot be read; kept FAILED until the camera announces it again: ${e.message}`);
        return;
      }
      throw e;
    }
    if (this.#stopping && !this.db.open) return;
    const partial = row.size !== null && digest.byteLength < row.size;
    this.clips.update(serial, clipId, { state: 'HASHED', sha256: toHex(digest.sha256), byte_length: digest.byteLength, chunk_size: digest.chunkSize, chunk_count: digest.chunks.length }, this.#now(),
      `SHA-256 ${toHex(digest.sha256).slice(0, 16)}…, ${digest.byteLength} bytes${partial ? ` (PARTIAL: ${row.size} announced)` : ''}`);
    this.#sign(serial, clipId, digest, partial);
  }

  /** Signs the manifest: chain head, clip row and outbox change in one transaction. */
  #sign(serial: string, clipId: string, digest: ClipDigest, partial: boolean): void {
    const now = this.#now();
    const signed = this.state.transaction(() => {
      const row = this.clips.get(serial, clipId)!;
      if (row.state !== 'HASHED') return null;
      const chain = this.state.json<{ seq: number; hash: string | null }>('chain') ?? { seq: 0, hash: null };
      const facts = manifestFacts(serial, clipId, this.#facts(row), { partial });
      const s = signManifest(facts, digest, { deviceId: this.deviceId, fleet: this.fleet, seq: chain.seq + 1, prevManifestHash: chain.hash ? fromHex(chain.hash, 32) : null }, this.#signer, { createdAtMs: now });
      const hash = toHex(s.hash);
      this.clips.update(serial, clipId, { state: 'SIGNED', manifest: Buffer.from(s.bytes), manifest_hash: hash, manifest_seq: chain.seq + 1 }, now, `manifest seq ${chain.seq + 1} ${hash.slice(0, 16)}…`);
      this.outbox.add({ kind: 'manifest', type: 'ClipManifest', hash, envelope: s.bytes, subject: this.#key(serial, clipId) }, now);
      this.state.setJson('chain', { seq: chain.seq + 1, hash });
      return { hash, digest };
    });
    if (!signed) return;
    this.#manifestInfo.set(signed.hash, this.#uploadSourceOf(this.clips.get(serial, clipId)!, digest.chunks));
    this.log.info(`clip ${serial}/${clipId} signed: manifest ${signed.hash.slice(0, 16)}…`);
    this.sync.pump();
  }

  #uploadSourceOf(row: ClipRow, chunkHashes?: readonly Uint8Array[]): UploadSource {
    const hashes = chunkHashes ?? pb.ClipManifest.decode(openEnvelope(row.manifest!).body).chunkSha256;
    return {
      manifestHash: row.manifest_hash!, path: '', byteLength: row.byte_length ?? 0, chunkSize: row.chunk_size ?? 0, chunkHashes: hashes,
    };
  }

  /** Where the clip's bytes are now (the camera storage may have been remounted). */
  async #sourceFor(row: ClipRow): Promise<UploadSource> {
    const base = this.#manifestInfo.get(row.manifest_hash!) ?? this.#uploadSourceOf(row);
    this.#manifestInfo.set(row.manifest_hash!, base);
    const path = await resolveClipPath(storageMount(row.storage_label ?? row.camera_serial, this.config.storage), row.path!);
    return { ...base, path };
  }

  /** After a restart: clips interrupted before signing are hashed again. */
  #resumeLocal(): void {
    for (const row of this.clips.inStates(['CLOSED', 'HASHED'])) {
      if (row.path) this.#startCustody(row.camera_serial, row.clip_id);
    }
  }

  /** On every connection: clips past SIGNED resend their manifest; the gateway answers with their state. */
  #resumeAtGateway(): void {
    for (const row of this.clips.inStates(['MANIFEST_ACKED', 'UPLOADED'])) {
      if (row.manifest && row.manifest_hash) this.sync.requeue('manifest', 'ClipManifest', row.manifest_hash, row.manifest, this.#key(row.camera_serial, row.clip_id));
    }
  }

  /** Uploaded clips with no VERIFIED ack after the ack timeout ask again. */
  #checkStalled(): void {
    if (!this.sync.connected) return;
    const cutoff = this.#now() - this.config.sync.ackTimeoutMs;
    for (const row of this.clips.inStates(['UPLOADED'])) {
      if (row.updated_at < cutoff && row.manifest && row.manifest_hash && !this.outbox.get(row.manifest_hash)) {
        this.clips.update(row.camera_serial, row.clip_id, { error: null }, this.#now());
        this.sync.requeue('manifest', 'ClipManifest', row.manifest_hash, row.manifest, this.#key(row.camera_serial, row.clip_id));
      }
    }
  }

  // ── the gateway's acks ────────────────────────────────────────────────────────────────────

  async #onAck(ack: bwc.v1.Ack, bytes: Uint8Array, gateway: GatewayCert): Promise<void> {
    const manifestHash = ack.manifestHash.byteLength === 32 ? toHex(ack.manifestHash) : ack.ackedType === 'ClipManifest' && ack.ackedHash.byteLength === 32 ? toHex(ack.ackedHash) : '';
    if (!manifestHash) return;
    const row = this.clips.byManifestHash(manifestHash);
    if (!row) {
      this.log.warn(`ack ${pb.AckKind[ack.kind]} names manifest ${manifestHash.slice(0, 16)}…, which this dock does not hold`);
      return;
    }
    const serial = row.camera_serial;
    const clipId = row.clip_id;
    const now = this.#now();
    switch (ack.kind) {
      case pb.AckKind.ACK_KIND_MANIFEST_RECEIVED:
      case pb.AckKind.ACK_KIND_CHUNKS_MISSING: {
        if (row.state === 'VERIFIED' || row.state === 'RELEASED' || row.state === 'REJECTED') return;
        const ranges = ack.missingChunks.map((r) => ({ start: r.start ?? 0, end: r.end ?? 0 }));
        if (row.state === 'SIGNED') this.clips.update(serial, clipId, { state: 'MANIFEST_ACKED' }, now, `gateway ${gateway.gatewayId} holds the manifest`);
        if (ranges.length === 0) {
          if (row.state !== 'UPLOADED') this.clips.update(serial, clipId, { state: 'UPLOADED' }, now, 'the gateway holds every chunk');
          return;
        }
        if (row.state === 'UPLOADED') this.clips.update(serial, clipId, { state: 'MANIFEST_ACKED' }, now, `the gateway asks for ${ranges.length} chunk range(s) again`);
        try {
          // A chunk the gateway refused (CHUNK_REJECTED) is checked here before it is sent again.
          this.sync.upload(await this.#sourceFor(this.clips.get(serial, clipId)!), ranges, { check: ack.reason === 'CHUNK_REJECTED' });
        } catch (e) {
          this.log.warn(`clip ${serial}/${clipId}: cannot upload now: ${(e as Error).message}; retried when the manifest is next answered`);
        }
        return;
      }
      case pb.AckKind.ACK_KIND_VERIFIED: {
        if (row.state === 'VERIFIED' || row.state === 'RELEASED') return;
        const verified = VerifiedClip.fromAck(bytes, gateway.key, {
          deviceId: this.deviceId, clipId, manifestHash: Buffer.from(manifestHash, 'hex'), sha256: Buffer.from(row.sha256 ?? '', 'hex'), byteLength: row.byte_length ?? -1,
        });
        this.sync.uploader.cancel(manifestHash);
        this.#progress.delete(`upload:${manifestHash}`);
        this.clips.update(serial, clipId, { state: 'VERIFIED', verified_ack: Buffer.from(bytes) }, now, `VERIFIED by gateway ${gateway.gatewayId}`);
        this.log.info(`clip ${serial}/${clipId} VERIFIED by gateway ${gateway.gatewayId}`);
        this.#cameras.get(serial)?.link?.releaseClip(verified);
        return;
      }
      case pb.AckKind.ACK_KIND_REJECTED: {
        if (row.state === 'VERIFIED' || row.state === 'RELEASED') return;
        this.sync.uploader.cancel(manifestHash);
        this.clips.update(serial, clipId, { state: 'REJECTED', error: ack.reason }, now, `REJECTED by gateway ${gateway.gatewayId}: ${ack.reason}`);
        this.log.error(`clip ${serial}/${clipId} REJECTED by the gateway (${ack.reason}); the clip is kept on the camera`);
        this.sync.send('event', 'Event', { kind: pb.EventKind.EVENT_KIND_CLIP_REJECTED, cameraSerial: serial, clipId, manifestHash: Buffer.from(manifestHash, 'hex'), detail: ack.reason, occurredAtMs: now });
        return;
      }
      default:
        return;
    }
  }

  #onUploadSent(manifestHash: string): void {
    this.#progress.delete(`upload:${manifestHash}`);
    const row = this.clips.byManifestHash(manifestHash);
    if (row && row.state === 'MANIFEST_ACKED') this.clips.update(row.camera_serial, row.clip_id, { state: 'UPLOADED' }, this.#now(), 'every requested chunk sent');
  }

  #onUploadError(manifestHash: string, e: Error): void {
    this.#progress.delete(`upload:${manifestHash}`);
    const row = this.clips.byManifestHash(manifestHash);
    if (!row) return;
    const changed = e instanceof ChunkChangedError;
    this.log.error(`clip ${row.camera_serial}/${row.clip_id}: upload stopped: ${e.message}`);
    this.clips.update(row.camera_serial, row.clip_id, { error: e.message }, this.#now());
    if (changed) {
      this.sync.send('event', 'Event', {
        kind: pb.EventKind.EVENT_KIND_TAMPER, tamper: pb.TamperKind.TAMPER_KIND_OTHER, cameraSerial: row.camera_serial, clipId: row.clip_id,
        detail: `clip bytes changed after hashing: ${e.message}`, occurredAtMs: this.#now(),
      });
    }
  }

  #onUploadProgress(manifestHash: string, done: number, total: number): void {
    const row = this.clips.byManifestHash(manifestHash);
    if (row) this.#progress.set(`upload:${manifestHash}`, { cameraSerial: row.camera_serial, clipId: row.clip_id, phase: 'upload', doneBytes: done, totalBytes: total });
  }

  /** Tells a camera it may free its verified clips (on connect, and whenever one is verified). */
  #releaseVerified(serial: string): void {
    const link = this.#cameras.get(serial)?.link;
    if (!link) return;
    for (const row of this.clips.inStates(['VERIFIED'])) {
      if (row.camera_serial !== serial || !row.verified_ack) continue;
      try {
        const { gateway } = this.trust.open(row.verified_ack, 'Ack', this.#now());
        link.releaseClip(VerifiedClip.fromAck(row.verified_ack, gateway.key, {
          deviceId: this.deviceId, clipId: row.clip_id, manifestHash: Buffer.from(row.manifest_hash!, 'hex'), sha256: Buffer.from(row.sha256!, 'hex'), byteLength: row.byte_length!,
        }));
      } catch (e) {
        this.log.error(`clip ${serial}/${row.clip_id}: stored VERIFIED ack no longer checks (${(e as Error).message}); not released`);
      }
    }
  }

  // ── commands ──────────────────────────────────────────────────────────────────────────────

  #onCommand(cmd: bwc.v1.Command): Promise<string> {
    return applyCommand(cmd, {
      now: this.#now, policy: this.policy, sync: this.sync, state: this.state, clips: this.clips, log: this.log,
      reloadPolicy: () => {
        this.#cache = this.policy.load();
        this.#recheckRunning();
      },
      requestCameraStatus: () => { for (const c of this.#cameras.values()) c.link?.requestStatus(); },
    });
  }

  // ── birth, status, progress ───────────────────────────────────────────────────────────────

  #cameraSummaries(): bwc.v1.CameraSummary.$Properties[] {
    const unverified = new Map<string, number>();
    for (const r of this.clips.inStates(NOT_VERIFIED)) unverified.set(r.camera_serial, (unverified.get(r.camera_serial) ?? 0) + 1);
    return [...this.#cameras.values()].map((c) => ({
      cameraSerial: c.info.cameraSerial, model: c.info.model, firmware: c.info.firmware, connected: c.link !== null,
      status: c.status, officerId: this.#officerAt(c.info.cameraSerial, this.#now()) ?? '', unverifiedClips: unverified.get(c.info.cameraSerial) ?? 0,
      lastSeenMs: c.lastSeenMs, clock: { source: pb.ClockSource.CLOCK_SOURCE_CAMERA, synced: this.#clock.synced(), offsetMs: c.info.offsetMs },
    }));
  }

  #clockState(): bwc.v1.ClockState.$Properties {
    const synced = this.#clock.synced();
    return { source: synced ? pb.ClockSource.CLOCK_SOURCE_NTP : pb.ClockSource.CLOCK_SOURCE_SYSTEM, synced, offsetMs: 0 };
  }

  #birth(): Omit<bwc.v1.Birth.$Properties, 'header' | 'bdSeq'> {
    return {
      agentVersion: SOFTWARE_VERSION, hardware: hostname(), policyVersion: this.#cache.current()?.version ?? 0, cameras: this.#cameraSummaries(),
      outboxDepth: this.outbox.depth().messages, bootedAtMs: this.#bootedAt, clock: this.#clockState(),
    };
  }

  progress(): ProgressEntry[] {
    return [...this.#progress.values()];
  }

  #status(): Omit<bwc.v1.Status.$Properties, 'header'> {
    const depth = this.outbox.depth();
    return {
      policyVersion: this.#cache.current()?.version ?? 0, outboxDepth: depth.messages, outboxBytes: depth.bytes, clipsUnverified: this.clips.countNotVerified(),
      uptimeS: Math.floor((this.#now() - this.#bootedAt) / 1000), clock: this.#clockState(), cameras: this.#cameraSummaries(), agentVersion: SOFTWARE_VERSION,
      diskFreeBytes: this.#diskFree(), cpuTemperatureDc: cpuTemperatureDc(),
      transfers: this.progress().map((p) => ({ cameraSerial: p.cameraSerial, clipId: p.clipId, phase: p.phase, doneBytes: p.doneBytes, totalBytes: p.totalBytes })),
    };
  }

  /** Free space where the dock keeps its state (the outbox and custody records); 0 when unknown. */
  #diskFree(): number {
    try {
      const st = statfsSync(this.#paths.dir);
      return st.bavail * st.bsize;
    } catch {
      return 0;
    }
  }

  /** One line for field IT at the dock (a short press of the button). */
  #statusLine(): string {
    const depth = this.outbox.depth();
    return `light ${this.#indicator?.state ?? 'none'}; ${this.sync.connected ? 'connected' : 'not connected'} to the broker; ` +
      `${this.clips.countNotVerified()} clip(s) not yet verified; outbox ${depth.messages} message(s); ${this.#progress.size} transfer(s) under way`;
  }

  /** What the status light shows now (null: no light configured). */
  get light(): string | null {
    return this.#indicator?.state ?? null;
  }

  /** progress.json in the state dir, for `bwc dock status` while the agent runs. */
  #writeProgress(): void {
    const file = `${this.#paths.dir}/progress.json`;
    try {
      const tmp = `${file}.tmp`;
      const m = process.memoryUsage();
      const memory = { rssBytes: m.rss, heapUsedBytes: m.heapUsed, heapTotalBytes: m.heapTotal, externalBytes: m.external, arrayBuffersBytes: m.arrayBuffers };
      writeFileSync(tmp, JSON.stringify({ at: new Date(this.#now()).toISOString(), connected: this.sync.connected, stateFull: this.#stateFull !== null, light: this.light, memory, transfers: this.progress() }));
      renameSync(tmp, file);
    } catch {
      // progress is informational; a full disk shows up in the database writes
    }
  }
}

/** The SoC temperature in tenths of a degree (Linux thermal zone 0, as on a Raspberry Pi); 0 when there is none. */
function cpuTemperatureDc(): number {
  try {
    const milli = Number(readFileSync('/sys/class/thermal/thermal_zone0/temp', 'utf8').trim());
    return Number.isFinite(milli) ? Math.round(milli / 100) : 0;
  } catch {
    return 0;
  }
}
