/**
 * The audit log (DESIGN §6; gateway/README.md "Audit log") on SQLite and PostgreSQL: state changes
 * are recorded in the transaction that makes them (a refused change leaves no entry), the chain
 * and its signed checkpoints verify, and `bwc audit verify` catches an entry edited, deleted,
 * re-hashed or moved, and a truncated tail (even with the database's checkpoints deleted too, from
 * the exported checkpoint files), naming the first broken entry. Gateway replicas on one
 * PostgreSQL database append concurrently without forking the chain.
 */
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pb } from '../proto/wire.js';
import { openEnvelope, assertEnvelopeSigned } from '../proto/envelope.js';
import { trustPublicKey } from '../proto/ed25519.js';
import type { Db } from '../gateway/store/db.js';
import { openGatewayDb } from '../gateway/store/open.js';
import { AuditLog, allEntryRows } from '../gateway/audit/log.js';
import { entryFromRow, entryHash, entryHashFromDetailText, GENESIS_HASH } from '../gateway/audit/entry.js';
import { canonicalJson } from '../gateway/audit/canonical.js';
import { verifyAuditLog } from '../gateway/audit/verify.js';
import { Alerts } from '../gateway/fleet/alerts.js';
import { Fleet, FleetError } from '../gateway/fleet/registry.js';
import { ClipStore } from '../gateway/ingest/clip-store.js';
import { Ingest } from '../gateway/ingest/ingest.js';
import { GatewayMessenger } from '../gateway/messenger.js';
import { loadOrCreateGatewayKey, type GatewaySigner } from '../gateway/signer.js';
import { TestDock } from './gateway.fixtures.js';
import { startPostgres, type TestPostgres } from './pg.js';
import { runBwc, tempDir, until } from './helpers.js';
import { engines, UNIT_TIER } from './tiers.js';

const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);
const HOUR = 3600_000;

let pg: TestPostgres;
beforeAll(async () => {
  if (engines().includes('postgres')) pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  await pg?.stop();
});

interface Log {
  db: Db;
  /** What `bwc audit verify --db` takes. */
  target: string;
  audit: AuditLog;
  signer: GatewaySigner;
  keyFile: string;
  clock: { now: number };
  dir: string;
}

async function freshLog(engine: 'sqlite' | 'postgres', o: { checkpointEvery?: number; gatewayId?: string } = {}): Promise<Log> {
  const dir = tempDir('bwc-audit-');
  const target = engine === 'sqlite' ? join(dir, 'gateway.db') : await pg.newDatabase();
  const db = await openGatewayDb(target);
  const { signer } = loadOrCreateGatewayKey(join(dir, 'key'));
  const clock = { now: T0 };
  const audit = new AuditLog({
    db,
    gatewayId: o.gatewayId ?? 'gw1',
    fleet: 'f1',
    now: () => clock.now,
    signer,
    checkpointEvery: o.checkpointEvery ?? 5,
  });
  return { db, target, audit, signer, keyFile: join(dir, 'key', 'public.hex'), clock, dir };
}

/** Twelve entries (checkpoints at 5 and 10), one minute apart. */
async function twelve(l: Log): Promise<void> {
  for (let n = 1; n <= 12; n++) {
    l.clock.now += 60_000;
    await l.audit.append(l.db, {
      actor: n % 2 ? 'user:rita' : 'gateway:gw1',
      action: n % 3 ? 'test.step' : 'test.other',
      subject: `s-${n}`,
      detail: { n, note: `step ${n}` },
    });
  }
}

interface VerifyJson {
  ok: boolean;
  entries: number;
  firstBroken: { seq: number; reason: string } | null;
  problems: string[];
  warnings: string[];
  checkpoints: { verified: number; newest: { entryCount: number } | null };
}

function verifyCli(l: Log, extra: string[] = []): { code: number | null; report: VerifyJson; stderr: string } {
  const r = runBwc(['audit', 'verify', '--db', l.target, '--pubkey', l.keyFile, '--json', ...extra]);
  let report = null as unknown as VerifyJson;
  try {
    report = JSON.parse(r.stdout) as VerifyJson;
  } catch {
    // reported by the assertions below
  }
  return { code: r.code, report, stderr: r.stderr };
}

describe('entry hashes', () => {
  it('are the same whether the writer hashes the detail text it stored or the verifier the parsed entry', () => {
    const details = [
      {},
      { b: 1, a: [1, 2.5, -0.001, 1e21], z: null },
      { ü: 'naïve "quoted" \\ \u2028', nested: { y: true, x: 'é' } },
      { n: Number.MAX_SAFE_INTEGER },
    ];
    for (const [i, detail] of details.entries()) {
      const e = {
        seq: 10 + i,
        at: 1_780_000_000_123 + i,
        actor: 'user:zoë',
        action: 'x.y',
        subject: i % 2 ? '' : 'ab'.repeat(32),
        prev: GENESIS_HASH,
      };
      expect(entryHashFromDetailText(e, canonicalJson(detail)), JSON.stringify(detail)).toBe(entryHash({ ...e, detail: detail as never }));
    }
  });
});

describe.each(engines())('audit log on %s', (engine) => {
  it.skipIf(UNIT_TIER)('hashes each entry over its content and the previous hash, from 64 zeros, and signs a checkpoint every N entries', async () => {
    const l = await freshLog(engine);
    await twelve(l);
    const entries: ReturnType<typeof entryFromRow>[] = [];
    for await (const r of allEntryRows(l.db)) entries.push(entryFromRow(r));
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(entries[0]!.prev).toBe(GENESIS_HASH);
    for (let i = 1; i < entries.length; i++) expect(entries[i]!.prev).toBe(entries[i - 1]!.hash);
    // The hash an auditor recomputes from the JSON alone (gateway/audit/entry.ts).
    const e = entries[6]!;
    const { createHash } = await import('node:crypto');
    const expected = createHash('sha256')
      .update('bwc/v1/AuditEntry\n')
      .update(canonicalJson({ seq: e.seq, at: e.at, actor: e.actor, action: e.action, subject: e.subject, detail: e.detail, prev: e.prev }))
      .digest('hex');
    expect(e.hash).toBe(expected);
    expect(entryHash(e)).toBe(expected);

    const cps = (await l.audit.checkpoints()).reverse();
    expect(cps.map((c) => [c.entry_count, c.head_hash])).toEqual([
      [5, entries[4]!.hash],
      [10, entries[9]!.hash],
    ]);
    const env = openEnvelope(cps[1]!.envelope, { expectType: 'AuditCheckpoint' });
    assertEnvelopeSigned(env, trustPublicKey(l.signer.publicKey));
    const body = pb.AuditCheckpoint.decode(env.body);
    expect([Number(body.entryCount), Buffer.from(body.headHash).toString('hex'), body.header?.issuer]).toEqual([10, entries[9]!.hash, 'gw1']);

    const ok = verifyCli(l);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.report).toMatchObject({
      ok: true,
      entries: 12,
      firstBroken: null,
      checkpoints: { verified: 2, newest: { entryCount: 10 } },
    });
    expect(ok.report.warnings.join(' ')).toMatch(/entries 11–12 are not yet covered/);
    await l.db.close();
  });

  it('records fleet and ingest changes in the same transaction: a refused change leaves no entry; a repeated alert is one entry', async () => {
    const l = await freshLog(engine, { checkpointEvery: 1000 });
    const now = () => l.clock.now;
    const alerts = new Alerts(l.db, now, { log: l.audit, actor: l.audit.actor });
    const fleet = new Fleet({ db: l.db, alerts, fleet: 'f1', now, audit: l.audit });
    const dock = new TestDock('dock-1');
    await fleet.enroll('dock-1', dock.key.publicKey, 'otto');
    const refused = await fleet.enroll('dock-1', dock.key.publicKey, 'otto').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(FleetError);
    await fleet.assign('CAM-1', 'O-17', 'otto', 'operator');
    for (let i = 0; i < 3; i++) await alerts.raise({ kind: 'TAMPER', deviceId: 'dock-1', message: 'lid opened', dedupeKey: 'TAMPER|dock-1' });
    const alertId = (await alerts.list())[0]!.id;
    await alerts.acknowledge(alertId, 'sue');

    const store = await new ClipStore(join(l.dir, 'clips')).init();
    const ingest = new Ingest({
      db: l.db,
      store,
      fleet: 'f1',
      now,
      audit: l.audit,
      sealer: new GatewayMessenger({ db: l.db, signer: l.signer, gatewayId: 'gw1', fleet: 'f1', now }),
      sink: {
        publish: async () => {},
        alert: async (a) => {
          await alerts.raise(a);
        },
        accepted: async () => {},
      },
    });
    const clip = dock.clip(150_000);
    expect((await ingest.handle(dock.topic('manifest'), clip.manifest)).status).toBe('accepted');
    for (let i = 0; i < clip.chunks.length; i++) await ingest.handle(dock.topic('chunk'), dock.chunk(clip, i));

    const entries = await l.audit.entries();
    expect(entries.map((e) => [e.actor, e.action, e.subject])).toEqual([
      ['user:otto', 'device.enrolled', 'dock-1'],
      ['user:otto', 'camera.assigned', 'CAM-1'],
      ['gateway:gw1', 'alert.raised', `alert:${alertId}`],
      ['user:sue', 'alert.acknowledged', `alert:${alertId}`],
      ['device:dock-1', 'clip.manifest_stored', clip.hashHex],
      ['gateway:gw1', 'clip.verified', clip.hashHex],
    ]);
    expect(entries[4]!.detail).toMatchObject({ seq: 1, clipSha256: expect.stringMatching(/^[0-9a-f]{64}$/), byteLength: 150_000 });
    await store.close();
    await l.db.close();
  });

  describe.skipIf(UNIT_TIER)('bwc audit verify names the first broken entry', () => {
    const tamper: [string, (l: Log) => Promise<void>, number, RegExp][] = [
      [
        'an entry edited',
        async (l) => {
          await l.db.run('UPDATE audit_log SET detail_json = ? WHERE seq = 7', [canonicalJson({ n: 7, note: 'nothing happened' })]);
        },
        7,
        /entry 7: was altered/,
      ],
      [
        'an entry edited and re-hashed (the next link breaks)',
        async (l) => {
          const r = (await l.db.get<Parameters<typeof entryFromRow>[0]>('SELECT * FROM audit_log WHERE seq = 7'))!;
          const e = { ...entryFromRow(r), actor: 'user:mallory' };
          await l.db.run('UPDATE audit_log SET actor = ?, entry_hash = ? WHERE seq = 7', [e.actor, entryHash(e)]);
        },
        8,
        /entry 8: does not link to entry 7/,
      ],
      [
        'an entry deleted',
        async (l) => {
          await l.db.run('DELETE FROM audit_log WHERE seq = 4');
        },
        4,
        /entry 4: is missing/,
      ],
      [
        'two entries swapped',
        async (l) => {
          await l.db.run('UPDATE audit_log SET seq = 1000 WHERE seq = 6');
          await l.db.run('UPDATE audit_log SET seq = 6 WHERE seq = 7');
          await l.db.run('UPDATE audit_log SET seq = 7 WHERE seq = 1000');
        },
        6,
        /entry 6: was altered/,
      ],
      [
        'the tail truncated, head row rewound (a checkpoint counts 10)',
        async (l) => {
          const h = (await l.db.get<{ entry_hash: string }>('SELECT entry_hash FROM audit_log WHERE seq = 8'))!;
          await l.db.run('DELETE FROM audit_log WHERE seq > 8');
          await l.db.run('UPDATE audit_head SET seq = 8, entry_hash = ? WHERE id = 1', [h.entry_hash]);
        },
        9,
        /entry 9: is missing: the log ends at entry 8, but the checkpoint .* counts 10 entries/,
      ],
      [
        "an entry appended behind the log's back",
        async (l) => {
          const last = entryFromRow((await l.db.get<Parameters<typeof entryFromRow>[0]>('SELECT * FROM audit_log WHERE seq = 12'))!);
          const e = { seq: 13, at: last.at + 1, actor: 'user:mallory', action: 'test.step', subject: '', detail: {}, prev: last.hash };
          await l.db.run('INSERT INTO audit_log (seq, at, actor, action, subject, detail_json, prev_hash, entry_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
            13,
            e.at,
            e.actor,
            e.action,
            '',
            '{}',
            e.prev,
            entryHash(e),
          ]);
        },
        13,
        /entry 13: was added behind the log's back/,
      ],
    ];
    for (const [what, change, seq, reason] of tamper) {
      it(`${what}: exit 1, first broken entry ${seq}`, async () => {
        const l = await freshLog(engine);
        await twelve(l);
        expect(verifyCli(l).code).toBe(0);
        await change(l);
        const r = verifyCli(l);
        expect(r.code, r.stderr).toBe(1);
        expect(r.report.ok).toBe(false);
        expect(r.report.firstBroken?.seq).toBe(seq);
        expect(r.report.firstBroken?.reason).toMatch(reason);
        // The human form names it too.
        const text = runBwc(['audit', 'verify', '--db', l.target, '--pubkey', l.keyFile]);
        expect(text.code).toBe(1);
        expect(text.stdout).toContain(`first broken entry: ${seq}`);
        await l.db.close();
      });
    }

    it('a tail truncated together with the checkpoints in the database is caught by the exported checkpoint files', async () => {
      const l = await freshLog(engine);
      await twelve(l);
      const exportDir = join(l.dir, 'audit-checkpoints');
      expect((await l.audit.sweep(exportDir)).exported).toBe(2);
      expect(readdirSync(exportDir).sort()).toEqual(['000000000005-1.checkpoint.json', '000000000010-2.checkpoint.json']);
      const h = (await l.db.get<{ entry_hash: string }>('SELECT entry_hash FROM audit_log WHERE seq = 3'))!;
      await l.db.run('DELETE FROM audit_log WHERE seq > 3');
      await l.db.run('DELETE FROM audit_checkpoints');
      await l.db.run('UPDATE audit_head SET seq = 3, entry_hash = ? WHERE id = 1', [h.entry_hash]);
      // The database alone now looks whole (only a warning that nothing covers it)…
      const alone = verifyCli(l);
      expect(alone.code).toBe(0);
      expect(alone.report.warnings.join(' ')).toMatch(/no signed checkpoint/);
      // …the checkpoints kept outside it do not.
      const r = verifyCli(l, ['--checkpoints-dir', exportDir]);
      expect(r.code).toBe(1);
      expect(r.report.firstBroken).toMatchObject({ seq: 4 });
      expect(r.report.firstBroken!.reason).toMatch(/log ends at entry 3, but the checkpoint .*checkpoint\.json\) counts (5|10) entries/);
      expect(r.report.problems.filter((p) => /log ends at entry 3/.test(p))).toHaveLength(2);
      await l.db.close();
    });

    it('a checkpoint signed by another key is not trusted; one whose count and head do not match the log is caught', async () => {
      const l = await freshLog(engine);
      await twelve(l);
      const other = await freshLog('sqlite');
      await other.audit.append(other.db, { actor: 'user:eve', action: 'test.other', detail: {} }); // another log: its entry 10 differs
      await twelve(other);
      // Another gateway's checkpoint, stored as if it were ours.
      const cp = (await other.audit.checkpoints({ limit: 1 }))[0]!;
      await l.db.run('INSERT INTO audit_checkpoints (entry_count, head_hash, at, gateway_id, key_id, envelope) VALUES (?, ?, ?, ?, ?, ?)', [
        cp.entry_count,
        cp.head_hash,
        cp.at,
        cp.gateway_id,
        cp.key_id,
        cp.envelope,
      ]);
      const untrusted = verifyCli(l);
      expect(untrusted.code).toBe(1);
      expect(untrusted.report.problems.join('\n')).toMatch(/signed by key .* which is not trusted/);
      // Trusting that key too: its newest checkpoint (10 entries) names an entry whose hash differs from ours.
      const both = verifyCli(l, ['--pubkey', other.keyFile]);
      expect(both.code).toBe(1);
      expect(both.report.firstBroken).toMatchObject({ seq: 10 });
      expect(both.report.firstBroken!.reason).toMatch(/is not the entry the checkpoint/);
      await other.db.close();
      await l.db.close();
    });
  });

  it('signs a checkpoint at least hourly (the sweep), and not before', async () => {
    const l = await freshLog(engine, { checkpointEvery: 1000 });
    await l.audit.append(l.db, { actor: 'user:rita', action: 'test.step', detail: {} });
    expect((await l.audit.sweep()).signed).toBe(true); // none yet
    l.clock.now += HOUR - 1;
    await l.audit.append(l.db, { actor: 'user:rita', action: 'test.step', detail: {} });
    expect((await l.audit.sweep()).signed).toBe(false);
    l.clock.now += 1;
    expect((await l.audit.sweep()).signed).toBe(true);
    expect((await l.audit.checkpoints()).map((c) => Number(c.entry_count))).toEqual([2, 1]);
    await l.db.close();
  });

  it('refuses a detail that is not plain JSON, writing nothing', async () => {
    const l = await freshLog(engine);
    await expect(l.audit.append(l.db, { actor: 'user:rita', action: 'x', detail: { key: Buffer.from('ab') } })).rejects.toThrow(/not JSON/);
    await expect(l.audit.append(l.db, { actor: 'user:rita', action: 'x', detail: { n: Number.NaN } })).rejects.toThrow(/no JSON form/);
    expect((await l.audit.head()).seq).toBe(0);
    await l.db.close();
  });
});

describe.skipIf(!engines().includes('postgres'))('gateway replicas on one PostgreSQL database', () => {
  it('append concurrently, inside their own transactions and alone, without forking the chain', async () => {
    const url = await pg.newDatabase();
    const replicas = await Promise.all(
      ['gw-a', 'gw-b'].map(async (id, i) => {
        const db = await openGatewayDb(url);
        const { signer } = loadOrCreateGatewayKey(join(tempDir(), 'key'));
        const audit = new AuditLog({ db, gatewayId: id, fleet: 'f1', signer, checkpointEvery: 7 });
        return { id, db, signer, audit, alerts: new Alerts(db, Date.now, { log: audit, actor: audit.actor }), i };
      }),
    );
    const work: Promise<unknown>[] = [];
    for (const r of replicas) {
      for (let n = 0; n < 5; n++) {
        // A state change and its entry in one SERIALIZABLE transaction…
        work.push(r.alerts.raise({ kind: 'TAMPER', deviceId: `dock-${n}`, message: `from ${r.id}`, dedupeKey: `${r.id}|${n}` }));
        // …and entries on their own (API requests).
        work.push(r.audit.append(r.db, { actor: `gateway:${r.id}`, action: 'test.alone', detail: { n } }));
      }
    }
    await Promise.all(work);
    const db = replicas[0]!.db;
    const rows: ReturnType<typeof entryFromRow>[] = [];
    for await (const r of allEntryRows(db)) rows.push(entryFromRow(r));
    expect(rows.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM alerts'))!.n)).toBe(10);
    const cps = await db.all<{ entry_count: number; gateway_id: string; envelope: Buffer; certificate: null }>('SELECT * FROM audit_checkpoints ORDER BY id');
    expect(cps.map((c) => Number(c.entry_count))).toEqual([7, 14]);
    const report = await verifyAuditLog(
      rows,
      cps.map((c) => ({ source: 'db', checkpoint: { envelope: Buffer.from(c.envelope).toString('base64'), certificate: null } })),
      { keys: replicas.map((r) => trustPublicKey(r.signer.publicKey)) },
    );
    expect(report).toMatchObject({ ok: true, entries: 20, firstBroken: null, checkpoints: { verified: 2 } });
    for (const r of replicas) await r.db.close();
  });

  it("keep appending under contention: a transaction loses to another replica's append at most once", async () => {
    // The transaction takes its snapshot, and inside that window the other replica appends, every
    // time. Retried optimistically, it would lose every time and give up; its re-run takes the audit
    // head's lock before its snapshot, so the other replica's next append waits for it instead.
    const url = await pg.newDatabase();
    const [a, b] = await Promise.all(
      ['gw-a', 'gw-b'].map(async (id) => {
        const db = await openGatewayDb(url);
        return { id, db, audit: new AuditLog({ db, gatewayId: id, fleet: 'f1', checkpointEvery: 1000 }) };
      }),
    );
    /** Sessions of this database waiting for a lock another one holds. */
    const lockWaits = async () =>
      Number((await b!.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"))!.n);
    const windows: string[] = []; // what the other replica's append did inside each run's window
    const others: Promise<string>[] = [];
    let attempts = 0;
    await a!.db.tx(async (q) => {
      attempts++;
      await q.get('SELECT COUNT(*) AS n FROM manifests'); // the snapshot is taken here
      const other = b!.audit.append(b!.db, { actor: `gateway:${b!.id}`, action: 'test.contended', detail: { n: attempts } }).then(
        () => 'committed',
        (e: Error) => `failed: ${e.message}`,
      );
      others.push(other);
      let outcome: string | undefined;
      void other.then((o) => (outcome = o));
      windows.push(
        await until("the other replica's append done, or waiting for the audit head", async () => outcome ?? ((await lockWaits()) > 0 ? 'waiting' : undefined)),
      );
      await a!.audit.append(q, { actor: `gateway:${a!.id}`, action: 'test.contended', detail: { attempts } });
    });
    expect(windows).toEqual(['committed', 'waiting']);
    expect(attempts).toBe(2);
    expect(await Promise.all(others)).toEqual(['committed', 'committed']);
    const rows: ReturnType<typeof entryFromRow>[] = [];
    for await (const row of allEntryRows(a!.db)) rows.push(entryFromRow(row));
    expect(rows.map((e) => [e.seq, e.actor])).toEqual([
      [1, 'gateway:gw-b'],
      [2, 'gateway:gw-a'],
      [3, 'gateway:gw-b'],
    ]);
    expect((await verifyAuditLog(rows, [], { keys: [] })).ok).toBe(true);
    for (const r of [a!, b!]) await r.db.close();
  });
});
