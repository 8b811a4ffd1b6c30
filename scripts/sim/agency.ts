/**
 * What an agency prepares before its first dock enrolls (DESIGN §8), for a simulated fleet, the
 * benchmarks and the tests: a root key, the gateway's key certified by that root for one gateway
 * id and fleet, and a root-signed policy bundle. In production the root key stays offline
 * (`bwc authz sign-gateway-cert`, `bwc authz sign-bundle`); here it is derived from a seed.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signGatewayCertificate } from '../../proto/gateway-cert.js';
import { bundleFromSource, signPolicyObject } from '../../proto/policy.js';
import { loadOrCreateGatewayKey } from '../../gateway/signer.js';
import { signerFromSeed, type DeviceKey } from '../../device/custody/keys.js';
import { pseudoRandomBytes } from '../bench/harness.js';

/** The officer the simulated bundle issues cameras to. */
export const SIM_OFFICER = 'O-17';

export interface AgencyTrust {
  root: DeviceKey;
  /** Files for the gateway's `trust` settings. */
  trust: { rootPublicKey: string; certificate: string; bundle: string };
}

/** Root key, the gateway key in `{gwData}/keys/gateway` certified for `gatewayId`, and a bundle. */
export interface SimIssuer {
  name: string;
  personId: string;
  /** 64 hex characters (public.hex of `bwc authz keygen`). */
  publicKey: string;
  roles: string[];
}

export function agencyTrust(
  dir: string,
  gwData: string,
  o: { fleet: string; gatewayId: string; seed?: number; officers?: string[]; issuers?: SimIssuer[] },
): AgencyTrust {
  const now = Date.now();
  const root = signerFromSeed(pseudoRandomBytes(32, o.seed ?? 4242));
  const { signer: gwKey } = loadOrCreateGatewayKey(join(gwData, 'keys', 'gateway'));
  const trust = { rootPublicKey: join(dir, 'root.hex'), certificate: join(dir, `${o.gatewayId}.cert`), bundle: join(dir, 'policy.bundle') };
  writeFileSync(trust.rootPublicKey, `${root.publicKeyHex}\n`);
  writeFileSync(
    trust.certificate,
    signGatewayCertificate(
      {
        gatewayId: o.gatewayId,
        fleet: o.fleet,
        publicKey: gwKey.publicKey,
        notBeforeMs: now - 3600_000,
        notAfterMs: now + 365 * 86_400_000,
      },
      root,
    ),
  );
  writeFileSync(
    trust.bundle,
    signPolicyObject(
      'PolicyBundle',
      bundleFromSource({
        version: 3,
        issuedAt: new Date(now - 86_400_000).toISOString(),
        expiresAt: new Date(now + 30 * 86_400_000).toISOString(),
        triggers: ['at_large_arrest', 'search_warrant', 'public_interaction'],
        excludedActivities: ['undercover_operation'],
        prohibitedPurposes: ['first_amendment_activity'],
        officersIssued: o.officers ?? [SIM_OFFICER],
        issuers: (o.issuers ?? []).map((i) => ({ ...i, roles: i.roles as never })),
      }),
      root,
    ).bytes,
  );
  return { root, trust };
}
