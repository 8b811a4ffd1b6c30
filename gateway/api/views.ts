/**
 * Rows as the API shows them (gateway/api/types.ts): one mapping per kind of row, used by the
 * routes and by the live feed alike, so a device or an alert reads the same whichever way it came.
 */
import type { Db } from '../store/db.js';
import type { DeviceRow } from '../fleet/registry.js';
import type { AlertRow } from '../fleet/alerts.js';
import type { AlertJson, ClipJson, ClipState, DeviceJson, DeviceStatusJson, Verdict } from './types.js';

export function deviceJson(d: DeviceRow, extra: { cameras: string[]; alertsOpen: number }): DeviceJson {
  return {
    deviceId: d.device_id,
    fleet: d.fleet,
    status: d.status as DeviceJson['status'],
    enrolledAt: Number(d.enrolled_at),
    enrolledBy: d.enrolled_by,
    decommissionedAt: num(d.decommissioned_at),
    online: Number(d.online) === 1,
    lastSeen: num(d.last_seen),
    bdSeq: num(d.bd_seq),
    agentVersion: d.agent_version,
    firmware: d.firmware,
    policyVersion: num(d.policy_version),
    outboxDepth: num(d.outbox_depth),
    clockSynced: d.clock_synced === null ? null : Number(d.clock_synced) === 1,
    clockOffsetMs: num(d.clock_offset_ms),
    storageFree: num(d.storage_free),
    cameras: extra.cameras,
    alertsOpen: extra.alertsOpen,
    state: d.state_json ? (JSON.parse(d.state_json) as DeviceStatusJson) : null,
  };
}

/**
 * Devices with their cameras and open alert counts: `ids` names some (the live feed), or all.
 * Two grouped queries beside the device rows, whatever the fleet's size.
 */
export async function deviceViews(db: Db, ids?: readonly string[]): Promise<DeviceJson[]> {
  if (ids && ids.length === 0) return [];
  const marks = ids ? ids.map(() => '?').join(', ') : '';
  const rows = await db.all<DeviceRow>(`SELECT * FROM devices ${ids ? `WHERE device_id IN (${marks})` : ''} ORDER BY device_id`, ids ? [...ids] : []);
  const cameras = new Map<string, string[]>();
  for (const c of await db.all<{ last_dock: string; camera_serial: string }>(
    `SELECT last_dock, camera_serial FROM cameras WHERE last_dock IS NOT NULL ${ids ? `AND last_dock IN (${marks})` : ''} ORDER BY camera_serial`,
    ids ? [...ids] : [],
  )) {
    const list = cameras.get(c.last_dock) ?? [];
    list.push(c.camera_serial);
    cameras.set(c.last_dock, list);
  }
  const alerts = new Map<string, number>();
  for (const a of await db.all<{ device_id: string; n: number }>(
    `SELECT device_id, COUNT(*) AS n FROM alerts WHERE resolved_at IS NULL AND device_id IS NOT NULL ${ids ? `AND device_id IN (${marks})` : ''} GROUP BY device_id`,
    ids ? [...ids] : [],
  )) {
    alerts.set(a.device_id, Number(a.n));
  }
  return rows.map((d) => deviceJson(d, { cameras: cameras.get(d.device_id) ?? [], alertsOpen: alerts.get(d.device_id) ?? 0 }));
}

/** The manifest columns a clip's summary needs. */
export const CLIP_COLUMNS =
  'manifest_hash, device_id, seq, camera_serial, clip_id, officer_id, clip_sha256, byte_length, decision, category, state, started_at, received_at, verified_at, reject_reason';

export function clipJson(r: Record<string, unknown>): ClipJson {
  return {
    manifestHash: String(r.manifest_hash),
    deviceId: String(r.device_id),
    seq: Number(r.seq),
    cameraSerial: String(r.camera_serial),
    clipId: String(r.clip_id),
    officerId: String(r.officer_id),
    sha256: String(r.clip_sha256),
    byteLength: Number(r.byte_length),
    decision: (r.decision ?? null) as Verdict | null,
    category: (r.category ?? null) as string | null,
    state: r.state as ClipState,
    startedAt: num(r.started_at),
    receivedAt: Number(r.received_at),
    verifiedAt: num(r.verified_at),
    rejectReason: (r.reject_reason ?? null) as string | null,
  };
}

export function alertJson(a: AlertRow): AlertJson {
  return {
    id: Number(a.id),
    kind: a.kind,
    severity: a.severity,
    deviceId: a.device_id,
    cameraSerial: a.camera_serial,
    subject: a.subject,
    message: a.message,
    detail: a.detail_json ? (JSON.parse(a.detail_json) as unknown) : null,
    count: Number(a.count),
    raisedAt: Number(a.raised_at),
    lastAt: Number(a.last_at),
    ackedAt: num(a.acked_at),
    ackedBy: a.acked_by,
    resolvedAt: num(a.resolved_at),
    resolvedBy: a.resolved_by,
    resolutionNote: a.resolution_note ?? null,
    manifestHash: a.manifest_hash ?? null,
  };
}

/** PostgreSQL returns BIGINT as a string: numbers here, nulls kept. */
function num(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}
