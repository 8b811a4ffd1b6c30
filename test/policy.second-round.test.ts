/**
 * decide(), second round (DESIGN §5 "Exact inputs", "First Amendment, completely", "Whole-recording
 * coverage", "Who may authorize whom"): no recording the directives do not allow comes out
 * AUTHORIZED. One case per hole, each citing the clause it rests on.
 */
import { describe, expect, it } from 'vitest';
import { decide } from '../proto/decide.js';
import { REASONS } from '../proto/policy-vocab.js';
import {
  bundleFromSource,
  planFromSource,
  PolicyDataError,
  revocationFromSource,
  signPolicyObject,
  verifyBundle,
  verifyGrant,
  verifyPlan,
  verifyRevocation,
} from '../proto/policy.js';
import {
  activation,
  bundle,
  bundleSource,
  cache,
  DAY,
  director,
  fro,
  grant,
  hro,
  iso,
  opr,
  pb,
  plan,
  rawGrant,
  revocation,
  root,
  rootKey,
  T0,
} from './policy.fixtures.js';

const HOUR = 3_600_000;
const now = T0 + 30 * DAY;
const at = T0 + 2 * DAY;
const o2 = (over = {}) => activation({ officerId: 'O2', activity: null, at, ...over });

/** A grant signed (header created-at) at `createdAt`, bypassing authoring, so decide() alone is tested. */
function grantSignedAt(createdAt: number, over = {}, signer = fro) {
  const bytes = Buffer.from(rawGrant(over, signer));
  const env = pb.Envelope.decode(bytes);
  const body = pb.AuthorizationGrant.decode(env.body);
  return verifyGrant(signPolicyObject('AuthorizationGrant', { ...body, header: undefined }, signer, createdAt).bytes, [bundle()]);
}

describe('1061.2 §5.1: authorization before the recording (backdated grants)', () => {
  it('a grant signed today with notBefore ten days ago does not authorize a recording made five days ago: GRANT_SIGNED_AFTER_START', () => {
    const signedAt = T0 + 10 * DAY;
    const g = grantSignedAt(signedAt, {
      notBefore: iso(T0),
      expiresAt: iso(T0 + 20 * DAY),
      anticipated: { from: iso(T0), to: iso(T0 + 20 * DAY), location: 'SEA' },
    });
    const d = decide(o2({ at: T0 + 5 * DAY, stoppedAt: T0 + 5 * DAY + HOUR }), cache({ grants: [g] }), now);
    expect(d.decision).toBe('UNAUTHORIZED');
    expect(d.reasons).toContain('GRANT_SIGNED_AFTER_START');
    expect(d.clauses).toContain(REASONS.GRANT_SIGNED_AFTER_START.clause);
  });

  it("the same grant authorizes a recording that starts after it was signed, and within the bundle's clock skew before it", () => {
    const signedAt = T0 + 10 * DAY;
    const g = grantSignedAt(signedAt, {
      notBefore: iso(T0),
      expiresAt: iso(T0 + 20 * DAY),
      anticipated: { from: iso(T0), to: iso(T0 + 20 * DAY), location: 'SEA' },
    });
    const c = cache({ grants: [g] });
    expect(decide(o2({ at: signedAt + HOUR, stoppedAt: signedAt + 2 * HOUR }), c, now).decision).toBe('AUTHORIZED');
    expect(decide(o2({ at: signedAt - 4 * 60_000, stoppedAt: signedAt + HOUR }), c, now).decision).toBe('AUTHORIZED');
    expect(decide(o2({ at: signedAt - 6 * 60_000, stoppedAt: signedAt + HOUR }), c, now).reasons).toContain('GRANT_SIGNED_AFTER_START');
  });

  it("the skew is the bundle's clockSkewMs", () => {
    const signedAt = T0 + 10 * DAY;
    const b = bundle({ clockSkewMs: 60 * 60_000 });
    const g = grantSignedAt(signedAt, {
      notBefore: iso(T0),
      expiresAt: iso(T0 + 20 * DAY),
      anticipated: { from: iso(T0), to: iso(T0 + 20 * DAY), location: 'SEA' },
    });
    expect(decide(o2({ at: signedAt - 30 * 60_000, stoppedAt: signedAt }), cache({ bundles: [b], grants: [g] }), now).decision).toBe('AUTHORIZED');
  });
});

describe('1061.2 §5.1: nobody authorizes their own recording (self-approval around the edges)', () => {
  it.each([['U7 '], ['u7'], ['\u200bU7'], ['U7\u00a0']])('a requester written %j is still the approver U7: SELF_APPROVED', (requester) => {
    const g = verifyGrant(rawGrant({ requester, scope: { officers: ['O2'] } }), [bundle()]);
    const d = decide(o2(), cache({ grants: [g] }), now);
    expect(d.decision).not.toBe('AUTHORIZED');
    expect(d.reasons).toContain('SELF_APPROVED');
  });

  it("a grant whose scope names the approving officer does not authorize the approver's own recording", () => {
    const g = verifyGrant(rawGrant({ requester: 'O2', scope: { officers: ['O2', 'U7'] } }), [bundle()]);
    const d = decide(o2({ officerId: 'U7' }), cache({ grants: [g] }), now);
    expect(d.decision).not.toBe('AUTHORIZED');
    expect(d.reasons).toContain('SELF_APPROVED');
    expect(decide(o2(), cache({ grants: [g] }), now).decision).toBe('AUTHORIZED');
  });

  it("a grant with an empty officers list does not authorize the approver's own recording (in any letter case)", () => {
    const g = verifyGrant(rawGrant({ requester: 'O2', scope: { officers: [] } }), [bundle()]);
    for (const officerId of ['U7', 'u7']) {
      const d = decide(o2({ officerId }), cache({ grants: [g] }), now);
      expect(d.decision, officerId).not.toBe('AUTHORIZED');
      expect(d.reasons).toContain('SELF_APPROVED');
    }
  });

  it("a plan never covers its own issuer's recording", () => {
    const p = plan({ officers: ['O1', 'U7'] });
    const d = decide(
      activation({ officerId: 'U7', activity: null, at: T0 + 2 * DAY + HOUR }),
      cache({ plans: [p], bundles: [bundle({ officersIssued: ['O1', 'U7'] })] }),
      now,
    );
    expect(d.basis).toBeNull();
    expect(d.reasons).toContain('SELF_APPROVED');
  });

  it('the Director may still authorize their own recording (1061.2 §5.1)', () => {
    const g = grant({ requester: 'U1', approver: 'U1', approverRole: 'DIRECTOR', scope: { officers: ['U1'] } }, director);
    expect(decide(o2({ officerId: 'U1' }), cache({ grants: [g] }), now).decision).toBe('AUTHORIZED');
  });

  it('ids compare case-insensitively for scope and plans: a grant for "o2" covers officer O2', () => {
    const g = verifyGrant(rawGrant({ scope: { officers: ['o2'] } }), [bundle()]);
    expect(decide(o2(), cache({ grants: [g] }), now).decision).toBe('AUTHORIZED');
    const p = plan({ officers: ['o1'] });
    expect(decide(activation({ officerId: 'O1', activity: null, at: T0 + 2 * DAY + HOUR }), cache({ plans: [p] }), now).decision).toBe('AUTHORIZED');
  });
});

describe('DESIGN §5 exact inputs: text and codes', () => {
  it('1061.2 §5.2: a minimization text of one zero-width space is missing', () => {
    const g = verifyGrant(rawGrant({ minimization: '\u200b' }), [bundle()]);
    expect(decide(o2(), cache({ grants: [g] }), now).reasons).toContain('MISSING_REQUIRED_FIELD');
    const blankLocation = verifyGrant(rawGrant({ anticipated: { from: iso(T0 + DAY), to: iso(T0 + 10 * DAY), location: ' \u2060 ' } }), [bundle()]);
    expect(decide(o2(), cache({ grants: [blankLocation] }), now).reasons).toContain('MISSING_REQUIRED_FIELD');
  });

  it('an unknown code is kept and reported as UNKNOWN_ACTIVITY, and is no purpose of its own', () => {
    const d = decide(activation({ activity: 'at_large_arrest', purposes: ['lunch_break'] }), cache(), now);
    expect(d.decision).toBe('AUTHORIZED');
    expect(d.reasons).toContain('UNKNOWN_ACTIVITY');
    expect(d.activation?.purposes).toEqual(['lunch_break']);
  });

  it('a recording that claims to stop before it started is reviewed as malformed, never authorized', () => {
    const d = decide(activation({ stoppedAt: T0 + 2 * DAY - 1 }), cache(), now);
    expect(d.decision).toBe('UNAUTHORIZED');
    expect(d.reasons).toContain('STOPPED_BEFORE_START');
  });
});

describe('BWC-2024: First Amendment, completely', () => {
  it('a plan whose only activity is First Amendment activity makes an untagged recording PROHIBITED, not PENDING', () => {
    const p = verifyPlan(
      signPolicyObject(
        'OperationPlan',
        {
          id: 'OP-FA',
          activities: ['first_amendment_activity'],
          officers: ['O1'],
          fromMs: T0 + 2 * DAY,
          toMs: T0 + 3 * DAY,
          location: 'SEA',
        },
        fro,
        T0,
      ).bytes,
      [bundle()],
    );
    const c = cache({ plans: [p] });
    expect(decide(activation({ activity: null, at: T0 + 2 * DAY + HOUR }), c, now)).toMatchObject({
      decision: 'PROHIBITED',
      reasons: expect.arrayContaining(['FIRST_AMENDMENT_ONLY']),
    });
    expect(decide(activation({ activity: null, at: T0 + 2 * DAY + HOUR, stoppedAt: T0 + 2 * DAY + 2 * HOUR }), c, now).decision).toBe('PROHIBITED');
  });

  it.each([
    [['first_amendment_activity', 'public_interaction']],
    [['first_amendment_activity', 'lunch_break']],
    [['FIRST_AMENDMENT_ACTIVITY']],
    [['First_Amendment_Activity', 'Public_Interaction']],
  ])('%j is PROHIBITED at once, also when stopped', (codes) => {
    const [activity, ...purposes] = codes as [string, ...string[]];
    for (const stoppedAt of [null, T0 + 2 * DAY + HOUR]) {
      const d = decide(activation({ activity, purposes, stoppedAt }), cache(), now);
      expect(d.decision).toBe('PROHIBITED');
      expect(d.reasons).toContain('FIRST_AMENDMENT_ONLY');
    }
  });

  it('First Amendment activity beside a covered activity is still not sole-purpose', () => {
    expect(decide(activation({ activity: 'FIRST_AMENDMENT_ACTIVITY', purposes: ['at_large_arrest'] }), cache(), now).decision).toBe('AUTHORIZED');
  });

  it('authoring refuses a plan or a standing policy whose only activities are prohibited purposes', () => {
    expect(() => planFromSource({ id: 'OP-FA', activities: ['first_amendment_activity'], officers: ['O1'], from: iso(T0), to: iso(T0 + DAY) })).toThrow(
      /plan\.activities/,
    );
    const sp = {
      id: 'SP-FA',
      issuer: fro.publicKeyHex,
      category: 'work_duty_authorized' as const,
      activities: ['first_amendment_activity'],
      scope: {},
      methods: ['video' as const],
    };
    expect(() => bundleFromSource(bundleSource({ standingPolicies: [sp] }))).toThrow(/standingPolicies\.0\.activities/);
  });
});

describe('1061.2 §5.1, §5.2(5): a basis covers the whole recording', () => {
  it('a 400-day recording under a 7-day grant is UNAUTHORIZED, covered until the grant expired', () => {
    const g = grant({
      notBefore: iso(T0 + DAY),
      expiresAt: iso(T0 + 8 * DAY),
      anticipated: { from: iso(T0 + DAY), to: iso(T0 + 8 * DAY), location: 'SEA' },
    });
    const d = decide(o2({ at: T0 + 2 * DAY, stoppedAt: T0 + 402 * DAY }), cache({ grants: [g] }), now);
    expect(d.decision).toBe('UNAUTHORIZED');
    expect(d.reasons).toContain('GRANT_EXPIRED_DURING_RECORDING');
    expect(d.coveredUntil).toBe(iso(T0 + 8 * DAY));
  });

  it("a recording that runs past its grant's revocation is UNAUTHORIZED, covered until the revocation took effect", () => {
    const g = grant();
    const c = cache({ grants: [g], revocations: [revocation(g, T0 + 3 * DAY)] });
    const d = decide(o2({ at: T0 + 2 * DAY, stoppedAt: T0 + 3 * DAY + HOUR }), c, now);
    expect(d).toMatchObject({ decision: 'UNAUTHORIZED', coveredUntil: iso(T0 + 3 * DAY) });
    expect(d.reasons).toContain('GRANT_REVOKED_DURING_RECORDING');
    expect(decide(o2({ at: T0 + 2 * DAY, stoppedAt: T0 + 3 * DAY }), c, now).decision).toBe('AUTHORIZED');
  });

  it("a recording that runs past its plan's window is UNAUTHORIZED with PLAN_ENDED_DURING_RECORDING", () => {
    const p = plan();
    const d = decide(activation({ activity: null, at: p.from + HOUR, stoppedAt: p.to + HOUR }), cache({ plans: [p] }), now);
    expect(d).toMatchObject({ decision: 'UNAUTHORIZED', coveredUntil: iso(p.to) });
    expect(d.reasons).toContain('PLAN_ENDED_DURING_RECORDING');
  });

  it("a bundle that drops the grant's issuer during the recording ends its cover", () => {
    const g = grant();
    const v6 = bundle({
      version: 6,
      issuedAt: iso(T0 + 3 * DAY),
      issuers: bundleSource().issuers!.filter((i) => i.personId !== 'U7'),
      standingPolicies: [],
    });
    const d = decide(o2({ at: T0 + 2 * DAY, stoppedAt: T0 + 4 * DAY }), cache({ bundles: [bundle(), v6], grants: [g] }), now);
    expect(d).toMatchObject({ decision: 'UNAUTHORIZED', coveredUntil: iso(T0 + 3 * DAY) });
    expect(d.reasons).toContain('GRANT_REVOKED_DURING_RECORDING');
  });

  it('a running recording carries where its basis will end; judged through that instant it is UNAUTHORIZED', () => {
    const g = grant();
    const c = cache({ grants: [g] });
    const running = decide(o2(), c, now);
    expect(running).toMatchObject({ decision: 'AUTHORIZED', coveredUntil: iso(g.expiresAt) });
    const atEnd = decide(o2(), c, now, { through: g.expiresAt });
    expect(atEnd).toMatchObject({ decision: 'UNAUTHORIZED', coveredUntil: iso(g.expiresAt) });
    expect(atEnd.reasons).toContain('GRANT_EXPIRED_DURING_RECORDING');
    expect(decide(o2(), c, now, { through: g.expiresAt - 1 }).decision).toBe('AUTHORIZED');
  });

  it('a stopped recording its basis covers to the end carries no coveredUntil', () => {
    expect(decide(o2({ stoppedAt: at + HOUR }), cache({ grants: [grant()] }), now)).toMatchObject({
      decision: 'AUTHORIZED',
      coveredUntil: null,
    });
  });
});

describe('1061.2 §5.1: the wrong people and the wrong places', () => {
  it('a standing policy from an OPA key authorizes nothing: STANDING_POLICY_ISSUER_INVALID', () => {
    // Signed without the authoring checks (an older tool): decide() must refuse it on its own.
    const src = bundleSource({
      issuers: [...bundleSource().issuers!, { name: 'OPA', personId: 'U5', publicKey: opr.publicKeyHex, roles: ['OPA' as const] }].filter(
        (i) => i.name !== 'OPR AD',
      ),
    });
    const msg = {
      ...bundleFromSource(src),
      standingPolicies: [{ id: 'SP-OPA', issuerPublicKey: opr.publicKey, category: 'opa_ope_ocr', activities: ['press_event'], scope: {}, methods: [1] }],
    };
    const b = verifyBundle(signPolicyObject('PolicyBundle', msg, root, T0).bytes, rootKey);
    const d = decide(activation({ activity: 'press_event' }), cache({ bundles: [b] }), now);
    expect(d.decision).not.toBe('AUTHORIZED');
    expect(d.reasons).toContain('STANDING_POLICY_ISSUER_INVALID');
    expect(() =>
      bundleFromSource({
        ...src,
        standingPolicies: [{ id: 'SP-OPA', issuer: opr.publicKeyHex, category: 'opa_ope_ocr', activities: ['press_event'], methods: ['video'] }],
      }),
    ).toThrow(PolicyDataError);
  });

  it("a Seattle-scoped FRO's plan does not classify New York recordings, nor one without an office", () => {
    const p = plan();
    for (const office of ['NYC', null]) {
      const d = decide(activation({ activity: null, office, at: T0 + 2 * DAY + HOUR }), cache({ plans: [p] }), now);
      expect(d.basis, String(office)).toBeNull();
      expect(d.reasons).toContain('SCOPE_MISMATCH');
    }
  });

  it('plans can be revoked like grants: PLAN_REVOKED from its effectiveAt', () => {
    const p = plan();
    const msg = revocationFromSource({ id: 'R-OP-1', revokes: p.hash, effectiveAt: iso(T0 + 2 * DAY), reason: 'operation cancelled' }, T0 + 2 * DAY);
    const r = verifyRevocation(signPolicyObject('Revocation', msg, fro, T0 + 2 * DAY).bytes, [bundle()]);
    const d = decide(activation({ activity: null, at: T0 + 2 * DAY + HOUR }), cache({ plans: [p], revocations: [r] }), now);
    expect(d.basis).toBeNull();
    expect(d.reasons).toContain('PLAN_REVOKED');
  });

  it('a physical_security grant does not authorize a BWC interview (fixed cameras only), so it cannot give it 180-day retention', () => {
    const g = grant({
      id: 'G-PS',
      category: 'physical_security',
      reason: '',
      purpose: '',
      minimization: '',
      anticipated: undefined,
      scope: { officers: ['O2'] },
    });
    const d = decide(o2({ activity: 'custodial_interview' }), cache({ grants: [g] }), now);
    expect(d.decision).not.toBe('AUTHORIZED');
    expect(d.reasons).toContain('CATEGORY_NOT_FOR_DEVICE');
    expect(decide(o2({ deviceRole: 'facility-camera' }), cache({ grants: [g] }), now).basis).toMatchObject({
      category: 'physical_security',
    });
  });

  it('1061.2 §5.3: a prior authorization naming no §5.3 factor authorizes nothing (and so never cites §5.3)', () => {
    const g = verifyGrant(rawGrant({ factorsConsidered: ['looked fine'] }), [bundle()]);
    const d = decide(o2(), cache({ grants: [g] }), now);
    expect(d.decision).not.toBe('AUTHORIZED');
    expect(d.reasons).toContain('FACTORS_NOT_CONSIDERED');
    const ok = decide(o2(), cache({ grants: [grant({ factorsConsidered: ['privacy_impact: two bystanders'] })] }), now);
    expect(ok).toMatchObject({ decision: 'AUTHORIZED' });
    expect(ok.clauses).toContain('1061.2§5.3');
  });

  it('1061.2 §5.2(4): a grant whose expiry precedes its own anticipated window authorizes nothing (GRANT_WINDOW_INVALID)', () => {
    const g = verifyGrant(rawGrant({ expiresAt: iso(T0 + 5 * DAY), anticipated: { from: iso(T0 + DAY), to: iso(T0 + 9 * DAY), location: 'SEA' } }), [bundle()]);
    expect(decide(o2(), cache({ grants: [g] }), now).reasons).toContain('GRANT_WINDOW_INVALID');
  });

  it('a bwc recording with no officer under a camera-scoped grant carries OFFICER_NOT_ISSUED and CAMERA_UNASSIGNED', () => {
    const g = grant({
      id: 'G-CAM',
      category: 'authorized_investigation',
      requester: 'O3',
      scope: { cameras: ['CAM-0042'] },
      reason: '',
      purpose: '',
      minimization: '',
      anticipated: undefined,
    });
    const d = decide(activation({ officerId: null, activity: null }), cache({ grants: [g] }), now);
    expect(d.decision).toBe('AUTHORIZED');
    expect(d.reasons).toEqual(expect.arrayContaining(['CAMERA_UNASSIGNED', 'OFFICER_NOT_ISSUED']));
  });

  it('an HRO grant is not bound to an office, so it covers a recording in any office', () => {
    const g = grant({ approver: 'U8', approverRole: 'HRO' }, hro);
    expect(decide(o2({ office: 'NYC' }), cache({ grants: [g] }), now).decision).toBe('AUTHORIZED');
  });
});

describe('every new reason code is documented with a clause', () => {
  it.each([
    'GRANT_SIGNED_AFTER_START',
    'GRANT_FILED_LATE',
    'GRANT_EXPIRED_DURING_RECORDING',
    'GRANT_REVOKED_DURING_RECORDING',
    'PLAN_ENDED_DURING_RECORDING',
    'STANDING_POLICY_ISSUER_INVALID',
    'UNKNOWN_ACTIVITY',
    'CATEGORY_NOT_FOR_DEVICE',
    'FACTORS_NOT_CONSIDERED',
    'GRANT_WINDOW_INVALID',
    'PLAN_REVOKED',
    'STOPPED_BEFORE_START',
    'DECISION_MISMATCH',
  ] as const)('%s', (code) => {
    expect(REASONS[code].clause).toMatch(/^(1061\.2§|BWC-20)/);
  });
});
