/**
 * The fleet: enrolled devices (docks, wearables) with their keys and live state, the cameras under
 * them, and camera-to-officer assignments with their history (DESIGN §5 "Camera assignment").
 *
 * Only enrolled equipment is accepted (2013 memo §1): a device is registered by an operator with
 * its public key, or redeems a one-time token. A device is never deleted; decommissioning is
 * refused while the gateway knows of clips from it that are not yet VERIFIED (4007.1 §4.7).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { pb, type bwc } from '../../proto/wire.js';
import { isValidId } from '../../proto/topics.js';
import { ID_RULE, isCanonicalId } from '../../proto/canonical.js';
import { trustPublicKey } from '../../proto/ed25519.js';
import type { KeyringEntry } from '../../proto/keyring.js';
import { decisionToJson } from '../../proto/decision.js';
import { toHex } from '../../proto/bytes.js';
import type { Db } from '../store/db.js';
import { actorOf, type AuditAppender } from '../audit/log.js';
import type { Alerts } from './alerts.js';
import { RecordingReports, type ReviewSink } from './recording-reports.js';

export class FleetError extends Error {
  override name = 'FleetError';
  constructor(
    readonly code: 'BAD_INPUT' | 'EXISTS' | 'NOT_FOUND' | 'CONFLICT' | 'TOKEN_INVALID',
    message: string,
  ) {
    super(message);
  }
}

export interface FleetThresholds {
  /** A device not heard from for this long is offline. */
  offlineAfterMs: number;
  /** |clock offset| beyond this raises CLOCK_DRIFT. */
  clockDriftMs: number;
  /** Free storage below this (bytes) raises STORAGE_LOW. */
  storageLowBytes: number;
  /** A manifest whose clip is not VERIFIED this long after it arrived raises UPLOAD_OVERDUE (end-of-shift rule). */
  uploadOverdueMs: number;
}

export const DEFAULT_THRESHOLDS: FleetThresholds = {
  offlineAfterMs: 5 * 60_000,
  clockDriftMs: 2_000,
  storageLowBytes: 2 * 1024 ** 3,
  uploadOverdueMs: 12 * 3600_000,
};

export interface DeviceRow {
  device_id: string;
  fleet: string;
  status: string;
  enrolled_at: number;
  enrolled_by: string;
  decommissioned_at: number | null;
  online: number;
  bd_seq: number | null;
  last_seen: number | null;
  agent_version: string | null;
  firmware: string | null;
  policy_version: number | null;
  outbox_depth: number | null;
  clock_synced: number | null;
  clock_offset_ms: number | null;
  storage_free: number | null;
  state_json: string | null;
}

export interface CameraRow {
  camera_serial: string;
  model: string | null;
  firmware: string | null;
  battery_pct: number | null;
  storage_free: number | null;
  temperature_c: number | null;
  last_dock: string | null;
  last_seen: number | null;
  first_seen: number;
}

export interface AssignmentRow {
  id: number;
  camera_serial: string;
  officer_id: string;
  from_at: number;
  to_at: number | null;
  assigned_by: string;
  source: string;
}

const TOKEN_PREFIX = 'bwcenroll_';
const hashToken = (t: string) => createHash('sha256').update(t).digest('hex');

export class Fleet {
  readonly #db: Db;
  readonly #alerts: Alerts;
  readonly #now: () => number;
  /** Records enrollments, tokens, decommissions and assignments in the audit log (same transaction). */
  readonly #audit: AuditAppender | null;
  readonly fleet: string;
  readonly thresholds: FleetThresholds;
  readonly #cameraSeen = new Map<string, { dock: string; at: number }>();
  /** Called when the set of current assignments changes, to push them to the docks. */
  onAssignmentsChanged: (() => Promise<void>) | null = null;
  /** Called after a device is enrolled or decommissioned (key caches). */
  onTrustChanged: ((deviceId: string, status: 'enrolled' | 'decommissioned') => void) | null = null;

  /** Unauthorized and prohibited recordings reported to the supervisor (1061.2 §4), unclassified ones after their grace period. */
  readonly reports: RecordingReports;

  constructor(options: {
    db: Db;
    alerts: Alerts;
    fleet: string;
    now?: () => number;
    thresholds?: Partial<FleetThresholds>;
    audit?: AuditAppender | null;
    /** The review grace period of the policy in force, in hours (default: DEFAULT_REVIEW_GRACE_HOURS, recording-reports.ts). */
    reviewGraceHours?: () => number;
    /** The review queue every report also opens an item in (DESIGN §6); none: alerts only. */
    review?: ReviewSink | null;
  }) {
    this.#db = options.db;
    this.#alerts = options.alerts;
    this.#audit = options.audit ?? null;
    this.fleet = options.fleet;
    this.#now = options.now ?? Date.now;
    this.thresholds = { ...DEFAULT_THRESHOLDS, ...options.thresholds };
    this.reports = new RecordingReports(options.db, options.alerts, options.reviewGraceHours, options.review ?? null);
  }

  // ── enrollment ────────────────────────────────────────────────────────────────────────────

  /** Registers a device with its public key (hex or raw). Refuses bad ids, weak keys and re-enrollment. */
  async enroll(deviceId: string, publicKey: Uint8Array, by: string): Promise<{ deviceId: string; keyId: string; mqttUsername: string; mqttPassword: string }> {
    return this.#enroll(deviceId, publicKey, by, null);
  }

  /**
   * Enrolls, spending `token` (if given) in the same transaction: a refused enrollment (a weak key,
   * a key or id already enrolled) leaves the token unspent, and no token enrolls twice.
   */
  async #enroll(
    deviceId: string,
    publicKey: Uint8Array,
    by: string,
    token: string | null,
  ): Promise<{ deviceId: string; keyId: string; mqttUsername: string; mqttPassword: string }> {
    if (!isValidId(deviceId) || deviceId.startsWith('_')) {
      throw new FleetError('BAD_INPUT', `device id "${deviceId}" must match [A-Za-z0-9][A-Za-z0-9._-]{0,63} and not begin with _`);
    }
    let keyId: string;
    try {
      keyId = trustPublicKey(publicKey, `public key of ${deviceId}`).keyId;
    } catch (e) {
      throw new FleetError('BAD_INPUT', (e as Error).message);
    }
    const now = this.#now();
    // Through a token, the MQTT password is derived from it (HMAC keyed by the token, which only
    // the dock and the request hold), so a repeated request gets the same password back and no
    // secret is kept here but its hash. Registered by hand, it is random.
    const mqttPassword =
      token === null
        ? randomBytes(24).toString('base64url')
        : createHmac('sha256', token).update(`bwc/v1/mqtt-password\n${this.fleet}\n${deviceId}\n${keyId}`).digest('base64url');
    const credentials = { deviceId, keyId, mqttUsername: deviceId, mqttPassword };
    const repeated = await this.#db.tx(async (q) => {
      if (token !== null) {
        // The token first: without a valid one, nobody learns which ids or keys are enrolled.
        const used = await q.run(
          'UPDATE enrollment_tokens SET used_at = ?, key_id = ? WHERE token_hash = ? AND device_id = ? AND fleet = ? AND used_at IS NULL AND expires_at > ?',
          [now, keyId, hashToken(token), deviceId, this.fleet, now],
        );
        if (used.changes !== 1) {
          // DESIGN §8: a lost answer never burns the token. The same device, key and token get the
          // same answer again, until the device's first authenticated MQTT connection.
          const again = await q.get<{ n: number }>(
            `SELECT COUNT(*) AS n FROM enrollment_tokens t JOIN devices d ON d.device_id = t.device_id
              WHERE t.token_hash = ? AND t.device_id = ? AND t.fleet = ? AND t.used_at IS NOT NULL AND t.key_id = ?
                AND d.status = 'enrolled' AND d.first_connected_at IS NULL`,
            [hashToken(token), deviceId, this.fleet, keyId],
          );
          if (Number(again?.n ?? 0) === 1) {
            await this.#audit?.append(q, {
              actor: actorOf.by(by),
              action: 'device.enrollment_repeated',
              subject: deviceId,
              detail: { keyId },
            });
            return true;
          }
          throw new FleetError('TOKEN_INVALID', 'enrollment token is unknown, expired, already used, or issued for another device');
        }
      }
      const existing = await q.get<{ status: string }>('SELECT status FROM devices WHERE device_id = ?', [deviceId]);
      if (existing) throw new FleetError('EXISTS', `device ${deviceId} is already ${existing.status}`);
      const keyUsed = await q.get<{ device_id: string }>('SELECT device_id FROM device_keys WHERE key_id = ?', [keyId]);
      if (keyUsed) throw new FleetError('EXISTS', `this public key is already enrolled for device ${keyUsed.device_id}`);
      await q.run("INSERT INTO devices (device_id, fleet, status, enrolled_at, enrolled_by, mqtt_secret_hash) VALUES (?, ?, 'enrolled', ?, ?, ?)", [
        deviceId,
        this.fleet,
        now,
        by,
        hashToken(mqttPassword),
      ]);
      await q.run('INSERT INTO device_keys (key_id, device_id, public_key, valid_from) VALUES (?, ?, ?, ?)', [keyId, deviceId, Buffer.from(publicKey), now]);
      await this.#audit?.append(q, {
        actor: actorOf.by(by),
        action: 'device.enrolled',
        subject: deviceId,
        detail: { keyId, fleet: this.fleet, via: token === null ? 'public_key' : 'token' },
      });
      return false;
    });
    if (!repeated) this.onTrustChanged?.(deviceId, 'enrolled');
    return credentials;
  }

  /**
   * The device's first authenticated connection (its MQTT password checked by the embedded
   * broker, or its first Birth through an external one): from now on its enrollment token can no
   * longer be repeated.
   */
  async markConnected(deviceId: string): Promise<void> {
    await this.#db.run('UPDATE devices SET first_connected_at = ? WHERE device_id = ? AND first_connected_at IS NULL', [this.#now(), deviceId]);
  }

  /** Checks a device's MQTT credentials (for the embedded broker); only enrolled devices pass. */
  async checkMqttPassword(deviceId: string, password: string): Promise<boolean> {
    const row = await this.#db.get<{ mqtt_secret_hash: string | null }>(`SELECT mqtt_secret_hash FROM devices WHERE device_id = ? AND status = 'enrolled'`, [
      deviceId,
    ]);
    if (!row?.mqtt_secret_hash) return false;
    const a = Buffer.from(row.mqtt_secret_hash, 'hex');
    const b = Buffer.from(hashToken(password), 'hex');
    const ok = a.length === b.length && timingSafeEqual(a, b);
    if (ok) await this.markConnected(deviceId);
    return ok;
  }

  /** A one-time enrollment token bound to a device id; only its hash is stored. Shown once. */
  async createEnrollmentToken(deviceId: string, by: string, ttlMs = 24 * 3600_000): Promise<{ token: string; expiresAt: number }> {
    if (!isValidId(deviceId) || deviceId.startsWith('_')) throw new FleetError('BAD_INPUT', `device id "${deviceId}" is not a valid id`);
    const token = TOKEN_PREFIX + randomBytes(24).toString('base64url');
    const now = this.#now();
    const expiresAt = now + ttlMs;
    await this.#db.tx(async (q) => {
      await q.run('INSERT INTO enrollment_tokens (token_hash, device_id, fleet, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)', [
        hashToken(token),
        deviceId,
        this.fleet,
        by,
        now,
        expiresAt,
      ]);
      // The token itself is never recorded (only its holder can redeem it).
      await this.#audit?.append(q, {
        actor: actorOf.by(by),
        action: 'device.enrollment_token_issued',
        subject: deviceId,
        detail: { expiresAt },
      });
    });
    return { token, expiresAt };
  }

  /** Redeems a token for the device it names: single use, unexpired, this fleet's, then enrolls the key. */
  async redeemEnrollmentToken(
    token: string,
    deviceId: string,
    publicKey: Uint8Array,
  ): Promise<{ deviceId: string; keyId: string; mqttUsername: string; mqttPassword: string }> {
    return this.#enroll(deviceId, publicKey, `token:${deviceId}`, token);
  }

  /**
   * Retires a device. Refused while clips from it are not VERIFIED at the gateway, or the device
   * last reported clips it has not yet offloaded.
   */
  async decommission(deviceId: string, by: string): Promise<void> {
    const d = await this.device(deviceId);
    if (!d) throw new FleetError('NOT_FOUND', `device ${deviceId} is not enrolled`);
    if (d.status === 'decommissioned') throw new FleetError('CONFLICT', `device ${deviceId} is already decommissioned`);
    const pending = await this.#db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM manifests WHERE device_id = ? AND state <> 'VERIFIED'`, [deviceId]);
    const onDevice = d.state_json ? Number((JSON.parse(d.state_json) as { clipsUnverified?: number }).clipsUnverified ?? 0) : 0;
    const n = Number(pending?.n ?? 0);
    if (n > 0 || onDevice > 0) {
      throw new FleetError(
        'CONFLICT',
        `device ${deviceId} still holds clips not verified at the gateway (${n} known here, ${onDevice} reported by the device); ` +
          'offload them first (4007.1 §4.7: records are not destroyed or abandoned with the equipment)',
      );
    }
    const now = this.#now();
    await this.#db.tx(async (q) => {
      await q.run(`UPDATE devices SET status = 'decommissioned', decommissioned_at = ?, decommissioned_by = ?, online = 0 WHERE device_id = ?`, [
        now,
        by,
        deviceId,
      ]);
      // The last manifest the device signed before its keys were revoked: anything signed above it
      // is judged REVOKED_AT_RECORDING_TIME by a keyring check, whatever time it claims.
      await q.run(
        `UPDATE device_keys SET revoked_at = ?, last_seq_before_revocation = (SELECT COALESCE(MAX(seq), 0) FROM manifests WHERE device_id = ?)
          WHERE device_id = ? AND revoked_at IS NULL`,
        [now, deviceId, deviceId],
      );
      await this.#audit?.append(q, {
        actor: actorOf.by(by),
        action: 'device.decommissioned',
        subject: deviceId,
        detail: { keysRevokedAt: now },
      });
    });
    this.onTrustChanged?.(deviceId, 'decommissioned');
  }

  async device(deviceId: string): Promise<DeviceRow | undefined> {
    return this.#db.get<DeviceRow>('SELECT * FROM devices WHERE device_id = ?', [deviceId]);
  }

  async devices(): Promise<DeviceRow[]> {
    return this.#db.all<DeviceRow>('SELECT * FROM devices ORDER BY device_id');
  }

  /** Every device key enrolled here, for a keyring (proto/keyring.ts). */
  async keyring(): Promise<KeyringEntry[]> {
    const rows = await this.#db.all<{
      device_id: string;
      key_id: string;
      public_key: Buffer;
      valid_from: number;
      revoked_at: number | null;
      last_seq_before_revocation: number | null;
    }>('SELECT device_id, key_id, public_key, valid_from, revoked_at, last_seq_before_revocation FROM device_keys ORDER BY device_id, valid_from');
    return rows.map((r) => ({
      deviceId: r.device_id,
      keyId: r.key_id,
      publicKey: r.public_key,
      validFromMs: Number(r.valid_from),
      revokedAtMs: r.revoked_at === null ? 0 : Number(r.revoked_at),
      lastSeqBeforeRevocation: Number(r.last_seq_before_revocation ?? 0),
    }));
  }

  async keysOf(deviceId: string): Promise<{ key_id: string; public_key: Buffer; valid_from: number; revoked_at: number | null }[]> {
    return this.#db.all('SELECT key_id, public_key, valid_from, revoked_at FROM device_keys WHERE device_id = ? ORDER BY valid_from', [deviceId]);
  }

  // ── live state from verified messages ─────────────────────────────────────────────────────

  async applyBirth(deviceId: string, b: bwc.v1.Birth, at: number): Promise<void> {
    const bd = Number(b.bdSeq);
    const r = await this.#db.run(
      `UPDATE devices SET online = 1, bd_seq = ?, birth_at = ?, last_seen = ?, agent_version = ?, policy_version = ?, outbox_depth = ?,
         clock_synced = ?, clock_offset_ms = ? WHERE device_id = ? AND (bd_seq IS NULL OR bd_seq <= ?)`,
      [bd, at, at, b.agentVersion, Number(b.policyVersion), Number(b.outboxDepth), b.clock?.synced ? 1 : 0, Number(b.clock?.offsetMs ?? 0), deviceId, bd],
    );
    if (r.changes === 0) return; // an older Birth delivered late
    await this.markConnected(deviceId);
    await this.#alerts.resolveCleared(`DEVICE_OFFLINE|${deviceId}`, `${deviceId} is back online (Birth ${bd})`);
    for (const c of b.cameras) await this.#camera(deviceId, c, at);
    await this.#checkClock(deviceId, b.clock ?? null);
  }

  /** A Death counts only if its bdSeq is the current Birth's (Sparkplug B): a late Will never marks a reconnected device offline. */
  async applyDeath(deviceId: string, d: bwc.v1.Death, at: number): Promise<boolean> {
    const r = await this.#db.run('UPDATE devices SET online = 0, last_seen = ? WHERE device_id = ? AND bd_seq = ? AND online = 1', [
      at,
      deviceId,
      Number(d.bdSeq),
    ]);
    if (r.changes === 1 && !d.clean) {
      await this.#alerts.raise({
        kind: 'DEVICE_OFFLINE',
        deviceId,
        message: `${deviceId} dropped off the network (its Will was published)`,
        dedupeKey: `DEVICE_OFFLINE|${deviceId}`,
      });
    }
    return r.changes === 1;
  }

  async applyStatus(deviceId: string, s: bwc.v1.Status, at: number): Promise<void> {
    // 0 is "not reported" on the wire (proto3 has no absent number): null here, never "0 B free".
    const state = {
      policyVersion: Number(s.policyVersion),
      outboxDepth: Number(s.outboxDepth),
      outboxBytes: Number(s.outboxBytes),
      clipsUnverified: s.clipsUnverified,
      diskFreeBytes: Number(s.diskFreeBytes) || null,
      cpuTemperatureC: s.cpuTemperatureDc ? s.cpuTemperatureDc / 10 : null,
      uptimeS: Number(s.uptimeS),
      alertsOpen: s.alertsOpen,
      clock: s.clock ? { synced: s.clock.synced, offsetMs: Number(s.clock.offsetMs) } : null,
      agentVersion: s.agentVersion,
      statusAt: at,
    };
    await this.#db.run(
      `UPDATE devices SET online = 1, last_seen = ?, policy_version = ?, outbox_depth = ?, storage_free = ?, clock_synced = ?, clock_offset_ms = ?,
         agent_version = COALESCE(NULLIF(?, ''), agent_version), state_json = ? WHERE device_id = ?`,
      [
        at,
        state.policyVersion,
        state.outboxDepth,
        state.diskFreeBytes,
        s.clock?.synced ? 1 : 0,
        Number(s.clock?.offsetMs ?? 0),
        s.agentVersion,
        JSON.stringify(state),
        deviceId,
      ],
    );
    for (const c of s.cameras) await this.#camera(deviceId, c, at);
    await this.#checkClock(deviceId, s.clock ?? null);
    if (state.diskFreeBytes !== null && state.diskFreeBytes < this.thresholds.storageLowBytes) {
      await this.#alerts.raise({
        kind: 'STORAGE_LOW',
        deviceId,
        message: `${deviceId} has ${(state.diskFreeBytes / 1024 ** 3).toFixed(1)} GiB free`,
        dedupeKey: `STORAGE_LOW|${deviceId}`,
      });
    }
  }

  async applyEvent(deviceId: string, e: bwc.v1.Event, at: number): Promise<void> {
    await this.#db.run('UPDATE devices SET last_seen = ? WHERE device_id = ?', [at, deviceId]);
    const camera = e.cameraSerial || null;
    switch (e.kind) {
      case pb.EventKind.EVENT_KIND_ACTIVATION_DECIDED:
      case pb.EventKind.EVENT_KIND_ACTIVITY_TAGGED:
      // A running recording whose basis ended (DESIGN §5 whole-recording coverage): reported like any unauthorized decision.
      case pb.EventKind.EVENT_KIND_BASIS_ENDED: {
        if (e.decision) await this.reports.decided(deviceId, camera, e.clipId, e.officerId, decisionToJson(e.decision), at);
        break;
      }
      case pb.EventKind.EVENT_KIND_TAMPER:
        await this.#alerts.raise({
          kind: 'TAMPER',
          deviceId,
          cameraSerial: camera,
          subject: pb.TamperKind[e.tamper] ?? String(e.tamper),
          message: `tamper on ${camera ? `camera ${camera}` : deviceId}: ${pb.TamperKind[e.tamper] ?? e.tamper}${e.detail ? ` (${e.detail})` : ''}`,
          dedupeKey: `TAMPER|${deviceId}|${camera ?? ''}|${e.tamper}`,
        });
        break;
      case pb.EventKind.EVENT_KIND_CAMERA_CHECKOUT: {
        if (!camera || !e.officerId) break;
        if (!isCanonicalId(camera) || !isCanonicalId(e.officerId)) {
          // A signed message from an enrolled device: stored and acked, not applied, and surfaced.
          await this.#alerts.raise({
            kind: 'MALFORMED_MESSAGE',
            deviceId,
            cameraSerial: isCanonicalId(camera) ? camera : null,
            message: `${deviceId} reported a camera checkout with an invalid camera serial or officer id (an ID, never a name); not applied`,
            dedupeKey: `MALFORMED|${deviceId}|CHECKOUT`,
          });
          break;
        }
        // DESIGN §8: a device-claimed time is bounded by what the gateway observed (never after receipt).
        const claimed = Number(e.occurredAtMs);
        await this.assign(camera, e.officerId, `device:${deviceId}`, 'self_checkout', claimed > 0 && claimed <= at ? claimed : at);
        break;
      }
      case pb.EventKind.EVENT_KIND_CAMERA_CONNECTED:
        if (camera) await this.#camera(deviceId, { cameraSerial: camera }, at);
        break;
      case pb.EventKind.EVENT_KIND_CLIP_RELEASED:
        // The last step of custody: the dock told the camera to free the clip after our VERIFIED ack.
        if (e.manifestHash?.length === 32) {
          await this.#db.run('UPDATE manifests SET released_at = ? WHERE manifest_hash = ? AND device_id = ? AND released_at IS NULL', [
            at,
            toHex(e.manifestHash),
            deviceId,
          ]);
        } else if (e.clipId && camera) {
          await this.#db.run('UPDATE manifests SET released_at = ? WHERE device_id = ? AND camera_serial = ? AND clip_id = ? AND released_at IS NULL', [
            at,
            deviceId,
            camera,
            e.clipId,
          ]);
        }
        break;
      case pb.EventKind.EVENT_KIND_ALERT: {
        const detail = (e.detail ?? '').slice(0, 500);
        if (e.alert === pb.AlertKind.ALERT_KIND_SYNC_ERROR) {
          // A genuine command the dock refused to apply ("command refused: …"), or the dock's
          // aggregated report of refused traffic that includes commands ("…; cmd: bad signature 3…").
          const command = /^command refused|(?:\(|; )cmd: /.test(detail);
          await this.#alerts.raise({
            kind: command ? 'COMMAND_REFUSED' : 'DOCK_SYNC_ERROR',
            deviceId,
            message: `${deviceId} ${command ? 'refused a command' : 'reports a sync error'}: ${detail || 'no detail'}`,
            dedupeKey: `${command ? 'COMMAND_REFUSED' : 'DOCK_SYNC_ERROR'}|${deviceId}`,
          });
        } else if (e.alert === pb.AlertKind.ALERT_KIND_STORAGE_LOW) {
          await this.#alerts.raise({
            kind: 'STORAGE_LOW',
            deviceId,
            cameraSerial: camera,
            message: `${deviceId}: ${detail || 'storage low'}`,
            dedupeKey: `STORAGE_LOW|${deviceId}|dock`,
          });
        }
        break;
      }
      default:
        break;
    }
  }

  /** A manifest names its camera: the camera is known from its first clip, even if no status listed it. */
  async applyManifest(deviceId: string, m: bwc.v1.ClipManifest, at: number): Promise<void> {
    // A burst of manifests from one dock names the same few cameras: write each at most once a minute.
    const seen = this.#cameraSeen.get(m.cameraSerial);
    if (seen && seen.dock === deviceId && at - seen.at < 60_000) return;
    this.#cameraSeen.set(m.cameraSerial, { dock: deviceId, at });
    if (this.#cameraSeen.size > 50_000) this.#cameraSeen.clear();
    await this.#camera(deviceId, { cameraSerial: m.cameraSerial, model: m.cameraModel, firmware: m.firmwareVersion }, at);
  }

  async #camera(deviceId: string, c: bwc.v1.ICameraSummary, at: number): Promise<void> {
    if (!c.cameraSerial || !isCanonicalId(c.cameraSerial)) return;
    const st = c.status;
    await this.#db.run(
      `INSERT INTO cameras (camera_serial, model, firmware, battery_pct, storage_free, temperature_c, last_dock, last_seen, first_seen)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (camera_serial) DO UPDATE SET
         model = COALESCE(excluded.model, cameras.model), firmware = COALESCE(excluded.firmware, cameras.firmware),
         battery_pct = COALESCE(excluded.battery_pct, cameras.battery_pct), storage_free = COALESCE(excluded.storage_free, cameras.storage_free),
         temperature_c = COALESCE(excluded.temperature_c, cameras.temperature_c), last_dock = excluded.last_dock, last_seen = excluded.last_seen`,
      [
        c.cameraSerial,
        c.model || null,
        c.firmware || null,
        st ? (st.batteryPct ?? null) : null,
        st ? Number(st.storageFreeBytes ?? 0) : null,
        st ? Math.round((st.temperatureDc ?? 0) / 10) : null,
        deviceId,
        at,
        at,
      ],
    );
  }

  async #checkClock(deviceId: string, clock: bwc.v1.IClockState | null): Promise<void> {
    if (!clock) return;
    const offset = Math.abs(Number(clock.offsetMs ?? 0));
    if (!clock.synced || offset > this.thresholds.clockDriftMs) {
      await this.#alerts.raise({
        kind: 'CLOCK_DRIFT',
        deviceId,
        message: clock.synced ? `${deviceId}'s clock is ${offset} ms off` : `${deviceId}'s clock is not synchronized; its decisions carry CLOCK_UNSYNCED`,
        dedupeKey: `CLOCK_DRIFT|${deviceId}`,
      });
    }
  }

  async cameras(): Promise<(CameraRow & { officer_id: string | null; unverified: number })[]> {
    return this.#db.all(
      `SELECT c.*, (SELECT a.officer_id FROM camera_assignments a WHERE a.camera_serial = c.camera_serial AND a.to_at IS NULL ORDER BY a.from_at DESC LIMIT 1) AS officer_id,
              (SELECT COUNT(*) FROM manifests m WHERE m.camera_serial = c.camera_serial AND m.state <> 'VERIFIED') AS unverified
         FROM cameras c ORDER BY c.camera_serial`,
    );
  }

  // ── assignments ───────────────────────────────────────────────────────────────────────────

  /**
   * Assigns a camera to an officer from `at`, closing the current assignment. Re-assigning the
   * current officer changes nothing (and pushes nothing). History is never rewritten: an `at`
   * before the camera's last change (a dock clock far behind) starts the assignment now instead.
   */
  async assign(cameraSerial: string, officerId: string, by: string, source: 'operator' | 'self_checkout', at = this.#now()): Promise<AssignmentRow> {
    if (!isCanonicalId(cameraSerial)) throw new FleetError('BAD_INPUT', `camera serial "${cameraSerial}" ${ID_RULE}`);
    if (!isCanonicalId(officerId)) throw new FleetError('BAD_INPUT', `officer id "${officerId}" ${ID_RULE} (an ID, never a name)`);
    const { row, changed } = await this.#db.tx(async (q) => {
      const cur = await q.get<AssignmentRow>('SELECT * FROM camera_assignments WHERE camera_serial = ? AND to_at IS NULL', [cameraSerial]);
      if (cur && cur.officer_id === officerId) return { row: cur, changed: false };
      const last = await q.get<{ f: number | null; t: number | null }>(
        'SELECT MAX(from_at) AS f, MAX(to_at) AS t FROM camera_assignments WHERE camera_serial = ?',
        [cameraSerial],
      );
      const floor = Math.max(Number(last?.f ?? -Infinity), Number(last?.t ?? -Infinity));
      const from = at >= floor ? at : Math.max(floor, this.#now());
      if (cur) await q.run('UPDATE camera_assignments SET to_at = ? WHERE id = ?', [from, cur.id]);
      await q.run(`INSERT INTO cameras (camera_serial, first_seen) VALUES (?, ?) ON CONFLICT (camera_serial) DO NOTHING`, [cameraSerial, from]);
      const inserted = (await q.get<AssignmentRow>(
        'INSERT INTO camera_assignments (camera_serial, officer_id, from_at, assigned_by, source) VALUES (?, ?, ?, ?, ?) RETURNING *',
        [cameraSerial, officerId, from, by, source],
      ))!;
      await this.#audit?.append(q, {
        actor: actorOf.by(by),
        action: 'camera.assigned',
        subject: cameraSerial,
        detail: { officerId, from, source, previousOfficerId: cur?.officer_id ?? null },
      });
      return { row: inserted, changed: true };
    });
    if (changed) await this.onAssignmentsChanged?.();
    return row;
  }

  /** Ends the current assignment of a camera (returned to the pool). `by`: who (recorded in the audit log). */
  async unassign(cameraSerial: string, at = this.#now(), by?: string): Promise<boolean> {
    const r = await this.#db.tx(async (q) => {
      const cur = await q.get<{ officer_id: string }>('SELECT officer_id FROM camera_assignments WHERE camera_serial = ? AND to_at IS NULL', [cameraSerial]);
      const u = await q.run('UPDATE camera_assignments SET to_at = ? WHERE camera_serial = ? AND to_at IS NULL', [at, cameraSerial]);
      if (u.changes > 0)
        await this.#audit?.append(q, {
          actor: by ? actorOf.by(by) : 'gateway',
          action: 'camera.unassigned',
          subject: cameraSerial,
          detail: { officerId: cur?.officer_id ?? null, to: at },
        });
      return u;
    });
    if (r.changes > 0) await this.onAssignmentsChanged?.();
    return r.changes > 0;
  }

  async assignmentHistory(cameraSerial?: string, sinceMs = 0): Promise<AssignmentRow[]> {
    return cameraSerial
      ? this.#db.all<AssignmentRow>('SELECT * FROM camera_assignments WHERE camera_serial = ? AND (to_at IS NULL OR to_at >= ?) ORDER BY from_at', [
          cameraSerial,
          sinceMs,
        ])
      : this.#db.all<AssignmentRow>('SELECT * FROM camera_assignments WHERE to_at IS NULL OR to_at >= ? ORDER BY camera_serial, from_at', [sinceMs]);
  }

  /** The assignments the docks need: current ones and those that ended within the replay horizon. */
  async assignmentsForDocks(horizonMs = 7 * 24 * 3600_000): Promise<bwc.v1.ICameraAssignment[]> {
    const rows = await this.assignmentHistory(undefined, this.#now() - horizonMs);
    return rows.map((r) => ({
      cameraSerial: r.camera_serial,
      officerId: r.officer_id,
      fromMs: r.from_at,
      toMs: r.to_at ?? 0,
      assignedBy: r.assigned_by,
    }));
  }

  // ── periodic checks ───────────────────────────────────────────────────────────────────────

  async sweep(): Promise<{ offline: number; overdue: number; unclassified: number }> {
    const now = this.#now();
    const gone = await this.#db.all<{ device_id: string; last_seen: number }>(
      `SELECT device_id, last_seen FROM devices WHERE online = 1 AND status = 'enrolled' AND last_seen < ?`,
      [now - this.thresholds.offlineAfterMs],
    );
    for (const d of gone) {
      await this.#db.run('UPDATE devices SET online = 0 WHERE device_id = ? AND last_seen = ?', [d.device_id, d.last_seen]);
      await this.#alerts.raise({
        kind: 'DEVICE_OFFLINE',
        deviceId: d.device_id,
        message: `${d.device_id} not heard from since ${new Date(d.last_seen).toISOString()}`,
        dedupeKey: `DEVICE_OFFLINE|${d.device_id}`,
      });
    }
    const overdue = await this.#db.all<{ device_id: string; n: number; oldest: number }>(
      `SELECT device_id, COUNT(*) AS n, MIN(received_at) AS oldest FROM manifests WHERE state = 'RECEIVED' AND received_at < ? GROUP BY device_id`,
      [now - this.thresholds.uploadOverdueMs],
    );
    for (const o of overdue) {
      await this.#alerts.raise({
        kind: 'UPLOAD_OVERDUE',
        deviceId: o.device_id,
        detail: { clips: Number(o.n), oldestManifestAt: Number(o.oldest) },
        message: `${o.device_id} has ${Number(o.n)} clip(s) not uploaded ${Math.round(this.thresholds.uploadOverdueMs / 3600_000)} h after their manifests arrived`,
        dedupeKey: `UPLOAD_OVERDUE|${o.device_id}`,
      });
    }
    const reported = await this.reports.reportDue(now);
    return { offline: gone.length, overdue: overdue.length, unclassified: reported };
  }
}
