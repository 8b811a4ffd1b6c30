/**
 * Retention and disposition decisions, pure (STYLE §3): given the clip records, the litigation
 * holds and `now`, what each record's status is and exactly which records a disposition would
 * take, with the hash of that list.
 *
 * - Only a VERIFIED clip whose content is still held can be disposed of, and only under a temporary
 *   schedule, once due, and while no active hold covers it. Permanent and unscheduled records never
 *   are.
 * - Due: from the first UTC midnight at or after cutoff + retention, so the eligible set changes at
 *   most once a day by the passing of time, and a dry run in the morning still matches its
 *   execution in the afternoon unless a hold, a record or the configuration changed.
 * - Holds are evaluated here, at disposition time: a hold placed before a clip arrived covers it.
 * - Disposition waits for review (DESIGN §6): a clip with a review item still open or referred to
 *   OPR is IN_REVIEW, never eligible, whatever its schedule.
 */
import type { DecisionJson } from '../../proto/decision.js';
import { canonicalHash } from '../audit/canonical.js';
import type { RecordsSchedule } from './schedules.js';

export const DAY_MS = 86_400_000;

export interface ClipRecord {
  manifestHash: string;
  deviceId: string;
  officerId: string;
  cameraSerial: string;
  clipSha256: string;
  byteLength: number;
  /** RECEIVED | VERIFIED | REJECTED */
  state: string;
  decision: Pick<DecisionJson, 'decision' | 'basis'> | null;
  /** Gateway-observed: first receipt of the manifest. */
  receivedAt: number;
  /** Gateway-observed: the clip VERIFIED. */
  verifiedAt: number | null;
  /** Device-claimed recording start (used only to widen date-range holds, never for retention). */
  startedAt: number | null;
  /** The content was disposed of (by this disposition id). */
  disposedBy: string | null;
  /** The clip's review item still waiting (open, or referred to OPR); null: none (gateway/review/). */
  reviewId?: number | null;
}

export interface LitigationHold {
  holdId: string;
  reason: string;
  manifestHash: string | null;
  deviceId: string | null;
  officerId: string | null;
  cameraSerial: string | null;
  /** A date range, inclusive, in ms. */
  fromAt: number | null;
  toAt: number | null;
  placedAt: number;
  placedBy: string;
  releasedAt: number | null;
}

export type RecordStatus = 'ELIGIBLE' | 'HELD' | 'NOT_DUE' | 'PERMANENT' | 'UNSCHEDULED' | 'NOT_VERIFIED' | 'DISPOSED' | 'OPEN' | 'IN_REVIEW';

/** Why the dry run leaves a clip out although its schedule alone would not (DESIGN §6). */
export const WAITING_FOR_REVIEW = 'waiting for review' as const;

/**
 * A recording-authorization request and what became of it (1061.2 §6: requests, approvals,
 * denials and revocations are records). Its retention counts from when it stopped mattering, as
 * the gateway saw it: the denial, the revocation, or the end of the approved grant; a pending
 * request or a grant still in force is OPEN and never disposed of.
 */
export interface PaperworkRecord {
  requestId: string;
  /** authz_request (pending), authz_approval, authz_denial, authz_revocation: its schedule kind. */
  kind: string;
  requester: string;
  devices: readonly string[];
  cameras: readonly string[];
  /** Gateway-observed: filed. */
  filedAt: number;
  /** Gateway-observed: closed (denied, revoked, or the grant expired); null while open. */
  closedAt: number | null;
  disposedBy: string | null;
}

export interface Assessment {
  status: RecordStatus;
  schedule: RecordsSchedule;
  /** The schedule's cutoff for this record (null: not verified, or unscheduled). */
  cutoffAt: number | null;
  /** Temporary: when it may be destroyed; permanent: when it is due for transfer. */
  dueAt: number | null;
  /** Active holds covering it. */
  holds: string[];
}

/** Every criterion a hold gives must match. A date range matches a clip recorded (claimed) or received in it. */
export function holdCovers(h: LitigationHold, r: ClipRecord): boolean {
  if (h.releasedAt !== null) return false;
  if (h.manifestHash !== null && h.manifestHash !== r.manifestHash) return false;
  if (h.deviceId !== null && h.deviceId !== r.deviceId) return false;
  if (h.officerId !== null && h.officerId !== r.officerId) return false;
  if (h.cameraSerial !== null && h.cameraSerial !== r.cameraSerial) return false;
  if (h.fromAt !== null || h.toAt !== null) {
    const inRange = (t: number | null) => t !== null && (h.fromAt === null || t >= h.fromAt) && (h.toAt === null || t <= h.toAt);
    // Holds err toward keeping: either the time the device claims or the time the gateway saw.
    if (!inRange(r.startedAt) && !inRange(r.receivedAt)) return false;
  }
  return true;
}

/**
 * A hold covers paperwork when every criterion it gives matches: its officer is the requester, its
 * device or camera is in the request's scope, its date range holds the filing or the closing.
 * A hold on one clip covers no paperwork.
 */
export function holdCoversPaperwork(h: LitigationHold, r: PaperworkRecord): boolean {
  if (h.releasedAt !== null || h.manifestHash !== null) return false;
  if (h.officerId !== null && h.officerId !== r.requester) return false;
  if (h.deviceId !== null && !r.devices.includes(h.deviceId)) return false;
  if (h.cameraSerial !== null && !r.cameras.includes(h.cameraSerial)) return false;
  if (h.fromAt !== null || h.toAt !== null) {
    const inRange = (t: number | null) => t !== null && (h.fromAt === null || t >= h.fromAt) && (h.toAt === null || t <= h.toAt);
    if (!inRange(r.filedAt) && !inRange(r.closedAt)) return false;
  }
  return true;
}

export function ceilToUtcDay(t: number): number {
  return Math.ceil(t / DAY_MS) * DAY_MS;
}

function cutoffOf(schedule: Exclude<RecordsSchedule, { type: 'unscheduled' }>, r: ClipRecord): number | null {
  switch (schedule.cutoff) {
    case 'received':
      return r.receivedAt;
    case 'verified':
      return r.verifiedAt;
    case 'calendar_year':
      return r.verifiedAt === null ? null : Date.UTC(new Date(r.verifiedAt).getUTCFullYear() + 1, 0, 1);
  }
}

export function assess(r: ClipRecord, schedule: RecordsSchedule, holds: readonly LitigationHold[], now: number): Assessment {
  const a = assessSchedule(r, schedule, holds, now);
  // DESIGN §6, 1061.2 §4.4: disposition waits for review, whatever the schedule says.
  if (a.status !== 'DISPOSED' && r.reviewId !== undefined && r.reviewId !== null) return { ...a, status: 'IN_REVIEW' };
  return a;
}

function assessSchedule(r: ClipRecord, schedule: RecordsSchedule, holds: readonly LitigationHold[], now: number): Assessment {
  const covering = holds
    .filter((h) => holdCovers(h, r))
    .map((h) => h.holdId)
    .sort();
  const base = { schedule, holds: covering };
  if (r.disposedBy !== null) return { ...base, status: 'DISPOSED', cutoffAt: null, dueAt: null };
  if (schedule.type === 'unscheduled') return { ...base, status: r.state === 'VERIFIED' ? 'UNSCHEDULED' : 'NOT_VERIFIED', cutoffAt: null, dueAt: null };
  const cutoffAt = r.state === 'VERIFIED' ? cutoffOf(schedule, r) : null;
  if (cutoffAt === null) return { ...base, status: 'NOT_VERIFIED', cutoffAt: null, dueAt: null };
  if (schedule.type === 'permanent') {
    const d = new Date(cutoffAt);
    const transferAt = ceilToUtcDay(
      Date.UTC(
        d.getUTCFullYear() + schedule.transferAfterYears,
        d.getUTCMonth(),
        d.getUTCDate(),
        d.getUTCHours(),
        d.getUTCMinutes(),
        d.getUTCSeconds(),
        d.getUTCMilliseconds(),
      ),
    );
    return { ...base, status: 'PERMANENT', cutoffAt, dueAt: transferAt };
  }
  const dueAt = ceilToUtcDay(cutoffAt + schedule.retentionDays * DAY_MS);
  if (covering.length > 0) return { ...base, status: 'HELD', cutoffAt, dueAt };
  if (now < dueAt) return { ...base, status: 'NOT_DUE', cutoffAt, dueAt };
  return { ...base, status: 'ELIGIBLE', cutoffAt, dueAt };
}

/** The paperwork counterpart of `assess`: cutoffs from filing (`received`) or closing (`verified`, `calendar_year`). */
export function assessPaperwork(r: PaperworkRecord, schedule: RecordsSchedule, holds: readonly LitigationHold[], now: number): Assessment {
  const covering = holds
    .filter((h) => holdCoversPaperwork(h, r))
    .map((h) => h.holdId)
    .sort();
  const base = { schedule, holds: covering };
  if (r.disposedBy !== null) return { ...base, status: 'DISPOSED', cutoffAt: null, dueAt: null };
  if (r.closedAt === null) return { ...base, status: 'OPEN', cutoffAt: null, dueAt: null };
  if (schedule.type === 'unscheduled') return { ...base, status: 'UNSCHEDULED', cutoffAt: null, dueAt: null };
  const closed = r.closedAt;
  const cutoffAt = schedule.cutoff === 'received' ? r.filedAt : schedule.cutoff === 'verified' ? closed : Date.UTC(new Date(closed).getUTCFullYear() + 1, 0, 1);
  if (schedule.type === 'permanent') {
    const d = new Date(cutoffAt);
    return {
      ...base,
      status: 'PERMANENT',
      cutoffAt,
      dueAt: ceilToUtcDay(Date.UTC(d.getUTCFullYear() + schedule.transferAfterYears, d.getUTCMonth(), d.getUTCDate())),
    };
  }
  const dueAt = ceilToUtcDay(cutoffAt + schedule.retentionDays * DAY_MS);
  if (covering.length > 0) return { ...base, status: 'HELD', cutoffAt, dueAt };
  if (now < dueAt) return { ...base, status: 'NOT_DUE', cutoffAt, dueAt };
  return { ...base, status: 'ELIGIBLE', cutoffAt, dueAt };
}

/** One paperwork line of a disposition list. */
export interface PaperworkItem {
  requestId: string;
  kind: string;
  schedule: string;
  dueAt: number;
}

/** One line of a disposition list. */
export interface DispositionItem {
  manifestHash: string;
  clipSha256: string;
  byteLength: number;
  schedule: string;
  dueAt: number;
}

/**
 * The list a disposition would take — clips sorted by manifest hash, paperwork by request id — and
 * its hash, `SHA-256("bwc/v1/DispositionList\n" ‖ JCS({ clips, paperwork }))`, what execution must name.
 */
export function dispositionList(
  assessed: readonly { record: ClipRecord; assessment: Assessment }[],
  paperworkAssessed: readonly { record: PaperworkRecord; assessment: Assessment }[] = [],
): { items: DispositionItem[]; paperwork: PaperworkItem[]; hash: string } {
  const paperwork = paperworkAssessed
    .filter((a) => a.assessment.status === 'ELIGIBLE')
    .map(({ record: r, assessment: a }) => ({ requestId: r.requestId, kind: r.kind, schedule: a.schedule.name, dueAt: a.dueAt! }))
    .sort((a, b) => (a.requestId < b.requestId ? -1 : a.requestId > b.requestId ? 1 : 0));
  const items = assessed
    .filter((a) => a.assessment.status === 'ELIGIBLE')
    .map(({ record: r, assessment: a }) => ({
      manifestHash: r.manifestHash,
      clipSha256: r.clipSha256,
      byteLength: r.byteLength,
      schedule: a.schedule.name,
      dueAt: a.dueAt!,
    }))
    .sort((a, b) => (a.manifestHash < b.manifestHash ? -1 : a.manifestHash > b.manifestHash ? 1 : 0));
  return { items, paperwork, hash: canonicalHash('bwc/v1/DispositionList', { clips: items, paperwork }) };
}
