/**
 * The policy bundle in force on this gateway and its publication to the docks (DESIGN §5, §6).
 * A bundle is drafted from the current one (`GET /api/v1/policy/bundle` gives its source with the
 * version bumped), signed offline with the agency root key (`bwc authz sign-bundle`), and
 * published here: the gateway checks the root's signature and that the version is above the one
 * in force, stores it, records the publication in the audit log, and sends it to every enrolled
 * dock (and to each dock again at its Birth, and to each device it enrolls). The bundle named in
 * the configuration (`trust.bundle`) is the floor: a newer published one replaces it.
 */
import { isWireError } from '../../proto/errors.js';
import { verifyBundle, type Bundle } from '../../proto/policy.js';
import type { TrustedKey } from '../../proto/ed25519.js';
import type { Db } from '../store/db.js';
import { AuthzError, type Actor, type AuditAppend } from './workflow.js';

export interface CurrentBundle {
  readonly bytes: Uint8Array;
  readonly bundle: Bundle;
}

export interface BundlesOptions {
  db: Db;
  /** The agency root key; null: trust is not configured and nothing is published. */
  root: TrustedKey | null;
  /** The configured bundle (trust.bundle), already checked against the root. */
  configured: CurrentBundle | null;
  /** Sends a bundle to every enrolled dock; returns how many. */
  deliver(bytes: Uint8Array): Promise<number>;
  audit?: AuditAppend;
  now?: () => number;
}

export class PolicyBundles {
  readonly #o: BundlesOptions;
  #current: CurrentBundle | null;

  constructor(options: BundlesOptions) {
    this.#o = options;
    this.#current = options.configured;
  }

  /** Reads the newest published bundle; it replaces the configured one when its version is higher. */
  async load(): Promise<this> {
    const row = await this.#o.db.get<{ envelope: Uint8Array }>('SELECT envelope FROM policy_bundles ORDER BY version DESC LIMIT 1');
    if (row && this.#o.root) {
      const bundle = verifyBundle(row.envelope, this.#o.root);
      if (!this.#current || bundle.version > this.#current.bundle.version) this.#current = { bytes: row.envelope, bundle };
    }
    return this;
  }

  current(): CurrentBundle | null {
    return this.#current;
  }

  /** Publishes a root-signed bundle whose version is above the one in force. */
  async publish(actor: Actor, bytes: Uint8Array): Promise<{ version: number; hash: string; delivered: number }> {
    const root = this.#o.root;
    if (!root) throw new AuthzError('CONFLICT', 'this gateway has no agency root key (trust.rootPublicKey): it cannot check a bundle');
    let bundle: Bundle;
    try {
      bundle = verifyBundle(bytes, root);
    } catch (e) {
      if (isWireError(e)) throw new AuthzError('BAD_INPUT', `not a policy bundle signed by the agency root: ${e.message}`);
      throw e;
    }
    const now = (this.#o.now ?? Date.now)();
    const current = this.#current?.bundle.version ?? 0;
    if (bundle.version <= current)
      throw new AuthzError('CONFLICT', `bundle version ${bundle.version} is not above the one in force (v${current}); bump the version and sign it again`);
    if (bundle.expiresAt <= now) throw new AuthzError('BAD_INPUT', `bundle v${bundle.version} expired at ${new Date(bundle.expiresAt).toISOString()}`);
    await this.#o.db.tx(async (q) => {
      await q.run('INSERT INTO policy_bundles (version, hash, envelope, published_at, published_by) VALUES (?, ?, ?, ?, ?)', [
        bundle.version,
        bundle.hash,
        Buffer.from(bytes),
        now,
        actor.username,
      ]);
      await this.#o.audit?.(q, {
        actor: actor.username,
        action: 'policy.publish',
        subject: bundle.hash,
        detail: { version: bundle.version, previous: current, expiresAt: bundle.expiresAt },
      });
    });
    this.#current = { bytes, bundle };
    const delivered = await this.#o.deliver(bytes);
    return { version: bundle.version, hash: bundle.hash, delivered };
  }
}
