/**
 * What the dock says about itself: the Birth of each broker connection, the periodic Status (cameras,
 * clock, outbox, clips not yet verified, transfers under way, disk, temperature), the one status
 * line for field IT at the dock (a short press of the button), what the status light shows, and
 * `progress.json` in the state directory for `bwc dock status` while the agent runs. It only reads;
 * it changes nothing.
 */
import { readFileSync, renameSync, statfsSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { pb, type bwc } from '../../proto/wire.js';
import { SOFTWARE_VERSION } from '../../proto/version.js';
import { NOT_VERIFIED, type Clips } from '../store/clips.js';
import type { Outbox } from '../store/outbox.js';
import type { CameraSeen } from '../link/cameras.js';
import type { ProgressEntry } from '../custody/transfers.js';
import type { DockSignals } from '../io/indicator.js';

export interface TelemetryOptions {
  /** The state directory (its free space, and where progress.json is written). */
  dir: string;
  bootedAtMs: number;
  now(): number;
  clips: Pick<Clips, 'inStates' | 'countNotVerified'>;
  outbox: Pick<Outbox, 'depth'>;
  cameras(): readonly CameraSeen[];
  /** The officer a camera is assigned to at `atMs`. */
  officerAt(cameraSerial: string, atMs: number): string | null;
  /** The policy bundle version in force (0: none). */
  policyVersion(): number;
  clockSynced(): boolean;
  transfers(): ProgressEntry[];
  connected(): boolean;
  /** The state directory is full now. */
  stateFull(): boolean;
  /** What the status light shows (null: no light). */
  light(): string | null;
  /** The SoC temperature in tenths of a degree (default: Linux thermal zone 0). */
  cpuTemperatureDc?(): number;
}

export class Telemetry {
  readonly #o: TelemetryOptions;

  constructor(options: TelemetryOptions) {
    this.#o = options;
  }

  birth(): Omit<bwc.v1.Birth.$Properties, 'header' | 'bdSeq'> {
    return {
      agentVersion: SOFTWARE_VERSION,
      hardware: hostname(),
      policyVersion: this.#o.policyVersion(),
      cameras: this.#cameraSummaries(),
      outboxDepth: this.#o.outbox.depth().messages,
      bootedAtMs: this.#o.bootedAtMs,
      clock: this.#clockState(),
    };
  }

  status(): Omit<bwc.v1.Status.$Properties, 'header'> {
    const depth = this.#o.outbox.depth();
    return {
      policyVersion: this.#o.policyVersion(),
      outboxDepth: depth.messages,
      outboxBytes: depth.bytes,
      clipsUnverified: this.#o.clips.countNotVerified(),
      uptimeS: Math.floor((this.#o.now() - this.#o.bootedAtMs) / 1000),
      clock: this.#clockState(),
      cameras: this.#cameraSummaries(),
      agentVersion: SOFTWARE_VERSION,
      diskFreeBytes: this.#diskFree(),
      cpuTemperatureDc: (this.#o.cpuTemperatureDc ?? cpuTemperatureDc)(),
      transfers: this.#o
        .transfers()
        .map((p) => ({ cameraSerial: p.cameraSerial, clipId: p.clipId, phase: p.phase, doneBytes: p.doneBytes, totalBytes: p.totalBytes })),
    };
  }

  /** What the status light shows (io/indicator.ts): recording, busy, a fault, connected. */
  signals(): DockSignals {
    return {
      recording: () => this.#o.clips.inStates(['RECORDING']).length > 0,
      busy: () => this.#o.transfers().length > 0 || this.#o.outbox.depth().messages > 0,
      fault: () => this.#o.stateFull(),
      connected: () => this.#o.connected(),
    };
  }

  /** One line for field IT at the dock (a short press of the button). */
  statusLine(): string {
    const depth = this.#o.outbox.depth();
    return (
      `light ${this.#o.light() ?? 'none'}; ${this.#o.connected() ? 'connected' : 'not connected'} to the broker; ` +
      `${this.#o.clips.countNotVerified()} clip(s) not yet verified; outbox ${depth.messages} message(s); ${this.#o.transfers().length} transfer(s) under way`
    );
  }

  /** progress.json in the state dir, for `bwc dock status` while the agent runs (written to a temporary name, then renamed). */
  writeProgress(): void {
    const file = `${this.#o.dir}/progress.json`;
    try {
      const tmp = `${file}.tmp`;
      const m = process.memoryUsage();
      const memory = {
        rssBytes: m.rss,
        heapUsedBytes: m.heapUsed,
        heapTotalBytes: m.heapTotal,
        externalBytes: m.external,
        arrayBuffersBytes: m.arrayBuffers,
      };
      writeFileSync(
        tmp,
        JSON.stringify({
          at: new Date(this.#o.now()).toISOString(),
          connected: this.#o.connected(),
          stateFull: this.#o.stateFull(),
          light: this.#o.light(),
          memory,
          transfers: this.#o.transfers(),
        }),
      );
      renameSync(tmp, file);
    } catch {
      // progress is informational; a full disk shows up in the database writes
    }
  }

  #cameraSummaries(): bwc.v1.CameraSummary.$Properties[] {
    const unverified = new Map<string, number>();
    for (const r of this.#o.clips.inStates(NOT_VERIFIED)) unverified.set(r.camera_serial, (unverified.get(r.camera_serial) ?? 0) + 1);
    const synced = this.#o.clockSynced();
    return this.#o.cameras().map((c) => ({
      cameraSerial: c.info.cameraSerial,
      model: c.info.model,
      firmware: c.info.firmware,
      connected: c.link !== null,
      status: c.status,
      officerId: this.#o.officerAt(c.info.cameraSerial, this.#o.now()) ?? '',
      unverifiedClips: unverified.get(c.info.cameraSerial) ?? 0,
      lastSeenMs: c.lastSeenMs,
      clock: { source: pb.ClockSource.CLOCK_SOURCE_CAMERA, synced, offsetMs: c.info.offsetMs },
    }));
  }

  #clockState(): bwc.v1.ClockState.$Properties {
    const synced = this.#o.clockSynced();
    return { source: synced ? pb.ClockSource.CLOCK_SOURCE_NTP : pb.ClockSource.CLOCK_SOURCE_SYSTEM, synced, offsetMs: 0 };
  }

  /** Free space where the dock keeps its state (the outbox and custody records); 0 when unknown. */
  #diskFree(): number {
    try {
      const st = statfsSync(this.#o.dir);
      return st.bavail * st.bsize;
    } catch {
      return 0;
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
