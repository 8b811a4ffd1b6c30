/**
 * What decide() reads: the verified bundles, grants, revocations and plans, indexed so a decision
 * stays well under a millisecond with 10,000 grants. Pure data, no I/O: the dock's SQLite store
 * (device/policy/store.ts) and the gateway's policy objects load it; tests build it directly.
 * Ids are indexed by `idKey`, so they match case-insensitively (DESIGN §5 exact inputs).
 */
import { codeKey, idKey } from './canonical.js';
import type { Bundle, Grant, Plan, Revocation } from './policy.js';

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
  /** Revocations of a grant or a plan, by the hex SHA-256 of its signed input. */
  revocationsOf(objectHash: string): readonly Revocation[];
  plansFor(officerId: string): readonly Plan[];
  /** Every activity code some cached plan names (with the bundle's, the codes decide() knows). */
  readonly planCodes: ReadonlySet<string>;
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
  readonly planCodes: ReadonlySet<string>;

  constructor(input: {
    bundles: readonly Bundle[];
    grants?: readonly Grant[];
    revocations?: readonly Revocation[];
    plans?: readonly Plan[];
    updatedAt: number;
  }) {
    this.bundles = [...input.bundles].sort((a, b) => a.issuedAt - b.issuedAt || a.version - b.version);
    this.updatedAt = input.updatedAt;
    for (const g of input.grants ?? []) {
      const s = g.scope;
      if (!s.officers.length && !s.cameras.length && !s.devices.length) this.#unscoped.push(g);
      for (const o of new Set(s.officers.map(idKey))) push(this.#byOfficer, o, g);
      for (const c of new Set(s.cameras.map(idKey))) push(this.#byCamera, c, g);
      for (const d of new Set(s.devices.map(idKey))) push(this.#byDevice, d, g);
    }
    for (const r of input.revocations ?? []) push(this.#revocations, r.revokes, r);
    const codes = new Set<string>();
    for (const p of input.plans ?? []) {
      for (const o of new Set(p.officers.map(idKey))) push(this.#plans, o, p);
      for (const c of p.activities) codes.add(codeKey(c));
    }
    this.planCodes = codes;
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
    if (a.officerId) for (const g of this.#byOfficer.get(idKey(a.officerId)) ?? []) out.add(g);
    for (const g of this.#byCamera.get(idKey(a.cameraSerial)) ?? []) out.add(g);
    if (a.deviceId) for (const g of this.#byDevice.get(idKey(a.deviceId)) ?? []) out.add(g);
    return [...out];
  }

  revocationsOf(objectHash: string): readonly Revocation[] {
    return this.#revocations.get(objectHash) ?? [];
  }

  plansFor(officerId: string): readonly Plan[] {
    return this.#plans.get(idKey(officerId)) ?? [];
  }
}
