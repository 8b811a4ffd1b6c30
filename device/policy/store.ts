/**
 * The dock's policy cache on disk (SQLite): root-signed bundles, and the grants, revocations and
 * plans officials signed. Nothing enters unless its signature verifies under a trusted key; a
 * rejected object is recorded with its reason (the agent reports it as an event). A bundle older
 * than the newest one is a rollback and is refused. Sizes are bounded. `load()` builds the
 * in-memory PolicyCache that decide() reads; swapping it in is atomic for the agent.
 */
import { sha256, toHex } from '../../proto/bytes.js';
import { isWireError } from '../../proto/errors.js';
import type { TrustedKey } from '../../proto/ed25519.js';
import { verifyBundle, verifyGrant, verifyPlan, verifyRevocation, type Bundle } from '../../proto/policy.js';
import { MemoryPolicyCache } from '../../proto/policy-cache.js';
import { openDatabase, type Db, type Migration } from '../store/sqlite.js';

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'policy cache',
    sql: `
    create table policy_bundles (hash text primary key, version integer not null unique, issued_at integer not null, envelope blob not null, received_at integer not null);
    create table policy_objects (hash text primary key, type text not null, envelope blob not null, received_at integer not null);
    create index policy_objects_type on policy_objects (type);
    create table policy_rejections (id integer primary key, at integer not null, type text not null, hash text not null, reason text not null);
    create table policy_meta (key text primary key, value integer not null);
  `,
  },
];

export type PolicyObjectType = 'AuthorizationGrant' | 'Revocation' | 'OperationPlan';

export class PolicyStoreError extends Error {
  constructor(
    readonly code: 'ROLLBACK' | 'CONFLICT' | 'UNTRUSTED' | 'FULL',
    message: string,
  ) {
    super(message);
    this.name = 'PolicyStoreError';
  }
}

export interface PolicyStoreOptions {
  root: TrustedKey;
  /** Grants, revocations and plans together (default 100,000). */
  maxObjects?: number;
  maxBundles?: number;
  now?: () => number;
}

export type AddResult = { readonly added: boolean; readonly hash: string };

export class PolicyStore {
  readonly #db: Db;
  readonly #o: Required<Omit<PolicyStoreOptions, 'root'>> & { root: TrustedKey };

  private constructor(db: Db, options: PolicyStoreOptions) {
    this.#db = db;
    this.#o = { maxObjects: 100_000, maxBundles: 50, now: Date.now, ...options };
  }

  static open(path: string, options: PolicyStoreOptions): PolicyStore {
    return new PolicyStore(openDatabase(path, MIGRATIONS), options);
  }

  close(): void {
    this.#db.close();
  }

  /** Records a rejection (the agent reports it as an event), then throws. */
  #reject(type: string, bytes: Uint8Array, code: PolicyStoreError['code'], reason: string): never {
    this.#db.prepare('insert into policy_rejections (at, type, hash, reason) values (?, ?, ?, ?)').run(this.#o.now(), type, toHex(sha256(bytes)), reason);
    throw new PolicyStoreError(code, `${type} rejected: ${reason}`);
  }

  #bundles(): Bundle[] {
    const rows = this.#db.prepare('select envelope from policy_bundles order by issued_at').all() as { envelope: Buffer }[];
    return rows.map((r) => verifyBundle(r.envelope, this.#o.root));
  }

  /** Adds a root-signed bundle. Refuses a bad signature, a rollback, and a second bundle with the same version. */
  addBundle(bytes: Uint8Array): AddResult {
    let bundle: Bundle;
    try {
      bundle = verifyBundle(bytes, this.#o.root);
    } catch (e) {
      if (isWireError(e)) this.#reject('PolicyBundle', bytes, 'UNTRUSTED', e.message);
      throw e;
    }
    const same = this.#db.prepare('select hash from policy_bundles where version = ?').get(bundle.version) as { hash: string } | undefined;
    if (same?.hash === bundle.hash) return { added: false, hash: bundle.hash };
    if (same) this.#reject('PolicyBundle', bytes, 'CONFLICT', `bundle version ${bundle.version} is already cached with other content`);
    const newest = (this.#db.prepare('select max(version) v from policy_bundles').get() as { v: number | null }).v;
    if (newest !== null && bundle.version < newest) {
      this.#reject('PolicyBundle', bytes, 'ROLLBACK', `bundle version ${bundle.version} is older than the cached version ${newest} (rollback refused)`);
    }
    this.#db.transaction(() => {
      const count = (this.#db.prepare('select count(*) n from policy_bundles').get() as { n: number }).n;
      if (count >= this.#o.maxBundles) {
        this.#db.prepare('delete from policy_bundles where hash = (select hash from policy_bundles order by issued_at limit 1)').run();
      }
      this.#db
        .prepare('insert into policy_bundles (hash, version, issued_at, envelope, received_at) values (?, ?, ?, ?, ?)')
        .run(bundle.hash, bundle.version, bundle.issuedAt, Buffer.from(bytes), this.#o.now());
      this.#touch();
    })();
    return { added: true, hash: bundle.hash };
  }

  /** Adds a grant, revocation or plan signed by an issuer of a cached bundle. Idempotent by hash. */
  add(type: PolicyObjectType, bytes: Uint8Array): AddResult {
    const verify = { AuthorizationGrant: verifyGrant, Revocation: verifyRevocation, OperationPlan: verifyPlan }[type];
    let hash: string;
    try {
      hash = verify(bytes, this.#bundles()).hash;
    } catch (e) {
      if (isWireError(e)) this.#reject(type, bytes, 'UNTRUSTED', e.message);
      throw e;
    }
    return this.#db.transaction((): AddResult => {
      if (this.#db.prepare('select 1 from policy_objects where hash = ?').get(hash)) return { added: false, hash };
      const n = (this.#db.prepare('select count(*) n from policy_objects').get() as { n: number }).n;
      if (n >= this.#o.maxObjects) {
        throw new PolicyStoreError(
          'FULL',
          `the policy cache holds ${n} grants, revocations and plans, its limit; raise policy.maxObjects or prune expired grants`,
        );
      }
      this.#db.prepare('insert into policy_objects (hash, type, envelope, received_at) values (?, ?, ?, ?)').run(hash, type, Buffer.from(bytes), this.#o.now());
      this.#touch();
      return { added: true, hash };
    })();
  }

  #touch(): void {
    this.#db.prepare("insert into policy_meta (key, value) values ('updated_at', ?) on conflict(key) do update set value = excluded.value").run(this.#o.now());
  }

  /**
   * The exact signed bytes of a bundle, grant, revocation or plan held here, by the hex SHA-256 of
   * its signed input (what a decision's basis names); null when not held. The gateway asks for
   * these to decide again (DESIGN §5); they verify themselves, so any copy will do.
   */
  envelopeByHash(hash: string): { type: PolicyObjectType | 'PolicyBundle'; envelope: Buffer } | null {
    const bundle = this.#db.prepare('select envelope from policy_bundles where hash = ?').get(hash) as { envelope: Buffer } | undefined;
    if (bundle) return { type: 'PolicyBundle', envelope: bundle.envelope };
    const o = this.#db.prepare('select type, envelope from policy_objects where hash = ?').get(hash) as
      | { type: PolicyObjectType; envelope: Buffer }
      | undefined;
    return o ? { type: o.type, envelope: o.envelope } : null;
  }

  rejections(): { at: number; type: string; hash: string; reason: string }[] {
    return this.#db.prepare('select at, type, hash, reason from policy_rejections order by id').all() as {
      at: number;
      type: string;
      hash: string;
      reason: string;
    }[];
  }

  /** Builds the in-memory cache decide() reads, re-verifying everything it holds. */
  load(): MemoryPolicyCache {
    const bundles = this.#bundles();
    const rows = this.#db.prepare('select type, envelope from policy_objects').all() as { type: PolicyObjectType; envelope: Buffer }[];
    const grants = [];
    const revocations = [];
    const plans = [];
    for (const r of rows) {
      if (r.type === 'AuthorizationGrant') grants.push(verifyGrant(r.envelope, bundles));
      else if (r.type === 'Revocation') revocations.push(verifyRevocation(r.envelope, bundles));
      else plans.push(verifyPlan(r.envelope, bundles));
    }
    const updated = this.#db.prepare("select value from policy_meta where key = 'updated_at'").get() as { value: number } | undefined;
    return new MemoryPolicyCache({ bundles, grants, revocations, plans, updatedAt: updated?.value ?? 0 });
  }
}
