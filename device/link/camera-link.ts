/**
 * The dock's end of one camera link (proto/README.md, "BWC-Link v1"): bytes in, typed camera
 * events out, exactly once and in order, each with its time corrected by the camera's clock
 * offset; alerts, status requests and clip releases out.
 *
 *   transport (Duplex) → FrameDecoder → LinkEndpoint → Hello/TimeSync, eventNo dedupe → onEvent
 *
 * An event is acked to the camera only after `onEvent` has finished with it (durably, in the dock
 * agent), and its eventNo is remembered, so an event resent after an unplug is applied once.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { pb, type bwc } from '../../proto/wire.js';
import type { VerifiedClip } from '../../proto/ack.js';
import { FrameDecoder, newDecoderCounters, type DecoderCounters, type FaultInfo, type LinkFrame } from './framing.js';
import { LinkEndpoint, newEndpointCounters, type EndpointCounters, type OutgoingFrame } from './endpoint.js';
import { systemClock, type LinkClock } from './clock.js';
import { closeTransport } from './transport.js';
import { encodeFrame } from './frame-codec.js';

export const CAMERA_EVENT_KINDS = [
  'recordingStarted',
  'activityTagged',
  'muted',
  'unmuted',
  'recordingStopped',
  'clipReady',
  'status',
  'tamper',
  'clipReleased',
  'replayComplete',
] as const;
export type CameraEventKind = (typeof CAMERA_EVENT_KINDS)[number];

export interface CameraInfo {
  readonly cameraSerial: string;
  readonly model: string;
  readonly firmware: string;
  readonly sessionId: number;
  readonly storageMode: bwc.v1.StorageMode;
  readonly storageLabel: string;
  readonly deviceRole: bwc.v1.DeviceRole;
  /** camera time + offsetMs = dock time, measured at the Hello. */
  readonly offsetMs: number;
  readonly connectedAtMs: number;
}

export interface CameraEvent {
  readonly kind: CameraEventKind;
  readonly camera: CameraInfo;
  readonly eventNo: number;
  /** When it happened by the camera's clock (0 when the camera did not say). */
  readonly cameraTimeMs: number;
  /** The camera time corrected by the offset: the time decisions use. */
  readonly atMs: number;
  readonly replayed: boolean;
  readonly frame: LinkFrame;
}

export interface LinkCounters {
  decoder: DecoderCounters;
  endpoint: EndpointCounters;
  eventsDelivered: number;
  /** Events resent across sessions (same eventNo) and applied only once. */
  eventDuplicates: number;
  framesBeforeHello: number;
  sessions: number;
}

/** Remembers the last eventNo applied per camera; the dock agent persists it (SQLite). */
export interface EventNoStore {
  last(cameraSerial: string): number;
  record(cameraSerial: string, eventNo: number): void;
}

export function memoryEventNoStore(): EventNoStore {
  const m = new Map<string, number>();
  return { last: (s) => m.get(s) ?? 0, record: (s, n) => void m.set(s, n) };
}

export interface CameraLinkOptions {
  transport: Duplex;
  onEvent(event: CameraEvent): void | Promise<void>;
  /** Whether the dock's own clock is synchronized (NTP), told to the camera in TimeSync. */
  dockClockSynced?: () => boolean;
  eventNos?: EventNoStore;
  clock?: LinkClock;
  retransmitMs?: number;
  maxRetries?: number;
  window?: number;
}

export interface CameraLinkEvents {
  connected: [CameraInfo];
  fault: [FaultInfo];
  linkDown: [string];
  closed: [];
  handlerError: [unknown];
}

export class CameraLink extends EventEmitter<CameraLinkEvents> {
  readonly counters: LinkCounters;
  readonly #o: CameraLinkOptions;
  readonly #clock: LinkClock;
  readonly #eventNos: EventNoStore;
  readonly #decoder: FrameDecoder;
  readonly #endpoint: LinkEndpoint;
  #camera: CameraInfo | null = null;
  #closed = false;

  constructor(options: CameraLinkOptions) {
    super();
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#eventNos = options.eventNos ?? memoryEventNoStore();
    this.counters = {
      decoder: newDecoderCounters(),
      endpoint: newEndpointCounters(),
      eventsDelivered: 0,
      eventDuplicates: 0,
      framesBeforeHello: 0,
      sessions: 0,
    };
    this.#decoder = new FrameDecoder({ counters: this.counters.decoder, onFault: (f) => this.emit('fault', f) });
    this.#endpoint = new LinkEndpoint({
      clock: this.#clock,
      counters: this.counters.endpoint,
      ...(options.retransmitMs !== undefined ? { retransmitMs: options.retransmitMs } : {}),
      ...(options.maxRetries !== undefined ? { maxRetries: options.maxRetries } : {}),
      ...(options.window !== undefined ? { window: options.window } : {}),
      write: (bytes) => this.#write(bytes),
      deliver: (frame) => this.#deliver(frame),
      onLinkDown: (reason) => this.emit('linkDown', reason),
      onHandlerError: (e) => this.emit('handlerError', e),
    });
  }

  /** The camera of the current session, once it has said Hello. */
  get camera(): CameraInfo | null {
    return this.#camera;
  }

  get pendingToCamera(): number {
    return this.#endpoint.pending;
  }

  start(): this {
    const t = this.#o.transport;
    t.on('data', (chunk: Buffer) => this.#decoder.write(chunk));
    this.#decoder.on('data', (frame: LinkFrame) => {
      try {
        this.#onFrame(frame);
      } catch (e) {
        this.emit('handlerError', e); // never let one frame stall the decoder
      }
    });
    t.on('error', () => this.close());
    t.on('close', () => this.close());
    t.on('end', () => this.close());
    // The dock probe (proto/README.md): a camera already linked to a previous dock process says Hello again.
    this.#write(encodeFrame({ seq: 0, sessionId: 0, requestStatus: {} }));
    return this;
  }

  #write(bytes: Buffer): void {
    if (this.#closed) return;
    this.#o.transport.write(bytes);
  }

  #onFrame(frame: LinkFrame): void {
    if (frame.hello && frame.sessionId !== 0 && frame.hello.sessionId === frame.sessionId && frame.sessionId !== this.#camera?.sessionId) {
      // A new session: both seq spaces restart; dock frames never acked go out again after TimeSync.
      this.#resend = this.#endpoint.newSession(frame.sessionId).filter((f) => !f.timeSync);
    } else if (!this.#camera) {
      this.counters.framesBeforeHello++;
      return; // not attributable to a camera; the camera resends it after its Hello
    }
    this.#endpoint.receive(frame);
  }

  #resend: OutgoingFrame[] = [];

  async #deliver(frame: LinkFrame): Promise<void> {
    if (frame.hello) {
      this.#onHello(frame.hello);
      return;
    }
    const camera = this.#camera;
    if (!camera) return;
    const kind = CAMERA_EVENT_KINDS.find((k) => frame[k] != null);
    if (!kind) return; // dock-to-camera message sent by a camera: nothing to apply
    const eventNo = frame.eventNo;
    if (eventNo > 0 && eventNo <= this.#eventNos.last(camera.cameraSerial)) {
      this.counters.eventDuplicates++;
      return;
    }
    const cameraTimeMs = frame.cameraTimeMs;
    await this.#o.onEvent({
      kind,
      camera,
      eventNo,
      cameraTimeMs,
      atMs: cameraTimeMs ? cameraTimeMs + camera.offsetMs : this.#clock.now(),
      replayed: frame.replayed,
      frame,
    });
    if (eventNo > 0) this.#eventNos.record(camera.cameraSerial, eventNo);
    this.counters.eventsDelivered++;
  }

  #onHello(h: bwc.v1.Hello.$Properties): void {
    const now = this.#clock.now();
    const cameraTimeMs = h.cameraTimeMs ?? 0;
    const camera: CameraInfo = {
      cameraSerial: h.cameraSerial ?? '',
      model: h.model ?? '',
      firmware: h.firmware ?? '',
      sessionId: h.sessionId ?? 0,
      storageMode: h.storageMode ?? pb.StorageMode.STORAGE_MODE_UNSPECIFIED,
      storageLabel: h.storageLabel ?? '',
      deviceRole: h.deviceRole || pb.DeviceRole.DEVICE_ROLE_BWC,
      offsetMs: cameraTimeMs ? now - cameraTimeMs : 0,
      connectedAtMs: now,
    };
    this.#camera = camera;
    this.counters.sessions++;
    this.#endpoint.send({
      timeSync: {
        dockTimeMs: now,
        echoCameraTimeMs: cameraTimeMs,
        dockClockSynced: this.#o.dockClockSynced?.() ?? false,
        measuredOffsetMs: camera.offsetMs,
      },
    });
    for (const f of this.#resend) this.#endpoint.send(f);
    this.#resend = [];
    this.emit('connected', camera);
  }

  alert(alert: bwc.v1.Alert.$Properties): void {
    this.#endpoint.send({ alert });
  }

  requestStatus(): void {
    this.#endpoint.send({ requestStatus: {} });
  }

  /** Tells the camera it may free exactly these bytes. Only a VerifiedClip can be released. */
  releaseClip(clip: VerifiedClip): void {
    this.#endpoint.send({
      releaseClip: { clipId: clip.clipId, sha256: clip.sha256, byteLength: clip.byteLength, verifiedAck: clip.ackEnvelope },
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#endpoint.close();
    this.#decoder.end();
    void closeTransport(this.#o.transport);
    this.emit('closed');
  }
}
