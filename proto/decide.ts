/**
 * decide(): is this recording authorized, and why (DESIGN §5). Pure: no I/O, no clock reads; the
 * same inputs give the same decision, on the dock and at the gateway, which decides again from the
 * signed objects it holds. It judges the activation as of `activation.at` — the bundle, grants,
 * revocations and plans in force then — over the whole recording `[at, stoppedAt]`, and uses
 * `decidedAt` only for the cache's age and staleness.
 *
 * Rules, in order:
 * 1. the codes the recording is for (declared, or a plan's when the plan supplies them), less
 *    `public_interaction` and unknown codes, are non-empty and all prohibited purposes →
 *    PROHIBITED / FIRST_AMENDMENT_ONLY (BWC-2024), whatever else applies;
 * 2. a basis that covers the whole recording → AUTHORIZED, citing it: trigger, plan (supplies
 *    activities when none is declared), grant, standing policy;
 * 3. no activity declared, none supplied, still recording → PENDING_CLASSIFICATION;
 * 4. otherwise UNAUTHORIZED with every reason that applied (UNCLASSIFIED when stopped untagged),
 *    and `coveredUntil` where a basis's cover ended before the recording did.
 * Ids compare case-insensitively and codes in lower case (proto/canonical.ts). The device never
 * blocks or stops a recording on any of these: they alert and flag (DESIGN §2).
 */
import { codeKey, formatTime, idKey, sameId } from './canonical.js';
import type { DecisionJson } from './decision.js';
import type { Bundle, Grant, Issuer, Plan, Scope, StandingPolicy } from './policy.js';
import { missingPriorAuthorizationFields } from './policy.js';
import {
  categoryClause,
  EXECUTIVE_ROLES,
  factorCodesIn,
  FIXED_CAMERA_ROLES,
  PROMULGATING_ROLES,
  PUBLIC_INTERACTION,
  REASONS,
  type ReasonCode,
  type Role,
} from './policy-vocab.js';
import type { Activation } from './activation.js';
import type { PolicyCache } from './policy-cache.js';

type Basis = NonNullable<DecisionJson['basis']>;

export interface DecideOptions {
  /**
   * For a recording still running: judge its cover up to and including this instant (the dock
   * decides again when a running recording's basis ends, and alerts the officer then).
   */
  readonly through?: number;
}

class Reasons {
  readonly set = new Set<ReasonCode>();
  add(...codes: ReasonCode[]): void {
    for (const c of codes) this.set.add(c);
  }
}

/** The stretch of the recording a basis must cover: `[at, end)` once stopped, `[at, end]` while running. */
interface Span {
  readonly at: number;
  readonly end: number | null;
  readonly running: boolean;
}

/** True when cover that ends at `until` (null: no end) reaches the end of the span. */
function coversSpan(until: number | null, span: Span): boolean {
  if (until === null || span.end === null) return true;
  return span.running ? until > span.end : until >= span.end;
}

function inScope(scope: Scope, a: Activation): boolean {
  const fits = (list: readonly string[], value: string | null) => list.length === 0 || (value !== null && list.some((x) => sameId(x, value)));
  return fits(scope.officers, a.officerId) && fits(scope.cameras, a.cameraSerial) && fits(scope.devices, a.deviceId) && fits(scope.offices, a.office);
}

/** The issuer behind a key, as the bundle in force saw it; null when untrusted (unknown or compromised now). */
function trustedIssuer(keyId: string, bundle: Bundle, current: Bundle | null): Issuer | null {
  const issuer = bundle.issuers.get(keyId);
  if (!issuer || issuer.compromised) return null;
  if (current?.issuers.get(keyId)?.compromised) return null; // distrusted at every time
  return issuer;
}

function mayIssue(bundle: Bundle, role: Role, category: string): boolean {
  return EXECUTIVE_ROLES.has(role) || (bundle.categoryIssuers.get(category)?.has(role) ?? false);
}

const executive = (roles: ReadonlySet<Role>) => [...roles].some((r) => EXECUTIVE_ROLES.has(r));

/** 1061.2 §5.1: nobody authorizes their own recording, except the Director and Deputy Director. */
function ownRecording(a: Activation, issuer: Issuer): boolean {
  return sameId(a.officerId, issuer.personId) && !executive(issuer.roles);
}

/**
 * The first bundle issued during the span under which the issuer no longer holds `role` (dropped,
 * compromised, role taken away): the instant its authority, and the basis with it, ended.
 */
function issuerWithdrawnAt(cache: PolicyCache, keyId: string, role: Role | null, span: Span): number | null {
  if (span.end === null) return null;
  for (const b of cache.bundles) {
    if (b.issuedAt <= span.at || b.issuedAt > span.end) continue;
    const i = b.issuers.get(keyId);
    if (!i || i.compromised || (role !== null && !i.roles.has(role) && !executive(i.roles))) return b.issuedAt;
  }
  return null;
}

const minTime = (...xs: (number | null)[]) => {
  const real = xs.filter((x): x is number => x !== null);
  return real.length ? Math.min(...real) : null;
};

/** The codes the policy in force knows (DESIGN §5 exact inputs): any other is UNKNOWN_ACTIVITY. */
function knows(bundle: Bundle, cache: PolicyCache, code: string): boolean {
  return (
    bundle.triggers.has(code) ||
    bundle.excluded.has(code) ||
    bundle.prohibited.has(code) ||
    cache.planCodes.has(code) ||
    bundle.standingPolicies.some((sp) => sp.activities.has(code))
  );
}

/** Trigger basis: a body-worn camera, an issued officer, a declared trigger that is not excluded. */
function triggerBasis(a: Activation, bundle: Bundle, codes: readonly string[], why: Reasons): string | null {
  if (codes.length === 0) return null;
  const triggers = codes.filter((c) => bundle.triggers.has(c) && !bundle.excluded.has(c));
  const excluded = codes.filter((c) => bundle.excluded.has(c));
  if (excluded.length) why.add('EXCLUDED_ACTIVITY');
  const substantive = triggers.filter((c) => c !== PUBLIC_INTERACTION);
  if (triggers.length === 0) {
    if (!excluded.length) why.add('NOT_A_TRIGGER');
    return null;
  }
  if (substantive.length === 0) {
    why.add('PUBLIC_INTERACTION_ALONE');
    return null;
  }
  let ok = true;
  if (a.deviceRole !== 'bwc') {
    why.add('DEVICE_NOT_BWC');
    ok = false;
  }
  if (!a.officerId || !bundle.officersIssued.has(idKey(a.officerId))) {
    why.add('OFFICER_NOT_ISSUED');
    ok = false;
  }
  return ok ? substantive[0]! : null;
}

/**
 * A revocation counts if its signer signed the object, holds the object's role with a scope that
 * covers it, or is the Director or Deputy Director; it takes effect at effectiveAt, never before it
 * was made. Returns the instant the object stops counting, or null if no revocation applies.
 */
function revokedAt(
  target: { hash: string; signerKeyId: string; role: Role | null; offices: readonly string[] },
  cache: PolicyCache,
  bundle: Bundle,
  current: Bundle | null,
): number | null {
  let first: number | null = null;
  for (const r of cache.revocationsOf(target.hash)) {
    const from = Math.max(r.effectiveAt, r.createdAt);
    let counts = r.signerKeyId === target.signerKeyId;
    if (!counts) {
      const issuer = trustedIssuer(r.signerKeyId, bundle, current);
      if (issuer) {
        const covers =
          issuer.scope.offices.length === 0 || (target.offices.length > 0 && target.offices.every((t) => issuer.scope.offices.some((m) => sameId(m, t))));
        counts = executive(issuer.roles) || (target.role !== null && issuer.roles.has(target.role) && covers);
      }
    }
    if (counts && (first === null || from < first)) first = from;
  }
  return first;
}

interface Candidate<T> {
  readonly basis: T;
  /** Where its cover ends (null: no end). */
  readonly until: number | null;
}

interface Partial {
  coveredUntil: number | null;
}

/** Keeps the latest partial cover among candidates that covered the start but not the end. */
function notePartial(partial: Partial, until: number): void {
  if (partial.coveredUntil === null || until > partial.coveredUntil) partial.coveredUntil = until;
}

/** The plan basis among the plans that apply (applicablePlans, found once per decision; `planWhy` holds why the others did not). */
function planBasis(
  a: Activation,
  span: Span,
  plans: readonly ApplicablePlan[],
  planWhy: Reasons,
  cache: PolicyCache,
  bundle: Bundle,
  why: Reasons,
  partial: Partial,
): Candidate<{ plan: Plan; code: string }> | null {
  why.add(...planWhy.set);
  for (const plan of plans) {
    const code = triggerBasis(a, bundle, plan.codes, why);
    if (!code) continue;
    const until = minTime(plan.plan.to, plan.revokedAt, issuerWithdrawnAt(cache, plan.plan.signerKeyId, null, span));
    if (!coversSpan(until, span)) {
      why.add('PLAN_ENDED_DURING_RECORDING');
      notePartial(partial, until!);
      continue;
    }
    return { basis: { plan: plan.plan, code }, until };
  }
  return null;
}

/**
 * Plans that apply at `at` to this officer: listed, in window, from a trusted FRO or HRO whose
 * scope covers the recording, not revoked, and not the issuer's own recording.
 */
interface ApplicablePlan {
  readonly plan: Plan;
  readonly codes: string[];
  readonly revokedAt: number | null;
}

function applicablePlans(a: Activation, cache: PolicyCache, bundle: Bundle, current: Bundle | null, why: Reasons): ApplicablePlan[] {
  if (a.activity || !a.officerId) return [];
  const out: ApplicablePlan[] = [];
  for (const plan of cache.plansFor(a.officerId)) {
    if (a.at < plan.from || a.at >= plan.to) {
      why.add('PLAN_OUTSIDE_WINDOW');
      continue;
    }
    const issuer = trustedIssuer(plan.signerKeyId, bundle, current);
    if (!issuer) {
      why.add('UNTRUSTED_ISSUER');
      continue;
    }
    if (![...issuer.roles].some((r) => PROMULGATING_ROLES.has(r))) {
      why.add('APPROVER_ROLE_INVALID');
      continue;
    }
    if (!inScope(issuer.scope, a)) {
      why.add('SCOPE_MISMATCH');
      continue;
    }
    if (ownRecording(a, issuer)) {
      why.add('SELF_APPROVED');
      continue;
    }
    const role = [...issuer.roles].find((r) => PROMULGATING_ROLES.has(r)) ?? null;
    const revoked = revokedAt({ hash: plan.hash, signerKeyId: plan.signerKeyId, role, offices: issuer.scope.offices }, cache, bundle, current);
    if (revoked !== null && revoked <= a.at) {
      why.add('PLAN_REVOKED');
      continue;
    }
    out.push({ plan, codes: [...new Set(plan.activities.map(codeKey))], revokedAt: revoked });
  }
  return out;
}

/**
 * Every reason a grant does not authorize this activation at its start; empty when it does. The
 * checks of what the grant *is* come first, then whether it is in force at `at`.
 */
function grantProblems(g: Grant, a: Activation, bundle: Bundle, current: Bundle | null): { problems: ReasonCode[]; issuer: Issuer | null } {
  const problems: ReasonCode[] = [];
  const issuer = trustedIssuer(g.signerKeyId, bundle, current);
  if (!issuer) return { problems: ['UNTRUSTED_ISSUER'], issuer: null };
  const role = g.approverRole as Role;
  const exec = EXECUTIVE_ROLES.has(role) && issuer.roles.has(role);
  if (!issuer.roles.has(role) || !mayIssue(bundle, role, g.category) || !sameId(g.approver, issuer.personId)) problems.push('APPROVER_ROLE_INVALID');
  // 1061.2 §5.1: nobody approves their own request, nor authorizes their own recording, whatever the scope says.
  if (!exec && (sameId(g.requester, g.approver) || sameId(g.requester, issuer.personId) || sameId(a.officerId, issuer.personId)))
    problems.push('SELF_APPROVED');
  if (g.category === 'physical_security' && !FIXED_CAMERA_ROLES.has(a.deviceRole)) problems.push('CATEGORY_NOT_FOR_DEVICE');
  if (g.category === 'prior_authorization') {
    if (missingPriorAuthorizationFields({ ...g, methods: [...g.methods], expiresAt: g.expiresAt || null }).length) problems.push('MISSING_REQUIRED_FIELD');
    if (factorCodesIn(g.factorsConsidered).length === 0) problems.push('FACTORS_NOT_CONSIDERED');
  }
  if (g.anticipated && (g.anticipated.from < g.notBefore || g.anticipated.to > g.expiresAt || g.anticipated.to < g.anticipated.from))
    problems.push('GRANT_WINDOW_INVALID');
  if (a.at < g.notBefore) problems.push('GRANT_NOT_YET_VALID');
  // 1061.2 §5.1: authorization comes before the recording; an earlier notBefore grants nothing before it was signed.
  if (a.at < g.createdAt - bundle.clockSkewMs) problems.push('GRANT_SIGNED_AFTER_START');
  if (a.at >= g.expiresAt) problems.push('GRANT_EXPIRED');
  if (!inScope(g.scope, a) || !inScope(issuer.scope, a)) problems.push('SCOPE_MISMATCH');
  if (!g.methods.has(a.method)) problems.push('METHOD_NOT_COVERED');
  return { problems, issuer };
}

function grantBasis(
  a: Activation,
  span: Span,
  cache: PolicyCache,
  bundle: Bundle,
  current: Bundle | null,
  why: Reasons,
  partial: Partial,
): Candidate<Grant> | null {
  for (const g of cache.grantsFor(a)) {
    const { problems, issuer } = grantProblems(g, a, bundle, current);
    const revoked = issuer
      ? revokedAt({ hash: g.hash, signerKeyId: g.signerKeyId, role: g.approverRole as Role, offices: g.scope.offices }, cache, bundle, current)
      : null;
    if (revoked !== null && revoked <= a.at) problems.push('GRANT_REVOKED');
    if (problems.length) {
      why.add(...problems);
      continue;
    }
    const withdrawn = issuerWithdrawnAt(cache, g.signerKeyId, g.approverRole as Role, span);
    const until = minTime(g.expiresAt, revoked, withdrawn);
    if (!coversSpan(until, span)) {
      why.add(
        until === g.expiresAt && (revoked === null || revoked > g.expiresAt) && (withdrawn === null || withdrawn > g.expiresAt)
          ? 'GRANT_EXPIRED_DURING_RECORDING'
          : 'GRANT_REVOKED_DURING_RECORDING',
      );
      notePartial(partial, until!);
      continue;
    }
    return { basis: g, until };
  }
  return null;
}

function standingBasis(
  a: Activation,
  span: Span,
  codes: readonly string[],
  cache: PolicyCache,
  bundle: Bundle,
  current: Bundle | null,
  why: Reasons,
  partial: Partial,
): Candidate<StandingPolicy> | null {
  for (const sp of bundle.standingPolicies) {
    if (!codes.some((c) => sp.activities.has(c))) continue;
    const issuer = trustedIssuer(sp.issuerKeyId, bundle, current);
    if (!issuer) {
      why.add('UNTRUSTED_ISSUER');
      continue;
    }
    // 1061.2 §5.1: standing local policies are promulgated by FROs and HROs.
    if (![...issuer.roles].some((r) => PROMULGATING_ROLES.has(r))) {
      why.add('STANDING_POLICY_ISSUER_INVALID');
      continue;
    }
    if (![...issuer.roles].some((r) => mayIssue(bundle, r, sp.category))) {
      why.add('APPROVER_ROLE_INVALID');
      continue;
    }
    if (sp.category === 'physical_security' && !FIXED_CAMERA_ROLES.has(a.deviceRole)) {
      why.add('CATEGORY_NOT_FOR_DEVICE');
      continue;
    }
    if (!inScope(sp.scope, a) || !inScope(issuer.scope, a)) {
      why.add('SCOPE_MISMATCH');
      continue;
    }
    if (!sp.methods.has(a.method)) {
      why.add('METHOD_NOT_COVERED');
      continue;
    }
    const until = standingWithdrawnAt(cache, sp, span);
    if (!coversSpan(until, span)) {
      why.add('STANDING_POLICY_ENDED_DURING_RECORDING');
      notePartial(partial, until!);
      continue;
    }
    return { basis: sp, until };
  }
  return null;
}

/** The first bundle issued during the span that no longer carries the standing policy from the same issuer. */
function standingWithdrawnAt(cache: PolicyCache, sp: StandingPolicy, span: Span): number | null {
  if (span.end === null) return null;
  for (const b of cache.bundles) {
    if (b.issuedAt <= span.at || b.issuedAt > span.end) continue;
    const still =
      b.standingPolicies.some((x) => x.id === sp.id && x.issuerKeyId === sp.issuerKeyId) &&
      b.issuers.has(sp.issuerKeyId) &&
      !b.issuers.get(sp.issuerKeyId)!.compromised;
    if (!still) return b.issuedAt;
  }
  return null;
}

export function decide(a: Activation, cache: PolicyCache, decidedAt: number, options: DecideOptions = {}): DecisionJson {
  const why = new Reasons();
  const flags: ReasonCode[] = [];
  if (a.clock && !a.clock.synced) flags.push('CLOCK_UNSYNCED');
  // A bwc with no assigned officer: never a guessed officer, whatever basis applies (DESIGN §5).
  if (a.deviceRole === 'bwc' && !a.officerId) flags.push('CAMERA_UNASSIGNED', 'OFFICER_NOT_ISSUED');
  const bundle = cache.bundleAt(a.at);
  const current = cache.current();
  if (bundle && decidedAt > bundle.expiresAt) flags.push('POLICY_STALE');
  const running = a.stoppedAt === null;
  const span: Span = { at: a.at, end: running ? (options.through ?? null) : a.stoppedAt, running };

  const finish = (
    decision: DecisionJson['decision'],
    basis: Basis | null,
    main: ReasonCode[],
    extraClauses: string[] = [],
    coveredUntil: number | null = null,
  ): DecisionJson => {
    const reasons = [...new Set<ReasonCode>([...main, ...flags])];
    const clauses = [...new Set([...extraClauses, ...reasons.map((r) => REASONS[r].clause)])];
    return {
      decision,
      basis,
      reasons,
      clauses,
      policyVersion: bundle?.version ?? 0,
      cacheAgeMs: Math.max(0, decidedAt - cache.updatedAt),
      evaluatedAt: formatTime(a.at),
      decidedAt: formatTime(decidedAt),
      bundleHash: bundle?.hash ?? null,
      activation: {
        cameraSerial: a.cameraSerial,
        officerId: a.officerId,
        deviceRole: a.deviceRole,
        trigger: a.trigger,
        activity: a.activity,
        purposes: [...a.purposes],
        method: a.method,
        location: a.office ? { office: a.office } : null,
        at: formatTime(a.at),
        stoppedAt: a.stoppedAt !== null ? formatTime(a.stoppedAt) : null,
        clock: a.clock,
        replayed: a.replayed,
        ...(a.clipId ? { clipId: a.clipId } : {}),
      },
      coveredUntil: coveredUntil === null ? null : formatTime(coveredUntil),
    };
  };

  // Malformed times are reviewed, never guessed at (DESIGN §5 exact inputs).
  if (a.stoppedAt !== null && a.stoppedAt < a.at) return finish('UNAUTHORIZED', null, ['STOPPED_BEFORE_START', 'NO_BASIS'], ['1061.2§4']);
  if (!bundle) return finish('UNAUTHORIZED', null, ['NO_POLICY', 'NO_BASIS']);

  const declaredRaw = [...(a.activity ? [a.activity] : []), ...a.purposes];
  const declared = [...new Set(declaredRaw.map(codeKey))];
  if (declared.some((c) => !knows(bundle, cache, c))) flags.push('UNKNOWN_ACTIVITY');
  const purposeful = (codes: readonly string[]) => codes.filter((c) => c !== PUBLIC_INTERACTION && knows(bundle, cache, c));
  const prohibitedOnly = (codes: readonly string[]) => {
    const p = purposeful(codes);
    return p.length > 0 && p.every((c) => bundle.prohibited.has(c));
  };

  // 1. Sole purpose First Amendment activity (BWC-2024), whatever else applies: the declared codes,
  //    or a plan's when the plan supplies them.
  if (prohibitedOnly(declared)) return finish('PROHIBITED', null, ['FIRST_AMENDMENT_ONLY']);
  const planWhy = new Reasons();
  const plans = applicablePlans(a, cache, bundle, current, planWhy);
  for (const p of plans) {
    if (prohibitedOnly([...p.codes, ...declared])) return finish('PROHIBITED', null, ['FIRST_AMENDMENT_ONLY', 'PLAN_ACTIVITY']);
  }

  // 2. A basis that covers the whole recording.
  const partial: Partial = { coveredUntil: null };
  const ends = (until: number | null) => (running ? until : null);
  const trigger = triggerBasis(a, bundle, declared, why);
  if (trigger) {
    return finish(
      'AUTHORIZED',
      { kind: 'trigger', id: trigger, category: 'directive_authorized', hash: bundle.hash },
      ['TRIGGER_ACTIVITY'],
      [categoryClause('directive_authorized')],
    );
  }
  const planned = planBasis(a, span, plans, planWhy, cache, bundle, why, partial);
  if (planned) {
    const { plan } = planned.basis;
    return finish(
      'AUTHORIZED',
      { kind: 'plan', id: plan.id, category: 'directive_authorized', hash: plan.hash },
      ['PLAN_ACTIVITY', 'TRIGGER_ACTIVITY'],
      [categoryClause('directive_authorized')],
      ends(planned.until),
    );
  }
  const granted = grantBasis(a, span, cache, bundle, current, why, partial);
  if (granted) {
    const g = granted.basis;
    // §5.3 is cited only for a prior authorization that names the factors considered (always, once it authorizes).
    const clauses = [categoryClause(g.category), ...(g.category === 'prior_authorization' ? ['1061.2§5.2', '1061.2§5.3'] : [])];
    return finish('AUTHORIZED', { kind: 'grant', id: g.id, category: g.category, hash: g.hash }, ['GRANT'], clauses, ends(granted.until));
  }
  const standing = standingBasis(a, span, declared, cache, bundle, current, why, partial);
  if (standing) {
    const sp = standing.basis;
    return finish(
      'AUTHORIZED',
      { kind: 'standing_policy', id: sp.id, category: sp.category, hash: bundle.hash },
      ['STANDING_POLICY'],
      [categoryClause(sp.category)],
      ends(standing.until),
    );
  }

  // 3. Still recording, nothing declared, nothing ended: wait for the tag.
  if (!a.activity && running && partial.coveredUntil === null) return finish('PENDING_CLASSIFICATION', null, ['PENDING_ACTIVITY', ...why.set]);

  // 4. Unauthorized, with every reason that applied, and where cover ended.
  const main: ReasonCode[] = ['NO_BASIS', ...why.set];
  if (!a.activity && !running) main.push('UNCLASSIFIED');
  return finish('UNAUTHORIZED', null, main, ['1061.2§4'], partial.coveredUntil);
}
