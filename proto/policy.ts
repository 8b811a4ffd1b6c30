/**
 * Signed policy data (DESIGN §5): policy bundles (signed by the agency root), authorization grants,
 * revocations and operation plans (signed by officials the bundle names). Three things live here,
 * shared by the dock, the gateway and offline signers:
 * - the source formats officials write (JSON or YAML), validated with errors that name the field;
 * - their conversion to the signed protobuf messages;
 * - verification of signed objects into the plain, checked shapes `decide()` reads.
 */
import { z } from 'zod';
import { pb, type bwc } from './wire.js';
import { WireError } from './errors.js';
import { openEnvelope, assertEnvelopeSigned, sealEnvelope, type Signer, type OpenedEnvelope } from './envelope.js';
import { checkPublicKey, keyIdOf, trustPublicKey, type TrustedKey } from './ed25519.js';
import { fromHex, toHex } from './bytes.js';
import { METHODS } from './vocab.js';
import {
  CATEGORIES,
  DEFAULT_CATEGORY_ISSUERS,
  DEFAULT_CLOCK_SKEW_MS,
  EXECUTIVE_ROLES,
  FACTORS,
  factorCodesIn,
  PROMULGATING_ROLES,
  ROLES,
  type Category,
  type Role,
} from './policy-vocab.js';
import { codeKey, idKey, isArticulated, sameId, TEXT_RULE, timeOrNull, zCode, zId, zTime } from './canonical.js';

// ---------------------------------------------------------------------------------------------
// Checked shapes
// ---------------------------------------------------------------------------------------------

export interface Scope {
  readonly officers: readonly string[];
  readonly cameras: readonly string[];
  readonly devices: readonly string[];
  readonly offices: readonly string[];
}

export interface Issuer {
  readonly name: string;
  readonly personId: string;
  readonly keyId: string;
  readonly publicKey: Buffer;
  readonly roles: ReadonlySet<Role>;
  readonly scope: Scope;
  readonly compromised: boolean;
}

export interface StandingPolicy {
  readonly id: string;
  readonly issuerKeyId: string;
  readonly category: Category;
  readonly activities: ReadonlySet<string>;
  readonly scope: Scope;
  readonly methods: ReadonlySet<string>;
}

export interface Bundle {
  /** Hex SHA-256 of the bundle's signed input. */
  readonly hash: string;
  readonly version: number;
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** Codes by `codeKey`, ids by `idKey` (proto/canonical.ts): decide() looks them up as it compares. */
  readonly triggers: ReadonlySet<string>;
  readonly excluded: ReadonlySet<string>;
  readonly prohibited: ReadonlySet<string>;
  readonly officersIssued: ReadonlySet<string>;
  readonly issuers: ReadonlyMap<string, Issuer>;
  readonly standingPolicies: readonly StandingPolicy[];
  /** Roles that may issue each category: the DESIGN §2 table, narrowed by the bundle. */
  readonly categoryIssuers: ReadonlyMap<string, ReadonlySet<Role>>;
  readonly reviewGraceHours: number;
  /** How far before its signed created-at a grant applies (DESIGN §5 whole-recording coverage). */
  readonly clockSkewMs: number;
}

export interface Grant {
  readonly hash: string;
  readonly signerKeyId: string;
  readonly id: string;
  readonly category: string;
  readonly requester: string;
  readonly approver: string;
  readonly approverRole: string;
  readonly scope: Scope;
  readonly methods: ReadonlySet<string>;
  readonly notBefore: number;
  readonly expiresAt: number;
  readonly reason: string;
  readonly purpose: string;
  readonly minimization: string;
  readonly anticipated: { readonly from: number; readonly to: number; readonly location: string } | null;
  readonly factorsConsidered: readonly string[];
  readonly createdAt: number;
}

export interface Revocation {
  readonly hash: string;
  readonly signerKeyId: string;
  readonly id: string;
  /** Hex SHA-256 of the revoked grant's signed input. */
  readonly revokes: string;
  readonly effectiveAt: number;
  readonly reason: string;
  readonly createdAt: number;
}

export interface Plan {
  readonly hash: string;
  readonly signerKeyId: string;
  readonly id: string;
  readonly activities: readonly string[];
  readonly officers: readonly string[];
  readonly from: number;
  readonly to: number;
  readonly location: string;
  readonly createdAt: number;
}

export class PolicyDataError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(field ? `${field}: ${message}` : message);
    this.name = 'PolicyDataError';
  }
}

// ---------------------------------------------------------------------------------------------
// Source formats
// ---------------------------------------------------------------------------------------------

// Every time, id, code and articulated text is read by proto/canonical.ts (DESIGN §5 exact inputs).
const time = zTime;
const id = zId;
const code = zCode;
const role = z.enum(ROLES);
const category = z.enum(CATEGORIES);
const method = z.enum(METHODS.codes as [string, ...string[]]);
const hexKey = z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be a 32-byte public key in hex');
const ScopeSource = z
  .object({
    officers: z.array(zId).default([]),
    cameras: z.array(zId).default([]),
    devices: z.array(zId).default([]),
    offices: z.array(zId).default([]),
  })
  .strict()
  .default({ officers: [], cameras: [], devices: [], offices: [] });

export const BundleSource = z
  .object({
    version: z.number().int().min(1),
    issuedAt: time,
    expiresAt: time,
    triggers: z.array(code).min(1),
    excludedActivities: z.array(code).default([]),
    prohibitedPurposes: z.array(code).default([]),
    officersIssued: z.array(zId).default([]),
    issuers: z
      .array(
        z
          .object({
            name: z.string().min(1),
            personId: zId,
            publicKey: hexKey,
            roles: z.array(role).min(1),
            scope: ScopeSource,
            compromised: z.boolean().default(false),
          })
          .strict(),
      )
      .default([]),
    standingPolicies: z
      .array(
        z
          .object({
            id,
            issuer: hexKey,
            category,
            activities: z.array(code).min(1),
            scope: ScopeSource,
            methods: z.array(method).min(1),
            description: z.string().default(''),
          })
          .strict(),
      )
      .default([]),
    categoryIssuers: z.record(z.string(), z.array(role)).default({}),
    reviewGraceHours: z
      .number()
      .int()
      .min(0)
      .max(24 * 365)
      .default(72),
    clockSkewMs: z
      .number()
      .int()
      .min(0)
      .max(24 * 3_600_000)
      .default(DEFAULT_CLOCK_SKEW_MS),
  })
  .strict();
export type BundleSource = z.input<typeof BundleSource>;

export const GrantSource = z
  .object({
    id,
    category,
    requester: zId,
    approver: zId,
    approverRole: role,
    scope: ScopeSource,
    methods: z.array(method).min(1, 'must name at least one method (1061.2 §5.2(2))'),
    notBefore: time,
    expiresAt: time,
    reason: z.string().default(''),
    purpose: z.string().default(''),
    minimization: z.string().default(''),
    anticipated: z.object({ from: time, to: time, location: z.string() }).strict().optional(),
    factorsConsidered: z.array(z.string()).default([]),
    requestId: z.string().default(''),
  })
  .strict();
export type GrantSource = z.input<typeof GrantSource>;

export const PlanSource = z
  .object({
    id,
    activities: z.array(code).min(1),
    officers: z.array(zId).min(1, 'must list at least one officer'),
    from: time,
    to: time,
    location: z.string().default(''),
  })
  .strict();
export type PlanSource = z.input<typeof PlanSource>;

export const RevocationSource = z
  .object({
    id,
    revokes: z.string().regex(/^[0-9a-f]{64}$/, 'must be the hex SHA-256 of the revoked grant or plan (bwc authz show prints it)'),
    effectiveAt: time,
    reason: z.string().min(1),
  })
  .strict();
export type RevocationSource = z.input<typeof RevocationSource>;

function parse<T extends z.ZodTypeAny>(schema: T, raw: unknown, what: string): z.output<T> {
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new PolicyDataError(`${what}.${issue.path.join('.')}`.replace(/\.$/, ''), issue.message);
  }
  return r.data;
}

const ms = (iso: string) => timeOrNull(iso)!; // only ever given a time the schema accepted
const scopeMsg = (s: z.output<typeof ScopeSource>): bwc.v1.Scope.$Properties => ({
  officers: s.officers,
  cameras: s.cameras,
  devices: s.devices,
  offices: s.offices,
});
const methodValues = (m: string[]) => m.map((x) => METHODS.value(x)!);

/**
 * The fields a §5.1 prior authorization must carry (1061.2 §5.2), by source name. A text counts
 * only when articulated (a letter or a digit, DESIGN §5 exact inputs).
 */
export function missingPriorAuthorizationFields(g: {
  reason: string;
  purpose: string;
  minimization: string;
  methods: readonly unknown[];
  anticipated?: { location: string } | null;
  expiresAt: unknown;
}): string[] {
  const missing: string[] = [];
  if (!isArticulated(g.reason)) missing.push('reason');
  if (!isArticulated(g.purpose)) missing.push('purpose');
  if (g.methods.length === 0) missing.push('methods');
  if (!isArticulated(g.minimization)) missing.push('minimization');
  if (!g.anticipated) missing.push('anticipated');
  else if (!isArticulated(g.anticipated.location)) missing.push('anticipated.location');
  if (!g.expiresAt) missing.push('expiresAt');
  return missing;
}

/** A bundle's standing policy or a plan whose every activity is a prohibited purpose (BWC-2024, First Amendment). */
function onlyProhibited(activities: readonly string[], prohibited: readonly string[]): boolean {
  return activities.length > 0 && activities.every((a) => prohibited.includes(a));
}

export function bundleFromSource(raw: unknown): bwc.v1.PolicyBundle.$Properties {
  const s = parse(BundleSource, raw, 'bundle');
  if (ms(s.expiresAt) <= ms(s.issuedAt)) throw new PolicyDataError('bundle.expiresAt', 'must be after issuedAt');
  s.issuers.forEach((i, n) => {
    try {
      checkPublicKey(fromHex(i.publicKey, 32)!, 'public key');
    } catch (e) {
      throw new PolicyDataError(`bundle.issuers.${n}.publicKey`, (e as Error).message);
    }
  });
  const byKey = new Map(s.issuers.map((i) => [i.publicKey.toLowerCase(), i]));
  s.standingPolicies.forEach((p, n) => {
    const issuer = byKey.get(p.issuer.toLowerCase());
    if (!issuer) throw new PolicyDataError(`bundle.standingPolicies.${n}.issuer`, "is not one of the bundle's issuers");
    // 1061.2 §5.1: FROs and HROs promulgate standing local policies (and the Director, who may issue any category).
    if (!issuer.roles.some((r) => PROMULGATING_ROLES.has(r))) {
      throw new PolicyDataError(
        `bundle.standingPolicies.${n}.issuer`,
        `is ${issuer.name} (${issuer.roles.join(', ')}); only an FRO or HRO issues a standing local policy (1061.2 §5.1)`,
      );
    }
    if (onlyProhibited(p.activities, s.prohibitedPurposes)) {
      throw new PolicyDataError(
        `bundle.standingPolicies.${n}.activities`,
        'are all prohibited purposes: a BWC never records for the sole purpose of First Amendment activity (BWC-2024)',
      );
    }
  });
  for (const [cat, roles] of Object.entries(s.categoryIssuers)) {
    if (!(CATEGORIES as readonly string[]).includes(cat)) throw new PolicyDataError(`bundle.categoryIssuers.${cat}`, 'is not a 1061.2 §2.1 category');
    const allowed = DEFAULT_CATEGORY_ISSUERS[cat as Category];
    const wider = roles.filter((r) => !allowed.includes(r) && !EXECUTIVE_ROLES.has(r));
    if (wider.length) throw new PolicyDataError(`bundle.categoryIssuers.${cat}`, `may only narrow the DESIGN §2 table; ${wider.join(', ')} may not issue it`);
  }
  return {
    version: s.version,
    issuedAtMs: ms(s.issuedAt),
    expiresAtMs: ms(s.expiresAt),
    triggers: s.triggers,
    excludedActivities: s.excludedActivities,
    prohibitedPurposes: s.prohibitedPurposes,
    officersIssued: s.officersIssued,
    issuers: s.issuers.map((i) => ({
      name: i.name,
      personId: i.personId,
      publicKey: fromHex(i.publicKey, 32)!,
      roles: i.roles,
      scope: scopeMsg(i.scope),
      compromised: i.compromised,
    })),
    standingPolicies: s.standingPolicies.map((p) => ({
      id: p.id,
      issuerPublicKey: fromHex(p.issuer, 32)!,
      category: p.category,
      activities: p.activities,
      scope: scopeMsg(p.scope),
      methods: methodValues(p.methods),
      description: p.description,
    })),
    categoryIssuers: Object.fromEntries(Object.entries(s.categoryIssuers).map(([k, v]) => [k, { roles: v }])),
    reviewGraceHours: s.reviewGraceHours,
    clockSkewMs: s.clockSkewMs,
  };
}

/**
 * The source of a signed bundle (the inverse of `bundleFromSource`), for drafting the next one:
 * `bundleFromSource(bundleToSource(b))` encodes the same bundle. Reads without checking the
 * signature; the caller has checked it.
 */
export function bundleToSource(bytes: Uint8Array): BundleSource {
  const b = decodeBody(openEnvelope(bytes, { expectType: 'PolicyBundle' }), pb.PolicyBundle);
  const scope = (x: bwc.v1.IScope | null | undefined) => ({
    officers: x?.officers ?? [],
    cameras: x?.cameras ?? [],
    devices: x?.devices ?? [],
    offices: x?.offices ?? [],
  });
  const iso = (n: unknown) => new Date(Number(n)).toISOString();
  const hex = (k: Uint8Array | null | undefined) => toHex(k ?? new Uint8Array(0));
  return {
    version: Number(b.version),
    issuedAt: iso(b.issuedAtMs),
    expiresAt: iso(b.expiresAtMs),
    triggers: b.triggers,
    excludedActivities: b.excludedActivities,
    prohibitedPurposes: b.prohibitedPurposes,
    officersIssued: b.officersIssued,
    issuers: b.issuers.map((i) => ({
      name: i.name ?? '',
      personId: i.personId ?? '',
      publicKey: hex(i.publicKey),
      roles: (i.roles ?? []) as Role[],
      scope: scope(i.scope),
      compromised: i.compromised ?? false,
    })),
    standingPolicies: b.standingPolicies.map((p) => ({
      id: p.id ?? '',
      issuer: hex(p.issuerPublicKey),
      category: p.category as Category,
      activities: p.activities ?? [],
      scope: scope(p.scope),
      methods: (p.methods ?? []).map((m) => METHODS.code(m)!),
      description: p.description ?? '',
    })),
    categoryIssuers: Object.fromEntries(Object.entries(b.categoryIssuers).map(([k, v]) => [k, (v.roles ?? []) as Role[]])),
    reviewGraceHours: b.reviewGraceHours,
    clockSkewMs: b.clockSkewMs || DEFAULT_CLOCK_SKEW_MS,
  };
}

/** Who signs a grant or plan, when the author knows (sign-* with --bundle, the gateway's workflow). */
export interface SignerContext {
  /** The signer's issuer entry in the bundle in force. */
  readonly issuer: Pick<Issuer, 'personId' | 'roles' | 'name'>;
}

export function grantFromSource(raw: unknown, signerCtx?: SignerContext): bwc.v1.AuthorizationGrant.$Properties {
  const s = parse(GrantSource, raw, 'grant');
  if (ms(s.expiresAt) <= ms(s.notBefore)) throw new PolicyDataError('grant.expiresAt', 'must be after notBefore');
  if (s.category === 'prior_authorization') {
    const missing = missingPriorAuthorizationFields(s);
    if (missing.length) {
      const why = missing[0] === 'methods' || missing[0] === 'anticipated' || missing[0] === 'expiresAt' ? '' : ` and ${TEXT_RULE}`;
      throw new PolicyDataError(`grant.${missing[0]}`, `is required of a prior authorization (1061.2 §5.2)${why}; missing: ${missing.join(', ')}`);
    }
    // 1061.2 §5.3: the approver considers the factors; the grant names those considered, by code.
    if (factorCodesIn(s.factorsConsidered).length === 0) {
      throw new PolicyDataError(
        'grant.factorsConsidered',
        `must name at least one 1061.2 §5.3 factor considered, by code (${Object.keys(FACTORS).join(', ')}), optionally followed by ": note"`,
      );
    }
  }
  if (s.anticipated) {
    if (ms(s.anticipated.to) < ms(s.anticipated.from)) throw new PolicyDataError('grant.anticipated.to', 'must not be before anticipated.from');
    // 1061.2 §5.2(4)–(5): the anticipated recording lies inside the grant's own validity.
    if (ms(s.anticipated.from) < ms(s.notBefore))
      throw new PolicyDataError(
        'grant.anticipated.from',
        `is before notBefore (${s.notBefore}): the anticipated recording must lie inside [notBefore, expiresAt]`,
      );
    if (ms(s.anticipated.to) > ms(s.expiresAt))
      throw new PolicyDataError(
        'grant.anticipated.to',
        `is after expiresAt (${s.expiresAt}): the grant would expire before its own anticipated recording ends (1061.2 §5.2(5))`,
      );
  }
  const executive = EXECUTIVE_ROLES.has(s.approverRole);
  // 1061.2 §5.1: nobody approves their own request, nor authorizes their own recording.
  if (sameId(s.requester, s.approver) && !executive) {
    throw new PolicyDataError('grant.approver', 'is the requester; only the Director or Deputy Director may approve their own request (1061.2 §5.1)');
  }
  if (!executive) {
    const n = s.scope.officers.findIndex((o) => sameId(o, s.approver));
    if (n >= 0)
      throw new PolicyDataError(
        `grant.scope.officers.${n}`,
        `names the approver (${s.approver}): an approver's own recordings need another official's grant (1061.2 §5.1)`,
      );
  }
  if (signerCtx) {
    if (!sameId(signerCtx.issuer.personId, s.approver)) {
      throw new PolicyDataError(
        'grant.approver',
        `is ${s.approver}, but the signing key belongs to ${signerCtx.issuer.name} (${signerCtx.issuer.personId}) in the bundle`,
      );
    }
    if (!signerCtx.issuer.roles.has(s.approverRole)) {
      throw new PolicyDataError(
        'grant.approverRole',
        `is ${s.approverRole}, but the bundle lists the signing key as ${[...signerCtx.issuer.roles].join(', ')}`,
      );
    }
  }
  const allowed = DEFAULT_CATEGORY_ISSUERS[s.category];
  if (!allowed.includes(s.approverRole) && !EXECUTIVE_ROLES.has(s.approverRole)) {
    throw new PolicyDataError(
      'grant.approverRole',
      `${s.approverRole} may not issue ${s.category} (allowed: ${allowed.join(', ')}, DIRECTOR, DEPUTY_DIRECTOR)`,
    );
  }
  return {
    id: s.id,
    category: s.category,
    requester: s.requester,
    approver: s.approver,
    approverRole: s.approverRole,
    scope: scopeMsg(s.scope),
    methods: methodValues(s.methods),
    notBeforeMs: ms(s.notBefore),
    expiresAtMs: ms(s.expiresAt),
    reason: s.reason,
    purpose: s.purpose,
    minimization: s.minimization,
    anticipated: s.anticipated ? { fromMs: ms(s.anticipated.from), toMs: ms(s.anticipated.to), location: s.anticipated.location } : null,
    factorsConsidered: s.factorsConsidered,
    requestId: s.requestId,
  };
}

export function planFromSource(
  raw: unknown,
  signerCtx?: SignerContext,
  prohibited: readonly string[] = ['first_amendment_activity'],
): bwc.v1.OperationPlan.$Properties {
  const s = parse(PlanSource, raw, 'plan');
  if (ms(s.to) <= ms(s.from)) throw new PolicyDataError('plan.to', 'must be after from');
  if (onlyProhibited(s.activities, prohibited)) {
    throw new PolicyDataError(
      'plan.activities',
      'are all prohibited purposes: a BWC never records for the sole purpose of First Amendment activity (BWC-2024)',
    );
  }
  if (signerCtx) {
    if (![...signerCtx.issuer.roles].some((r) => PROMULGATING_ROLES.has(r))) {
      throw new PolicyDataError(
        'plan',
        `the signing key belongs to ${signerCtx.issuer.name} (${[...signerCtx.issuer.roles].join(', ')}); only an FRO or HRO issues an operation plan`,
      );
    }
    const executive = [...signerCtx.issuer.roles].some((r) => EXECUTIVE_ROLES.has(r));
    const n = s.officers.findIndex((o) => sameId(o, signerCtx.issuer.personId));
    if (n >= 0 && !executive)
      throw new PolicyDataError(
        `plan.officers.${n}`,
        `names the plan's own issuer (${signerCtx.issuer.personId}): an approver's own recordings need another official's authorization (1061.2 §5.1)`,
      );
  }
  return { id: s.id, activities: s.activities, officers: s.officers, fromMs: ms(s.from), toMs: ms(s.to), location: s.location };
}

export function revocationFromSource(raw: unknown, createdAtMs: number): bwc.v1.Revocation.$Properties {
  const s = parse(RevocationSource, raw, 'revocation');
  if (ms(s.effectiveAt) < createdAtMs - 1000)
    throw new PolicyDataError('revocation.effectiveAt', 'may not precede the revocation itself (no retroactive revocation)');
  return { id: s.id, revokes: fromHex(s.revokes, 32)!, effectiveAtMs: ms(s.effectiveAt), reason: s.reason };
}

// ---------------------------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------------------------

export type PolicyType = 'PolicyBundle' | 'AuthorizationGrant' | 'Revocation' | 'OperationPlan';

const ENCODERS: Record<PolicyType, { encode(m: object): { finish(): Uint8Array } }> = {
  PolicyBundle: pb.PolicyBundle,
  AuthorizationGrant: pb.AuthorizationGrant,
  Revocation: pb.Revocation,
  OperationPlan: pb.OperationPlan,
};

/** Signs a policy object offline: header issuer = the signer's key id, seq 0. */
export function signPolicyObject(type: PolicyType, message: object, signer: Signer, createdAtMs = Date.now()): { bytes: Uint8Array; hash: string } {
  const body = ENCODERS[type].encode({ ...message, header: { issuer: signer.keyId, seq: 0, createdAtMs } }).finish();
  const sealed = sealEnvelope(type, body, signer);
  return { bytes: sealed.bytes, hash: toHex(sealed.hash) };
}

// ---------------------------------------------------------------------------------------------
// Verification into checked shapes
// ---------------------------------------------------------------------------------------------

function scopeOf(s: bwc.v1.Scope.$Properties | null | undefined): Scope {
  return { officers: s?.officers ?? [], cameras: s?.cameras ?? [], devices: s?.devices ?? [], offices: s?.offices ?? [] };
}

function decodeBody<T>(env: OpenedEnvelope, decoder: { decode(b: Uint8Array): T }): T {
  try {
    return decoder.decode(env.body);
  } catch (e) {
    throw new WireError('UNDECODABLE', `${env.type} body cannot be decoded: ${(e as Error).message}`, { cause: e });
  }
}

/** Verifies a bundle envelope against the pinned root key. Throws WireError naming the problem. */
export function verifyBundle(bytes: Uint8Array, root: TrustedKey): Bundle {
  const env = openEnvelope(bytes, { expectType: 'PolicyBundle' });
  assertEnvelopeSigned(env, root);
  return bundleOf(env);
}

/**
 * Reads a bundle WITHOUT checking who signed it: for `bwc policy decide` dry runs of a draft when
 * no root key is at hand. Never feed its result to a dock's cache.
 */
export function readBundleUnverified(bytes: Uint8Array): Bundle {
  return bundleOf(openEnvelope(bytes, { expectType: 'PolicyBundle' }));
}

function bundleOf(env: OpenedEnvelope): Bundle {
  const b = decodeBody(env, pb.PolicyBundle);
  const issuers = new Map<string, Issuer>();
  for (const i of b.issuers) {
    const key = trustPublicKey(i.publicKey ?? new Uint8Array(0), `issuer ${i.name} key`);
    const roles = new Set((i.roles ?? []).filter((r): r is Role => (ROLES as readonly string[]).includes(r)));
    issuers.set(key.keyId, {
      name: i.name ?? '',
      personId: i.personId ?? '',
      keyId: key.keyId,
      publicKey: key.raw,
      roles,
      scope: scopeOf(i.scope),
      compromised: i.compromised ?? false,
    });
  }
  const categoryIssuers = new Map<string, Set<Role>>();
  for (const c of CATEGORIES) {
    const narrowed = b.categoryIssuers?.[c]?.roles;
    const base = DEFAULT_CATEGORY_ISSUERS[c];
    categoryIssuers.set(c, new Set(narrowed ? narrowed.filter((r): r is Role => base.includes(r as Role) || EXECUTIVE_ROLES.has(r as Role)) : base));
  }
  return {
    hash: toHex(env.hash),
    version: b.version,
    issuedAt: b.issuedAtMs,
    expiresAt: b.expiresAtMs,
    triggers: new Set(b.triggers.map(codeKey)),
    excluded: new Set(b.excludedActivities.map(codeKey)),
    prohibited: new Set(b.prohibitedPurposes.map(codeKey)),
    officersIssued: new Set(b.officersIssued.map(idKey)),
    issuers,
    standingPolicies: b.standingPolicies.map((p) => ({
      id: p.id ?? '',
      issuerKeyId: keyIdOf(p.issuerPublicKey ?? new Uint8Array(0)),
      category: (p.category ?? '') as Category,
      activities: new Set((p.activities ?? []).map(codeKey)),
      scope: scopeOf(p.scope),
      methods: new Set((p.methods ?? []).map((m) => METHODS.code(m) ?? '')),
    })),
    categoryIssuers,
    reviewGraceHours: b.reviewGraceHours,
    clockSkewMs: Number(b.clockSkewMs) || DEFAULT_CLOCK_SKEW_MS,
  };
}

/**
 * Finds the key that signed an official's object among the issuers of the given bundles (a key
 * stays the same key across bundle versions) and verifies the signature strictly. Throws WireError
 * BAD_KEY (no bundle names the key) or BAD_SIGNATURE.
 */
function verifyByIssuer(env: OpenedEnvelope, bundles: readonly Bundle[]): void {
  for (const b of bundles) {
    const issuer = b.issuers.get(env.keyId);
    if (issuer) {
      assertEnvelopeSigned(env, trustPublicKey(issuer.publicKey));
      return;
    }
  }
  throw new WireError('BAD_KEY', `${env.type} is signed by key ${env.keyId.slice(0, 16)}…, which no cached policy bundle names as an issuer`);
}

export function verifyGrant(bytes: Uint8Array, bundles: readonly Bundle[]): Grant {
  const env = openEnvelope(bytes, { expectType: 'AuthorizationGrant' });
  verifyByIssuer(env, bundles);
  const g = decodeBody(env, pb.AuthorizationGrant);
  return {
    hash: toHex(env.hash),
    signerKeyId: env.keyId,
    id: g.id,
    category: g.category,
    requester: g.requester,
    approver: g.approver,
    approverRole: g.approverRole,
    scope: scopeOf(g.scope),
    methods: new Set(g.methods.map((m) => METHODS.code(m) ?? '')),
    notBefore: g.notBeforeMs,
    expiresAt: g.expiresAtMs,
    reason: g.reason,
    purpose: g.purpose,
    minimization: g.minimization,
    anticipated: g.anticipated ? { from: g.anticipated.fromMs ?? 0, to: g.anticipated.toMs ?? 0, location: g.anticipated.location ?? '' } : null,
    factorsConsidered: g.factorsConsidered,
    createdAt: g.header?.createdAtMs ?? 0,
  };
}

export function verifyRevocation(bytes: Uint8Array, bundles: readonly Bundle[]): Revocation {
  const env = openEnvelope(bytes, { expectType: 'Revocation' });
  verifyByIssuer(env, bundles);
  const r = decodeBody(env, pb.Revocation);
  return {
    hash: toHex(env.hash),
    signerKeyId: env.keyId,
    id: r.id,
    revokes: toHex(r.revokes),
    effectiveAt: r.effectiveAtMs,
    reason: r.reason,
    createdAt: r.header?.createdAtMs ?? 0,
  };
}

export function verifyPlan(bytes: Uint8Array, bundles: readonly Bundle[]): Plan {
  const env = openEnvelope(bytes, { expectType: 'OperationPlan' });
  verifyByIssuer(env, bundles);
  const p = decodeBody(env, pb.OperationPlan);
  return {
    hash: toHex(env.hash),
    signerKeyId: env.keyId,
    id: p.id,
    activities: p.activities,
    officers: p.officers,
    from: p.fromMs,
    to: p.toMs,
    location: p.location,
    createdAt: p.header?.createdAtMs ?? 0,
  };
}
