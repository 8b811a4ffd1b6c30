/** decide(): one named case per rule and reason code, citing the clause it rests on. */
import { describe, expect, it } from 'vitest';
import { decide } from '../proto/decide.js';
import { CATEGORIES, DEFAULT_CATEGORY_ISSUERS, DEFAULT_TRIGGERS, REASONS, type Category } from '../proto/policy-vocab.js';
import { verifyGrant } from '../proto/policy.js';
import { activation, bundle, cache, DAY, director, fro, grant, hro, opr, plan, rawGrant, revocation, T0, iso } from './policy.fixtures.js';

const now = T0 + 3 * DAY;

describe('BWC policy 2024: triggers, exclusions, First Amendment', () => {
  it.each(DEFAULT_TRIGGERS.filter((t) => t !== 'public_interaction'))('authorizes the trigger %s for an issued officer on a BWC', (t) => {
    const d = decide(activation({ activity: t }), cache(), now);
    expect(d).toMatchObject({
      decision: 'AUTHORIZED',
      basis: { kind: 'trigger', id: t, category: 'directive_authorized' },
      reasons: ['TRIGGER_ACTIVITY'],
    });
    expect(d.clauses).toEqual(expect.arrayContaining(['1061.2§2.1(2)', 'BWC-2024:covered-activities']));
  });

  it('BWC-2024: public interaction counts only during a listed activity', () => {
    expect(decide(activation({ activity: 'public_interaction' }), cache(), now)).toMatchObject({
      decision: 'UNAUTHORIZED',
      reasons: expect.arrayContaining(['NO_BASIS', 'PUBLIC_INTERACTION_ALONE']),
    });
    expect(decide(activation({ activity: 'public_interaction', purposes: ['search_warrant'] }), cache(), now)).toMatchObject({
      decision: 'AUTHORIZED',
      basis: { id: 'search_warrant' },
    });
  });

  it('BWC-2024: never for the sole purpose of recording First Amendment activity → PROHIBITED', () => {
    const d = decide(activation({ activity: 'first_amendment_activity' }), cache(), now);
    expect(d).toMatchObject({
      decision: 'PROHIBITED',
      basis: null,
      reasons: ['FIRST_AMENDMENT_ONLY'],
      clauses: ['BWC-2024:first-amendment'],
    });
    expect(decide(activation({ activity: null, purposes: ['first_amendment_activity'] }), cache(), now).decision).toBe('PROHIBITED');
  });

  it('BWC-2024: PROHIBITED whatever else applies, even a grant covering the officer', () => {
    const c = cache({ grants: [grant()] });
    expect(decide(activation({ officerId: 'O2', activity: 'first_amendment_activity', at: T0 + 2 * DAY }), c, now).decision).toBe('PROHIBITED');
  });

  it('BWC-2024: First Amendment activity alongside a covered activity is not sole-purpose', () => {
    expect(decide(activation({ activity: 'at_large_arrest', purposes: ['first_amendment_activity'] }), cache(), now).decision).toBe('AUTHORIZED');
  });

  it('BWC-2024: excluded investigative activities get no trigger basis (EXCLUDED_ACTIVITY)', () => {
    const d = decide(activation({ activity: 'undercover_operation' }), cache(), now);
    expect(d).toMatchObject({ decision: 'UNAUTHORIZED', reasons: expect.arrayContaining(['NO_BASIS', 'EXCLUDED_ACTIVITY']) });
    expect(d.clauses).toContain(REASONS.EXCLUDED_ACTIVITY.clause);
  });

  it('1061.2 §2.1(8): a grant may still authorize an excluded activity (undercover investigation)', () => {
    const g = grant({
      id: 'G-UC',
      category: 'authorized_investigation',
      requester: 'O1',
      scope: { officers: ['O1'] },
      notBefore: iso(T0),
      reason: '',
      purpose: '',
      minimization: '',
      anticipated: undefined,
    });
    const d = decide(activation({ activity: 'undercover_operation' }), cache({ grants: [g] }), now);
    expect(d).toMatchObject({ decision: 'AUTHORIZED', basis: { kind: 'grant', id: 'G-UC', category: 'authorized_investigation' } });
    expect(d.clauses).toContain('1061.2§2.1(8)');
  });

  it('NOT_A_TRIGGER for an activity the bundle does not list', () => {
    expect(decide(activation({ activity: 'lunch_break' }), cache(), now)).toMatchObject({
      decision: 'UNAUTHORIZED',
      reasons: expect.arrayContaining(['NO_BASIS', 'NOT_A_TRIGGER']),
    });
  });

  it('OFFICER_NOT_ISSUED: the trigger basis needs an officer issued a BWC', () => {
    expect(decide(activation({ officerId: 'O9' }), cache(), now)).toMatchObject({
      decision: 'UNAUTHORIZED',
      reasons: expect.arrayContaining(['OFFICER_NOT_ISSUED']),
    });
  });

  it('CAMERA_UNASSIGNED: a BWC with no assignment is never given a guessed officer', () => {
    const d = decide(activation({ officerId: null }), cache(), now);
    expect(d.decision).toBe('UNAUTHORIZED');
    expect(d.reasons).toEqual(expect.arrayContaining(['CAMERA_UNASSIGNED', 'OFFICER_NOT_ISSUED', 'NO_BASIS']));
  });

  it('DEVICE_NOT_BWC: triggers apply to body-worn cameras only', () => {
    expect(decide(activation({ deviceRole: 'facility-camera' }), cache(), now)).toMatchObject({
      decision: 'UNAUTHORIZED',
      reasons: expect.arrayContaining(['DEVICE_NOT_BWC']),
    });
  });
});

describe('classification: pending, unclassified, plans', () => {
  it('PENDING_CLASSIFICATION while recording with no activity declared', () => {
    expect(decide(activation({ activity: null }), cache(), now)).toMatchObject({
      decision: 'PENDING_CLASSIFICATION',
      reasons: ['PENDING_ACTIVITY'],
    });
  });

  it('UNCLASSIFIED: still untagged at stop → UNAUTHORIZED (1061.2 §4.4 review after the grace period)', () => {
    const d = decide(activation({ activity: null, stoppedAt: T0 + 2 * DAY + 60_000 }), cache(), now);
    expect(d).toMatchObject({ decision: 'UNAUTHORIZED', reasons: expect.arrayContaining(['NO_BASIS', 'UNCLASSIFIED']) });
    expect(d.clauses).toContain('1061.2§4.4');
  });

  it('re-decided when tagged later: the same clip becomes AUTHORIZED', () => {
    const a = activation({ activity: null, stoppedAt: T0 + 2 * DAY + 60_000 });
    expect(decide(a, cache(), now).decision).toBe('UNAUTHORIZED');
    expect(decide({ ...a, activity: 'removal_order' }, cache(), now).decision).toBe('AUTHORIZED');
  });

  it('a pre-planned operation classifies an untagged activation of a listed officer inside its window, citing the plan', () => {
    const d = decide(activation({ activity: null, at: T0 + 2 * DAY + 3_600_000 }), cache({ plans: [plan()] }), now);
    expect(d).toMatchObject({
      decision: 'AUTHORIZED',
      basis: { kind: 'plan', id: 'OP-1' },
      reasons: expect.arrayContaining(['PLAN_ACTIVITY']),
    });
  });

  it('a plan does not apply outside its window, to an unlisted officer, or when an activity was declared', () => {
    const c = cache({ plans: [plan()] });
    expect(decide(activation({ activity: null, at: T0 + 4 * DAY }), c, now)).toMatchObject({
      decision: 'PENDING_CLASSIFICATION',
      reasons: expect.arrayContaining(['PLAN_OUTSIDE_WINDOW']),
    });
    expect(decide(activation({ activity: null, officerId: 'O3', at: T0 + 2 * DAY + 3_600_000 }), c, now).decision).toBe('PENDING_CLASSIFICATION');
    expect(decide(activation({ activity: 'lunch_break', at: T0 + 2 * DAY + 3_600_000 }), c, now).decision).toBe('UNAUTHORIZED');
  });
});

describe('1061.2 §5: authorization grants', () => {
  const at = T0 + 2 * DAY;
  const o2 = (over = {}) => activation({ officerId: 'O2', activity: null, at, ...over });

  it('1061.2 §5.1: a prior authorization with every §5.2 field, approved by an FRO, authorizes in scope', () => {
    const d = decide(o2(), cache({ grants: [grant()] }), now);
    expect(d).toMatchObject({
      decision: 'AUTHORIZED',
      basis: { kind: 'grant', id: 'G6', category: 'prior_authorization' },
      reasons: ['GRANT'],
    });
    expect(d.clauses).toEqual(expect.arrayContaining(['1061.2§5.1', '1061.2§5.2', '1061.2§5.3']));
  });

  it.each(CATEGORIES.map((c) => [c] as const))('1061.2 §2.1: a grant of category %s by a role that may issue it authorizes', (category: Category) => {
    const allowed = DEFAULT_CATEGORY_ISSUERS[category];
    const [signer, role, person] = allowed.includes('FRO')
      ? ([fro, 'FRO', 'U7'] as const)
      : allowed.includes('OPR')
        ? ([opr, 'OPR', 'U9'] as const)
        : ([director, 'DIRECTOR', 'U1'] as const);
    const g = grant({ id: `G-${category}`, category, approver: person, approverRole: role }, signer);
    // DESIGN §2 table: physical security is for fixed cameras only.
    const deviceRole = category === 'physical_security' ? 'facility-camera' : 'bwc';
    expect(decide(o2({ deviceRole }), cache({ grants: [g] }), now)).toMatchObject({
      decision: 'AUTHORIZED',
      basis: { kind: 'grant', category, hash: g.hash },
    });
  });

  it('GRANT_NOT_YET_VALID before notBefore, GRANT_EXPIRED from expiresAt', () => {
    const c = cache({ grants: [grant()] });
    expect(decide(o2({ at: T0 + 1 }), c, now)).toMatchObject({
      decision: 'PENDING_CLASSIFICATION',
      reasons: expect.arrayContaining(['GRANT_NOT_YET_VALID']),
    });
    expect(decide(o2({ at: T0 + 10 * DAY, stoppedAt: T0 + 10 * DAY + 1 }), c, now)).toMatchObject({
      decision: 'UNAUTHORIZED',
      reasons: expect.arrayContaining(['GRANT_EXPIRED']),
    });
  });

  it("GRANT_REVOKED from the revocation's effectiveAt, not before", () => {
    const g = grant();
    const c = cache({ grants: [g], revocations: [revocation(g, T0 + 3 * DAY)] });
    expect(decide(o2({ at: T0 + 2 * DAY }), c, now).decision).toBe('AUTHORIZED');
    expect(decide(o2({ at: T0 + 4 * DAY, stoppedAt: T0 + 4 * DAY + 1 }), c, now)).toMatchObject({
      decision: 'UNAUTHORIZED',
      reasons: expect.arrayContaining(['GRANT_REVOKED']),
    });
  });

  it("a revocation counts only from the grant's signer, the same role over its scope, or the Director", () => {
    const g = grant();
    const later = o2({ at: T0 + 4 * DAY, stoppedAt: T0 + 4 * DAY + 1 });
    expect(decide(later, cache({ grants: [g], revocations: [revocation(g, T0 + 3 * DAY, opr)] }), now).decision).toBe('AUTHORIZED');
    expect(decide(later, cache({ grants: [g], revocations: [revocation(g, T0 + 3 * DAY, director)] }), now).decision).toBe('UNAUTHORIZED');
  });

  it("SCOPE_MISMATCH: the grant's scope is intersected with its issuer's (FRO Seattle cannot reach Portland)", () => {
    const g = grant({ scope: { officers: ['O2'], offices: [] } });
    expect(decide(o2({ office: 'PDX' }), cache({ grants: [g] }), now)).toMatchObject({
      decision: 'PENDING_CLASSIFICATION',
      reasons: expect.arrayContaining(['SCOPE_MISMATCH']),
    });
    expect(decide(o2({ office: null }), cache({ grants: [g] }), now).reasons).toContain('SCOPE_MISMATCH');
  });

  it('METHOD_NOT_COVERED: a video grant does not cover audio', () => {
    expect(decide(o2({ method: 'audio' }), cache({ grants: [grant()] }), now).reasons).toContain('METHOD_NOT_COVERED');
  });

  it('1061.2 §5.1: SELF_APPROVED — nobody approves their own request', () => {
    const g = verifyGrant(rawGrant({ requester: 'U7', scope: { officers: ['O2'] } }), [bundle()]);
    expect(decide(o2(), cache({ grants: [g] }), now)).toMatchObject({
      decision: 'PENDING_CLASSIFICATION',
      reasons: expect.arrayContaining(['SELF_APPROVED']),
    });
  });

  it('1061.2 §5.1: the Director may approve their own request', () => {
    const g = grant({ requester: 'U1', approver: 'U1', approverRole: 'DIRECTOR', scope: { officers: ['O2'] } }, director);
    expect(decide(o2(), cache({ grants: [g] }), now).decision).toBe('AUTHORIZED');
  });

  it('APPROVER_ROLE_INVALID: an FRO cannot issue an OPR investigation; the approver must be the signer', () => {
    const wrongRole = verifyGrant(rawGrant({ category: 'opr_investigation' }), [bundle()]);
    expect(decide(o2(), cache({ grants: [wrongRole] }), now).reasons).toContain('APPROVER_ROLE_INVALID');
    const notSigner = verifyGrant(rawGrant({ approver: 'U8' }), [bundle()]);
    expect(decide(o2(), cache({ grants: [notSigner] }), now).reasons).toContain('APPROVER_ROLE_INVALID');
    const hroAsFro = verifyGrant(rawGrant({ approver: 'U8', approverRole: 'FRO' }, hro), [bundle()]);
    expect(decide(o2(), cache({ grants: [hroAsFro] }), now).reasons).toContain('APPROVER_ROLE_INVALID');
  });

  it('1061.2 §5.2: MISSING_REQUIRED_FIELD — a prior authorization without a minimization plan', () => {
    const g = verifyGrant(rawGrant({ minimization: '' }), [bundle()]);
    expect(decide(o2(), cache({ grants: [g] }), now).reasons).toContain('MISSING_REQUIRED_FIELD');
  });

  it('UNTRUSTED_ISSUER: a key the current bundle marks compromised is distrusted at every time', () => {
    const g = grant();
    const v5 = bundle();
    const v6 = bundle({
      version: 6,
      issuedAt: iso(T0 + 5 * DAY),
      issuers: [
        {
          name: 'FRO Seattle',
          personId: 'U7',
          publicKey: fro.publicKeyHex,
          roles: ['FRO'],
          scope: { offices: ['SEA'] },
          compromised: true,
        },
      ],
    });
    const d = decide(o2(), cache({ bundles: [v5, v6], grants: [g] }), now);
    expect(d.reasons).toContain('UNTRUSTED_ISSUER');
    expect(d.decision).not.toBe('AUTHORIZED');
  });

  it('a grant signed by a key no bundle names never enters the cache', async () => {
    const { stranger } = await import('./policy.fixtures.js');
    expect(() => verifyGrant(rawGrant({}, stranger), [bundle()])).toThrow(/no cached policy bundle names as an issuer/);
  });
});

describe('1061.2 §5.1: standing local policies', () => {
  it('authorize their activities within scope, citing the policy', () => {
    const d = decide(activation({ activity: 'evidence_intake', officerId: 'O3' }), cache(), now);
    expect(d).toMatchObject({ decision: 'AUTHORIZED', basis: { kind: 'standing_policy', id: 'SP-1', category: 'work_duty_authorized' } });
    expect(d.clauses).toContain('1061.2§2.1(12)');
  });

  it("do not reach outside their issuer's office", () => {
    expect(decide(activation({ activity: 'evidence_intake', office: 'PDX' }), cache(), now).reasons).toContain('SCOPE_MISMATCH');
  });
});

describe('time: the policy in force at the recording, and the flags', () => {
  it('judges a replayed activation by the bundle in force at its own time', () => {
    const v6 = bundle({ version: 6, issuedAt: iso(T0 + 5 * DAY), officersIssued: ['O2'] });
    const c = cache({ bundles: [bundle(), v6] });
    expect(decide(activation({ at: T0 + 2 * DAY, replayed: true }), c, T0 + 9 * DAY)).toMatchObject({
      decision: 'AUTHORIZED',
      policyVersion: 5,
    });
    expect(decide(activation({ at: T0 + 6 * DAY }), c, T0 + 9 * DAY)).toMatchObject({
      decision: 'UNAUTHORIZED',
      policyVersion: 6,
      reasons: expect.arrayContaining(['OFFICER_NOT_ISSUED']),
    });
  });

  it('NO_POLICY before any bundle was issued', () => {
    expect(decide(activation({ at: T0 - DAY }), cache(), now)).toMatchObject({
      decision: 'UNAUTHORIZED',
      reasons: ['NO_POLICY', 'NO_BASIS'],
      policyVersion: 0,
    });
  });

  it('POLICY_STALE: an expired bundle still decides, flagged', () => {
    const d = decide(activation(), cache(), T0 + 61 * DAY);
    expect(d.decision).toBe('AUTHORIZED');
    expect(d.reasons).toContain('POLICY_STALE');
  });

  it('CLOCK_UNSYNCED: the decision stands and is flagged for review', () => {
    const d = decide(activation({ clock: { synced: false, offsetMs: 0 } }), cache(), now);
    expect(d.decision).toBe('AUTHORIZED');
    expect(d.reasons).toContain('CLOCK_UNSYNCED');
  });

  it('reports the cache age from decidedAt and evaluatedAt from the activation', () => {
    const d = decide(activation(), cache(), now);
    expect(d.cacheAgeMs).toBe(now - T0);
    expect(d.evaluatedAt).toBe(iso(T0 + 2 * DAY));
    expect(d.decidedAt).toBe(iso(now));
  });
});

describe('every reason code is exercised and documented with a clause', () => {
  it('has a clause for each code', () => {
    for (const [code, r] of Object.entries(REASONS)) expect(r.clause, code).toMatch(/^(1061\.2§|BWC-20|4007\.1)/);
  });
});

describe('DESIGN §2: the officer is alerted, the recording is never stopped', () => {
  it('alerts on PROHIBITED, UNAUTHORIZED and PENDING with distinct patterns, and not on a clean AUTHORIZED', async () => {
    const { alertFor } = await import('../device/policy/alerts.js');
    const { pb } = await import('../proto/wire.js');
    const kinds = [
      decide(activation({ activity: 'first_amendment_activity' }), cache(), now),
      decide(activation({ activity: 'lunch' }), cache(), now),
      decide(activation({ activity: null }), cache(), now),
    ].map((d) => alertFor(d, 'c1'));
    expect(kinds.map((a) => a?.kind)).toEqual([
      pb.AlertKind.ALERT_KIND_PROHIBITED,
      pb.AlertKind.ALERT_KIND_UNAUTHORIZED,
      pb.AlertKind.ALERT_KIND_PENDING_CLASSIFICATION,
    ]);
    expect(new Set(kinds.map((a) => JSON.stringify(a?.vibrate))).size).toBe(3);
    expect(alertFor(decide(activation(), cache(), now), 'c1')).toBeNull();
    expect(alertFor(decide(activation({ clock: { synced: false, offsetMs: 0 } }), cache(), now), 'c1')?.kind).toBe(pb.AlertKind.ALERT_KIND_CLOCK_UNSYNCED);
  });
});
