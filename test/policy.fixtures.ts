/** Signed policy fixtures: a root, officials' keys, a bundle, and helpers to sign grants, plans, revocations. */
import type { DeviceKey } from '../device/custody/keys.js';
import { fastSignerFromSeed as signerFromSeed } from './keys.js';
import { trustPublicKey } from '../proto/ed25519.js';
import {
  bundleFromSource,
  grantFromSource,
  planFromSource,
  revocationFromSource,
  signPolicyObject,
  verifyBundle,
  verifyGrant,
  verifyPlan,
  verifyRevocation,
  type Bundle,
  type BundleSource,
  type Grant,
  type GrantSource,
  type Plan,
  type PlanSource,
  type Revocation,
} from '../proto/policy.js';
import { DEFAULT_TRIGGERS } from '../proto/policy-vocab.js';
import { pb } from '../proto/wire.js';
import { MemoryPolicyCache } from '../proto/policy-cache.js';
import type { Activation } from '../proto/activation.js';

let seed = 1;
const key = (): DeviceKey => signerFromSeed(Buffer.alloc(32, seed++));

export const root = key();
export const rootKey = trustPublicKey(root.publicKey);
export const fro = key(); // FRO Seattle, person U7, scope SEA
export const hro = key(); // HRO, person U8
export const director = key(); // Director, person U1
export const opr = key(); // OPR official, person U9
export const stranger = key(); // in no bundle
export const froPortland = key(); // FRO Portland, person U6, scope PDX

export const T0 = Date.parse('2026-11-01T00:00:00Z');
export const DAY = 86_400_000;
export const iso = (t: number) => new Date(t).toISOString();

export function bundleSource(over: Partial<BundleSource> = {}): BundleSource {
  return {
    version: 5,
    issuedAt: iso(T0),
    expiresAt: iso(T0 + 60 * DAY),
    triggers: [...DEFAULT_TRIGGERS],
    excludedActivities: ['undercover_operation'],
    prohibitedPurposes: ['first_amendment_activity'],
    officersIssued: ['O1', 'O2', 'O3'],
    issuers: [
      { name: 'FRO Seattle', personId: 'U7', publicKey: fro.publicKeyHex, roles: ['FRO'], scope: { offices: ['SEA'] } },
      { name: 'FRO Portland', personId: 'U6', publicKey: froPortland.publicKeyHex, roles: ['FRO'], scope: { offices: ['PDX'] } },
      { name: 'HRO ERO', personId: 'U8', publicKey: hro.publicKeyHex, roles: ['HRO'] },
      { name: 'Director', personId: 'U1', publicKey: director.publicKeyHex, roles: ['DIRECTOR'] },
      { name: 'OPR AD', personId: 'U9', publicKey: opr.publicKeyHex, roles: ['OPR'] },
    ],
    standingPolicies: [
      {
        id: 'SP-1',
        issuer: fro.publicKeyHex,
        category: 'work_duty_authorized',
        activities: ['evidence_intake'],
        scope: { offices: ['SEA'] },
        methods: ['video'],
      },
    ],
    ...over,
  };
}

export function signedBundle(over: Partial<BundleSource> = {}, signer = root): Uint8Array {
  return signPolicyObject('PolicyBundle', bundleFromSource(bundleSource(over)), signer, T0).bytes;
}

export function bundle(over: Partial<BundleSource> = {}): Bundle {
  return verifyBundle(signedBundle(over), rootKey);
}

export function grantSource(over: Partial<GrantSource> = {}): GrantSource {
  return {
    id: 'G6',
    category: 'prior_authorization',
    requester: 'O2',
    approver: 'U7',
    approverRole: 'FRO',
    scope: { officers: ['O2'] },
    methods: ['video'],
    notBefore: iso(T0 + DAY),
    expiresAt: iso(T0 + 10 * DAY),
    reason: 'document evidence intake',
    purpose: 'chain of custody',
    minimization: 'record only the intake counter',
    anticipated: { from: iso(T0 + DAY), to: iso(T0 + 10 * DAY), location: 'SEA intake room' },
    factorsConsidered: [
      'reason_need',
      'tailored',
      'minimization',
      'less_intrusive_means',
      'notification',
      'privacy_impact',
      'privileged_information',
      'agency_interest',
      'other_circumstances',
    ],
    ...over,
  };
}

/** Signs a grant without the authoring checks, so tests can make the bad grants decide() must refuse. */
export function rawGrant(over: Partial<GrantSource> = {}, signer = fro, fields: Record<string, unknown> = {}): Uint8Array {
  const s = grantSource(over);
  const msg = {
    id: s.id,
    category: s.category,
    requester: s.requester,
    approver: s.approver,
    approverRole: s.approverRole,
    scope: s.scope,
    methods: (s.methods ?? []).map((m) => ({ video: 1, audio: 2, photo: 3 })[m]!),
    notBeforeMs: Date.parse(s.notBefore),
    expiresAtMs: Date.parse(s.expiresAt),
    reason: s.reason,
    purpose: s.purpose,
    minimization: s.minimization,
    anticipated: s.anticipated ? { fromMs: Date.parse(s.anticipated.from), toMs: Date.parse(s.anticipated.to), location: s.anticipated.location } : null,
    factorsConsidered: s.factorsConsidered,
    ...fields,
  };
  return signPolicyObject('AuthorizationGrant', msg, signer, T0).bytes;
}

export function grant(over: Partial<GrantSource> = {}, signer = fro, bundles: Bundle[] = [bundle()]): Grant {
  return verifyGrant(signPolicyObject('AuthorizationGrant', grantFromSource(grantSource(over)), signer, T0).bytes, bundles);
}

export function plan(over: Partial<PlanSource> = {}, signer = fro, bundles: Bundle[] = [bundle()]): Plan {
  const src: PlanSource = {
    id: 'OP-1',
    activities: ['arrest_warrant'],
    officers: ['O1'],
    from: iso(T0 + 2 * DAY),
    to: iso(T0 + 2 * DAY + 8 * 3_600_000),
    location: 'SEA',
    ...over,
  };
  return verifyPlan(signPolicyObject('OperationPlan', planFromSource(src), signer, T0).bytes, bundles);
}

export function revocation(g: Grant, effectiveAt: number, signer = fro, bundles: Bundle[] = [bundle()]): Revocation {
  const msg = revocationFromSource({ id: `R-${g.id}`, revokes: g.hash, effectiveAt: iso(effectiveAt), reason: 'no longer needed' }, effectiveAt);
  return verifyRevocation(signPolicyObject('Revocation', msg, signer, effectiveAt).bytes, bundles);
}

export function cache(parts: { bundles?: Bundle[]; grants?: Grant[]; revocations?: Revocation[]; plans?: Plan[] } = {}): MemoryPolicyCache {
  return new MemoryPolicyCache({
    bundles: parts.bundles ?? [bundle()],
    grants: parts.grants ?? [],
    revocations: parts.revocations ?? [],
    plans: parts.plans ?? [],
    updatedAt: T0,
  });
}

export function activation(over: Partial<Activation> = {}): Activation {
  return {
    cameraSerial: 'CAM-0042',
    officerId: 'O1',
    deviceId: 'DOCK-7',
    deviceRole: 'bwc',
    trigger: 'button',
    activity: 'at_large_arrest',
    purposes: [],
    method: 'video',
    office: 'SEA',
    at: T0 + 2 * DAY,
    stoppedAt: null,
    clock: { synced: true, offsetMs: 120 },
    replayed: false,
    clipId: null,
    ...over,
  };
}

export { pb };
