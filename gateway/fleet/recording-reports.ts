/**
 * Recordings reported to the officer's supervisor (1061.2 §4): a dock's decision that a recording
 * is UNAUTHORIZED or PROHIBITED becomes an alert naming its reasons and clauses. Decisions about
 * one clip can arrive out of order, so only the newest counts, and a later AUTHORIZED one (a late
 * tag) resolves the report. A clip untagged when it stopped (UNAUTHORIZED / UNCLASSIFIED) is held
 * for the policy's review grace period instead, and reported by `reportDue()` only if no newer
 * decision replaced it by then (DESIGN §5, 1061.2 §4.4). Prohibited recordings: at once, always.
 * An authorized recording decided on an unsynchronized clock is flagged for review too (DESIGN §6).
 * Every report also opens (or adds to) the clip's review item (gateway/review/), and a late tag
 * that authorizes the clip closes it as "tagged late".
 */
import type { decisionToJson } from '../../proto/decision.js';
import type { Db, Queryable } from '../store/db.js';
import type { Alerts } from './alerts.js';
import type { FlagInput } from '../review/review.js';
import { timeOrNull } from '../../proto/canonical.js';

/** The policy's review grace period when no bundle is in force (the bundle format's default, DESIGN §5). */
export const DEFAULT_REVIEW_GRACE_HOURS = 72;

type Decision = ReturnType<typeof decisionToJson>;

/** Where a recording that goes to the supervisor becomes a review item (gateway/review/), in the report's transaction. */
export interface ReviewSink {
  flag(q: Queryable, f: FlagInput): Promise<void>;
  taggedLate(q: Queryable, t: { deviceId: string; camera: string | null; clipId: string; officerId: string; decision: Decision }): Promise<void>;
}

export class RecordingReports {
  readonly #db: Db;
  readonly #alerts: Alerts;
  /** Hours an unclassified clip waits for a late tag: the policy bundle's `reviewGraceHours`. */
  readonly #graceHours: () => number;
  /** The review queue every report also opens an item in (DESIGN §6); none: alerts only. */
  review: ReviewSink | null;

  constructor(db: Db, alerts: Alerts, graceHours: () => number = () => DEFAULT_REVIEW_GRACE_HOURS, review: ReviewSink | null = null) {
    this.#db = db;
    this.#alerts = alerts;
    this.#graceHours = graceHours;
    this.review = review;
  }

  /** A decision a dock signed about a recording (at start, at stop, after a late tag), received at `at`. */
  async decided(deviceId: string, camera: string | null, clipId: string, officerId: string, d: Decision, at: number): Promise<void> {
    if (!clipId) {
      if (d.decision === 'PROHIBITED' || d.decision === 'UNAUTHORIZED') await this.#report(deviceId, camera, clipId, officerId, d, this.#db);
      else await this.#clockFlag(deviceId, camera, clipId, officerId, d, this.#db);
      return;
    }
    // Decisions about one clip can arrive out of order (a dock resends after an outage, and
    // messages are handled concurrently): only the newest decision counts. In one transaction
    // with its alert, so a newer decision handled at the same time waits for it.
    const decidedAt = timeOrNull(d.decidedAt) ?? at;
    // Untagged when it stopped: held for a late tag until the grace period ends (DESIGN §5;
    // 1061.2 §4.4), then reported by reportDue() if no newer decision replaced this one.
    const unclassified = d.decision === 'UNAUTHORIZED' && d.reasons.includes('UNCLASSIFIED');
    const graceHours = unclassified ? this.#graceHours() : 0;
    const dueAt = unclassified ? at + graceHours * 3600_000 : null;
    const report = unclassified ? JSON.stringify({ decision: d, officerId, graceHours }) : null;
    await this.#db.tx(async (q) => {
      const newest = await q.get<{ decided_at: number }>(
        `INSERT INTO clip_decisions (device_id, camera_serial, clip_id, decided_at, decision, report_due_at, report_json) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (device_id, camera_serial, clip_id) DO UPDATE SET decided_at = excluded.decided_at, decision = excluded.decision,
             report_due_at = excluded.report_due_at, report_json = excluded.report_json
           WHERE excluded.decided_at >= clip_decisions.decided_at
         RETURNING decided_at`,
        [deviceId, camera ?? '', clipId, decidedAt, d.decision, dueAt, report],
      );
      if (!newest) return; // a newer decision about this clip was already applied
      await this.#current(q, deviceId, camera, clipId, d, decidedAt);
      if (d.decision === 'AUTHORIZED') {
        // A fresh decision (a late tag) authorized a clip reported unauthorized: that report is over.
        await this.#alerts.resolveCleared(
          recordingKey(deviceId, camera, clipId, 'UNAUTHORIZED'),
          `${clipId} authorized by a later decision (${d.reasons.join(', ')})`,
          q,
        );
        await this.review?.taggedLate(q, { deviceId, camera, clipId, officerId, decision: d });
        await this.#clockFlag(deviceId, camera, clipId, officerId, d, q);
      } else if (d.decision === 'PROHIBITED' || (d.decision === 'UNAUTHORIZED' && !unclassified)) {
        await this.#report(deviceId, camera, clipId, officerId, d, q);
      }
    });
  }

  /**
   * The clip shows its current decision everywhere (Clips, the clip page, Records; DESIGN §6): a
   * newer decision than the one its manifest carries (a late tag) becomes the manifest row's
   * decision, category and decision JSON. The signed manifest keeps the decision made at the time,
   * and the clip page lists both (the earlier ones as history).
   */
  async #current(q: Queryable, deviceId: string, camera: string | null, clipId: string, d: Decision, decidedAt: number): Promise<void> {
    const rows = await q.all<{ manifest_hash: string; decision_json: string | null }>(
      'SELECT manifest_hash, decision_json FROM manifests WHERE device_id = ? AND camera_serial = ? AND clip_id = ?',
      [deviceId, camera ?? '', clipId],
    );
    for (const r of rows) {
      const held = r.decision_json ? (JSON.parse(r.decision_json) as Decision) : null;
      const heldAt = held ? (timeOrNull(held.decidedAt) ?? 0) : 0;
      if (held && heldAt >= decidedAt) continue;
      await q.run('UPDATE manifests SET decision = ?, decision_json = ?, category = ? WHERE manifest_hash = ?', [
        d.decision,
        JSON.stringify(d),
        d.basis?.category || null,
        r.manifest_hash,
      ]);
    }
  }

  /**
   * Unclassified clips whose grace period ended with no newer decision: reported now, each claimed
   * by clearing report_due_at in the transaction that raises its alert, so one replica reports it.
   * Returns how many.
   */
  async reportDue(now: number): Promise<number> {
    const due = await this.#db.all<{
      device_id: string;
      camera_serial: string;
      clip_id: string;
      report_due_at: number;
      report_json: string;
    }>('SELECT device_id, camera_serial, clip_id, report_due_at, report_json FROM clip_decisions WHERE report_due_at <= ? ORDER BY report_due_at LIMIT 500', [
      now,
    ]);
    let reported = 0;
    for (const r of due) {
      const { decision, officerId, graceHours } = JSON.parse(r.report_json) as {
        decision: Decision;
        officerId: string;
        graceHours: number;
      };
      await this.#db.tx(async (q) => {
        const claimed = await q.run(
          'UPDATE clip_decisions SET report_due_at = NULL, report_json = NULL WHERE device_id = ? AND camera_serial = ? AND clip_id = ? AND report_due_at = ?',
          [r.device_id, r.camera_serial, r.clip_id, r.report_due_at],
        );
        if (claimed.changes !== 1) return; // another replica, or a newer decision, got there first
        await this.#report(r.device_id, r.camera_serial || null, r.clip_id, officerId, decision, q, {
          endedAt: Number(r.report_due_at),
          hours: graceHours,
        });
        reported++;
      });
    }
    return reported;
  }

  /**
   * An authorized recording decided on an unsynchronized clock still goes to the supervisor: its
   * time is flagged for review (DESIGN §6). An unauthorized or prohibited one says so in its own
   * report, which names every reason.
   */
  async #clockFlag(deviceId: string, camera: string | null, clipId: string, officerId: string, d: Decision, q: Queryable): Promise<void> {
    if (!d.reasons.includes('CLOCK_UNSYNCED')) return;
    const message =
      `recording ${clipId || '?'} on camera ${camera ?? '?'} (officer ${officerId || '?'}) was authorized (${d.reasons.join(', ')}) on an unsynchronized clock` +
      ` (${d.clauses.join(', ')}): its time is flagged for the supervisor's review`;
    await this.#alerts.raise(
      {
        kind: 'CLOCK_FLAGGED_RECORDING',
        deviceId,
        cameraSerial: camera,
        subject: clipId || null,
        message,
        detail: { decision: d, officerId },
        dedupeKey: recordingKey(deviceId, camera, clipId, 'CLOCK'),
      },
      q,
    );
    await this.review?.flag(q, { kind: 'CLOCK_FLAGGED', deviceId, camera, clipId, officerId, decision: d, message });
  }

  /**
   * 1061.2 §4: an unauthorized or prohibited recording is reported (to the supervisor; prohibited
   * ones at once). `grace`: an unclassified clip still untagged when its grace period ended (when it
   * ended, and its length in hours).
   */
  async #report(
    deviceId: string,
    camera: string | null,
    clipId: string,
    officerId: string,
    d: Decision,
    q: Queryable,
    grace?: { endedAt: number; hours: number },
  ): Promise<void> {
    const prohibited = d.decision === 'PROHIBITED';
    const untagged = grace === undefined ? '' : `; still untagged when its ${grace.hours} h grace period ended`;
    const message =
      `${prohibited ? 'prohibited' : 'unauthorized'} recording ${clipId || '?'} on camera ${camera ?? '?'} (officer ${officerId || '?'}): ${d.reasons.join(', ')}` +
      ` (${d.clauses.join(', ')})${untagged}; the clip is kept for the supervisor's review (1061.2 §4)`;
    await this.#alerts.raise(
      {
        kind: prohibited ? 'PROHIBITED_RECORDING' : 'UNAUTHORIZED_RECORDING',
        deviceId,
        cameraSerial: camera,
        subject: clipId || null,
        message,
        detail: { decision: d, officerId, ...(grace === undefined ? {} : { graceEndedAt: grace.endedAt }) },
        dedupeKey: recordingKey(deviceId, camera, clipId, d.decision),
      },
      q,
    );
    // 1061.2 §4.4: a review item for the supervisor of the officer's office (prohibited: at once).
    await this.review?.flag(q, {
      kind: prohibited ? 'PROHIBITED' : grace === undefined ? 'UNAUTHORIZED' : 'UNCLASSIFIED',
      deviceId,
      camera,
      clipId,
      officerId,
      decision: d,
      message,
    });
  }
}

/** The dedupe key of a recording report: a clip is named by its dock, its camera and its id. */
function recordingKey(deviceId: string, camera: string | null, clipId: string, decision: string): string {
  return `RECORDING|${deviceId}|${camera ?? ''}|${clipId}|${decision}`;
}
