/**
 * Alerts: what the gateway raises for people to see, acknowledge and resolve (stored, so they
 * survive restarts and are shared by replicas). An alert with a dedupe key is raised once while
 * it is open; repeats increase its count and last time, so a flood of forged messages is one
 * alert with a large count, not a million rows.
 */
import type { Db, Queryable } from '../store/db.js';
import type { AuditAppender } from '../audit/log.js';
import type { Migration } from '../store/migration.js';
import { ALERT_KINDS, type AlertKind, type Severity } from './alert-kinds.js';

export { ALERT_KINDS, type AlertKind, type Severity };

/** The longest resolution note kept. */
export const RESOLUTION_NOTE_MAX = 4000;

/** The note a person gives when resolving an alert: what was found and what was done. */
export const ALERT_RESOLUTION_MIGRATION: Migration = {
  version: 13,
  name: 'alert resolution notes',
  sql: `
-- A critical alert is resolved only with a note saying what was found and done (gateway/fleet/alerts.ts).
ALTER TABLE alerts ADD COLUMN resolution_note TEXT;
`,
};

/** Why an alert could not be resolved as asked. */
export class AlertError extends Error {
  override name = 'AlertError';
  constructor(
    readonly code: 'NOTE_REQUIRED' | 'BAD_INPUT',
    message: string,
  ) {
    super(message);
  }
}

export interface RaiseAlert {
  kind: AlertKind;
  message: string;
  deviceId?: string | null;
  cameraSerial?: string | null;
  subject?: string | null;
  detail?: Record<string, unknown>;
  /** Open alerts with the same key are merged. Defaults to kind + device + subject. */
  dedupeKey?: string | null;
  severity?: Severity;
}

export interface AlertRow {
  id: number;
  kind: AlertKind;
  severity: Severity;
  device_id: string | null;
  camera_serial: string | null;
  subject: string | null;
  message: string;
  detail_json: string | null;
  count: number;
  raised_at: number;
  last_at: number;
  acked_at: number | null;
  acked_by: string | null;
  resolved_at: number | null;
  resolved_by: string | null;
  resolution_note: string | null;
  /** The manifest the alert is about: its subject when that is a manifest hash, else the clip its dock, camera and clip id name. */
  manifest_hash: string | null;
}

/**
 * An alert with the manifest it is about. Clip-level kinds name the manifest hash as their subject
 * (CHUNK_REJECTED, CLIP_REJECTED, ID_MISMATCH of a chunk); recording reports name the clip id with
 * their dock and camera, and the newest manifest of that clip is the one linked (found through the
 * `manifests_device_clip` index).
 */
const SELECT_ALERT = `SELECT a.*, COALESCE(
    (SELECT m.manifest_hash FROM manifests m WHERE m.manifest_hash = a.subject),
    (SELECT m.manifest_hash FROM manifests m WHERE m.device_id = a.device_id AND m.clip_id = a.subject
       AND (a.camera_serial IS NULL OR m.camera_serial = a.camera_serial) ORDER BY m.received_at DESC LIMIT 1)
  ) AS manifest_hash FROM alerts a`;

export interface AlertFilter {
  open?: boolean;
  kind?: AlertKind;
  deviceId?: string;
  limit?: number;
}

export class Alerts {
  readonly #db: Db;
  readonly #now: () => number;
  /** Called after an alert is raised, repeated, acknowledged or resolved (live views). */
  onChange: ((id: number) => void) | null = null;
  /** Records new alerts (not repeats), acknowledgements and resolutions in the audit log, in the same transaction. */
  readonly #audit: { log: AuditAppender; actor: string } | null;

  /** `audit.actor`: who raises alerts (`gateway:<id>`). */
  constructor(db: Db, now: () => number = Date.now, audit: { log: AuditAppender; actor: string } | null = null) {
    this.#db = db;
    this.#now = now;
    this.#audit = audit;
  }

  /** Raises an alert, or counts a repeat of the open one with the same dedupe key. Returns its id. */
  async raise(a: RaiseAlert, q: Queryable = this.#db): Promise<number> {
    const now = this.#now();
    const key = a.dedupeKey === undefined ? `${a.kind}|${a.deviceId ?? ''}|${a.subject ?? ''}` : a.dedupeKey;
    if (key !== null) {
      const bumped = await q.get<{ id: number }>('UPDATE alerts SET count = count + 1, last_at = ? WHERE dedupe_key = ? RETURNING id', [now, key]);
      if (bumped) {
        this.onChange?.(Number(bumped.id));
        return bumped.id;
      }
    }
    const insert = async (t: Queryable) => {
      const row = (await t.get<{ id: number; count: number }>(
        `INSERT INTO alerts (kind, severity, device_id, camera_serial, subject, message, detail_json, dedupe_key, count, raised_at, last_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
         ON CONFLICT (dedupe_key) DO UPDATE SET count = alerts.count + 1, last_at = excluded.last_at
         RETURNING id, count`,
        [
          a.kind,
          a.severity ?? ALERT_KINDS[a.kind],
          a.deviceId ?? null,
          a.cameraSerial ?? null,
          a.subject ?? null,
          a.message,
          a.detail ? JSON.stringify(a.detail) : null,
          key,
          now,
          now,
        ],
      ))!;
      // A new alert is a state change; a repeat only counts (a flood stays one entry).
      if (this.#audit && Number(row.count) === 1) {
        await this.#audit.log.append(t, {
          actor: this.#audit.actor,
          action: 'alert.raised',
          subject: `alert:${row.id}`,
          detail: {
            kind: a.kind,
            severity: a.severity ?? ALERT_KINDS[a.kind],
            deviceId: a.deviceId ?? null,
            cameraSerial: a.cameraSerial ?? null,
            about: a.subject ?? null,
            message: a.message,
          },
        });
      }
      return row;
    };
    const row = this.#audit && q === this.#db ? await this.#db.tx(insert) : await insert(q);
    this.onChange?.(Number(row.id));
    return row.id;
  }

  async list(f: AlertFilter = {}): Promise<AlertRow[]> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (f.open === true) where.push('a.resolved_at IS NULL');
    if (f.open === false) where.push('a.resolved_at IS NOT NULL');
    if (f.kind) {
      where.push('a.kind = ?');
      params.push(f.kind);
    }
    if (f.deviceId) {
      where.push('a.device_id = ?');
      params.push(f.deviceId);
    }
    params.push(Math.min(Math.max(f.limit ?? 200, 1), 1000));
    return this.#db.all<AlertRow>(`${SELECT_ALERT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY a.last_at DESC, a.id DESC LIMIT ?`, params);
  }

  async get(id: number): Promise<AlertRow | undefined> {
    return this.#db.get<AlertRow>(`${SELECT_ALERT} WHERE a.id = ?`, [id]);
  }

  /** Marks an alert seen. Returns false if it does not exist or is already acknowledged. */
  async acknowledge(id: number, by: string): Promise<boolean> {
    return this.#db
      .tx(async (q) => {
        const r = await q.run('UPDATE alerts SET acked_at = ?, acked_by = ? WHERE id = ? AND acked_at IS NULL', [this.#now(), by, id]);
        if (r.changes === 1) await this.#audit?.log.append(q, { actor: `user:${by}`, action: 'alert.acknowledged', subject: `alert:${id}`, detail: {} });
        return r.changes === 1;
      })
      .then((ok) => {
        if (ok) this.onChange?.(id);
        return ok;
      });
  }

  /**
   * Closes an alert; a later repeat raises a new one. Returns false if absent or already resolved.
   * A critical alert needs a note saying what was found and done (AlertError NOTE_REQUIRED); the
   * note is kept with the alert and in the audit log.
   */
  async resolve(id: number, by: string, note: string | null = null): Promise<boolean> {
    const now = this.#now();
    const text = note?.trim() || null;
    if (text !== null && text.length > RESOLUTION_NOTE_MAX)
      throw new AlertError('BAD_INPUT', `the resolution note is longer than ${RESOLUTION_NOTE_MAX} characters`);
    return this.#db
      .tx(async (q) => {
        const row = await q.get<{ severity: Severity; resolved_at: number | null }>('SELECT severity, resolved_at FROM alerts WHERE id = ?', [id]);
        if (!row || row.resolved_at !== null) return false;
        if (row.severity === 'critical' && text === null) {
          throw new AlertError('NOTE_REQUIRED', `alert ${id} is critical: resolving it needs a note saying what was found and what was done`);
        }
        const r = await q.run(
          `UPDATE alerts SET resolved_at = ?, resolved_by = ?, resolution_note = ?, dedupe_key = NULL,
           acked_at = COALESCE(acked_at, ?), acked_by = COALESCE(acked_by, ?) WHERE id = ? AND resolved_at IS NULL`,
          [now, by, text, now, by, id],
        );
        if (r.changes === 1)
          await this.#audit?.log.append(q, {
            actor: `user:${by}`,
            action: 'alert.resolved',
            subject: `alert:${id}`,
            detail: text === null ? {} : { note: text },
          });
        return r.changes === 1;
      })
      .then((ok) => {
        if (ok) this.onChange?.(id);
        return ok;
      });
  }

  /**
   * Closes the open alert with this dedupe key because its condition ended (a device that went
   * offline is back): resolved by the gateway, with why, in the audit log. Returns its id, or null
   * when none was open.
   */
  async resolveCleared(dedupeKey: string, why: string, within?: Queryable): Promise<number | null> {
    const now = this.#now();
    const by = this.#audit?.actor ?? 'gateway';
    const run = within ? <T>(f: (q: Queryable) => Promise<T>) => f(within) : <T>(f: (q: Queryable) => Promise<T>) => this.#db.tx(f);
    const id = await run(async (q) => {
      const row = await q.get<{ id: number }>(
        `UPDATE alerts SET resolved_at = ?, resolved_by = ?, dedupe_key = NULL WHERE dedupe_key = ? AND resolved_at IS NULL RETURNING id`,
        [now, by, dedupeKey],
      );
      if (!row) return null;
      await this.#audit?.log.append(q, { actor: by, action: 'alert.cleared', subject: `alert:${row.id}`, detail: { why } });
      return Number(row.id);
    });
    if (id !== null) this.onChange?.(id);
    return id;
  }

  async openCount(): Promise<number> {
    const r = await this.#db.get<{ n: number }>('SELECT COUNT(*) AS n FROM alerts WHERE resolved_at IS NULL');
    return Number(r?.n ?? 0);
  }
}
