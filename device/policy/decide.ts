/**
 * decide(): is this recording authorized, and why (DESIGN §5). Pure: no I/O, no clock reads; the
 * same inputs give the same decision. It judges the activation as of `activation.at` — the bundle,
 * grants, revocations and plans in force then — and uses `decidedAt` only for the cache's age and
 * staleness.
 *
 * Rules, in order:
 * 1. every declared code is a prohibited purpose → PROHIBITED / FIRST_AMENDMENT_ONLY (BWC-2024);
 * 2. a valid basis → AUTHORIZED, citing it: trigger, plan (supplies activities when none is
 *    declared), grant, standing policy;
 * 3. no activity declared, none supplied, still recording → PENDING_CLASSIFICATION;
 * 4. otherwise UNAUTHORIZED with every reason that applied (UNCLASSIFIED when stopped untagged).
 * The device never blocks or stops a recording on any of these: they alert and flag (DESIGN §2).
 */
import type { DecisionJson } from '../../proto/decision.js';
import type { Bundle, Grant, Issuer, Plan, Scope, StandingPolicy } from '../../proto/policy.js';
import { missingPriorAuthorizationFields } from '../../proto/policy.js';
import { categoryClause, EXECUTIVE_ROLES, PUBLIC_INTERACTION, REASONS, type ReasonCode, type Role } from '../../proto/policy-vocab.js';
import type { Activation } from './activation.js';
import type { PolicyCache } from './cache.js';

type Basis = NonNullable<DecisionJson['basis']>;

class Reasons {
  readonly set = new Set<ReasonCode>();
  add(...codes: ReasonCode[]): void {
    for (const c of codes) this.set.add(c);
  }
}

function inScope(scope: Scope, a: Activation): boolean {
  const fits = (list: readonly string[], value: string | null) => list.length === 0 || (value !== null && list.includes(value));
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
  if (a.deviceRole !== 'bwc') { why.add('DEVICE_NOT_BWC'); ok = false; }
  if (!a.officerId || !bundle.officersIssued.has(a.officerId)) { why.add('OFFICER_NOT_ISSUED'); ok = false; }
  return ok ? substantive[0]! : null;
}

function planBasis(a: Activation, cache: PolicyCache, bundle: Bundle, current: Bundle | null, why: Reasons): { plan: Plan; code: string } | null {
  if (a.activity || !a.officerId) return null;
  for (const plan of cache.plansFor(a.officerId)) {
    if (a.at < plan.from || a.at >= plan.to) { why.add('PLAN_OUTSIDE_WINDOW'); continue; }
    const issuer = trustedIssuer(plan.signerKeyId, bundle, current);
    if (!issuer) { why.add('UNTRUSTED_ISSUER'); continue; }
    if (![...issuer.roles].some((r) => r === 'FRO' || r === 'HRO' || EXECUTIVE_ROLES.has(r))) { why.add('APPROVER_ROLE_INVALID'); continue; }
    const code = triggerBasis(a, bundle, plan.activities, why);
    if (code) return { plan, code };
  }
  return null;
}

/** Every reason a grant does not authorize this activation; empty when it does. */
function grantProblems(g: Grant, a: Activation, cache: PolicyCache, bundle: Bundle, current: Bundle | null): ReasonCode[] {
  const problems: ReasonCode[] = [];
  const issuer = trustedIssuer(g.signerKeyId, bundle, current);
  if (!issuer) return ['UNTRUSTED_ISSUER'];
  const role = g.approverRole as Role;
  if (!issuer.roles.has(role) || !mayIssue(bundle, role, g.category) || g.approver !== issuer.personId) problems.push('APPROVER_ROLE_INVALID');
  if (g.requester === g.approver && !EXECUTIVE_ROLES.has(role)) problems.push('SELF_APPROVED');
  if (g.category === 'prior_authorization') {
    if (missingPriorAuthorizationFields({ ...g, methods: [...g.methods], expiresAt: g.expiresAt || null }).length) problems.push('MISSING_REQUIRED_FIELD');
  }
  if (a.at < g.notBefore) problems.push('GRANT_NOT_YET_VALID');
  if (a.at >= g.expiresAt) problems.push('GRANT_EXPIRED');
  if (revoked(g, a.at, cache, bundle, current)) problems.push('GRANT_REVOKED');
  if (!inScope(g.scope, a) || !inScope(issuer.scope, a)) problems.push('SCOPE_MISMATCH');
  if (!g.methods.has(a.method)) problems.push('METHOD_NOT_COVERED');
  return problems;
}

/**
 * A revocation counts if its signer is the grant's signer, holds the grant's role with a scope
 * that covers the grant, or is the Director or Deputy Director; it takes effect at effectiveAt,
 * never before it was made.
 */
function revoked(g: Grant, at: number, cache: PolicyCache, bundle: Bundle, current: Bundle | null): boolean {
  for (const r of cache.revocationsOf(g.hash)) {
    if (at < Math.max(r.effectiveAt, r.createdAt)) continue;
    if (r.signerKeyId === g.signerKeyId) return true;
    const issuer = trustedIssuer(r.signerKeyId, bundle, current);
    if (!issuer) continue;
    if ([...issuer.roles].some((x) => EXECUTIVE_ROLES.has(x))) return true;
    const covers = (mine: readonly string[], theirs: readonly string[]) => mine.length === 0 || (theirs.length > 0 && theirs.every((t) => mine.includes(t)));
    if (issuer.roles.has(g.approverRole as Role) && covers(issuer.scope.offices, g.scope.offices)) return true;
  }
  return false;
}

function standingBasis(a: Activation, codes: readonly string[], bundle: Bundle, current: Bundle | null, why: Reasons): StandingPolicy | null {
  for (const sp of bundle.standingPolicies) {
    if (!codes.some((c) => sp.activities.has(c))) continue;
    const issuer = trustedIssuer(sp.issuerKeyId, bundle, current);
    if (!issuer) { why.add('UNTRUSTED_ISSUER'); continue; }
    if (![...issuer.roles].some((r) => mayIssue(bundle, r, sp.category))) { why.add('APPROVER_ROLE_INVALID'); continue; }
    if (!inScope(sp.scope, a) || !inScope(issuer.scope, a)) { why.add('SCOPE_MISMATCH'); continue; }
    if (!sp.methods.has(a.method)) { why.add('METHOD_NOT_COVERED'); continue; }
    return sp;
  }
  return null;
}

export function decide(a: Activation, cache: PolicyCache, decidedAt: number): DecisionJson {
  const why = new Reasons();
  const flags: ReasonCode[] = [];
  if (a.clock && !a.clock.synced) flags.push('CLOCK_UNSYNCED');
  if (a.deviceRole === 'bwc' && !a.officerId) flags.push('CAMERA_UNASSIGNED');
  const bundle = cache.bundleAt(a.at);
  const current = cache.current();
  if (bundle && decidedAt > bundle.expiresAt) flags.push('POLICY_STALE');

  const finish = (decision: DecisionJson['decision'], basis: Basis | null, main: ReasonCode[], extraClauses: string[] = []): DecisionJson => {
    const reasons = [...new Set<ReasonCode>([...main, ...flags])];
    const clauses = [...new Set([...extraClauses, ...reasons.map((r) => REASONS[r].clause)])];
    return {
      decision, basis, reasons, clauses, policyVersion: bundle?.version ?? 0, cacheAgeMs: Math.max(0, decidedAt - cache.updatedAt),
      evaluatedAt: new Date(a.at).toISOString(), decidedAt: new Date(decidedAt).toISOString(), bundleHash: bundle?.hash ?? null,
      activation: {
        cameraSerial: a.cameraSerial, officerId: a.officerId, deviceRole: a.deviceRole, trigger: a.trigger, activity: a.activity,
        purposes: [...a.purposes], method: a.method, location: a.office ? { office: a.office } : null, at: new Date(a.at).toISOString(),
        stoppedAt: a.stoppedAt ? new Date(a.stoppedAt).toISOString() : null, clock: a.clock, replayed: a.replayed,
        ...(a.clipId ? { clipId: a.clipId } : {}),
      },
    };
  };

  if (!bundle) return finish('UNAUTHORIZED', null, ['NO_POLICY', 'NO_BASIS']);
  const declared = [...(a.activity ? [a.activity] : []), ...a.purposes];

  // 1. Sole purpose First Amendment activity (BWC-2024), whatever else applies.
  if (declared.length > 0 && declared.every((c) => bundle.prohibited.has(c))) return finish('PROHIBITED', null, ['FIRST_AMENDMENT_ONLY']);

  // 2. A basis.
  const trigger = triggerBasis(a, bundle, declared, why);
  if (trigger) return finish('AUTHORIZED', { kind: 'trigger', id: trigger, category: 'directive_authorized' }, ['TRIGGER_ACTIVITY'], [categoryClause('directive_authorized')]);
  const planned = planBasis(a, cache, bundle, current, why);
  if (planned) {
    return finish('AUTHORIZED', { kind: 'plan', id: planned.plan.id, category: 'directive_authorized' }, ['PLAN_ACTIVITY', 'TRIGGER_ACTIVITY'], [categoryClause('directive_authorized')]);
  }
  for (const g of cache.grantsFor(a)) {
    const problems = grantProblems(g, a, cache, bundle, current);
    if (problems.length === 0) {
      const clauses = [categoryClause(g.category), ...(g.category === 'prior_authorization' ? ['1061.2§5.2', '1061.2§5.3'] : [])];
      return finish('AUTHORIZED', { kind: 'grant', id: g.id, category: g.category }, ['GRANT'], clauses);
    }
    why.add(...problems);
  }
  const standing = standingBasis(a, declared, bundle, current, why);
  if (standing) {
    return finish('AUTHORIZED', { kind: 'standing_policy', id: standing.id, category: standing.category }, ['STANDING_POLICY'], [categoryClause(standing.category)]);
  }
  if (a.deviceRole === 'bwc' && !a.officerId) why.add('OFFICER_NOT_ISSUED');

  // 3. Still recording, nothing declared: wait for the tag.
  if (!a.activity && a.stoppedAt === null) return finish('PENDING_CLASSIFICATION', null, ['PENDING_ACTIVITY', ...why.set]);

  // 4. Unauthorized, with every reason that applied.
  const main: ReasonCode[] = ['NO_BASIS', ...why.set];
  if (!a.activity) main.push('UNCLASSIFIED');
  return finish('UNAUTHORIZED', null, main, ['1061.2§4']);
}
