/**
 * The signed policy objects this gateway holds (DESIGN §5 "The gateway decides again"): policy
 * bundles (the configured one, published ones and the ones they superseded), the grants and
 * revocations its own workflow issued, and whatever a dock sent when asked. Each is verified on
 * receipt — a bundle against the pinned agency root, a grant, revocation or plan against the
 * issuers of the bundles held — and kept with the time this gateway first held it (a grant that
 * reaches the gateway long after its claimed created-at is GRANT_FILED_LATE, second-decision.ts).
 *
 * `cache()` gives the PolicyCache decide() reads, built once and kept until the set changes here
 * or on another replica (`refresh()` checks with one cheap query).
 */
import { openEnvelope } from '../../proto/envelope.js';
import { isWireError } from '../../proto/errors.js';
import type { TrustedKey } from '../../proto/ed25519.js';
import { toHex } from '../../proto/bytes.js';
import { verifyBundle, verifyGrant, verifyPlan, verifyRevocation, type Bundle, type Grant, type Plan, type Revocation } from '../../proto/policy.js';
import { MemoryPolicyCache } from '../../proto/policy-cache.js';
import type { Db, Queryable } from '../store/db.js';

export const POLICY_OBJECT_TYPES = ['PolicyBundle', 'AuthorizationGrant', 'Revocation', 'OperationPlan'] as const;
export type PolicyObjectType = (typeof POLICY_OBJECT_TYPES)[number];

/** One object held: its checked shape and when this gateway first held it. */
export interface HeldObject {
  readonly hash: string;
  readonly type: PolicyObjectType;
  /** Claimed: the signed Header's created-at (a bundle: its issuedAt). */
  readonly createdAt: number;
  /** Observed: when this gateway first held it. */
  readonly receivedAt: number;
  readonly source: string;
}

export class PolicyObjectError extends Error {
  override name = 'PolicyObjectError';
  constructor(
    readonly code: 'NO_ROOT' | 'UNTRUSTED' | 'NOT_POLICY',
    message: string,
  ) {
    super(message);
  }
}

interface Loaded {
  readonly stamp: string;
  readonly cache: MemoryPolicyCache;
  readonly held: ReadonlyMap<string, HeldObject>;
  readonly bundles: readonly Bundle[];
}

export class PolicyObjects {
  readonly #db: Db;
  readonly #root: TrustedKey | null;
  readonly #now: () => number;
  #loaded: Loaded | null = null;
  /** Rows that no longer verify (a bundle that named their issuer is gone): counted, kept, not used. */
  unverifiable = 0;

  /** `root`: the pinned agency root; without it nothing can be verified and nothing is held. */
  constructor(options: { db: Db; root: TrustedKey | null; now?: () => number }) {
    this.#db = options.db;
    this.#root = options.root;
    this.#now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.#root !== null;
  }

  /**
   * Verifies a signed object and keeps it, with the time it was first held (`receivedAt`, default
   * now; an object held already keeps its first time). Throws PolicyObjectError when it does not
   * verify. Returns what is held.
   */
  async hold(bytes: Uint8Array, source: string, receivedAt = this.#now(), q: Queryable = this.#db): Promise<HeldObject & { added: boolean }> {
    if (!this.#root) throw new PolicyObjectError('NO_ROOT', 'this gateway has no agency root key (trust.rootPublicKey): it cannot verify policy objects');
    const type = typeOf(bytes);
    let checked: Bundle | Grant | Revocation | Plan;
    if (type === 'PolicyBundle') checked = this.#verify(type, bytes, []);
    else {
      // The bundles loaded already, or (a bundle another replica took in since) loaded again.
      try {
        checked = this.#verify(type, bytes, (this.#loaded ?? (await this.refresh())).bundles);
      } catch (e) {
        if (!(e instanceof PolicyObjectError)) throw e;
        checked = this.#verify(type, bytes, (await this.refresh()).bundles);
      }
    }
    const ins = await q.run(
      'INSERT INTO policy_objects (hash, type, envelope, created_at, received_at, source) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      [checked.hash, type, Buffer.from(bytes), createdAtOf(checked), receivedAt, source],
    );
    const row =
      ins.changes === 1
        ? null
        : await q.get<{ received_at: number; source: string }>('SELECT received_at, source FROM policy_objects WHERE hash = ?', [checked.hash]);
    if (ins.changes === 1 && type === 'PolicyBundle') this.#loaded = null; // others: refresh() sees the new count
    return {
      hash: checked.hash,
      type,
      createdAt: createdAtOf(checked),
      receivedAt: row ? Number(row.received_at) : receivedAt,
      source: row?.source ?? source,
      added: ins.changes === 1,
    };
  }

  /**
   * Takes in what the gateway already holds elsewhere: the configured bundle, published bundles
   * (policy_bundles) and the grants and revocations of the authorization workflow (authz_requests),
   * each first held when it was published, approved or revoked. Idempotent.
   */
  async importHeld(configured: Uint8Array | null): Promise<{ imported: number; refused: string[] }> {
    if (!this.#root) return { imported: 0, refused: [] };
    const refused: string[] = [];
    let imported = 0;
    const take = async (bytes: Uint8Array, source: string, at: number) => {
      try {
        if ((await this.hold(bytes, source, at)).added) imported++;
      } catch (e) {
        if (!(e instanceof PolicyObjectError) && !isWireError(e)) throw e;
        refused.push(`${source}: ${(e as Error).message}`);
      }
    };
    if (configured) await take(configured, 'config', this.#now());
    for (const b of await this.#db.all<{ envelope: Buffer; published_at: number }>('SELECT envelope, published_at FROM policy_bundles ORDER BY version')) {
      await take(b.envelope, 'published', Number(b.published_at));
    }
    const rows = await this.#db.all<{
      grant_envelope: Buffer | null;
      decided_at: number | null;
      revocation_envelope: Buffer | null;
      revoked_at: number | null;
    }>(
      `SELECT grant_envelope, decided_at, revocation_envelope, revoked_at FROM authz_requests WHERE grant_envelope IS NOT NULL OR revocation_envelope IS NOT NULL ORDER BY decided_at`,
    );
    for (const r of rows) {
      if (r.grant_envelope) await take(r.grant_envelope, 'workflow', Number(r.decided_at ?? this.#now()));
      if (r.revocation_envelope) await take(r.revocation_envelope, 'workflow', Number(r.revoked_at ?? this.#now()));
    }
    return { imported, refused };
  }

  /** The PolicyCache of everything held, rebuilt only when the set changed (here or on another replica). */
  async cache(): Promise<MemoryPolicyCache> {
    return (await this.refresh()).cache;
  }

  /** What is held under this hash (a bundle or an official's object), or null. */
  async get(hash: string): Promise<HeldObject | null> {
    return (await this.refresh()).held.get(hash) ?? null;
  }

  /** Reloads when the stored set changed since the last load; returns what is loaded. */
  async refresh(): Promise<Loaded> {
    const s = await this.#db.get<{ n: number; m: number | null }>('SELECT COUNT(*) AS n, MAX(received_at) AS m FROM policy_objects');
    const stamp = `${Number(s?.n ?? 0)}|${Number(s?.m ?? 0)}`;
    if (this.#loaded?.stamp === stamp) return this.#loaded;
    const rows = await this.#db.all<{
      hash: string;
      type: PolicyObjectType;
      envelope: Buffer;
      created_at: number;
      received_at: number;
      source: string;
    }>('SELECT hash, type, envelope, created_at, received_at, source FROM policy_objects ORDER BY received_at, hash');
    const held = new Map<string, HeldObject>();
    const note = (r: (typeof rows)[number]) =>
      held.set(r.hash, {
        hash: r.hash,
        type: r.type,
        createdAt: Number(r.created_at),
        receivedAt: Number(r.received_at),
        source: r.source,
      });
    const bundles: Bundle[] = [];
    const grants: Grant[] = [];
    const revocations: Revocation[] = [];
    const plans: Plan[] = [];
    let unverifiable = 0;
    for (const r of rows.filter((x) => x.type === 'PolicyBundle')) {
      try {
        bundles.push(verifyBundle(r.envelope, this.#root!));
        note(r);
      } catch {
        unverifiable++;
      }
    }
    for (const r of rows.filter((x) => x.type !== 'PolicyBundle')) {
      try {
        const o = this.#verify(r.type, r.envelope, bundles);
        if (r.type === 'AuthorizationGrant') grants.push(o as Grant);
        else if (r.type === 'Revocation') revocations.push(o as Revocation);
        else plans.push(o as Plan);
        note(r);
      } catch {
        unverifiable++;
      }
    }
    this.unverifiable = unverifiable;
    const updatedAt = rows.reduce((m, r) => Math.max(m, Number(r.received_at)), 0);
    this.#loaded = { stamp, held, bundles, cache: new MemoryPolicyCache({ bundles, grants, revocations, plans, updatedAt }) };
    return this.#loaded;
  }

  #verify(type: PolicyObjectType, bytes: Uint8Array, bundles: readonly Bundle[]): Bundle | Grant | Revocation | Plan {
    try {
      switch (type) {
        case 'PolicyBundle':
          return verifyBundle(bytes, this.#root!);
        case 'AuthorizationGrant':
          return verifyGrant(bytes, bundles);
        case 'Revocation':
          return verifyRevocation(bytes, bundles);
        case 'OperationPlan':
          return verifyPlan(bytes, bundles);
      }
    } catch (e) {
      if (isWireError(e)) throw new PolicyObjectError('UNTRUSTED', `${type} does not verify: ${e.message}`);
      throw e;
    }
  }
}

/** The type of a signed policy object's envelope; anything else is refused. */
function typeOf(bytes: Uint8Array): PolicyObjectType {
  let type: string;
  try {
    type = openEnvelope(bytes).type;
  } catch (e) {
    if (isWireError(e)) throw new PolicyObjectError('NOT_POLICY', `not a signed envelope: ${e.message}`);
    throw e;
  }
  if (!(POLICY_OBJECT_TYPES as readonly string[]).includes(type))
    throw new PolicyObjectError('NOT_POLICY', `a ${type || 'typeless'} envelope is not a policy object`);
  return type as PolicyObjectType;
}

function createdAtOf(o: Bundle | Grant | Revocation | Plan): number {
  return 'createdAt' in o ? Number(o.createdAt) : Number((o as Bundle).issuedAt);
}

/** Hex of a hash given as bytes (the wire) or already hex. */
export function hashHex(h: Uint8Array | string): string {
  return typeof h === 'string' ? h.toLowerCase() : toHex(h);
}
