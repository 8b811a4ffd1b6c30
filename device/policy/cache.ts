/**
 * What decide() reads: the verified bundles, grants, revocations and plans, indexed so a decision
 * stays well under a millisecond with 10,000 grants. Pure data, no I/O: the SQLite store
 * (device/store) loads it; tests build it directly.
 */
import type { Bundle, Grant, Plan, Revocation } from '../../proto/policy.js';

export interface PolicyCache {
  /** Bundles by issuedAt, oldest first; the dock keeps superseded ones for its replay horizon. */
  readonly bundles: readonly Bundle[];
  /** When the cache was last brought up to date (ms); the decision's cacheAgeMs counts from it. */
  readonly updatedAt: number;
  /** The newest bundle with issuedAt ≤ at. */
  bundleAt(at: number): Bundle | null;
  /** The newest bundle of all: its `compromised` marks distrust a key at every time. */
  current(): Bundle | null;
  /** Grants that name this officer, camera or device in their scope, or leave every list empty. */
  grantsFor(activation: { officerId: string | null; cameraSerial: string; deviceId: string | null }): readonly Grant[];
  revocationsOf(grantHash: string): readonly Revocation[];
  plansFor(officerId: string): readonly Plan[];
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** An in-memory PolicyCache over already-verified objects. */
export class MemoryPolicyCache implements PolicyCache {
  readonly bundles: Bundle[];
  readonly updatedAt: number;
  readonly #byOfficer = new Map<string, Grant[]>();
  readonly #byCamera = new Map<string, Grant[]>();
  readonly #byDevice = new Map<string, Grant[]>();
  readonly #unscoped: Grant[] = [];
  readonly #revocations = new Map<string, Revocation[]>();
  readonly #plans = new Map<string, Plan[]>();

  constructor(input: { bundles: readonly Bundle[]; grants?: readonly Grant[]; revocations?: readonly Revocation[]; plans?: readonly Plan[]; updatedAt: number }) {
    this.bundles = [...input.bundles].sort((a, b) => a.issuedAt - b.issuedAt || a.version - b.version);
    this.updatedAt = input.updatedAt;
    for (const g of input.grants ?? []) {
      const s = g.scope;
      if (!s.officers.length && !s.cameras.length && !s.devices.length) this.#unscoped.push(g);
      for (const o of s.officers) push(this.#byOfficer, o, g);
      for (const c of s.cameras) push(this.#byCamera, c, g);
      for (const d of s.devices) push(this.#byDevice, d, g);
    }
    for (const r of input.revocations ?? []) push(this.#revocations, r.revokes, r);
    for (const p of input.plans ?? []) for (const o of p.officers) push(this.#plans, o, p);
  }

  bundleAt(at: number): Bundle | null {
    let found: Bundle | null = null;
    for (const b of this.bundles) if (b.issuedAt <= at) found = b;
    return found;
  }

  current(): Bundle | null {
    return this.bundles.at(-1) ?? null;
  }

  grantsFor(a: { officerId: string | null; cameraSerial: string; deviceId: string | null }): readonly Grant[] {
    const out = new Set<Grant>(this.#unscoped);
    if (a.officerId) for (const g of this.#byOfficer.get(a.officerId) ?? []) out.add(g);
    for (const g of this.#byCamera.get(a.cameraSerial) ?? []) out.add(g);
    if (a.deviceId) for (const g of this.#byDevice.get(a.deviceId) ?? []) out.add(g);
    return [...out];
  }

  revocationsOf(grantHash: string): readonly Revocation[] {
    return this.#revocations.get(grantHash) ?? [];
  }

  plansFor(officerId: string): readonly Plan[] {
    return this.#plans.get(officerId) ?? [];
  }
}
