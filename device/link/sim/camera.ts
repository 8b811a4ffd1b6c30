/**
 * A simulated camera: the camera's end of BWC-Link v1, playing a scenario (scenario.ts) over any
 * LinkPort — a real serial device, one end of a pty pair, or memory. It writes its clips into a
 * storage directory the dock reads as the camera's mass storage, keeps its eventNo across runs
 * (in `.bwc-camera.json` there), frees a clip only on a ReleaseClip whose SHA-256 and length match
 * the file, and can replay a whole shift at docking, as a real camera does after a day unlinked.
 */
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync, createReadStream } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { pb, type bwc } from '../../../proto/wire.js';
import { METHODS, STOP_REASONS, TAMPER_KINDS, TRIGGERS } from '../../../proto/vocab.js';
import { FrameDecoder, type LinkFrame } from '../framing.js';
import { LinkEndpoint, type OutgoingFrame } from '../endpoint.js';
import { closeTransport, type LinkPort } from '../transport.js';
import { chaosWriter, type ChaosCounters } from './chaos.js';
import { ScenarioError, type Scenario, type Step } from './scenario.js';
import { videoClipLayout } from './clip-content.js';

export interface CameraSimOptions {
  scenario: Scenario;
  storageDir: string;
  port: LinkPort;
  /** Probability per frame of line noise (chaos.ts). */
  chaos?: number;
  random?: () => number;
  /** Replay the whole shift at docking instead of playing it live. */
  dockedAfterShift?: boolean;
  /** Divides every wait and unplug (10 plays a shift ten times faster). */
  speed?: number;
  retransmitMs?: number;
  /** How long to wait at the end for the dock to ack everything. */
  settleMs?: number;
  /** After the scenario, stay linked up to this long until every clip it wrote is released (0: don't wait). */
  untilReleasedMs?: number;
  /** Resolves when a `pause` step may go on (needed by a scenario that has one and is played live). */
  proceed?: () => Promise<void>;
  log?: (line: string) => void;
}

export interface SimResult {
  eventsSent: number;
  firstEventNo: number;
  lastEventNo: number;
  alerts: bwc.v1.Alert[];
  released: string[];
  /** Each clip freed: its SHA-256 (hex, of the file it deleted) and when, by the host's clock (ms). */
  releases: { clipId: string; sha256: string; at: number }[];
  releaseRefused: string[];
  timeSyncs: number;
  sessions: number;
  unacked: number;
  chaos: ChaosCounters;
  retransmits: number;
}

interface StoredEvent {
  frame: OutgoingFrame;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class CameraSim {
  readonly #o: CameraSimOptions;
  readonly #log: (line: string) => void;
  #transport: Duplex | null = null;
  #decoder: FrameDecoder | null = null;
  #endpoint: LinkEndpoint;
  #eventNo: number;
  #firstEventNo: number;
  #battery: number;
  #docked = true;
  #recording = new Set<string>();
  readonly #startedAt = new Map<string, number>();
  readonly #readied = new Set<string>();
  #sessions = 0;
  /** The current session's Hello was answered (a TimeSync came back). */
  #answered = false;
  #finished = false;
  readonly #write: ReturnType<typeof chaosWriter>;
  readonly #result: Omit<SimResult, 'eventsSent' | 'firstEventNo' | 'lastEventNo' | 'unacked' | 'chaos' | 'retransmits' | 'sessions'> = {
    alerts: [],
    released: [],
    releases: [],
    releaseRefused: [],
    timeSyncs: 0,
  };

  constructor(options: CameraSimOptions) {
    if (!options.proceed && !options.dockedAfterShift && options.scenario.steps.some((s) => 'pause' in s)) {
      throw new ScenarioError('a pause step waits to be told to go on, and this camera cannot be told (no proceed)');
    }
    this.#o = options;
    this.#log = options.log ?? (() => {});
    mkdirSync(options.storageDir, { recursive: true });
    this.#eventNo = this.#loadState();
    this.#firstEventNo = this.#eventNo + 1;
    this.#battery = options.scenario.camera.battery;
    this.#write = chaosWriter(options.chaos ?? 0, (b) => this.#transport?.write(b), options.random);
    this.#endpoint = new LinkEndpoint({
      retransmitMs: options.retransmitMs ?? 150,
      maxRetries: 20,
      write: (b) => this.#write(b),
      deliver: (f) => this.#fromDock(f),
      onLinkDown: (reason) => {
        this.#log(`link down (${reason}); saying Hello again`);
        this.#hello();
      },
    });
  }

  #statePath(): string {
    return join(this.#o.storageDir, '.bwc-camera.json');
  }

  #loadState(): number {
    try {
      return (JSON.parse(readFileSync(this.#statePath(), 'utf8')) as { lastEventNo: number }).lastEventNo ?? 0;
    } catch {
      return 0;
    }
  }

  #saveState(): void {
    const tmp = `${this.#statePath()}.tmp`;
    writeFileSync(tmp, JSON.stringify({ serial: this.#o.scenario.camera.serial, lastEventNo: this.#eventNo }));
    renameSync(tmp, this.#statePath());
  }

  #now(): number {
    return Date.now() + this.#o.scenario.clockSkewMs;
  }

  async #connect(): Promise<void> {
    const t = await this.#o.port.open();
    this.#transport = t;
    const decoder = new FrameDecoder();
    this.#decoder = decoder;
    t.on('data', (c: Buffer) => decoder.write(c));
    t.on('error', () => {});
    t.on('close', () => {
      // The port vanished under us (the dock end went away): come back like a replugged camera.
      if (this.#transport !== t || this.#finished) return;
      this.#transport = null;
      this.#log('port closed; reconnecting');
      setTimeout(() => {
        if (!this.#finished && !this.#transport) void this.#reconnect().catch(() => {});
      }, 200);
    });
    decoder.on('data', (f: LinkFrame) => {
      // A dock probe (session 0): a dock (re)opened its port and does not know us; say Hello again.
      if (f.sessionId === 0 && f.requestStatus) {
        if (this.#answered) this.#hello(); // a session another dock process answered; before an answer, the Hello is still being resent
        return;
      }
      this.#endpoint.receive(f);
    });
    this.#hello();
  }

  #hello(): void {
    const sessionId = randomBytes(6).readUIntBE(0, 6) || 1;
    const pending = this.#endpoint.newSession(sessionId).filter((f) => !f.hello);
    this.#sessions++;
    this.#answered = false;
    this.#endpoint.send({
      hello: {
        cameraSerial: this.#o.scenario.camera.serial,
        model: this.#o.scenario.camera.model,
        firmware: this.#o.scenario.camera.firmware,
        sessionId,
        cameraTimeMs: this.#now(),
        storageMode: pb.StorageMode.STORAGE_MODE_MASS_STORAGE,
        storageLabel: this.#o.scenario.camera.serial,
        linkVersion: 1,
        pendingEvents: pending.length,
        lastEventNo: this.#eventNo,
        deviceRole: pb.DeviceRole.DEVICE_ROLE_BWC,
      },
    });
    for (const f of pending) this.#endpoint.send(f);
  }

  async #disconnect(): Promise<void> {
    const t = this.#transport;
    this.#transport = null;
    this.#decoder?.end();
    if (t) await closeTransport(t);
  }

  /** A camera event: numbered, timestamped, and sent (or kept for replay while undocked). */
  #event(frame: Omit<OutgoingFrame, 'eventNo' | 'cameraTimeMs'>, replayed = false, atMs = this.#now()): StoredEvent {
    this.#eventNo++;
    this.#saveState();
    const out: OutgoingFrame = { ...frame, eventNo: this.#eventNo, cameraTimeMs: atMs, replayed };
    return { frame: out };
  }

  #send(e: StoredEvent): void {
    this.#endpoint.send(e.frame);
  }

  async #fromDock(f: LinkFrame): Promise<void> {
    if (f.timeSync) {
      this.#result.timeSyncs++;
      this.#answered = true;
      this.#log('time sync from the dock');
    } else if (f.alert) {
      this.#result.alerts.push(pb.Alert.decode(pb.Alert.encode(f.alert).finish()));
      this.#log(`alert ${pb.AlertKind[f.alert.kind ?? 0]} ${f.alert.clipId ?? ''} ${f.alert.message ?? ''}`.trim());
    } else if (f.requestStatus) {
      this.#send(this.#statusEvent());
    } else if (f.releaseClip) {
      await this.#release(f.releaseClip);
    }
  }

  async #release(r: bwc.v1.ReleaseClip.$Properties): Promise<void> {
    const clipId = r.clipId ?? '';
    const path = this.#clipPath(clipId);
    let detail = '';
    let freed = false;
    if (!existsSync(path)) detail = 'no such clip on the camera';
    else {
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of createReadStream(path)) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      const sha = hash.digest();
      if (size !== Number(r.byteLength) || !r.sha256 || !sha.equals(Buffer.from(r.sha256))) detail = 'SHA-256 or length differs from the file';
      else {
        unlinkSync(path);
        freed = true;
        this.#result.releases.push({ clipId, sha256: sha.toString('hex'), at: Date.now() });
      }
    }
    (freed ? this.#result.released : this.#result.releaseRefused).push(clipId);
    this.#log(freed ? `released ${clipId}` : `refused to release ${clipId}: ${detail}`);
    this.#send(this.#event({ clipReleased: { clipId, sha256: r.sha256 ?? new Uint8Array(0), freed, detail } }));
  }

  #clipPath(clipId: string): string {
    return join(this.#o.storageDir, 'DCIM', `${clipId}.mp4`);
  }

  /**
   * Writes a clip: the playable sample and its boxes when `video` is given (clip-content.ts), then
   * random bytes (all of it for a random clip). Written to a temporary name and renamed.
   */
  #writeClip(clipId: string, video: { head: Buffer; randomTail: number } | null, size: number): { rel: string; size: number } {
    const rel = join('DCIM', `${clipId}.mp4`);
    const path = join(this.#o.storageDir, rel);
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(`${path}.part`, 'w');
    const block = Buffer.allocUnsafe(1024 * 1024);
    const random = video ? video.randomTail : size;
    try {
      if (video) writeSync(fd, video.head);
      for (let left = random; left > 0; left -= block.length) {
        const n = Math.min(left, block.length);
        randomFillSync(block, 0, n);
        writeSync(fd, block, 0, n);
      }
    } finally {
      closeSync(fd);
    }
    renameSync(`${path}.part`, path);
    return { rel, size: (video ? video.head.length : 0) + random };
  }

  #statusEvent(): StoredEvent {
    const total = this.#o.scenario.camera.storageBytes;
    return this.#event({
      status: {
        batteryPct: this.#battery,
        storageTotalBytes: total,
        storageFreeBytes: Math.max(0, total - 1024 ** 3),
        temperatureDc: 312,
        docked: this.#docked,
        recording: this.#recording.size > 0,
      },
    });
  }

  /** Turns one scenario step into camera events (and files); waits, pauses and unplugs are handled by run(). */
  #eventsFor(step: Step, atMs: number, replayed: boolean): StoredEvent[] {
    const ev = (f: Omit<OutgoingFrame, 'eventNo' | 'cameraTimeMs'>) => this.#event(f, replayed, atMs);
    if ('start' in step) {
      const s = step.start;
      this.#recording.add(s.clip);
      this.#startedAt.set(s.clip, atMs - s.preEventBufferS * 1000);
      return [
        ev({
          recordingStarted: {
            clipId: s.clip,
            startedAtMs: atMs - s.preEventBufferS * 1000,
            trigger: TRIGGERS.value(s.trigger)!,
            activity: s.activity ?? '',
            method: METHODS.value(s.method)!,
            preEventBufferS: s.preEventBufferS,
            purposes: s.purposes,
          },
        }),
      ];
    }
    if ('tag' in step) return [ev({ activityTagged: { clipId: step.tag.clip, activity: step.tag.activity, purposes: step.tag.purposes, taggedAtMs: atMs } })];
    if ('mute' in step) return [ev({ muted: { clipId: step.mute.clip, reason: step.mute.reason, atMs } })];
    if ('unmute' in step) return [ev({ unmuted: { clipId: step.unmute.clip, atMs } })];
    if ('stop' in step) {
      this.#recording.delete(step.stop.clip);
      return [ev({ recordingStopped: { clipId: step.stop.clip, stoppedAtMs: atMs, reason: STOP_REASONS.value(step.stop.reason)! } })];
    }
    if ('ready' in step) {
      const r = step.ready;
      const meta = { cameraSerial: this.#o.scenario.camera.serial, clipId: r.clip, startedAtMs: this.#startedAt.get(r.clip) ?? atMs };
      const { rel, size } = this.#writeClip(r.clip, r.content === 'video' ? videoClipLayout(meta, r.size) : null, r.size ?? 0);
      this.#readied.add(r.clip);
      return [ev({ clipReady: { clipId: r.clip, path: rel, size, mediaType: r.mediaType, endedAtMs: atMs } })];
    }
    if ('status' in step) {
      if (step.status.battery !== undefined) this.#battery = step.status.battery;
      if (step.status.docked !== undefined) this.#docked = step.status.docked;
      return [this.#statusEvent()];
    }
    if ('drain' in step) {
      this.#battery = Math.max(0, this.#battery - step.drain.battery);
      return [this.#statusEvent()];
    }
    if ('tamper' in step) return [ev({ tamper: { kind: TAMPER_KINDS.value(step.tamper.kind)!, detail: step.tamper.detail, atMs } })];
    return [];
  }

  async run(): Promise<SimResult> {
    const speed = this.#o.speed ?? 1;
    const { steps } = this.#o.scenario;
    if (this.#o.dockedAfterShift) {
      // Recorded in the field, unlinked: events are stored with their own times, then replayed.
      this.#docked = false;
      const stored: StoredEvent[] = [];
      let t = this.#now() - steps.reduce((sum, s) => sum + ('wait' in s ? s.wait : 'unplug' in s ? s.unplug.ms : 0), 0);
      for (const step of steps) {
        if ('wait' in step) t += step.wait;
        else if ('unplug' in step) t += step.unplug.ms;
        else stored.push(...this.#eventsFor(step, t, true));
      }
      this.#docked = true;
      await this.#connect();
      for (const e of stored) this.#send(e);
      const last = this.#eventNo;
      this.#send(this.#event({ replayComplete: { lastEventNo: last } }));
    } else {
      await this.#connect();
      for (const step of steps) {
        if ('wait' in step) await sleep(step.wait / speed);
        else if ('pause' in step) {
          const go = this.#o.proceed!();
          this.#log('paused until told to go on');
          await go;
          this.#log('going on');
        } else if ('unplug' in step) {
          this.#log(`unplugged for ${step.unplug.ms} ms`);
          await this.#disconnect();
          await sleep(step.unplug.ms / speed);
          await this.#reconnect();
        } else for (const e of this.#eventsFor(step, this.#now(), false)) this.#send(e);
      }
    }
    await this.#settle();
    const result: SimResult = {
      ...this.#result,
      eventsSent: this.#eventNo - this.#firstEventNo + 1,
      firstEventNo: this.#firstEventNo,
      lastEventNo: this.#eventNo,
      unacked: this.#endpoint.pending,
      chaos: { ...this.#write.counters },
      retransmits: this.#endpoint.counters.retransmits,
      sessions: this.#sessions,
    };
    this.#finished = true;
    this.#endpoint.close();
    await this.#disconnect();
    return result;
  }

  async #reconnect(): Promise<void> {
    for (let attempt = 0; !this.#finished; attempt++) {
      try {
        await this.#connect();
        return;
      } catch (e) {
        if (attempt >= 100) throw e;
        await sleep(100);
      }
    }
  }

  /** Waits until the dock has acked everything, or settleMs passes. */
  async #settle(): Promise<void> {
    const until = Date.now() + (this.#o.settleMs ?? 15_000);
    while (this.#endpoint.pending > 0 && Date.now() < until) await sleep(20);
    const releaseUntil = Date.now() + (this.#o.untilReleasedMs ?? 0);
    const done = () => [...this.#readied].every((c) => this.#result.released.includes(c) || this.#result.releaseRefused.includes(c));
    while (!done() && Date.now() < releaseUntil) await sleep(50);
    while (this.#endpoint.pending > 0 && Date.now() < releaseUntil) await sleep(20); // the ClipReleased confirmations
  }
}
