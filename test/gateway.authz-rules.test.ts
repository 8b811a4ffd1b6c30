/**
 * Two rules of the authorization workflow that the docks enforce too, so the gateway never records
 * what a dock would not honour (1061.2 §5.1):
 * - a prior authorization covers recordings after its approval, never before: the grant keeps the
 *   requested notBefore, and decide() refuses a recording before its signing (GRANT_SIGNED_AFTER_START);
 * - nobody's approval covers their own recordings; a request's times, ids and §5.2 texts are read
 *   exactly (DESIGN §5 exact inputs) and its anticipated window lies inside the grant's validity;
 * - another official of the approver's role revokes a grant only when that official's scope in
 *   the policy bundle covers every office the grant covers (the dock's rule); the approver and the
 *   Director always may.
 */
import { join } from 'node:path';
import { decide } from '../proto/decide.js';
import { MemoryPolicyCache } from '../proto/policy-cache.js';
import { describe, expect, it } from 'vitest';
import { generateKeyDir } from '../proto/keydir.js';
import { trustPublicKey } from '../proto/ed25519.js';
import { bundleFromSource, signPolicyObject, verifyBundle, verifyGrant } from '../proto/policy.js';
import { fastSignerFromSeed as signerFromSeed } from './keys.js';
import { openGatewayDb } from '../gateway/store/open.js';
import { Authorizations, AuthzError, FACTORS, type Actor } from '../gateway/authz/workflow.js';
import { tempDir } from './helpers.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 2, 3, 9, 0, 0);

describe('grants and revocations as the docks will judge them', () => {
  it('starts a grant at its approval (1061.2 §5.1), and lets another FRO revoke only a grant within its bundle scope', async () => {
    const dir = tempDir('bwc-authz-rules-');
    let now = T0;
    const db = await openGatewayDb(join(dir, 'gw.db'));
    const keys = Object.fromEntries(['U7', 'U8', 'D1'].map((p) => [p, generateKeyDir(join(dir, 'issuers', p))]));
    const root = signerFromSeed(Buffer.alloc(32, 5));
    const bundle = verifyBundle(
      signPolicyObject(
        'PolicyBundle',
        bundleFromSource({
          version: 2,
          issuedAt: new Date(T0 - DAY).toISOString(),
          expiresAt: new Date(T0 + 100 * DAY).toISOString(),
          triggers: ['at_large_arrest'],
          issuers: [
            { name: 'FRO Seattle', personId: 'U7', publicKey: keys.U7!.publicKeyHex, roles: ['FRO'], scope: { offices: ['SEA'] } },
            { name: 'FRO Seattle (deputy)', personId: 'U8', publicKey: keys.U8!.publicKeyHex, roles: ['FRO'], scope: { offices: ['SEA'] } },
            { name: 'Director', personId: 'D1', publicKey: keys.D1!.publicKeyHex, roles: ['DIRECTOR'] },
          ],
        }),
        root,
      ).bytes,
      trustPublicKey(root.publicKey),
    );
    const authz = new Authorizations({
      db,
      now: () => now,
      issuerKeysDir: join(dir, 'issuers'),
      bundle: () => bundle,
      deliver: async () => 1,
    });
    const officer: Actor = { username: 'olive', roles: ['requester'], offices: ['SEA'], personId: 'O-21' };
    const fro = (personId: string): Actor => ({ username: personId.toLowerCase(), roles: ['approver_fro'], offices: ['SEA'], personId });
    const director: Actor = { username: 'dora', roles: ['director'], offices: ['HQ'], personId: 'D1' };
    const file = (offices: string[]) =>
      authz.request(officer, {
        office: 'SEA',
        reason: 'a witness meeting',
        purpose: 'evidence',
        methods: ['video'],
        minimization: 'room only',
        anticipated: { from: new Date(T0 - 2 * 3600_000).toISOString(), to: new Date(T0 + 3600_000).toISOString(), location: 'room 4' },
        notBefore: new Date(T0 - 2 * 3600_000).toISOString(),
        expiresAt: new Date(T0 + 6 * 3600_000).toISOString(),
        scope: { officers: ['O-21'], offices },
      });
    const factors = { factorsConsidered: Object.keys(FACTORS) };

    // Filed asking for a start two hours ago; approved at T0 + 10 min: the grant starts then.
    const everywhere = await file([]);
    expect(everywhere.not_before).toBe(T0 - 2 * 3600_000);
    now = T0 + 10 * 60_000;
    const approved = await authz.approve(fro('U7'), everywhere.id, factors);
    const grant = verifyGrant(approved.request.grant_envelope!, [bundle]);
    // notBefore stays as requested (the anticipated window lies inside the grant's validity), but
    // the grant authorizes nothing before its signing less the clock skew (1061.2 §5.1).
    expect(grant.notBefore).toBe(T0 - 2 * 3600_000);
    expect(grant.createdAt).toBe(T0 + 10 * 60_000);
    expect(grant.expiresAt).toBe(T0 + 6 * 3600_000);
    const cache = new MemoryPolicyCache({ bundles: [bundle], grants: [grant], updatedAt: now });
    const recording = (at: number) => ({
      cameraSerial: 'CAM-1',
      officerId: 'O-21',
      deviceId: null,
      deviceRole: 'bwc',
      trigger: 'button',
      activity: null,
      purposes: [],
      method: 'video',
      office: 'SEA',
      at,
      stoppedAt: at + 60_000,
      clock: null,
      replayed: false,
      clipId: null,
    });
    expect(decide(recording(T0 - 3600_000), cache, now).reasons).toContain('GRANT_SIGNED_AFTER_START');
    expect(decide(recording(T0 + 10 * 60_000), cache, now).decision).toBe('AUTHORIZED');

    // A grant covering every office: the other Seattle FRO's scope does not cover it.
    const refused = await authz.revoke(fro('U8'), everywhere.id, { reason: 'no longer needed' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(AuthzError);
    expect((refused as AuthzError).code).toBe('OUT_OF_SCOPE');
    expect((refused as AuthzError).message).toMatch(
      /covers every office, beyond u8's scope in policy bundle v2 \(SEA\): the docks would not honour this revocation/,
    );
    expect((await authz.get(everywhere.id))!.state).toBe('APPROVED');
    // The Director may; so may the approver (shown on the next grant).
    expect((await authz.revoke(director, everywhere.id, { reason: 'no longer needed' })).request.state).toBe('REVOKED');

    // A grant scoped to Seattle: the other Seattle FRO revokes it.
    const seattle = await file(['SEA']);
    await authz.approve(fro('U7'), seattle.id, factors);
    expect((await authz.revoke(fro('U8'), seattle.id, { reason: 'the meeting was cancelled' })).request).toMatchObject({
      state: 'REVOKED',
      revoked_by: 'u8',
    });
    const own = await file([]);
    await authz.approve(fro('U7'), own.id, factors);
    expect((await authz.revoke(fro('U7'), own.id, { reason: 'done' })).request.state).toBe('REVOKED');
    await db.close();
  });

  it('1061.2 §5.1, §5.2: refuses to approve a request scoped to the approver, and files only exact, articulated requests', async () => {
    const dir = tempDir('bwc-authz-exact-');
    const db = await openGatewayDb(join(dir, 'gw.db'));
    const keys = Object.fromEntries(['U7', 'D1'].map((p) => [p, generateKeyDir(join(dir, 'issuers', p))]));
    const root = signerFromSeed(Buffer.alloc(32, 6));
    const bundle = verifyBundle(
      signPolicyObject(
        'PolicyBundle',
        bundleFromSource({
          version: 2,
          issuedAt: new Date(T0 - DAY).toISOString(),
          expiresAt: new Date(T0 + 100 * DAY).toISOString(),
          triggers: ['at_large_arrest'],
          issuers: [
            { name: 'FRO Seattle', personId: 'U7', publicKey: keys.U7!.publicKeyHex, roles: ['FRO'], scope: { offices: ['SEA'] } },
            { name: 'Director', personId: 'D1', publicKey: keys.D1!.publicKeyHex, roles: ['DIRECTOR'] },
          ],
        }),
        root,
      ).bytes,
      trustPublicKey(root.publicKey),
    );
    const authz = new Authorizations({
      db,
      now: () => T0,
      issuerKeysDir: join(dir, 'issuers'),
      bundle: () => bundle,
      deliver: async () => 1,
    });
    const officer: Actor = { username: 'olive', roles: ['requester'], offices: ['SEA'], personId: 'O-21' };
    const fro: Actor = { username: 'u7', roles: ['approver_fro'], offices: ['SEA'], personId: 'U7' };
    const base = {
      office: 'SEA',
      reason: 'a witness meeting',
      purpose: 'evidence',
      methods: ['video'],
      minimization: 'room only',
      anticipated: { from: new Date(T0 + 3600_000).toISOString(), to: new Date(T0 + 2 * 3600_000).toISOString(), location: 'room 4' },
      expiresAt: new Date(T0 + 6 * 3600_000).toISOString(),
    };
    const refusal = async (over: Record<string, unknown>) =>
      authz.request(officer, { ...base, ...over }).then(
        () => null,
        (e: unknown) => e as AuthzError,
      );
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ expiresAt: '2026-03-03T15:00:00' }, /^expiresAt: .*RFC 3339 time with an explicit offset/],
      [{ expiresAt: '1' }, /^expiresAt: .*RFC 3339/],
      [{ anticipated: { ...base.anticipated, from: 'Mar 3 2026 10:00' } }, /^anticipated\.from: .*RFC 3339/],
      [{ minimization: '\u200b' }, /^minimization: is required \(1061\.2 §5\.2\(3\)\)/],
      [{ anticipated: { ...base.anticipated, location: ' \t' } }, /^anticipated\.location: is required/],
      [{ scope: { officers: ['O-21 '] } }, /^scope\.officers\.0: must be an id/],
      [{ expiresAt: new Date(T0 + 1.5 * 3600_000).toISOString() }, /^anticipated\.to: is after expiresAt/],
    ];
    for (const [over, message] of cases) {
      const e = await refusal(over);
      expect(e, JSON.stringify(over)).toBeInstanceOf(AuthzError);
      expect(e!.code).toBe('BAD_INPUT');
      expect(e!.message).toMatch(message);
    }
    // A request whose scope names the approving FRO (in any letter case) is never approved by that FRO.
    const scoped = await authz.request(officer, { ...base, scope: { officers: ['O-21', 'u7'] } });
    const e = await authz.approve(fro, scoped.id, { factorsConsidered: Object.keys(FACTORS) }).then(
      () => null,
      (x: unknown) => x as AuthzError,
    );
    expect(e).toBeInstanceOf(AuthzError);
    expect(e!.code).toBe('SELF_DECISION');
    expect(e!.message).toMatch(/covers u7, which is u7's own person id; an approver's own recordings need another official's grant \(1061\.2 §5\.1\)/);
    expect((await authz.get(scoped.id))!.state).toBe('PENDING');
    await db.close();
  });
});
