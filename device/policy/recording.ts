/**
 * Recordings as the camera reports them, turned into decisions (DESIGN §3, §5). Each recording event
 * (start, activity tag, mute, unmute, stop, ClipReady) updates the clip's recorded facts; a start,
 * a tag, a stop and a first ClipReady decide the recording with `decide()` as of its own time, with
 * the officer the camera was assigned to then and the clock state. The decision is kept with the
 * clip, reported to the gateway, and (live, not replayed) alerted on the camera (1061.2 §4). An
 * activity tagged after the stop is decided again (a late tag).
 *
 * While a live recording runs on a basis with an end, the cover watch decides it again at that
 * instant; if it is no longer covered, the officer is alerted and the gateway told (BASIS_ENDED).
 * The camera always records on: no decision stops or deletes a recording (DESIGN §2).
 *
 * This part writes clip facts and the RECORDING → CLOSED step; custody (hashing, signing, upload)
 * starts from `onClipReady`. It does not know how its reports travel or how a camera is reached.
 */
import type { Logger } from 'pino';
import { pb, type bwc } from '../../proto/wire.js';
import { decide } from '../../proto/decide.js';
import { decisionToProto, type DecisionJson } from '../../proto/decision.js';
import { timeOrNull } from '../../proto/canonical.js';
import { DEVICE_ROLES, STOP_REASONS } from '../../proto/vocab.js';
import type { Activation } from '../../proto/activation.js';
import type { MemoryPolicyCache } from '../../proto/policy-cache.js';
import { applyEvent, startedFacts, unannouncedFacts, type EventContext, type RecordFacts } from '../custody/record.js';
import { clipKey, type ClipRow, type Clips } from '../store/clips.js';
import { alertFor } from './alerts.js';
import { CoverWatch } from './cover-watch.js';

type EventBody = Omit<bwc.v1.Event.$Properties, 'header'>;

/** A camera event as the camera link delivers it (a CameraEvent: device/link/camera-link.ts). */
export interface RecordingEvent {
  readonly camera: {
    readonly cameraSerial: string;
    readonly model: string;
    readonly firmware: string;
    readonly deviceRole: bwc.v1.DeviceRole;
    readonly offsetMs: number;
    readonly storageLabel: string;
  };
  readonly eventNo: number;
  /** The camera's time of the event, corrected by its offset. */
  readonly atMs: number;
  readonly replayed: boolean;
  readonly frame: bwc.v1.LinkFrame;
}

export interface RecordingOptions {
  deviceId: string;
  /** The office the dock stands in, for a camera that reports none. */
  office: string | null;
  clips: Clips;
  /** The signed policy data decisions are made with (loaded again when the gateway sends more). */
  policy: { load(): MemoryPolicyCache };
  /** The officer the camera was assigned to at `atMs` (the signed camera assignments). */
  officerAt(cameraSerial: string, atMs: number): string | null;
  clockSynced(): boolean;
  now(): number;
  /** The `recording` part of the dock's logger (device/log.ts). */
  log: Logger;
  /** An event for the gateway. */
  report(event: EventBody): void;
  /** An alert for the officer, on the camera that recorded. */
  alertCamera(cameraSerial: string, alert: bwc.v1.Alert.$Properties): void;
  /** A recording was decided UNAUTHORIZED or PROHIBITED and alerted (the dock's own light flags it). */
  onUnauthorized?(what: string): void;
  /** The clip is CLOSED with its file named: custody may hash it. */
  onClipReady(cameraSerial: string, clipId: string): void;
  /** Work done from a timer (the cover watch): a failure is a fault, not a crash. */
  guard(what: string, fn: () => void): void;
  /** The cover watch (tests give one with a fake clock). */
  cover?: CoverWatch;
}

export class Recording {
  readonly #o: RecordingOptions;
  readonly cover: CoverWatch;
  #cache: MemoryPolicyCache;

  constructor(options: RecordingOptions) {
    this.#o = options;
    this.cover = options.cover ?? new CoverWatch({ now: options.now });
    this.#cache = options.policy.load();
  }

  /** The version of the policy bundle decisions are made with (0: none). */
  get policyVersion(): number {
    return this.#cache.current()?.version ?? 0;
  }

  /** A camera event; the kinds that are not about a recording are left to the other parts. */
  onCameraEvent(ev: RecordingEvent): void {
    const f = ev.frame;
    const serial = ev.camera.cameraSerial;
    const base = { cameraSerial: serial, cameraEventNo: ev.eventNo, replayed: ev.replayed, occurredAtMs: ev.atMs };
    if (f.recordingStarted) {
      const s = f.recordingStarted as bwc.v1.RecordingStarted;
      const facts = startedFacts(s, this.#context(ev));
      this.#o.clips.ensure(serial, s.clipId, 'RECORDING', facts, this.#o.now(), `started (${facts.trigger})`);
      this.#decide(serial, s.clipId, ev, 'started');
    } else if (f.activityTagged) {
      const t = f.activityTagged as bwc.v1.ActivityTagged;
      this.#updateFacts(serial, t.clipId, ev);
      this.#o.report({
        ...base,
        kind: pb.EventKind.EVENT_KIND_ACTIVITY_TAGGED,
        clipId: t.clipId,
        activity: t.activity,
        ...this.#manifestRef(serial, t.clipId),
      });
      this.#decide(serial, t.clipId, ev, 'tagged');
    } else if (f.muted) {
      const m = f.muted as bwc.v1.Muted;
      this.#updateFacts(serial, m.clipId, ev);
      this.#o.report({ ...base, kind: pb.EventKind.EVENT_KIND_MUTED, clipId: m.clipId, detail: m.reason });
    } else if (f.unmuted) {
      const u = f.unmuted as bwc.v1.Unmuted;
      this.#updateFacts(serial, u.clipId, ev);
      this.#o.report({ ...base, kind: pb.EventKind.EVENT_KIND_UNMUTED, clipId: u.clipId });
    } else if (f.recordingStopped) {
      const s = f.recordingStopped as bwc.v1.RecordingStopped;
      this.#updateFacts(serial, s.clipId, ev);
      const row = this.#o.clips.get(serial, s.clipId);
      if (row?.state === 'RECORDING')
        this.#o.clips.update(serial, s.clipId, { state: 'CLOSED' }, this.#o.now(), `stopped (${STOP_REASONS.code(s.reason) ?? 'unspecified'})`);
      this.#o.report({
        ...base,
        kind: pb.EventKind.EVENT_KIND_RECORDING_STOPPED,
        clipId: s.clipId,
        detail: STOP_REASONS.code(s.reason) ?? '',
      });
      this.#decide(serial, s.clipId, ev, 'stopped');
    } else if (f.clipReady) {
      this.#clipReady(ev, f.clipReady as bwc.v1.ClipReady);
    }
  }

  /** The policy store gained something (a revocation, a new bundle): every live recording is judged again now. */
  policyChanged(): void {
    this.#cache = this.#o.policy.load();
    for (const row of this.#o.clips.inStates(['RECORDING'])) {
      const facts = factsOf(row);
      if (facts.replayed || facts.stoppedAtMs !== null || facts.decision?.decision !== 'AUTHORIZED') continue;
      this.#coverEnded(row.camera_serial, row.clip_id);
    }
  }

  stop(): void {
    this.cover.clearAll();
  }

  #context(ev: RecordingEvent): EventContext {
    const serial = ev.camera.cameraSerial;
    return {
      model: ev.camera.model,
      firmware: ev.camera.firmware,
      deviceRole: DEVICE_ROLES.code(ev.camera.deviceRole) ?? 'bwc',
      offsetMs: ev.camera.offsetMs,
      atMs: ev.atMs,
      replayed: ev.replayed,
      clockSynced: this.#o.clockSynced(),
      office: this.#o.office,
      officerAt: (at) => this.#o.officerAt(serial, at),
    };
  }

  #manifestRef(serial: string, clipId: string): { manifestHash?: Buffer } {
    const h = this.#o.clips.get(serial, clipId)?.manifest_hash;
    return h ? { manifestHash: Buffer.from(h, 'hex') } : {};
  }

  /** Applies the event to the clip's facts; a clip the dock never heard start gets a row (flagged unannounced). */
  #updateFacts(serial: string, clipId: string, ev: RecordingEvent): RecordFacts {
    const e = this.#context(ev);
    const clips = this.#o.clips;
    const row = clips.get(serial, clipId) ?? clips.ensure(serial, clipId, 'CLOSED', unannouncedFacts(e), this.#o.now(), 'first heard of after its start');
    const facts = factsOf(row);
    applyEvent(facts, ev.frame, e);
    clips.update(serial, clipId, { facts: JSON.stringify(facts) }, this.#o.now());
    return facts;
  }

  #activation(serial: string, clipId: string, f: RecordFacts): Activation {
    return {
      cameraSerial: serial,
      officerId: f.officerId,
      deviceId: this.#o.deviceId,
      deviceRole: f.deviceRole,
      trigger: f.trigger,
      activity: f.activity,
      purposes: f.purposes,
      method: f.method,
      office: f.office,
      at: f.startedAtMs,
      stoppedAt: f.stoppedAtMs,
      clock: f.clock,
      replayed: f.replayed,
      clipId,
    };
  }

  /** decide() as of the activation's own time; the decision is kept, reported and (live) alerted. */
  #decide(serial: string, clipId: string, ev: RecordingEvent, why: string): void {
    const row = this.#o.clips.get(serial, clipId);
    if (!row) return;
    const facts = factsOf(row);
    const d = decide(this.#activation(serial, clipId, facts), this.#cache, this.#o.now());
    facts.decision = d;
    this.#o.clips.update(serial, clipId, { facts: JSON.stringify(facts) }, this.#o.now());
    this.#o.report({
      kind: pb.EventKind.EVENT_KIND_ACTIVATION_DECIDED,
      cameraSerial: serial,
      clipId,
      decision: decisionToProto(d),
      occurredAtMs: facts.startedAtMs,
      cameraEventNo: ev.eventNo,
      replayed: ev.replayed,
      officerId: facts.officerId ?? '',
      detail: why,
    });
    if (d.decision !== 'AUTHORIZED') this.#o.log.warn(`camera ${serial} clip ${clipId} (${why}): ${d.decision} ${d.reasons.join(', ')}`);
    if (!ev.replayed) this.#alert(serial, clipId, d);
    this.#watchCover(serial, clipId, facts, d, ev.replayed);
  }

  #alert(serial: string, clipId: string, d: DecisionJson): void {
    const alert = alertFor(d, clipId);
    if (!alert) return;
    this.#o.alertCamera(serial, alert);
    if (d.decision === 'UNAUTHORIZED' || d.decision === 'PROHIBITED') this.#o.onUnauthorized?.(`${serial}/${clipId}/${d.decision}`);
  }

  /**
   * DESIGN §5 whole-recording coverage: a live recording whose basis has an end is watched; at that
   * instant it is decided again (#coverEnded). A stopped or replayed recording is not watched.
   */
  #watchCover(serial: string, clipId: string, facts: RecordFacts, d: DecisionJson, replayed: boolean): void {
    const key = clipKey(serial, clipId);
    if (replayed || facts.replayed || facts.stoppedAtMs !== null || d.decision !== 'AUTHORIZED' || !d.coveredUntil) {
      this.cover.clear(key);
      return;
    }
    this.cover.watch(key, timeOrNull(d.coveredUntil)!, () => this.#o.guard('basis end', () => this.#coverEnded(serial, clipId)));
  }

  /**
   * A running recording's basis ended (or the policy changed under it): decided again through now.
   * If it is no longer covered, the officer is alerted on the camera at once, as for an unauthorized
   * start, and the gateway gets the decision (BASIS_ENDED, with coveredUntil). The camera records on.
   */
  #coverEnded(serial: string, clipId: string): void {
    const row = this.#o.clips.get(serial, clipId);
    if (row?.state !== 'RECORDING') return;
    const facts = factsOf(row);
    if (facts.stoppedAtMs !== null) return;
    const before = facts.decision;
    const now = this.#o.now();
    const d = decide(this.#activation(serial, clipId, facts), this.#cache, now, { through: now });
    facts.decision = d;
    this.#o.clips.update(
      serial,
      clipId,
      { facts: JSON.stringify(facts) },
      now,
      d.decision === 'AUTHORIZED' ? undefined : `basis ended: ${d.reasons.join(', ')}`,
    );
    if (d.decision === 'AUTHORIZED') {
      this.#watchCover(serial, clipId, facts, d, false);
      return;
    }
    if (before?.decision !== 'AUTHORIZED') return; // already alerted for this clip
    this.#o.report({
      kind: pb.EventKind.EVENT_KIND_BASIS_ENDED,
      cameraSerial: serial,
      clipId,
      decision: decisionToProto(d),
      occurredAtMs: now,
      officerId: facts.officerId ?? '',
      detail: `basis ${before.basis?.kind ?? ''} ${before.basis?.id ?? ''} ended at ${d.coveredUntil ?? 'now'}; recording goes on`,
    });
    this.#o.log.warn(
      `camera ${serial} clip ${clipId}: its basis ended at ${d.coveredUntil ?? new Date(now).toISOString()} while recording: ${d.decision} ${d.reasons.join(', ')}`,
    );
    this.#alert(serial, clipId, d);
  }

  /** ClipReady names the clip's file: the clip is CLOSED (decided now if it never was) and custody starts. */
  #clipReady(ev: RecordingEvent, r: bwc.v1.ClipReady): void {
    const serial = ev.camera.cameraSerial;
    const held = this.#o.clips.get(serial, r.clipId);
    if (held && !['RECORDING', 'CLOSED', 'FAILED'].includes(held.state)) {
      this.#o.log.info(`camera ${serial} clip ${r.clipId}: ClipReady again while ${held.state}; nothing to redo`);
      return;
    }
    const facts = this.#updateFacts(serial, r.clipId, ev);
    this.#o.clips.update(
      serial,
      r.clipId,
      { state: 'CLOSED', path: r.path, size: Number(r.size), storage_label: ev.camera.storageLabel || serial, error: null },
      this.#o.now(),
      `ready: ${r.path} (${r.size} bytes)`,
    );
    if (facts.decision === null) this.#decide(serial, r.clipId, ev, 'ready');
    this.#o.onClipReady(serial, r.clipId);
  }
}

function factsOf(row: ClipRow): RecordFacts {
  return JSON.parse(row.facts) as RecordFacts;
}
