/**
 * The fleet over time, for the dashboard's charts: every sampling interval one row of what the
 * gateway knows now (devices online and enrolled, the upload backlog, the docks' outboxes).
 * Samples are kept for `retainMs` and then pruned; gateways sharing a database write each instant
 * once (the instant is rounded to the interval).
 */
import type { Db } from '../store/db.js';

export interface FleetSample {
  at: number;
  devicesOnline: number;
  devicesEnrolled: number;
  backlogClips: number;
  backlogBytes: number;
  outboxDepth: number;
}

export class FleetHistory {
  readonly #db: Db;
  readonly #intervalMs: number;
  readonly #retainMs: number;
  #last = 0;

  constructor(db: Db, options: { intervalMs: number; retainMs: number }) {
    this.#db = db;
    this.#intervalMs = options.intervalMs;
    this.#retainMs = options.retainMs;
  }

  /** Takes a sample if a new interval has begun since the last one (called from the sweep). */
  async maybeSample(now: number): Promise<FleetSample | null> {
    const at = Math.floor(now / this.#intervalMs) * this.#intervalMs;
    if (at <= this.#last) return null;
    this.#last = at;
    return this.sample(at);
  }

  async sample(at: number): Promise<FleetSample> {
    const d = await this.#db.get<{ online: number; enrolled: number; outbox: number | null }>(
      `SELECT COALESCE(SUM(CASE WHEN online = 1 THEN 1 ELSE 0 END), 0) AS online, COUNT(*) AS enrolled, COALESCE(SUM(outbox_depth), 0) AS outbox
         FROM devices WHERE status = 'enrolled'`,
    );
    const b = await this.#db.get<{ n: number; bytes: number | null }>(
      `SELECT COUNT(*) AS n, COALESCE(SUM(byte_length), 0) AS bytes FROM manifests WHERE state = 'RECEIVED'`,
    );
    const s: FleetSample = {
      at,
      devicesOnline: Number(d?.online ?? 0),
      devicesEnrolled: Number(d?.enrolled ?? 0),
      backlogClips: Number(b?.n ?? 0),
      backlogBytes: Number(b?.bytes ?? 0),
      outboxDepth: Number(d?.outbox ?? 0),
    };
    await this.#db.tx(async (q) => {
      await q.run(
        `INSERT INTO fleet_samples (at, devices_online, devices_enrolled, backlog_clips, backlog_bytes, outbox_depth) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (at) DO NOTHING`,
        [s.at, s.devicesOnline, s.devicesEnrolled, s.backlogClips, s.backlogBytes, s.outboxDepth],
      );
      await q.run('DELETE FROM fleet_samples WHERE at < ?', [at - this.#retainMs]);
    });
    return s;
  }

  async since(fromMs: number, limit = 5000): Promise<FleetSample[]> {
    const rows = await this.#db.all<{
      at: number;
      devices_online: number;
      devices_enrolled: number;
      backlog_clips: number;
      backlog_bytes: number;
      outbox_depth: number;
    }>('SELECT * FROM (SELECT * FROM fleet_samples WHERE at >= ? ORDER BY at DESC LIMIT ?) s ORDER BY at', [fromMs, limit]);
    return rows.map((r) => ({
      at: Number(r.at),
      devicesOnline: Number(r.devices_online),
      devicesEnrolled: Number(r.devices_enrolled),
      backlogClips: Number(r.backlog_clips),
      backlogBytes: Number(r.backlog_bytes),
      outboxDepth: Number(r.outbox_depth),
    }));
  }
}
