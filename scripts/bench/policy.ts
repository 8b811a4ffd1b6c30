/**
 * `npm run bench -- policy`: decide() with 10,000 cached grants and 100 triggers (target p99 < 1 ms),
 * and decisions per second. The grants are real signed grants, verified into the cache; the
 * activations mix triggers, grants that match, grants that fail, and pending ones.
 */
import { signerFromSeed } from '../../device/custody/keys.js';
import { decide } from '../../proto/decide.js';
import { MemoryPolicyCache } from '../../proto/policy-cache.js';
import type { Activation } from '../../proto/activation.js';
import { bundleFromSource, signPolicyObject, verifyBundle, type Grant } from '../../proto/policy.js';
import { trustPublicKey } from '../../proto/ed25519.js';
import { limitRow, now, quantile, row, type Benchmark } from './harness.js';

const GRANTS = 10_000;
const TRIGGERS = 100;
const DECISIONS = 20_000;
const LIMIT_MS = 1;

export const policy: Benchmark = {
  name: 'policy',
  summary: 'decide() p50/p99 with 10,000 grants and 100 triggers (p99 < 1 ms), decisions per second',
  async run(ctx) {
    const root = signerFromSeed(Buffer.alloc(32, 1));
    const fro = signerFromSeed(Buffer.alloc(32, 2));
    const t0 = Date.parse('2026-11-01T00:00:00Z');
    const day = 86_400_000;
    const triggers = Array.from({ length: TRIGGERS }, (_, i) => `activity_${i}`);
    const officers = Array.from({ length: 2000 }, (_, i) => `O${i}`);
    const bundle = verifyBundle(
      signPolicyObject(
        'PolicyBundle',
        bundleFromSource({
          version: 1,
          issuedAt: new Date(t0).toISOString(),
          expiresAt: new Date(t0 + 365 * day).toISOString(),
          triggers,
          officersIssued: officers,
          issuers: [{ name: 'FRO', personId: 'U7', publicKey: fro.publicKeyHex, roles: ['FRO'] }],
        }),
        root,
      ).bytes,
      trustPublicKey(root.publicKey),
    );
    ctx.progress(`policy: building ${GRANTS} grants…`);
    // Grants are built in their checked shape (what the cache holds after verification); signing and
    // verifying 10,000 of them is the store's cost at sync time, not decide()'s.
    const grants: Grant[] = Array.from({ length: GRANTS }, (_, i) => ({
      hash: i.toString(16).padStart(64, '0'),
      signerKeyId: fro.keyId,
      id: `G${i}`,
      category: i % 2 ? 'prior_authorization' : 'physical_security',
      requester: officers[i % officers.length]!,
      approver: 'U7',
      approverRole: 'FRO',
      scope: { officers: [officers[i % officers.length]!], cameras: [], devices: [], offices: [] },
      methods: new Set(['video']),
      notBefore: t0 + (i % 30) * day,
      expiresAt: t0 + ((i % 30) + 5) * day,
      reason: 'r',
      purpose: 'p',
      minimization: 'm',
      anticipated: { from: t0 + (i % 30) * day, to: t0 + ((i % 30) + 5) * day, location: 'SEA' },
      factorsConsidered: ['reason_need', 'tailored'],
      createdAt: t0,
    }));
    // A second bundle issued mid-way, and revocations of every tenth grant: the whole-recording
    // coverage checks (DESIGN §5) walk both.
    const bundle2 = verifyBundle(
      signPolicyObject(
        'PolicyBundle',
        bundleFromSource({
          version: 2,
          issuedAt: new Date(t0 + 20 * day).toISOString(),
          expiresAt: new Date(t0 + 365 * day).toISOString(),
          triggers,
          officersIssued: officers,
          issuers: [{ name: 'FRO', personId: 'U7', publicKey: fro.publicKeyHex, roles: ['FRO'] }],
        }),
        root,
      ).bytes,
      trustPublicKey(root.publicKey),
    );
    const revocations = grants
      .filter((_, i) => i % 10 === 0)
      .map((g, i) => ({
        hash: `r${i}`.padStart(64, '0'),
        signerKeyId: fro.keyId,
        id: `R${i}`,
        revokes: g.hash,
        effectiveAt: g.notBefore + 2 * day,
        reason: 'r',
        createdAt: g.notBefore,
      }));
    const cache = new MemoryPolicyCache({ bundles: [bundle, bundle2], grants, revocations, updatedAt: t0 });
    const activations: Activation[] = Array.from({ length: 1000 }, (_, i) => ({
      cameraSerial: `CAM-${i}`,
      officerId: officers[(i * 7) % officers.length]!,
      deviceId: 'DOCK-1',
      deviceRole: 'bwc',
      trigger: 'button',
      activity: i % 3 === 0 ? triggers[i % TRIGGERS]! : i % 3 === 1 ? null : 'not_a_trigger',
      purposes: [],
      method: i % 5 ? 'video' : 'audio',
      office: 'SEA',
      at: t0 + (i % 40) * day,
      stoppedAt: i % 2 ? t0 + (i % 40) * day + (i % 4 === 1 ? 3 * day : 60_000) : null,
      clock: { synced: true, offsetMs: 0 },
      replayed: false,
      clipId: null,
    }));
    const decisionTime = t0 + 41 * day;
    for (let i = 0; i < 2000; i++) decide(activations[i % activations.length]!, cache, decisionTime); // warm up
    ctx.progress(`policy: ${DECISIONS} decisions…`);
    const times: number[] = [];
    const counts: Record<string, number> = {};
    const start = now();
    for (let i = 0; i < DECISIONS; i++) {
      const t = now();
      const d = decide(activations[i % activations.length]!, cache, decisionTime);
      times.push(now() - t);
      counts[d.decision] = (counts[d.decision] ?? 0) + 1;
    }
    const total = now() - start;
    const p50 = quantile(times, 0.5);
    const p99 = quantile(times, 0.99);
    return {
      rows: [
        limitRow(`decide() p99 with ${GRANTS} grants, ${TRIGGERS} triggers`, p99, LIMIT_MS, 'ms'),
        row('decide() throughput', DECISIONS / (total / 1000), null, 'decisions/s', null),
      ],
      notes: [
        `p50 ${(p50 * 1000).toFixed(1)} µs, p99 ${(p99 * 1000).toFixed(1)} µs, max ${(Math.max(...times) * 1000).toFixed(1)} µs; outcomes ${JSON.stringify(counts)}`,
      ],
      details: { grants: GRANTS, triggers: TRIGGERS, decisions: DECISIONS, p50Ms: p50, p99Ms: p99, outcomes: counts },
    };
  },
};
