/**
 * What the dock knows of a recording beyond its bytes, gathered from the camera's events as they
 * arrive (started, tagged, muted, stopped, ready) and kept as JSON with the clip's custody row,
 * then turned into the manifest's facts when the clip is signed. Pure: no I/O, no clock reads.
 * Camera times are corrected by the camera's clock offset here, once.
 */
import { pb, type bwc } from '../../proto/wire.js';
import { decisionToProto, type DecisionJson } from '../../proto/decision.js';
import { METHODS, STOP_REASONS, TRIGGERS } from '../../proto/vocab.js';
import type { ClipFacts } from './manifest.js';

export interface RecordFacts {
  cameraModel: string;
  firmware: string;
  deviceRole: string;
  startedAtMs: number;
  trigger: string;
  activity: string | null;
  purposes: string[];
  method: string;
  preEventBufferS: number;
  office: string | null;
  mutes: { fromMs: number; toMs: number; reason: string }[];
  stoppedAtMs: number | null;
  stopReason: string | null;
  stopDetail: string;
  clock: { synced: boolean; offsetMs: number };
  replayed: boolean;
  officerId: string | null;
  decision: DecisionJson | null;
  mediaType: string;
  endedAtMs: number;
  /** The camera never announced this recording; only a later event of it arrived. */
  unannounced?: boolean;
}

/** The camera and the moment an event was applied. */
export interface EventContext {
  model: string;
  firmware: string;
  /** DEVICE_ROLES code. */
  deviceRole: string;
  /** camera time + offsetMs = dock time. */
  offsetMs: number;
  /** The event's time, corrected. */
  atMs: number;
  replayed: boolean;
  clockSynced: boolean;
  office: string | null;
  officerAt(atMs: number): string | null;
}

/** A camera time corrected by the offset; the event's own time when the camera gave none. */
function corrected(cameraMs: number | null | undefined, e: EventContext): number {
  return cameraMs ? cameraMs + e.offsetMs : e.atMs;
}

function base(e: EventContext, startedAtMs: number): RecordFacts {
  return {
    cameraModel: e.model,
    firmware: e.firmware,
    deviceRole: e.deviceRole,
    startedAtMs,
    trigger: 'other',
    activity: null,
    purposes: [],
    method: 'video',
    preEventBufferS: 0,
    office: e.office,
    mutes: [],
    stoppedAtMs: null,
    stopReason: null,
    stopDetail: '',
    clock: { synced: e.clockSynced, offsetMs: e.offsetMs },
    replayed: e.replayed,
    officerId: e.officerAt(startedAtMs),
    decision: null,
    mediaType: '',
    endedAtMs: 0,
  };
}

export function startedFacts(s: bwc.v1.RecordingStarted, e: EventContext): RecordFacts {
  const startedAtMs = corrected(s.startedAtMs, e);
  return {
    ...base(e, startedAtMs),
    trigger: TRIGGERS.code(s.trigger) ?? 'other',
    activity: s.activity || null,
    purposes: [...s.purposes],
    method: METHODS.code(s.method) ?? 'video',
    preEventBufferS: s.preEventBufferS,
    office: s.location?.office || e.office,
  };
}

/** Facts for a clip first heard of after its start (its start was never received). */
export function unannouncedFacts(e: EventContext): RecordFacts {
  return { ...base(e, e.atMs), unannounced: true };
}

/** Applies a later event of the recording to its facts (in place). */
export function applyEvent(f: RecordFacts, frame: bwc.v1.LinkFrame, e: EventContext): void {
  if (frame.activityTagged) {
    const t = frame.activityTagged;
    f.activity = t.activity || f.activity;
    f.purposes = [...new Set([...f.purposes, ...(t.purposes ?? [])])];
  } else if (frame.muted) {
    f.mutes.push({ fromMs: corrected(frame.muted.atMs, e), toMs: 0, reason: frame.muted.reason ?? '' });
  } else if (frame.unmuted) {
    const open = f.mutes.find((m) => m.toMs === 0);
    if (open) open.toMs = corrected(frame.unmuted.atMs, e);
  } else if (frame.recordingStopped) {
    const s = frame.recordingStopped;
    f.stoppedAtMs = corrected(s.stoppedAtMs, e);
    f.stopReason = STOP_REASONS.code(s.reason) ?? null;
    f.stopDetail = s.detail ?? '';
  } else if (frame.clipReady) {
    const r = frame.clipReady;
    f.mediaType = r.mediaType ?? '';
    f.endedAtMs = corrected(r.endedAtMs, e);
    if (f.stoppedAtMs === null) f.stoppedAtMs = f.endedAtMs;
  }
}

/** The manifest's facts of a recording (custody/manifest.ts), with its flags. */
export function manifestFacts(cameraSerial: string, clipId: string, f: RecordFacts, o: { partial: boolean }): ClipFacts {
  const flags: bwc.v1.ManifestFlag[] = [];
  if (o.partial) flags.push(pb.ManifestFlag.MANIFEST_FLAG_PARTIAL);
  if (f.replayed) flags.push(pb.ManifestFlag.MANIFEST_FLAG_REPLAYED);
  if (f.stopReason === 'power_loss') flags.push(pb.ManifestFlag.MANIFEST_FLAG_RECOVERED_AFTER_POWER_LOSS);
  return {
    cameraSerial,
    cameraModel: f.cameraModel,
    firmwareVersion: f.firmware,
    officerId: f.officerId ?? '',
    clipId,
    mediaType: f.mediaType || 'application/octet-stream',
    startedAtMs: f.startedAtMs,
    endedAtMs: Math.max(f.endedAtMs, f.startedAtMs),
    preEventBufferS: f.preEventBufferS,
    clock: {
      source: f.clock.synced ? pb.ClockSource.CLOCK_SOURCE_NTP : pb.ClockSource.CLOCK_SOURCE_SYSTEM,
      synced: f.clock.synced,
      offsetMs: f.clock.offsetMs,
    },
    trigger: TRIGGERS.value(f.trigger) ?? pb.TriggerSource.TRIGGER_SOURCE_OTHER,
    method: METHODS.value(f.method) ?? pb.RecordingMethod.RECORDING_METHOD_VIDEO,
    activity: f.activity ?? '',
    purposes: f.purposes,
    mutes: f.mutes,
    stopReason: (f.stopReason ? STOP_REASONS.value(f.stopReason) : undefined) ?? pb.StopReason.STOP_REASON_UNSPECIFIED,
    stopDetail: f.stopDetail,
    decision: f.decision ? decisionToProto(f.decision) : null,
    flags,
  };
}
