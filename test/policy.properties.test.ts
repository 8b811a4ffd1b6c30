/** decide() under fast-check: total, deterministic, and never fooled by a bad signature. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide } from '../proto/decide.js';
import { MemoryPolicyCache } from '../proto/policy-cache.js';
import { verifyGrant } from '../proto/policy.js';
import { pb } from '../proto/wire.js';
import { activation, bundle, cache, DAY, fro, grant, hro, plan, rawGrant, revocation, T0 } from './policy.fixtures.js';
import { activationFromJson } from '../proto/activation.js';
import type { Activation } from '../proto/activation.js';

const codes = fc.constantFrom(
  'at_large_arrest',
  'public_interaction',
  'undercover_operation',
  'first_amendment_activity',
  'evidence_intake',
  'lunch',
  'search_warrant',
);
const arbActivation: fc.Arbitrary<Activation> = fc.record({
  cameraSerial: fc.constantFrom('CAM-0042', 'CAM-1', ''),
  officerId: fc.option(fc.constantFrom('O1', 'O2', 'O3', 'O9', 'U7'), { nil: null }),
  deviceId: fc.option(fc.constantFrom('DOCK-7', 'DOCK-8'), { nil: null }),
  deviceRole: fc.constantFrom('bwc', 'facility-camera', 'recorder', 'phone', 'weird'),
  trigger: fc.constantFrom('button', 'holster', 'vehicle', 'sensor', 'other'),
  activity: fc.option(codes, { nil: null }),
  purposes: fc.array(codes, { maxLength: 3 }),
  method: fc.constantFrom('video', 'audio', 'photo'),
  office: fc.option(fc.constantFrom('SEA', 'PDX'), { nil: null }),
  at: fc.integer({ min: T0 - 5 * DAY, max: T0 + 90 * DAY }),
  stoppedAt: fc.option(fc.integer({ min: T0, max: T0 + 90 * DAY }), { nil: null }),
  clock: fc.option(fc.record({ synced: fc.boolean(), offsetMs: fc.integer() }), { nil: null }),
  replayed: fc.boolean(),
  clipId: fc.option(fc.string(), { nil: null }),
});

const fullCache = cache({
  grants: [
    grant(),
    grant({
      id: 'G7',
      category: 'physical_security',
      scope: { cameras: ['CAM-1'] },
      reason: '',
      purpose: '',
      minimization: '',
      anticipated: undefined,
    }),
  ],
  plans: [plan()],
});

describe('decide() properties', () => {
  it('never throws on arbitrary activations, empty or full caches, at any decision time', () => {
    const empty = new MemoryPolicyCache({ bundles: [], updatedAt: 0 });
    fc.assert(
      fc.property(arbActivation, fc.integer({ min: 0, max: T0 + 400 * DAY }), (a, now) => {
        for (const c of [empty, fullCache]) {
          const d = decide(a, c, now);
          expect(['AUTHORIZED', 'UNAUTHORIZED', 'PROHIBITED', 'PENDING_CLASSIFICATION']).toContain(d.decision);
          expect(d.reasons.length).toBeGreaterThan(0);
          expect(d.clauses.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('is deterministic: identical inputs, identical decisions', () => {
    fc.assert(
      fc.property(arbActivation, fc.integer({ min: T0, max: T0 + 100 * DAY }), (a, now) => {
        expect(decide({ ...a }, fullCache, now)).toEqual(decide({ ...a }, fullCache, now));
      }),
      { numRuns: 500 },
    );
  });

  it('a grant whose signature does not verify under a trusted key never yields AUTHORIZED', () => {
    // Signed and verified once: every run flips bits in a copy of the same genuine grant.
    const genuine = rawGrant({ scope: {} });
    const bundles = [bundle()];
    expect(verifyGrant(genuine, bundles).id).toBe('G6');
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const env = pb.Envelope.decode(Buffer.from(genuine));
        const sig = Buffer.from(env.sig);
        sig[at % 64]! ^= xor;
        const forged = pb.Envelope.encode({ ...env, sig }).finish();
        expect(() => verifyGrant(forged, bundles)).toThrow();
      }),
      { numRuns: 200 },
    );
  });

  it('an unscoped grant is the only basis for an officer with no trigger, and it stops authorizing once outside its window', () => {
    const g = grant({ id: 'G-ANY', scope: {}, requester: 'O3' });
    const c = cache({ grants: [g] });
    fc.assert(
      fc.property(fc.integer({ min: T0, max: T0 + 20 * DAY }), (at) => {
        const d = decide(activation({ officerId: 'O9', activity: null, at, stoppedAt: at + 1 }), c, at);
        const inWindow = at >= g.notBefore && at < g.expiresAt;
        expect(d.decision === 'AUTHORIZED').toBe(inWindow);
      }),
      { numRuns: 300 },
    );
  });
});

describe('decide() properties, second round (DESIGN §5)', () => {
  const officers = fc.constantFrom('O1', 'O2', 'o2', 'U7', 'u7', 'U7 ', 'U8', 'U1');
  const arbGrantOver = fc.record({
    requester: officers,
    scopeOfficers: fc.array(officers, { maxLength: 3 }),
    signer: fc.constantFrom('fro', 'hro'),
  });

  it('1061.2 §5.1: no grant ever authorizes a recording by its own approver (FRO, HRO), whatever its scope or requester says', () => {
    const bundles = [bundle()]; // the same signed bundle every run: verified once
    fc.assert(
      fc.property(arbGrantOver, fc.integer({ min: T0 + DAY, max: T0 + 9 * DAY }), fc.constantFrom('U7', 'u7', 'U8', 'u8'), (o, at, officerId) => {
        const [signer, approver, role] = o.signer === 'fro' ? ([fro, 'U7', 'FRO'] as const) : ([hro, 'U8', 'HRO'] as const);
        const g = verifyGrant(rawGrant({ requester: o.requester, approver, approverRole: role, scope: { officers: o.scopeOfficers } }, signer), bundles);
        const d = decide(activation({ officerId, activity: null, at, office: 'SEA' }), cache({ bundles, grants: [g] }), at);
        if (officerId.toLowerCase() === approver.toLowerCase()) expect(d.decision).not.toBe('AUTHORIZED');
      }),
      { numRuns: 400 },
    );
  });

  it('the decision is the same under any TZ: times are read from their explicit offsets only', () => {
    const zones = ['UTC', 'America/Los_Angeles', 'Asia/Kolkata', 'Pacific/Chatham', 'America/St_Johns'];
    const saved = process.env.TZ;
    try {
      // The grant and bundle are read under each zone too, once per zone (their bytes never change).
      const caches = new Map(
        zones.map((tz) => {
          process.env.TZ = tz;
          return [tz, cache({ grants: [grant()] })] as const;
        }),
      );
      fc.assert(
        fc.property(fc.integer({ min: T0, max: T0 + 20 * DAY }), fc.integer({ min: -14 * 60, max: 14 * 60 }), fc.boolean(), (at, offsetMin, withOffset) => {
          const local = new Date(at + offsetMin * 60_000).toISOString().slice(0, 19);
          const sign = offsetMin < 0 ? '-' : '+';
          const abs = Math.abs(offsetMin);
          const text = withOffset ? `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}` : local;
          const outcomes = zones.map((tz) => {
            process.env.TZ = tz;
            try {
              const a = activationFromJson({
                cameraSerial: 'CAM-0042',
                officerId: 'O2',
                trigger: 'button',
                at: text,
                location: { office: 'SEA' },
              });
              return JSON.stringify(decide(a, caches.get(tz)!, T0 + 30 * DAY));
            } catch (e) {
              return `refused: ${(e as Error).message}`;
            }
          });
          expect(new Set(outcomes).size).toBe(1);
          if (!withOffset) expect(outcomes[0]).toMatch(/^refused: .*at: .*RFC 3339/);
        }),
        { numRuns: 200 },
      );
    } finally {
      process.env.TZ = saved;
    }
  });

  it('1061.2 §5.2(5): a basis covers [at, stoppedAt], or the decision says where its cover stopped', () => {
    const g = grant();
    const p = plan();
    const r = revocation(g, T0 + 6 * DAY);
    const c = cache({ grants: [g], plans: [p], revocations: [r] });
    fc.assert(
      fc.property(fc.integer({ min: T0, max: T0 + 12 * DAY }), fc.integer({ min: 0, max: 8 * DAY }), fc.constantFrom('O1', 'O2'), (at, length, officerId) => {
        const stoppedAt = at + length;
        const d = decide(activation({ officerId, activity: null, at, stoppedAt }), c, stoppedAt);
        if (d.decision === 'AUTHORIZED') {
          const end = d.basis?.kind === 'grant' ? Math.min(g.expiresAt, r.effectiveAt) : p.to;
          expect(stoppedAt).toBeLessThanOrEqual(end);
          expect(at).toBeGreaterThanOrEqual(d.basis?.kind === 'grant' ? g.notBefore : p.from);
        } else if (d.coveredUntil) {
          const until = Date.parse(d.coveredUntil);
          expect(until).toBeGreaterThan(at);
          expect(until).toBeLessThan(stoppedAt);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
