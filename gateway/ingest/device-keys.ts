/**
 * Enrolled device keys for strict verification, as node:crypto KeyObjects built once and cached
 * (`trustPublicKey` checks each key: canonical, on the curve, not of small order). Unknown device
 * ids are cached briefly too, so a flood of messages from an unenrolled id costs one query per
 * interval, not one per message. Enrollment and decommission call `forget()`; other replicas
 * notice within `ttlMs`.
 */
import { trustPublicKey, type TrustedKey } from '../../proto/ed25519.js';
import type { Queryable } from '../store/db.js';

export interface DeviceTrust {
  deviceId: string;
  fleet: string;
  status: 'enrolled' | 'decommissioned';
  /** Keys by key id; only keys not revoked. */
  keys: Map<string, TrustedKey>;
}

export class DeviceKeys {
  readonly #db: Queryable;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { at: number; trust: DeviceTrust | null }>();

  constructor(db: Queryable, options: { ttlMs?: number; now?: () => number } = {}) {
    this.#db = db;
    this.#ttlMs = options.ttlMs ?? 5000;
    this.#now = options.now ?? Date.now;
  }

  /** What `get` would answer from the cache, without a turn of the event loop; undefined when it must ask the database. */
  cached(deviceId: string): DeviceTrust | null | undefined {
    const hit = this.#cache.get(deviceId);
    return hit && this.#now() - hit.at < this.#ttlMs ? hit.trust : undefined;
  }

  async get(deviceId: string): Promise<DeviceTrust | null> {
    const now = this.#now();
    const hit = this.#cache.get(deviceId);
    if (hit && now - hit.at < this.#ttlMs) return hit.trust;
    const device = await this.#db.get<{ device_id: string; fleet: string; status: string }>(
      'SELECT device_id, fleet, status FROM devices WHERE device_id = ?',
      [deviceId],
    );
    let trust: DeviceTrust | null = null;
    if (device) {
      const rows = await this.#db.all<{ key_id: string; public_key: Buffer }>(
        'SELECT key_id, public_key FROM device_keys WHERE device_id = ? AND revoked_at IS NULL',
        [deviceId],
      );
      const keys = new Map<string, TrustedKey>();
      for (const r of rows) {
        try {
          const k = trustPublicKey(r.public_key, `key of ${deviceId}`);
          if (k.keyId === r.key_id) keys.set(k.keyId, k);
        } catch {
          // A weak key can only be here if the database was edited by hand: it is never trusted.
        }
      }
      trust = { deviceId, fleet: device.fleet, status: device.status === 'enrolled' ? 'enrolled' : 'decommissioned', keys };
    }
    if (this.#cache.size > 100_000) this.#cache.clear();
    this.#cache.set(deviceId, { at: now, trust });
    return trust;
  }

  forget(deviceId?: string): void {
    if (deviceId === undefined) this.#cache.clear();
    else this.#cache.delete(deviceId);
  }
}
