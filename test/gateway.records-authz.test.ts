/**
 * Authorization paperwork under its records schedule (1061.2 §6; 4007.1): requests, approvals,
 * denials and revocations are records. A temporary schedule disposes of their content once due,
 * counted from when the gateway saw them close (a denial, a revocation, the end of the grant); a
 * pending request or a grant still in force is never disposed of, nor paperwork under a litigation
 * hold, nor paperwork the mapping does not name (unscheduled). Disposition keeps the metadata (who,
 * when, the grant hash) and records each removal in the audit log.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateKeyDir } from '../proto/keydir.js';
import { trustPublicKey } from '../proto/ed25519.js';
import { bundleFromSource, signPolicyObject, verifyBundle } from '../proto/policy.js';
import { signerFromSeed } from '../device/custody/keys.js';
import { openGatewayDb } from '../gateway/store/open.js';
import { AuditLog } from '../gateway/audit/log.js';
import { Authorizations, FACTORS, type Actor, type RequestRow } from '../gateway/authz/workflow.js';
import { Records, RecordsError } from '../gateway/records/records.js';
import { RecordsConfigSchema } from '../gateway/records/schedules.js';
import { loadOrCreateGatewayKey } from '../gateway/signer.js';
import { runBwc, tempDir } from './helpers.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 10, 9, 0, 0);

describe('authorization paperwork disposed of under its schedule', () => {
  it('takes closed, due, unheld paperwork; keeps pending requests, grants in force, held and unscheduled paperwork', async () => {
    const dir = tempDir('bwc-records-authz-');
    let now = T0;
    const clock = () => now;
    const db = await openGatewayDb(join(dir, 'gw.db'));
    const { signer } = loadOrCreateGatewayKey(join(dir, 'keys', 'gateway'));
    const audit = new AuditLog({ db, gatewayId: 'gw-1', fleet: 'f1', now: clock, signer });
    const fro = generateKeyDir(join(dir, 'issuers', 'U7'));
    const root = signerFromSeed(Buffer.alloc(32, 9));
    const bundle = verifyBundle(
      signPolicyObject(
        'PolicyBundle',
        bundleFromSource({
          version: 1,
          issuedAt: new Date(T0 - DAY).toISOString(),
          expiresAt: new Date(T0 + 400 * DAY).toISOString(),
          triggers: ['at_large_arrest'],
          issuers: [{ name: 'FRO', personId: 'U7', publicKey: fro.publicKeyHex, roles: ['FRO'] }],
        }),
        root,
      ).bytes,
      trustPublicKey(root.publicKey),
    );
    const authz = new Authorizations({
      db,
      now: clock,
      issuerKeysDir: join(dir, 'issuers'),
      bundle: () => bundle,
      deliver: async () => 0,
      audit: (q, e) => audit.append(q, { ...e, actor: `user:${e.actor}` }).then(() => undefined),
    });
    const officer = (personId: string): Actor => ({ username: `officer-${personId}`, roles: ['requester'], offices: ['SEA'], personId });
    const froActor: Actor = { username: 'fro', roles: ['approver_fro'], offices: ['SEA'], personId: 'U7' };
    const file = (who: string, hours: number) =>
      authz.request(officer(who), {
        reason: 'a witness meeting',
        purpose: 'evidence',
        methods: ['video'],
        minimization: 'room only',
        anticipated: { from: new Date(now).toISOString(), to: new Date(now + 3600_000).toISOString(), location: 'room 4' },
        expiresAt: new Date(now + hours * 3600_000).toISOString(),
      });
    const factors = { factorsConsidered: Object.keys(FACTORS) };

    const denied = await file('O-1', 2);
    await authz.deny(froActor, denied.id, { reason: 'less intrusive means' });
    const expired = await file('O-1', 2);
    await authz.approve(froActor, expired.id, factors);
    const revoked = await file('O-2', 24 * 365);
    await authz.approve(froActor, revoked.id, factors);
    await authz.revoke(froActor, revoked.id, { reason: 'cancelled' });
    const pending = await file('O-1', 24 * 365);
    const inForce = await file('O-1', 24 * 365);
    await authz.approve(froActor, inForce.id, factors);
    const held = await file('O-9', 2);
    await authz.deny(froActor, held.id, { reason: 'no' });

    const config = RecordsConfigSchema.parse({
      schedules: { paper: { type: 'temporary', retentionDays: 30, cutoff: 'verified' } },
      mapping: {
        categories: {},
        kinds: { authz_request: 'paper', authz_approval: 'paper', authz_denial: 'paper', authz_revocation: 'paper' },
      },
    });
    const records = new Records({ db, audit, config, signer, gatewayId: 'gw-1', blobPath: (sha) => join(dir, 'blobs', sha), now: clock });
    await records.placeHold({ reason: 'litigation about O-9', officerId: 'O-9' }, 'records-officer');

    now = T0 + 20 * DAY;
    expect((await records.dryRun()).paperwork).toEqual([]); // closed, not yet due
    now = T0 + 40 * DAY;
    const dry = await records.dryRun();
    expect(dry.paperwork.map((p) => [p.requestId, p.kind]).sort()).toEqual(
      [
        [denied.id, 'authz_denial'],
        [expired.id, 'authz_approval'],
        [revoked.id, 'authz_revocation'],
      ].sort(),
    );
    expect(dry.kept).toMatchObject({ 'paperwork OPEN': 2, 'paperwork HELD': 1 });

    // Unnamed kinds are unscheduled: never disposed of.
    const unscheduled = new Records({
      db,
      audit,
      config: RecordsConfigSchema.parse({ schedules: {}, mapping: { categories: {}, kinds: {} } }),
      signer,
      gatewayId: 'gw-1',
      blobPath: (s) => s,
      now: clock,
    });
    expect((await unscheduled.dryRun()).paperwork).toEqual([]);
    await expect(unscheduled.dispose(dry.hash, 'records-officer')).rejects.toMatchObject({ code: 'ELIGIBLE_SET_CHANGED' });

    const done = await records.dispose(dry.hash, 'records-officer', 'schedule paper');
    expect(done.records).toBe(3);
    expect((done.statement as { paperwork: { requestId: string }[] }).paperwork.map((p) => p.requestId).sort()).toEqual(
      [denied.id, expired.id, revoked.id].sort(),
    );
    const row = async (id: string) => (await authz.get(id))!;
    for (const id of [denied.id, expired.id, revoked.id]) {
      const r: RequestRow = await row(id);
      // Content gone…
      expect([r.reason, r.purpose, r.minimization, r.location, r.decision_note, r.factors_json, r.grant_envelope, r.revocation_envelope]).toEqual([
        '',
        '',
        '',
        '',
        null,
        null,
        null,
        null,
      ]);
      // …metadata kept.
      expect(r.disposition_id).toBe(done.dispositionId);
      expect(r.requester).toMatch(/^O-/);
      expect(r.state).not.toBe('PENDING');
    }
    expect((await row(revoked.id)).grant_hash).toMatch(/^[0-9a-f]{64}$/);
    for (const id of [pending.id, inForce.id, held.id]) {
      const r = await row(id);
      expect([r.reason, r.disposition_id]).toEqual(['a witness meeting', null]);
    }
    expect((await row(inForce.id)).grant_envelope).not.toBeNull();
    // Nothing more is due; each removal is in the audit log, and the chain verifies.
    expect((await records.dryRun()).paperwork).toEqual([]);
    await expect(records.dispose(dry.hash, 'records-officer')).rejects.toBeInstanceOf(RecordsError);
    const entries = await db.all<{ subject: string }>("SELECT subject FROM audit_log WHERE action = 'records.content_disposed'");
    expect(entries.map((e) => e.subject).sort()).toEqual([denied.id, expired.id, revoked.id].sort());
    await db.close();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'gw.pub.hex'), `${Buffer.from(signer.publicKey).toString('hex')}\n`);
    const v = runBwc(['audit', 'verify', '--db', join(dir, 'gw.db'), '--pubkey', join(dir, 'gw.pub.hex')]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  });
});
