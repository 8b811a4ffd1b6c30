/** The dock's policy cache on SQLite: verified entry only, rollback refused, bounded, survives restart. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PolicyStore } from '../device/policy/store.js';
import { decide } from '../proto/decide.js';
import { grantFromSource, signPolicyObject } from '../proto/policy.js';
import { activation, DAY, fro, grantSource, iso, rawGrant, rootKey, signedBundle, stranger, T0 } from './policy.fixtures.js';
import { tempDir } from './helpers.js';

const dir = tempDir();
let n = 0;
const open = (opts: { maxObjects?: number } = {}) => PolicyStore.open(join(dir, `p${n++}.db`), { root: rootKey, now: () => T0, ...opts });
const signedGrant = (over = {}) => signPolicyObject('AuthorizationGrant', grantFromSource(grantSource(over)), fro, T0).bytes;

describe('policy store', () => {
  it('keeps verified bundles and grants across a restart; decisions are the same after reopening', () => {
    const path = join(dir, 'restart.db');
    const s1 = PolicyStore.open(path, { root: rootKey, now: () => T0 });
    expect(s1.addBundle(signedBundle()).added).toBe(true);
    expect(s1.add('AuthorizationGrant', signedGrant()).added).toBe(true);
    const a = activation({ officerId: 'O2', activity: null, at: T0 + 2 * DAY });
    const before = decide(a, s1.load(), T0 + 3 * DAY);
    s1.close();
    const s2 = PolicyStore.open(path, { root: rootKey, now: () => T0 });
    const after = decide(a, s2.load(), T0 + 3 * DAY);
    expect(after).toEqual(before);
    expect(after.decision).toBe('AUTHORIZED');
    s2.close();
  });

  it('is idempotent: the same bundle or grant twice is stored once', () => {
    const s = open();
    const b = signedBundle();
    expect(s.addBundle(b).added).toBe(true);
    expect(s.addBundle(b).added).toBe(false);
    const g = signedGrant();
    expect(s.add('AuthorizationGrant', g).added).toBe(true);
    expect(s.add('AuthorizationGrant', g).added).toBe(false);
    expect(s.load().grantsFor({ officerId: 'O2', cameraSerial: 'x', deviceId: null })).toHaveLength(1);
  });

  it('refuses an older bundle version (rollback) and records why', () => {
    const s = open();
    s.addBundle(signedBundle({ version: 7 }));
    expect(() => s.addBundle(signedBundle({ version: 6 }))).toThrow(/rollback refused/);
    expect(() => s.addBundle(signedBundle({ version: 7, officersIssued: ['O9'] }))).toThrow(/already cached with other content/);
    expect(s.rejections().map((r) => r.reason)).toEqual([expect.stringMatching(/older than the cached version 7/), expect.stringMatching(/other content/)]);
    expect(s.load().current()!.version).toBe(7);
  });

  it('never admits a bundle not signed by the root, nor a grant by a key no bundle names', () => {
    const s = open();
    expect(() => s.addBundle(signedBundle({}, fro))).toThrow(/PolicyBundle rejected: PolicyBundle is signed by key/);
    s.addBundle(signedBundle());
    expect(() => s.add('AuthorizationGrant', rawGrant({}, stranger))).toThrow(/no cached policy bundle names as an issuer/);
    expect(s.rejections()).toHaveLength(2);
    expect(s.load().bundles).toHaveLength(1);
  });

  it('is bounded, with a clear error when full', () => {
    const s = open({ maxObjects: 3 });
    s.addBundle(signedBundle());
    for (let i = 0; i < 3; i++) s.add('AuthorizationGrant', signedGrant({ id: `G${i}` }));
    expect(() => s.add('AuthorizationGrant', signedGrant({ id: 'G9' }))).toThrow(/holds 3 grants, revocations and plans, its limit/);
  });

  it('keeps superseded bundles so replayed activations are judged by the policy of their time', () => {
    const s = open();
    s.addBundle(signedBundle());
    s.addBundle(signedBundle({ version: 6, issuedAt: iso(T0 + 5 * DAY), officersIssued: ['O2'] }));
    const c = s.load();
    expect(decide(activation({ at: T0 + 2 * DAY }), c, T0 + 9 * DAY).decision).toBe('AUTHORIZED');
    expect(decide(activation({ at: T0 + 6 * DAY }), c, T0 + 9 * DAY).decision).toBe('UNAUTHORIZED');
  });
});
