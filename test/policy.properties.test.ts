/** decide() under fast-check: total, deterministic, and never fooled by a bad signature. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide } from '../proto/decide.js';
import { MemoryPolicyCache } from '../proto/policy-cache.js';
import { verifyGrant } from '../proto/policy.js';
import { pb } from '../proto/wire.js';
import { activation, bundle, cache, DAY, grant, plan, rawGrant, T0 } from './policy.fixtures.js';
import type { Activation } from '../proto/activation.js';

const codes = fc.constantFrom('at_large_arrest', 'public_interaction', 'undercover_operation', 'first_amendment_activity', 'evidence_intake', 'lunch', 'search_warrant');
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

const fullCache = cache({ grants: [grant(), grant({ id: 'G7', category: 'physical_security', scope: { cameras: ['CAM-1'] }, reason: '', purpose: '', minimization: '', anticipated: undefined })], plans: [plan()] });

describe('decide() properties', () => {
  it('never throws on arbitrary activations, empty or full caches, at any decision time', () => {
    const empty = new MemoryPolicyCache({ bundles: [], updatedAt: 0 });
    fc.assert(fc.property(arbActivation, fc.integer({ min: 0, max: T0 + 400 * DAY }), (a, now) => {
      for (const c of [empty, fullCache]) {
        const d = decide(a, c, now);
        expect(['AUTHORIZED', 'UNAUTHORIZED', 'PROHIBITED', 'PENDING_CLASSIFICATION']).toContain(d.decision);
        expect(d.reasons.length).toBeGreaterThan(0);
        expect(d.clauses.length).toBeGreaterThan(0);
      }
    }), { numRuns: 2000 });
  });

  it('is deterministic: identical inputs, identical decisions', () => {
    fc.assert(fc.property(arbActivation, fc.integer({ min: T0, max: T0 + 100 * DAY }), (a, now) => {
      expect(decide({ ...a }, fullCache, now)).toEqual(decide({ ...a }, fullCache, now));
    }), { numRuns: 500 });
  });

  it('a grant whose signature does not verify under a trusted key never yields AUTHORIZED', () => {
    fc.assert(fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), (at, xor) => {
      const bytes = Buffer.from(rawGrant({ scope: {} }));
      const env = pb.Envelope.decode(bytes);
      const sig = Buffer.from(env.sig);
      sig[at % 64]! ^= xor;
      const forged = pb.Envelope.encode({ ...env, sig }).finish();
      expect(() => verifyGrant(forged, [bundle()])).toThrow();
    }), { numRuns: 200 });
  });

  it('an unscoped grant is the only basis for an officer with no trigger, and it stops authorizing once outside its window', () => {
    const g = grant({ id: 'G-ANY', scope: {}, requester: 'O3' });
    const c = cache({ grants: [g] });
    fc.assert(fc.property(fc.integer({ min: T0, max: T0 + 20 * DAY }), (at) => {
      const d = decide(activation({ officerId: 'O9', activity: null, at, stoppedAt: at + 1 }), c, at);
      const inWindow = at >= g.notBefore && at < g.expiresAt;
      expect(d.decision === 'AUTHORIZED').toBe(inWindow);
    }), { numRuns: 300 });
  });
});
