/**
 * Records (4007.1; 1061.2 §6; DESIGN §6; gateway/README.md "Records") on SQLite and PostgreSQL,
 * with clips that went through verified ingest: schedules from the clip's category or verdict (an
 * unnamed one is unscheduled), litigation holds on a clip, a device, an officer and a date range
 * (also for clips that arrive after the hold), disposition (a dry run and its execution agree; a
 * stale hash is refused; content goes, metadata stays; a blob another record still needs stays;
 * the statement is signed), and BagIt export checked by the Library of Congress's bagit.py and
 * `sha256sum -c`. Then the HTTP API and the `bwc records` CLI on a running gateway, with roles
 * enforced by the server and every API write in the audit log.
 */
import { spawnSync } from 'node:child_process';
import { createHash, verify as edVerify, createPublicKey } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pb, type bwc } from '../proto/wire.js';
import { publicKeyToPem } from '../proto/ed25519.js';
import type { Db } from '../gateway/store/db.js';
import { openGatewayDb } from '../gateway/store/open.js';
import { AuditLog } from '../gateway/audit/log.js';
import { canonicalJson } from '../gateway/audit/canonical.js';
import { entryHash, type AuditEntry } from '../gateway/audit/entry.js';
import { Alerts } from '../gateway/fleet/alerts.js';
import { Fleet } from '../gateway/fleet/registry.js';
import { ClipStore } from '../gateway/ingest/clip-store.js';
import { Ingest } from '../gateway/ingest/ingest.js';
import { GatewayMessenger } from '../gateway/messenger.js';
import { loadOrCreateGatewayKey, type GatewaySigner } from '../gateway/signer.js';
import { Records, RecordsError, DISPOSITION_DOMAIN } from '../gateway/records/records.js';
import { RecordsConfigSchema, scheduleForClip, scheduleForKind, DEFAULT_RECORDS_CONFIG } from '../gateway/records/schedules.js';
import { writeBag } from '../gateway/records/bagit.js';
import { parseGatewayConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { silentLogger } from '../gateway/api/http.js';
import { TestDock, type TestClip } from './gateway.fixtures.js';
import { startPostgres, type TestPostgres } from './pg.js';
import { BWC, pseudoRandomBytes, ROOT, runBwc, tempDir, type RunResult, HARNESS_DB, TEST_PASSWORD_COST } from './helpers.js';
import { engines, UNIT_TIER } from './tiers.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);
const BAGIT = join(ROOT, 'test', 'vendor', 'bagit', 'run-bagit.py');

const RECORDS = {
  schedules: {
    short: { type: 'temporary', retentionDays: 30, cutoff: 'verified' },
    long: { type: 'temporary', retentionDays: 3650, cutoff: 'verified' },
    forever: { type: 'permanent', transferAfterYears: 10, cutoff: 'calendar_year' },
  },
  mapping: {
    categories: { directive_authorized: 'short', legal_proceeding: 'long', public_affairs_production: 'forever' },
    decisions: {},
    kinds: { authz_request: 'long' },
  },
};

function decision(category: string | null): bwc.v1.ActivationDecision.$Properties {
  return category
    ? {
        decision: pb.Verdict.VERDICT_AUTHORIZED,
        basis: { kind: pb.BasisKind.BASIS_KIND_TRIGGER, id: 'at_large_arrest', category },
        reasons: ['TRIGGER_ACTIVITY'],
        clauses: ['BWC-2024'],
        policyVersion: 3,
      }
    : { decision: pb.Verdict.VERDICT_UNAUTHORIZED, reasons: ['NO_BASIS'], clauses: ['1061.2§2.1'], policyVersion: 3 };
}

/** `bwc …` without blocking this process (the gateway it talks to runs here). */
function bwcAsync(args: string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BWC, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs a command in `cwd`; its exit code and output. */
function run(cmd: string, args: string[], cwd: string): { code: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Both validators nobody here wrote, on a bag directory. */
function validateBag(bagDir: string): { bagit: { code: number | null; out: string }; sha256sum: { code: number | null; out: string } } {
  return {
    bagit: run('python3', [BAGIT, '--validate', bagDir], ROOT),
    sha256sum: run('sha256sum', ['--strict', '-c', 'manifest-sha256.txt'], bagDir),
  };
}

let pg: TestPostgres;
beforeAll(async () => {
  if (engines().includes('postgres')) pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  await pg?.stop();
});

describe('schedules', () => {
  const config = RecordsConfigSchema.parse(RECORDS);
  it('maps a clip by its category, or by its verdict when it has no basis; anything the mapping does not name is UNSCHEDULED', () => {
    expect(scheduleForClip(config, { decision: 'AUTHORIZED', basis: { kind: 'trigger', id: 'x', category: 'directive_authorized' } }).name).toBe('short');
    expect(scheduleForClip(config, { decision: 'AUTHORIZED', basis: { kind: 'grant', id: 'G1', category: 'opa_ope_ocr' } })).toMatchObject({
      name: 'UNSCHEDULED',
      type: 'unscheduled',
    });
    expect(scheduleForClip(config, { decision: 'UNAUTHORIZED', basis: null })).toMatchObject({ type: 'unscheduled' });
    expect(scheduleForClip(config, null)).toMatchObject({ type: 'unscheduled' });
    expect(scheduleForClip(config, { decision: 'AUTHORIZED', basis: { kind: 'grant', id: 'G1', category: 'constructor' } })).toMatchObject({
      type: 'unscheduled',
    });
    expect(scheduleForKind(config, 'authz_request').name).toBe('long');
    expect(scheduleForKind(config, 'authz_denial')).toMatchObject({ type: 'unscheduled' });
    // The shipped defaults: authorization paperwork has its own schedule; unauthorized recordings are unscheduled.
    expect(scheduleForKind(DEFAULT_RECORDS_CONFIG, 'authz_approval').name).toBe('authz-paperwork');
    expect(scheduleForClip(DEFAULT_RECORDS_CONFIG, { decision: 'PROHIBITED', basis: null }).type).toBe('unscheduled');
  });

  it('refuses a mapping that names a schedule that does not exist, naming the field', () => {
    const r = RecordsConfigSchema.safeParse({ ...RECORDS, mapping: { ...RECORDS.mapping, categories: { legal_proceeding: 'nope' } } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues[0]?.path)).toBe('["mapping","categories","legal_proceeding"]');
    expect(() => parseGatewayConfig({ records: { schedules: { x: { type: 'temporary', retentionDays: -1 } } } })).toThrow(/records\.schedules\.x/);
  });
});

interface Harness {
  db: Db;
  store: ClipStore;
  audit: AuditLog;
  records: Records;
  signer: GatewaySigner;
  clock: { now: number };
  send(dock: TestDock, clip: TestClip): Promise<void>;
}

async function harness(engine: 'sqlite' | 'postgres'): Promise<Harness> {
  const dir = tempDir('bwc-records-');
  const db = await openGatewayDb(engine === 'sqlite' ? join(dir, 'gateway.db') : await pg.newDatabase(), HARNESS_DB);
  const clock = { now: T0 };
  const now = () => clock.now;
  const store = await new ClipStore(join(dir, 'clips')).init();
  const { signer } = loadOrCreateGatewayKey(join(dir, 'key'));
  const audit = new AuditLog({ db, gatewayId: 'gw1', fleet: 'f1', now, signer, checkpointEvery: 10 });
  const alerts = new Alerts(db, now, { log: audit, actor: audit.actor });
  const fleet = new Fleet({ db, alerts, fleet: 'f1', now, audit });
  const ingest = new Ingest({
    db,
    store,
    fleet: 'f1',
    now,
    audit,
    sealer: new GatewayMessenger({ db, signer, gatewayId: 'gw1', fleet: 'f1', now }),
    sink: {
      publish: async () => {},
      alert: async (a) => {
        await alerts.raise(a);
      },
      accepted: async () => {},
    },
  });
  const records = new Records({
    db,
    audit,
    config: RecordsConfigSchema.parse(RECORDS),
    signer,
    gatewayId: 'gw1',
    blobPath: (s) => store.blobPath(s),
    now,
  });
  const enrolled = new Set<string>();
  return {
    db,
    store,
    audit,
    records,
    signer,
    clock,
    send: async (dock, clip) => {
      if (!enrolled.has(dock.deviceId)) {
        await fleet.enroll(dock.deviceId, dock.key.publicKey, 'otto');
        enrolled.add(dock.deviceId);
      }
      const r = await ingest.handle(dock.topic('manifest'), clip.manifest);
      expect(r.status, JSON.stringify(r)).toBe('accepted');
      for (let i = 0; i < clip.chunks.length; i++) await ingest.handle(dock.topic('chunk'), dock.chunk(clip, i));
      expect((await db.get<{ state: string }>('SELECT state FROM manifests WHERE manifest_hash = ?', [clip.hashHex]))?.state).toBe('VERIFIED');
    },
  };
}

describe.each(engines())('records on %s', (engine) => {
  let h: Harness;
  const dock1 = new TestDock('dock-1', 'f1', 11);
  const dock2 = new TestDock('dock-2', 'f1', 12);
  const clips: Record<string, TestClip> = {};
  const shared = pseudoRandomBytes(70_000, 4242);
  const clip = (dock: TestDock, name: string, length: number, category: string | null, facts: Record<string, unknown> = {}, bytes?: Buffer) => {
    clips[name] = dock.clip(length, {
      seed: length + name.charCodeAt(0),
      facts: { decision: decision(category), clipId: `clip-${name}`, ...facts },
      ...(bytes ? { bytes } : {}),
    });
    return clips[name]!;
  };
  const status = async (name: string) => (await h.records.record(clips[name]!.hashHex))!.assessment;
  const blobExists = (name: string) => existsSync(h.store.blobPath(createHash('sha256').update(clips[name]!.bytes).digest('hex')));

  beforeAll(async () => {
    h = await harness(engine);
    // A date-range hold placed before any of it arrives: clips received T0+10d…T0+12d.
    await h.records.placeHold({ reason: 'FOIA 2026-117', holdId: 'range-hold', fromAt: T0 + 10 * DAY, toAt: T0 + 12 * DAY }, 'rita');
    // Clips received and verified at T0.
    await h.send(dock1, clip(dock1, 'A', 100_000, 'directive_authorized')); // temporary, due T0+30d
    await h.send(dock1, clip(dock1, 'B', 90_000, 'directive_authorized')); // held by a clip hold
    await h.send(dock2, clip(dock2, 'C', 80_000, 'directive_authorized')); // held by a device hold
    await h.send(dock1, clip(dock1, 'D', 60_000, 'directive_authorized', { officerId: 'O-99' })); // held by an officer hold
    await h.send(dock1, clip(dock1, 'E', 50_000, 'legal_proceeding')); // temporary, not due for ten years
    await h.send(dock1, clip(dock1, 'F', 200_000, 'public_affairs_production')); // permanent
    await h.send(dock1, clip(dock1, 'G', 40_000, null)); // UNAUTHORIZED: unscheduled
    await h.send(dock1, clip(dock1, 'H', 30_000, 'opa_ope_ocr')); // a category the mapping does not name: unscheduled
    await h.send(dock1, clip(dock1, 'S', 70_000, 'directive_authorized', {}, shared)); // eligible, its content shared with T
    await h.send(dock1, clip(dock1, 'T', 70_000, 'directive_authorized', { officerId: 'O-99' }, shared)); // the same bytes, held (officer)
    await h.records.placeHold({ reason: 'Doe v. Agency', manifestHash: clips.B!.hashHex }, 'rita');
    await h.records.placeHold({ reason: 'dock-2 inquiry', deviceId: 'dock-2' }, 'rita');
    await h.records.placeHold({ reason: 'OPR 26-031', holdId: 'officer-hold', officerId: 'O-99' }, 'rita');
    // A clip that arrives after the date-range hold was placed, inside its range.
    h.clock.now = T0 + 11 * DAY;
    await h.send(dock1, clip(dock1, 'R', 20_000, 'directive_authorized'));
    h.clock.now = T0 + 45 * DAY;
  }, 120_000);
  afterAll(async () => {
    await h?.store.close();
    await h?.db.close();
  });

  it('classifies every record: eligible, held (clip, device, officer, a date range placed before it arrived), not due, permanent, unscheduled', async () => {
    const got = Object.fromEntries(await Promise.all(Object.keys(clips).map(async (n) => [n, await status(n)] as const)));
    expect(Object.fromEntries(Object.entries(got).map(([n, a]) => [n, [a.status, a.schedule.name, a.holds]]))).toEqual({
      A: ['ELIGIBLE', 'short', []],
      B: ['HELD', 'short', [expect.stringMatching(/^hold-/)]],
      C: ['HELD', 'short', [expect.stringMatching(/^hold-/)]],
      D: ['HELD', 'short', ['officer-hold']],
      E: ['NOT_DUE', 'long', []],
      F: ['PERMANENT', 'forever', []],
      G: ['UNSCHEDULED', 'UNSCHEDULED', []],
      H: ['UNSCHEDULED', 'UNSCHEDULED', []],
      S: ['ELIGIBLE', 'short', []],
      T: ['HELD', 'short', ['officer-hold']],
      R: ['HELD', 'short', ['range-hold']],
    });
    // Retention counts from the gateway's own times: A was verified at T0, due at the first midnight after T0 + 30 days.
    expect(got.A!.cutoffAt).toBe(T0);
    expect(got.A!.dueAt).toBe(Date.UTC(2026, 1, 5));
  });

  let dryRun: Awaited<ReturnType<Records['dryRun']>>;

  it('a dry run lists exactly the eligible temporary records, with a hash; execution refuses a stale hash and changes nothing', async () => {
    dryRun = await h.records.dryRun();
    expect(dryRun.items.map((i) => i.manifestHash)).toEqual([clips.A!.hashHex, clips.S!.hashHex].sort());
    expect(dryRun.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(dryRun.kept).toEqual({ HELD: 5, NOT_DUE: 1, PERMANENT: 1, UNSCHEDULED: 2 });
    expect(await h.records.dryRun()).toMatchObject({ hash: dryRun.hash });

    // The eligible set changes (a new hold on A): the earlier hash is refused, nothing is disposed of.
    const late = await h.records.placeHold({ reason: 'late request', manifestHash: clips.A!.hashHex }, 'rita');
    const refused = await h.records.dispose(dryRun.hash, 'rita').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RecordsError);
    expect((refused as RecordsError).code).toBe('ELIGIBLE_SET_CHANGED');
    expect(Number((await h.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM disposed_records'))!.n)).toBe(0);
    expect(blobExists('A')).toBe(true);
    const bogus = await h.records.dispose('0'.repeat(64), 'rita').catch((e: unknown) => e);
    expect((bogus as RecordsError).code).toBe('ELIGIBLE_SET_CHANGED');
    // Released again: the set is what the dry run listed, and its hash is accepted.
    await h.records.releaseHold(late.holdId, 'entered in error', 'rita');
    expect((await h.records.dryRun()).hash).toBe(dryRun.hash);
  });

  it("execution disposes of exactly the dry run's list: content gone, metadata kept, a shared blob kept, nothing held, permanent or unscheduled touched, a signed statement in the audit log", async () => {
    const done = await h.records.dispose(dryRun.hash, 'rita', 'routine');
    const disposed = (await h.db.all<{ manifest_hash: string }>('SELECT manifest_hash FROM disposed_records ORDER BY manifest_hash')).map(
      (r) => r.manifest_hash,
    );
    expect(disposed).toEqual(dryRun.items.map((i) => i.manifestHash));
    expect(done.records).toBe(2);
    // A's content was its own: the blob is gone. S shares its bytes with T, which is held: the blob stays.
    const shaA = createHash('sha256').update(clips.A!.bytes).digest('hex');
    const shaS = createHash('sha256').update(shared).digest('hex');
    expect(done.blobsDeleted).toEqual([shaA]);
    expect(done.blobsKept).toEqual([shaS]);
    expect(blobExists('A')).toBe(false);
    expect((await h.db.get<{ deleted_at: number | null }>('SELECT deleted_at FROM blobs WHERE sha256 = ?', [shaA]))!.deleted_at).toBe(h.clock.now);
    expect(blobExists('S')).toBe(true);
    expect((await h.db.get<{ deleted_at: number | null }>('SELECT deleted_at FROM blobs WHERE sha256 = ?', [shaS]))!.deleted_at).toBeNull();
    // Metadata stays: the manifest row with the exact signed bytes.
    const meta = await h.db.get<{ envelope: Buffer; state: string }>('SELECT envelope, state FROM manifests WHERE manifest_hash = ?', [clips.A!.hashHex]);
    expect(Buffer.from(meta!.envelope).equals(Buffer.from(clips.A!.manifest))).toBe(true);
    expect(meta!.state).toBe('VERIFIED');
    expect((await status('A')).status).toBe('DISPOSED');
    // Nothing else was touched.
    for (const n of ['B', 'C', 'D', 'E', 'F', 'G', 'H', 'R', 'T']) {
      expect(blobExists(n), n).toBe(true);
      expect((await status(n)).status, n).not.toBe('DISPOSED');
    }
    // The statement, signed by the gateway key, in the audit log.
    const entry = (await h.audit.entries({ subject: done.dispositionId }))[0]!;
    expect(entry).toMatchObject({ action: 'records.disposition_executed', actor: 'user:rita', seq: done.auditSeq });
    const { statement, signature } = entry.detail as {
      statement: Record<string, unknown>;
      signature: { keyId: string; publicKey: string; sig: string };
    };
    expect(statement).toMatchObject({
      listHash: dryRun.hash,
      dispositionId: done.dispositionId,
      records: dryRun.items.map((i) => expect.objectContaining({ manifestHash: i.manifestHash })),
    });
    const input = Buffer.concat([Buffer.from(`${DISPOSITION_DOMAIN}\n`), Buffer.from(canonicalJson(statement))]);
    expect(signature.keyId).toBe(h.signer.keyId);
    expect(edVerify(null, input, createPublicKey(publicKeyToPem(h.signer.publicKey)), Buffer.from(signature.sig, 'base64'))).toBe(true);
    expect(
      edVerify(null, Buffer.concat([input, Buffer.from(' ')]), createPublicKey(publicKeyToPem(h.signer.publicKey)), Buffer.from(signature.sig, 'base64')),
    ).toBe(false);
    // Each disposed clip's own history says so.
    expect((await h.audit.entries({ subject: clips.A!.hashHex })).map((e) => e.action)).toEqual([
      'clip.manifest_stored',
      'clip.verified',
      'records.held',
      'records.content_disposed',
    ]);
    // Nothing is left to dispose of.
    const again = await h.records.dryRun();
    expect(again.items).toEqual([]);
    expect(((await h.records.dispose(again.hash, 'rita').catch((e: unknown) => e)) as RecordsError).code).toBe('NOTHING_ELIGIBLE');
  });

  it('a shared blob goes once the last record that needs it is disposed of (the officer hold released)', async () => {
    await h.records.releaseHold('officer-hold', 'OPR 26-031 closed', 'rita');
    const dr = await h.records.dryRun();
    expect(dr.items.map((i) => i.manifestHash)).toEqual([clips.D!.hashHex, clips.T!.hashHex].sort());
    const done = await h.records.dispose(dr.hash, 'rita');
    const shaS = createHash('sha256').update(shared).digest('hex');
    expect(done.blobsDeleted).toContain(shaS);
    expect(blobExists('S')).toBe(false);
    expect(blobExists('T')).toBe(false);
    expect(blobExists('B')).toBe(true);
  });

  it.skipIf(UNIT_TIER)('exports a permanent record as a BagIt package that bagit.py and sha256sum -c validate, and that a changed byte fails', async () => {
    const bag = await h.records.exportBag(clips.F!.hashHex, 'aud');
    const dir = await writeBag(bag, tempDir('bwc-bag-'));
    const ok = validateBag(dir);
    expect(ok.bagit.code, ok.bagit.out).toBe(0);
    expect(ok.bagit.out).toMatch(/is valid/);
    expect(ok.sha256sum.code, ok.sha256sum.out).toBe(0);
    expect(ok.sha256sum.out.trim().split('\n')).toHaveLength(5);
    expect(readdirSync(join(dir, 'data', 'clip')).sort()).toEqual(['clip-F.manifest', 'clip-F.mp4', 'signer-public-key.hex']);
    const info = readFileSync(join(dir, 'bag-info.txt'), 'utf8');
    const payload = ['clip/clip-F.mp4', 'clip/clip-F.manifest', 'clip/signer-public-key.hex', 'verification.json', 'audit-extract.ndjson'].map(
      (p) => statSync(join(dir, 'data', p)).size,
    );
    expect(info).toContain(`Payload-Oxum: ${payload.reduce((a, b) => a + b, 0)}.5\n`);
    expect(payload[0]).toBe(200_000);
    expect(info).toContain(`External-Identifier: ${clips.F!.hashHex}`);
    expect(info).toContain('BWC-Record-Schedule: forever (permanent)');
    // The verification report is the one `bwc verify --json` prints, and an auditor gets the same verdict from the bag alone.
    const report = JSON.parse(readFileSync(join(dir, 'data', 'verification.json'), 'utf8')) as {
      verdict: string;
      clip: { path: string };
    };
    expect(report).toMatchObject({ verdict: 'AUTHENTIC', clip: { path: 'data/clip/clip-F.mp4' } });
    const v = runBwc([
      'verify',
      join(dir, 'data/clip/clip-F.mp4'),
      join(dir, 'data/clip/clip-F.manifest'),
      '--pubkey',
      join(dir, 'data/clip/signer-public-key.hex'),
      '--json',
    ]);
    expect(v.code, v.stderr).toBe(0);
    // The audit extract: every entry about the record, each hash recomputable, the export itself included.
    const lines = readFileSync(join(dir, 'data', 'audit-extract.ndjson'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEntry & { type: string });
    const entries = lines.filter((l) => l.type === 'entry');
    expect(entries.map((e) => e.action)).toEqual(['clip.manifest_stored', 'clip.verified', 'records.exported']);
    for (const e of entries) expect(entryHash(e)).toBe(e.hash);
    expect(lines.filter((l) => l.type === 'checkpoint')).toHaveLength(1);

    // One byte of the clip changed: both validators fail.
    const clipFile = join(dir, 'data', 'clip', 'clip-F.mp4');
    const bytes = readFileSync(clipFile);
    bytes[1000] = bytes[1000]! ^ 0xff;
    writeFileSync(clipFile, bytes);
    const bad = validateBag(dir);
    expect(bad.bagit.code).not.toBe(0);
    expect(bad.sha256sum.code).not.toBe(0);
  });

  it('refuses to export a record whose content was disposed of', async () => {
    const e = await h.records.exportBag(clips.A!.hashHex, 'aud').catch((err: unknown) => err);
    expect((e as RecordsError).code).toBe('NO_CONTENT');
  });
});

// ───────────────────────── the HTTP API and the CLI on a running gateway ─────────────────────────

describe.skipIf(UNIT_TIER)('records and audit over HTTP and the bwc CLI', () => {
  let gw: RunningGateway;
  let base: string;
  const clock = { now: Date.now() };
  const tokens: Record<string, string> = {};
  const tokenFiles: Record<string, string> = {};
  const dataDir = tempDir('bwc-gw-records-');
  const dock = new TestDock('dock-9', 'f1', 19);
  const clip = { routine: null as TestClip | null, permanent: null as TestClip | null };

  beforeAll(async () => {
    gw = await startGateway({
      passwordCost: TEST_PASSWORD_COST,
      config: parseGatewayConfig({
        fleet: 'f1',
        gatewayId: 'gw1',
        dataDir,
        mqtt: { embedded: { port: 0 } },
        http: { port: 0 },
        sweepIntervalMs: 600_000,
        records: RECORDS,
      }),
      log: silentLogger,
      now: () => clock.now,
    });
    base = `http://127.0.0.1:${gw.httpPort}`;
    for (const [username, roles] of [
      ['rita', ['records_officer']],
      ['aud', ['auditor']],
      ['vera', ['viewer']],
      ['ada', ['admin']],
    ] as const) {
      await gw.auth.createUser({ username, password: 'correct horse battery', roles: [...roles], offices: [], personId: null });
      tokens[username] = (await gw.auth.createApiToken(username, 'test')).token;
      tokenFiles[username] = join(tempDir(), 'token');
      writeFileSync(tokenFiles[username], `${tokens[username]}\n`, { mode: 0o600 });
    }
    await gw.fleet.enroll(dock.deviceId, dock.key.publicKey, 'otto');
    clip.routine = dock.clip(120_000, { facts: { decision: decision('directive_authorized'), clipId: 'clip-routine' } });
    clip.permanent = dock.clip(130_000, { facts: { decision: decision('public_affairs_production'), clipId: 'clip-pa' } });
    for (const c of [clip.routine, clip.permanent]) {
      await gw.ingest.handle(dock.topic('manifest'), c.manifest);
      for (let i = 0; i < c.chunks.length; i++) await gw.ingest.handle(dock.topic('chunk'), dock.chunk(c, i));
    }
  }, 60_000);
  afterAll(async () => {
    await gw?.stop();
  });

  async function call(user: string | null, method: string, path: string, body?: unknown): Promise<{ status: number; json: any; raw: Response }> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(user ? { authorization: `Bearer ${tokens[user]}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const type = res.headers.get('content-type') ?? '';
    return { status: res.status, json: type.startsWith('application/json') ? await res.json() : null, raw: res };
  }

  it('enforces roles on the server: records officers write, auditors read and export, viewers and admins neither', async () => {
    const hold = { reason: 'Doe v. Agency', officerId: 'O-5' };
    for (const who of ['vera', 'ada', 'aud']) {
      const r = await call(who, 'POST', '/api/v1/records/holds', hold);
      expect([who, r.status, r.json?.error?.code]).toEqual([who, 403, 'FORBIDDEN']);
      expect((await call(who, 'POST', '/api/v1/records/dispositions', { hash: '0'.repeat(64) })).status).toBe(403);
    }
    for (const who of ['vera', 'ada']) {
      expect((await call(who, 'GET', '/api/v1/records/schedules')).status).toBe(403);
      expect((await call(who, 'GET', '/api/v1/records/disposition')).status).toBe(403);
      expect((await call(who, 'GET', '/api/v1/audit/entries')).status).toBe(403);
      expect((await call(who, 'POST', `/api/v1/records/clips/${clip.permanent!.hashHex}/export`)).status).toBe(403);
    }
    expect((await call(null, 'POST', '/api/v1/records/holds', hold)).status).toBe(401);
    for (const who of ['aud', 'rita']) {
      expect((await call(who, 'GET', '/api/v1/records/schedules')).status).toBe(200);
      expect((await call(who, 'GET', '/api/v1/audit/checkpoints')).status).toBe(200);
    }
    const placed = await call('rita', 'POST', '/api/v1/records/holds', hold);
    expect(placed.status).toBe(201);
    expect(placed.json.hold).toMatchObject({ officerId: 'O-5', placedBy: 'rita' });
  });

  it('records every API write, refused or not, with who, what and when', async () => {
    const { entries } = (await call('aud', 'GET', `/api/v1/audit/entries?limit=10000`)).json as { entries: AuditEntry[] };
    const writes = entries.filter((e) => e.action === 'api.request' && e.subject === 'POST /api/v1/records/holds');
    expect(writes.map((e) => [e.actor, e.detail.status, e.detail.code])).toEqual([
      ['user:vera', 403, 'FORBIDDEN'],
      ['user:ada', 403, 'FORBIDDEN'],
      ['user:aud', 403, 'FORBIDDEN'],
      ['anonymous', 401, 'UNAUTHENTICATED'],
      ['user:rita', 201, null],
    ]);
    expect(writes.every((e) => e.at === clock.now && typeof e.detail.requestId === 'string')).toBe(true);
    // The change itself has its own entry, written with it.
    expect(entries.filter((e) => e.action === 'records.hold_placed').map((e) => [e.actor, e.detail.officerId])).toEqual([['user:rita', 'O-5']]);
    // GETs are not writes.
    expect(entries.some((e) => e.action === 'api.request' && String(e.subject).startsWith('GET '))).toBe(false);
  });

  it('bwc records: schedules, hold and release, a viewer refused; dispose --dry-run then dispose --hash; export a bag that validates', async () => {
    const as = (who: string, args: string[]) => bwcAsync(['records', ...args, '--gateway', base, '--token-file', tokenFiles[who]!]);
    const sched = await as('aud', ['schedules']);
    expect(sched.code, sched.stderr).toBe(0);
    expect(sched.stdout).toMatch(/short {2}temporary, destroyed 30 days after cutoff/);
    expect(sched.stdout).toMatch(/UNSCHEDULED/);

    const denied = await as('vera', ['hold', '--reason', 'x', '--device', 'dock-9']);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/refused \(403 FORBIDDEN\)/);
    const held = await as('rita', ['hold', '--reason', 'dock-9 inquiry', '--device', 'dock-9', '--hold-id', 'h-dock9', '--json']);
    expect(held.code, held.stderr).toBe(0);
    expect(JSON.parse(held.stdout).hold).toMatchObject({ holdId: 'h-dock9', deviceId: 'dock-9' });

    clock.now += 40 * DAY;
    const heldRun = await as('rita', ['dispose', '--dry-run', '--json']);
    expect(JSON.parse(heldRun.stdout).items).toEqual([]);
    const released = await as('rita', ['release', 'h-dock9', '--reason', 'inquiry closed']);
    expect(released.code, released.stderr).toBe(0);
    expect(released.stdout).toMatch(/h-dock9 {2}released/);

    const dry = await as('rita', ['dispose', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`${clip.routine!.hashHex}  short`);
    expect(dry.stdout).not.toContain(clip.permanent!.hashHex);
    const hash = /^hash ([0-9a-f]{64})$/m.exec(dry.stdout)![1]!;
    expect((await as('aud', ['dispose', '--hash', hash])).code).toBe(1); // an auditor reads; only a records officer disposes
    const done = await as('rita', ['dispose', '--hash', hash, '--json']);
    expect(done.code, done.stderr).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({
      records: 1,
      blobsDeleted: [createHash('sha256').update(clip.routine!.bytes).digest('hex')],
    });
    expect((await as('rita', ['dispose', '--hash', hash])).stderr).toMatch(/409 (ELIGIBLE_SET_CHANGED|NOTHING_ELIGIBLE)/);

    const out = tempDir('bwc-export-');
    const exp = await as('aud', ['export', clip.permanent!.hashHex, '--out', out]);
    expect(exp.code, exp.stderr).toBe(0);
    const bagDir = exp.stdout.trim();
    expect(bagDir).toBe(join(out, `bwc-record-${clip.permanent!.hashHex.slice(0, 16)}`));
    const v = validateBag(bagDir);
    expect(v.bagit.code, v.bagit.out).toBe(0);
    expect(v.sha256sum.code, v.sha256sum.out).toBe(0);
    // GNU tar reads the same stream.
    const tarred = await call('aud', 'POST', `/api/v1/records/clips/${clip.permanent!.hashHex}/export`);
    expect(tarred.raw.headers.get('content-type')).toBe('application/x-tar');
    const tarFile = join(tempDir(), 'bag.tar');
    writeFileSync(tarFile, Buffer.from(await tarred.raw.arrayBuffer()));
    const listed = run('tar', ['-tf', tarFile], ROOT);
    expect(listed.code, listed.out).toBe(0);
    expect(listed.out).toContain(`bwc-record-${clip.permanent!.hashHex.slice(0, 16)}/data/clip/clip-pa.mp4`);
    // A disposed record has no content to export.
    expect((await as('aud', ['export', clip.routine!.hashHex, '--out', out])).stderr).toMatch(/409 NO_CONTENT/);
  });

  it("bwc audit verify on the running gateway's data dir and on an export", async () => {
    await gw.audit.checkpoint();
    const local = await bwcAsync(['audit', 'verify', '--data-dir', dataDir, '--json']);
    expect(local.code, local.stdout + local.stderr).toBe(0);
    expect(JSON.parse(local.stdout)).toMatchObject({ ok: true, firstBroken: null });
    const exported = await call('aud', 'GET', '/api/v1/audit/export');
    const file = join(tempDir(), 'audit.ndjson');
    writeFileSync(file, Buffer.from(await exported.raw.arrayBuffer()));
    const fromFile = await bwcAsync(['audit', 'verify', '--file', file, '--pubkey', join(dataDir, 'keys', 'gateway', 'public.hex')]);
    expect(fromFile.code, fromFile.stdout + fromFile.stderr).toBe(0);
    expect(fromFile.stdout).toMatch(/^OK: /m);
    // An edited line in the export is caught, by seq.
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    const third = JSON.parse(lines[2]!) as AuditEntry;
    lines[2] = JSON.stringify({ ...third, actor: 'user:mallory' });
    writeFileSync(file, `${lines.join('\n')}\n`);
    const bad = await bwcAsync(['audit', 'verify', '--file', file, '--pubkey', join(dataDir, 'keys', 'gateway', 'public.hex')]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('first broken entry: 3');
  });
});
