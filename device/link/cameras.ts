/**
 * The cameras this dock has linked: who they are, whether their link is up, their last status. The
 * other parts reach a camera only through here (an alert, a ReleaseClip, a status request); a
 * camera not linked now simply does not get it, and gets what it is owed (releases) when it links
 * again. Camera-level events (connected, disconnected, tamper) are reported to the gateway through
 * `report`; this part does not know how they travel.
 */
import type { Logger } from 'pino';
import { pb, type bwc } from '../../proto/wire.js';
import type { VerifiedClip } from '../../proto/ack.js';
import type { CameraEvent, CameraInfo, CameraLink } from './camera-link.js';

export interface CameraSeen {
  info: CameraInfo;
  link: CameraPort | null;
  status: bwc.v1.CameraStatus.$Properties | null;
  lastSeenMs: number;
}

/** What a camera link offers the rest of the dock (a CameraLink, or a fake in tests). */
export type CameraPort = Pick<CameraLink, 'alert' | 'releaseClip' | 'requestStatus'>;

export interface DockCamerasOptions {
  now(): number;
  /** The `cameras` part of the dock's logger (device/log.ts). */
  log: Logger;
  /** An event for the gateway. */
  report(event: Omit<bwc.v1.Event.$Properties, 'header'>): void;
  /** A camera linked (again): what it is owed can be sent now. */
  onLinked(cameraSerial: string): void;
  /** A camera's event failed to apply; the camera keeps it and resends it. */
  onHandlerError(what: string, error: unknown): void;
}

export class DockCameras {
  readonly #o: DockCamerasOptions;
  readonly #seen = new Map<string, CameraSeen>();
  #closing = false;

  constructor(options: DockCamerasOptions) {
    this.#o = options;
  }

  /** Follows one link: its Hello, its close, its faults. */
  watch(link: CameraLink): void {
    link.on('connected', (info) => this.linked(info, link));
    link.on('closed', () => {
      const info = link.camera;
      if (!info) return;
      const seen = this.#seen.get(info.cameraSerial);
      if (seen?.link !== link) return;
      seen.link = null;
      if (!this.#closing) this.#o.report({ kind: pb.EventKind.EVENT_KIND_CAMERA_DISCONNECTED, cameraSerial: info.cameraSerial, occurredAtMs: this.#o.now() });
    });
    // Not acked: the camera keeps the event and sends it again.
    link.on('handlerError', (e) => this.#o.onHandlerError(`camera event from ${link.camera?.cameraSerial ?? 'a camera'} (kept by the camera, resent)`, e));
    // A camera that did not ack a frame through every retransmission: the link is closed and the
    // port reopened, so the camera greets again and what was owed to it (releases) is sent again.
    link.on('linkDown', (reason) => {
      this.#o.log.warn(`camera ${link.camera?.cameraSerial ?? 'link'}: ${reason}; reopening the link`);
      link.close();
    });
  }

  /** A camera said Hello on `link`. */
  linked(info: CameraInfo, link: CameraPort): void {
    const seen = this.#seen.get(info.cameraSerial);
    this.#seen.set(info.cameraSerial, { info, link, status: seen?.status ?? null, lastSeenMs: this.#o.now() });
    this.#o.log.info(`camera ${info.cameraSerial} (${info.model} ${info.firmware}) connected, clock offset ${info.offsetMs} ms`);
    this.#o.report({
      kind: pb.EventKind.EVENT_KIND_CAMERA_CONNECTED,
      cameraSerial: info.cameraSerial,
      occurredAtMs: this.#o.now(),
      detail: `${info.model} ${info.firmware}; clock offset ${info.offsetMs} ms`,
    });
    this.#o.onLinked(info.cameraSerial);
  }

  /** The camera-level events: its status, a tamper report, the end of its replay. */
  onCameraEvent(ev: CameraEvent): void {
    const serial = ev.camera.cameraSerial;
    const seen = this.#seen.get(serial);
    if (seen) seen.lastSeenMs = this.#o.now();
    const f = ev.frame;
    if (ev.kind === 'status' && f.status) {
      if (seen) seen.status = f.status as bwc.v1.CameraStatus;
    } else if (ev.kind === 'tamper' && f.tamper) {
      const t = f.tamper as bwc.v1.Tamper;
      this.#o.log.warn(`camera ${serial}: tamper ${pb.TamperKind[t.kind]}: ${t.detail}`);
      this.#o.report({
        cameraSerial: serial,
        cameraEventNo: ev.eventNo,
        replayed: ev.replayed,
        kind: pb.EventKind.EVENT_KIND_TAMPER,
        tamper: t.kind,
        detail: t.detail,
        occurredAtMs: t.atMs ? t.atMs + ev.camera.offsetMs : ev.atMs,
      });
    } else if (ev.kind === 'replayComplete' && f.replayComplete) {
      this.#o.log.info(`camera ${serial}: replay of its event log complete (last event ${String(f.replayComplete.lastEventNo)})`);
    }
  }

  /** The camera's link, if it is linked now. */
  port(cameraSerial: string): CameraPort | null {
    return this.#seen.get(cameraSerial)?.link ?? null;
  }

  alert(cameraSerial: string, alert: bwc.v1.Alert.$Properties): void {
    this.port(cameraSerial)?.alert(alert);
  }

  release(cameraSerial: string, verified: VerifiedClip): void {
    this.port(cameraSerial)?.releaseClip(verified);
  }

  requestStatus(): void {
    for (const c of this.#seen.values()) c.link?.requestStatus();
  }

  list(): readonly CameraSeen[] {
    return [...this.#seen.values()];
  }

  /** The dock is stopping: links that close now are not reported as disconnections. */
  close(): void {
    this.#closing = true;
  }
}
