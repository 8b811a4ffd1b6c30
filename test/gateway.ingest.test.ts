/**
 * Verified ingest on both database engines: every bad input is refused with its reason and, where
 * it matters, an alert; nothing unverified is stored as verified; the manifest chain (duplicates,
 * forks, gaps) and the chunk path (mismatch, resume, whole-file check, already-stored content)
 * end with exactly one signed VERIFIED ack that a dock can turn into a VerifiedClip.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pb } from '../proto/wire.js';
import { openAck, VerifiedClip } from '../proto/ack.js';
import { trustPublicKey } from '../proto/ed25519.js';
import { sealEnvelope, encodeUnsignedEnvelope, openEnvelope } from '../proto/envelope.js';
import { sha256 } from '../proto/bytes.js';
const sha256Of = (b: Uint8Array) => sha256(b);
import type { Db } from '../gateway/store/db.js';
import { openGatewayDb } from '../gateway/store/open.js';
import { ClipStore } from '../gateway/ingest/clip-store.js';
import { Ingest } from '../gateway/ingest/ingest.js';
import type { IngestAlert, IngestResult, FleetMessage } from '../gateway/ingest/types.js';
import { GatewayMessenger } from '../gateway/messenger.js';
import { Fleet } from '../gateway/fleet/registry.js';
import { Alerts } from '../gateway/fleet/alerts.js';
import { loadOrCreateGatewayKey } from '../gateway/signer.js';
import { CryptoPool } from '../gateway/ingest/crypto-pool.js';
import { startPostgres, type TestPostgres } from './pg.js';
import { TestDock, type TestClip } from './gateway.fixtures.js';
import { tempDir, HARNESS_DB } from './helpers.js';
import { engines } from './tiers.js';

let pg: TestPostgres;
beforeAll(async () => {
  if (engines().includes('postgres')) pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  await pg?.stop();
});

type Engine = 'sqlite' | 'postgres' | 'sqlite + crypto workers';

/**
 * The crypto workers, started once for the file with one gateway key: a pool holds no state
 * between requests, and starting its two threads cost each test more than the test itself.
 */
let shared: { pool: CryptoPool; keyDir: string } | null = null;
function sharedCryptoPool(): { pool: CryptoPool; keyDir: string } {
  if (!shared) {
    const keyDir = join(tempDir(), 'key');
    shared = { pool: new CryptoPool(2, loadOrCreateGatewayKey(keyDir).signer.keyObject), keyDir };
  }
  return shared;
}
afterAll(async () => {
  await shared?.pool.close();
});

interface Harness {
  db: Db;
  ingest: Ingest;
  fleet: Fleet;
  alerts: Alerts;
  store: ClipStore;
  published: { topic: string; payload: Uint8Array }[];
  raised: IngestAlert[];
  accepted: FleetMessage[];
  gatewayKey: ReturnType<typeof trustPublicKey>;
  dock: TestDock;
  send(kind: Parameters<TestDock['topic']>[0], payload: Uint8Array, dock?: TestDock): ReturnType<Ingest['handle']>;
  acks(): ReturnType<typeof openAck>[];
  close(): Promise<void>;
}

async function harness(engine: Engine, options: { gapSettleMs?: number; maxEnvelopeBytes?: number; now?: () => number } = {}): Promise<Harness> {
  const dir = tempDir();
  const db = await openGatewayDb(engine === 'postgres' ? await pg.newDatabase() : join(dir, 'gw.db'), HARNESS_DB);
  const workers = engine === 'sqlite + crypto workers' ? sharedCryptoPool() : null;
  const pool = workers?.pool ?? null;
  const store = await new ClipStore(join(dir, 'clips')).init();
  const { signer } = loadOrCreateGatewayKey(workers?.keyDir ?? join(dir, 'key'));
  const messenger = new GatewayMessenger({
    db,
    signer,
    gatewayId: 'gw1',
    fleet: 'f1',
    ...(pool ? { signWith: (m: Uint8Array) => pool.sign(m) } : {}),
  });
  const alerts = new Alerts(db);
  const fleet = new Fleet({ db, alerts, fleet: 'f1' });
  const published: Harness['published'] = [];
  const raised: IngestAlert[] = [];
  const accepted: FleetMessage[] = [];
  const ingest = new Ingest({
    db,
    store,
    sealer: messenger,
    fleet: 'f1',
    ...(pool ? { verifier: pool } : {}),
    gapSettleMs: options.gapSettleMs ?? 0,
    ...(options.maxEnvelopeBytes ? { maxEnvelopeBytes: options.maxEnvelopeBytes } : {}),
    ...(options.now ? { now: options.now } : {}),
    sink: {
      publish: async (topic, payload) => {
        published.push({ topic, payload });
      },
      alert: async (a) => {
        raised.push(a);
        await alerts.raise(a);
      },
      accepted: async (m) => {
        accepted.push(m);
      },
    },
  });
  fleet.onTrustChanged = (id) => ingest.keys.forget(id);
  const dock = new TestDock('dock-1');
  await fleet.enroll(dock.deviceId, dock.key.publicKey, 'test');
  const gatewayKey = trustPublicKey(signer.publicKey);
  return {
    db,
    ingest,
    fleet,
    alerts,
    store,
    published,
    raised,
    accepted,
    gatewayKey,
    dock,
    send: (kind, payload, d = dock) => ingest.handle(d.topic(kind), payload),
    acks: () => published.filter((p) => p.topic.endsWith('/ack')).map((p) => openAck(p.payload, gatewayKey)),
    close: async () => {
      await db.close();
    },
  };
}

/** The same manifest with its header's subject device changed, signed again by the dock. */
function resignWithSubject(dock: TestDock, manifest: Uint8Array, subject: string): Uint8Array {
  const m = pb.ClipManifest.decode(openEnvelope(manifest, { expectType: 'ClipManifest' }).body);
  m.header = { ...m.header!, subjectDevice: subject };
  return sealEnvelope('ClipManifest', pb.ClipManifest.encode(m).finish(), dock.key).bytes;
}

async function upload(h: Harness, clip: TestClip, order?: number[]): Promise<void> {
  for (const i of order ?? clip.chunks.map((_, i) => i)) {
    const r = await h.send('chunk', h.dock.chunk(clip, i));
    expect(r.status, JSON.stringify(r)).not.toBe('rejected');
  }
}

const reasonOf = (r: IngestResult): string => (r.status === 'rejected' ? r.reason : r.status);

async function manifestState(h: Harness, hash: string): Promise<string | undefined> {
  return (await h.db.get<{ state: string }>('SELECT state FROM manifests WHERE manifest_hash = ?', [hash]))?.state;
}

describe.each([...engines(), 'sqlite + crypto workers'] as const)('ingest on %s', (engine) => {
  it('verifies a clip end to end: manifest, chunks in any order, one signed VERIFIED ack that releases the clip', async () => {
    const h = await harness(engine);
    const clip = h.dock.clip(300_000, { chunkSize: 64 * 1024 });
    const r = await h.send('manifest', clip.manifest);
    expect(r).toMatchObject({ status: 'accepted', type: 'ClipManifest', verified: false });
    const first = h.acks().at(-1)!;
    expect(first).toBeDefined();
    expect(first.kind).toBe(pb.AckKind.ACK_KIND_MANIFEST_RECEIVED);
    expect(first.missingChunks.map((c) => [c.start, c.end])).toEqual([[0, 5]]);
    await upload(h, clip, [4, 0, 2, 1, 3]);
    const verified = h.acks().filter((a) => a.kind === pb.AckKind.ACK_KIND_VERIFIED);
    expect(verified).toHaveLength(1);
    const ackBytes = h.published.filter((p) => p.topic === 'bwc/v1/f1/dock-1/ack').at(-1)!.payload;
    const released = VerifiedClip.fromAck(ackBytes, h.gatewayKey, {
      deviceId: 'dock-1',
      clipId: clip.clipId,
      manifestHash: clip.hash,
      sha256: sha256(clip.bytes),
      byteLength: clip.bytes.byteLength,
    });
    expect(released.byteLength).toBe(300_000);
    expect(await manifestState(h, clip.hashHex)).toBe('VERIFIED');
    // The stored blob is exactly the clip, named by its SHA-256.
    // (Buffer.equals: toEqual compares 300,000 bytes one by one, for a second of CPU.)
    const blob = readFileSync(h.store.blobPath(sha256(clip.bytes).toString('hex')));
    expect(blob.byteLength).toBe(clip.bytes.byteLength);
    expect(blob.equals(clip.bytes), 'the stored blob is the clip, byte for byte').toBe(true);
    expect(h.accepted.filter((m) => m.type === 'ClipVerified')).toHaveLength(1);
    // A chunk or the manifest sent again is answered VERIFIED again, never re-verified.
    expect((await h.send('chunk', h.dock.chunk(clip, 2))).status).toBe('duplicate');
    expect((await h.send('manifest', clip.manifest)).status).toBe('duplicate');
    expect(h.acks().filter((a) => a.kind === pb.AckKind.ACK_KIND_VERIFIED)).toHaveLength(3);
    expect(h.ingest.counters.verified).toBe(1);
    await h.close();
  });

  it('tells a resuming dock which chunks it still needs, as half-open ranges', async () => {
    const h = await harness(engine);
    const clip = h.dock.clip(10 * 4096 + 17, { chunkSize: 4096 });
    await h.send('manifest', clip.manifest);
    await upload(h, clip, [0, 1, 4, 7, 8]);
    await h.send('manifest', clip.manifest); // the dock reconnects and asks again
    const resume = h.acks().at(-1)!;
    expect(resume.kind).toBe(pb.AckKind.ACK_KIND_MANIFEST_RECEIVED);
    expect(resume.missingChunks.map((c) => [c.start, c.end])).toEqual([
      [2, 4],
      [5, 7],
      [9, 11],
    ]);
    await h.close();
  });

  it('refuses a chunk that does not match the signed chunk hash, re-requests it, and stores nothing of it', async () => {
    const h = await harness(engine);
    const clip = h.dock.clip(3 * 4096, { chunkSize: 4096 });
    await h.send('manifest', clip.manifest);
    const forged = Buffer.from(clip.chunks[1]!);
    forged[100] = forged[100]! ^ 1;
    const r = await h.send('chunk', h.dock.chunk(clip, 1, forged));
    expect(r).toMatchObject({ status: 'rejected', reason: 'CHUNK_HASH_MISMATCH' });
    expect(h.acks().at(-1)).toMatchObject({ kind: pb.AckKind.ACK_KIND_CHUNKS_MISSING });
    expect(
      h
        .acks()
        .at(-1)!
        .missingChunks.map((c) => [c.start, c.end]),
    ).toEqual([[1, 2]]);
    expect(await h.store.stagingSize(clip.hashHex)).toBeNull();
    expect(reasonOf(await h.send('chunk', h.dock.chunk(clip, 1, clip.chunks[1]!.subarray(0, 100))))).toBe('CHUNK_BAD_LENGTH');
    expect(reasonOf(await h.send('chunk', h.dock.chunk(clip, 3)))).toBe('CHUNK_BAD_INDEX');
    await upload(h, clip);
    expect(await manifestState(h, clip.hashHex)).toBe('VERIFIED');
    expect(h.raised.filter((a) => a.kind === 'CHUNK_REJECTED').length).toBeGreaterThan(0);
    await h.close();
  });

  it('refuses a chunk for an unknown manifest and a chunk of another device sent on this device topic', async () => {
    const h = await harness(engine);
    const other = new TestDock('dock-2', 'f1', 9);
    await h.fleet.enroll(other.deviceId, other.key.publicKey, 'test');
    const clip = other.clip(5000, { chunkSize: 4096 });
    expect(reasonOf(await h.send('chunk', h.dock.chunk(clip, 0)))).toBe('CHUNK_UNKNOWN_MANIFEST');
    await h.send('manifest', clip.manifest, other);
    expect(reasonOf(await h.send('chunk', h.dock.chunk(clip, 0)))).toBe('CHUNK_DEVICE_MISMATCH');
    expect(await h.store.stagingSize(clip.hashHex)).toBeNull();
    await h.close();
  });

  it('accepts an empty clip at once and verifies re-docked content without re-uploading it', async () => {
    const h = await harness(engine);
    const empty = h.dock.clip(0);
    expect(await h.send('manifest', empty.manifest)).toMatchObject({ status: 'accepted', verified: true });
    const a = h.dock.clip(9000, { chunkSize: 4096, seed: 5 });
    await h.send('manifest', a.manifest);
    await upload(h, a);
    // The same bytes under a new manifest (the camera re-docked elsewhere): VERIFIED with no chunks.
    const b = h.dock.clip(9000, { chunkSize: 4096, bytes: a.bytes });
    expect(await h.send('manifest', b.manifest)).toMatchObject({ status: 'accepted', verified: true });
    // The same SHA-256 claimed with other chunk hashes is not accepted on the strength of the SHA-256.
    const c = h.dock.clip(9000, { chunkSize: 8192, bytes: a.bytes });
    expect(await h.send('manifest', c.manifest)).toMatchObject({ status: 'accepted', verified: true });
    const blobs = await h.db.all('SELECT sha256 FROM blobs');
    expect(blobs).toHaveLength(2);
    await h.close();
  });

  it('finishes a clip whose completion failed on this side: at the next sweep, or when the dock sends its manifest again', async () => {
    const h = await harness(engine);
    // The database refuses to mark anything VERIFIED (a full disk, a lost connection) for a while.
    const breakVerify = async () => {
      if (engine === 'postgres') {
        await h.db.run(`CREATE OR REPLACE FUNCTION refuse_verified() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the disk is full'; END $$`);
        await h.db.run(
          `CREATE TRIGGER refuse_verified BEFORE UPDATE OF state ON manifests FOR EACH ROW WHEN (NEW.state = 'VERIFIED') EXECUTE FUNCTION refuse_verified()`,
        );
      } else {
        await h.db.run(
          `CREATE TRIGGER refuse_verified BEFORE UPDATE OF state ON manifests WHEN NEW.state = 'VERIFIED' BEGIN SELECT RAISE(ABORT, 'the disk is full'); END`,
        );
      }
    };
    const repair = () => h.db.run(engine === 'postgres' ? 'DROP TRIGGER refuse_verified ON manifests' : 'DROP TRIGGER refuse_verified');
    const verifiedAcks = (clip: TestClip) => h.acks().filter((a) => a.kind === pb.AckKind.ACK_KIND_VERIFIED && Buffer.from(a.manifestHash).equals(clip.hash));
    const failedUpload = async (clip: TestClip) => {
      await h.send('manifest', clip.manifest);
      for (let i = 0; i < clip.chunks.length - 1; i++) expect((await h.send('chunk', h.dock.chunk(clip, i))).status).toBe('accepted');
      const last = await h.send('chunk', h.dock.chunk(clip, clip.chunks.length - 1));
      expect(last).toMatchObject({ status: 'rejected', reason: 'STORE_FAILED', detail: expect.stringMatching(/the disk is full/) });
      expect(await manifestState(h, clip.hashHex)).toBe('RECEIVED');
      expect(verifiedAcks(clip)).toHaveLength(0);
    };

    await breakVerify();
    const one = h.dock.clip(3 * 4096 + 5, { chunkSize: 4096 });
    await failedUpload(one);
    // Still failing: the sweep reports it and leaves it for the next one.
    expect((await h.ingest.sweep()).failed).toEqual([expect.stringMatching(new RegExp(`^clip of manifest ${one.hashHex.slice(0, 16)}….*the disk is full`))]);
    await repair();
    expect(await h.ingest.sweep()).toMatchObject({ finished: 1, failed: [] });
    expect(await manifestState(h, one.hashHex)).toBe('VERIFIED');
    expect(verifiedAcks(one)).toHaveLength(1);

    await breakVerify();
    const two = h.dock.clip(2 * 4096, { chunkSize: 4096, seed: 2 });
    await failedUpload(two);
    await repair();
    // Every chunk is here, so a dock waiting for VERIFIED resends the manifest, not a chunk.
    expect((await h.send('manifest', two.manifest)).status).toBe('duplicate');
    const [ack] = verifiedAcks(two);
    expect(ack).toBeDefined();
    expect(Buffer.from(ack!.ackedHash).equals(two.hash)).toBe(true); // clears the dock's outbox row for the manifest
    expect(await manifestState(h, two.hashHex)).toBe('VERIFIED');
    expect(h.ingest.counters.verified).toBe(2);
    await h.close();
  });

  it('acks a duplicate manifest again and raises a fork (same seq, other content) without storing it', async () => {
    const h = await harness(engine);
    const one = h.dock.clip(5000, { chunkSize: 4096 });
    await h.send('manifest', one.manifest);
    expect((await h.send('manifest', one.manifest)).status).toBe('duplicate');
    const fork = h.dock.clip(6000, { chunkSize: 4096, seq: 1, prev: null });
    const r = await h.send('manifest', fork.manifest);
    expect(r).toMatchObject({ status: 'rejected', reason: 'CHAIN_FORK' });
    expect(await manifestState(h, fork.hashHex)).toBeUndefined();
    const alerts = await h.alerts.list({ kind: 'CHAIN_FORK' });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.severity).toBe('critical');
    // A seq 2 that names another previous manifest is a fork too.
    const two = h.dock.clip(7000, { chunkSize: 4096, seq: 2, prev: fork.hash });
    expect(reasonOf(await h.send('manifest', two.manifest))).toBe('CHAIN_FORK');
    await h.close();
  });

  it('raises a chain gap only after the settle window and asks the dock for the missing manifests', async () => {
    const clock = { now: Date.UTC(2026, 11, 1) };
    const h = await harness(engine, { gapSettleMs: 0, now: () => clock.now });
    h.dock.clip(100, { chunkSize: 4096 }); // seq 1, never delivered
    h.dock.clip(100, { chunkSize: 4096, seed: 2 }); // seq 2, never delivered
    const three = h.dock.clip(100, { chunkSize: 4096, seed: 3 });
    await h.send('manifest', three.manifest);
    clock.now += 1; // past the (empty) settle window
    const swept = await h.ingest.sweep();
    expect(swept.gaps).toBe(1);
    const gap = (await h.alerts.list({ kind: 'CHAIN_GAP' }))[0]!;
    expect(gap.message).toMatch(/manifests 1–2 of dock-1 are missing/);
    const cmd = h.published.filter((p) => p.topic === 'bwc/v1/f1/dock-1/cmd').at(-1)!;
    const { openEnvelope } = await import('../proto/envelope.js');
    const command = pb.Command.decode(openEnvelope(cmd.payload, { expectType: 'Command' }).body);
    expect(command.manifestRequest).toMatchObject({ fromSeq: 1, toSeq: 2 });
    await h.close();
  });

  it('asks again for a gap the dock cannot fill with doubling pauses capped at an hour, and tells its age and requests', async () => {
    const clock = { now: Date.UTC(2026, 11, 1) };
    const h = await harness(engine, { gapSettleMs: 30_000, now: () => clock.now });
    const lost = h.dock.clip(100, { chunkSize: 4096 }); // seq 1, lost (until the end)
    await h.send('manifest', h.dock.clip(100, { chunkSize: 4096, seed: 2 }).manifest);
    const requests = () => h.published.filter((p) => p.topic === 'bwc/v1/f1/dock-1/cmd').length;
    const t0 = clock.now;
    const at: number[] = [];
    // Two hours of sweeps every 15 s (480 sweeps; before, each asked again).
    for (let i = 0; i < 480; i++) {
      clock.now += 15_000;
      const before = requests();
      await h.ingest.sweep();
      if (requests() > before) at.push((clock.now - t0) / 1000);
    }
    // Raised after the settle window, then 30 s, 1, 2, 4, 8, 16, 32 min, then hourly.
    expect(at).toEqual([45, 75, 135, 255, 495, 975, 1935, 3855]);
    const [gap] = await h.ingest.chainGaps('dock-1');
    expect(gap).toMatchObject({
      deviceId: 'dock-1',
      fromSeq: 1,
      toSeq: 1,
      requests: at.length,
      firstSeenAt: t0 + 45_000,
      lastRequestAt: t0 + at.at(-1)! * 1000,
    });
    expect(gap!.nextRequestAt - gap!.lastRequestAt!).toBe(3_600_000);
    // The missing manifest arrives: the gap is closed and no longer asked for.
    expect((await h.send('manifest', lost.manifest)).status).toBe('accepted');
    await h.ingest.sweep();
    expect(await h.ingest.chainGaps('dock-1')).toEqual([]);
    await h.close();
  });

  it('refuses every malformed or untrusted message with its reason, keeps serving, stores nothing', async () => {
    const h = await harness(engine, { maxEnvelopeBytes: 256 * 1024 });
    const stranger = new TestDock('dock-9', 'f1', 99);
    const impostor = new TestDock('dock-1', 'f1', 42); // claims dock-1 with another key
    const good = h.dock.status();
    const tampered = Buffer.from(good);
    tampered[tampered.length - 135] = tampered[tampered.length - 135]! ^ 1; // the last body byte (key id and signature fields take the last 132): the signature no longer verifies
    const wrongIssuer = new TestDock('dock-1', 'f1', 7);
    const cases: [string, Parameters<TestDock['topic']>[0], Uint8Array, string, TestDock?][] = [
      ['malformed protobuf', 'status', Buffer.from('not a protobuf at all \xff\xff'), 'UNDECODABLE'],
      ['empty payload', 'status', new Uint8Array(0), 'EMPTY'],
      ['oversize', 'status', Buffer.alloc(300 * 1024, 1), 'TOO_LARGE'],
      ['a type on the wrong topic', 'event', h.dock.status(), 'TYPE_TOPIC_MISMATCH'],
      ['unknown device', 'status', stranger.status(), 'UNKNOWN_DEVICE', stranger],
      ['another key for an enrolled id', 'status', impostor.status(), 'KEY_MISMATCH'],
      ['wrong signature', 'status', tampered, 'BAD_SIGNATURE'],
    ];
    // The signed header names another device than the topic.
    const dock2 = new TestDock('dock-2', 'f1', 7);
    cases.push(['topic/envelope id mismatch', 'status', dock2.status(), 'ID_MISMATCH', wrongIssuer]);
    for (const [name, kind, payload, reason, d] of cases) {
      const r = await h.send(kind, payload, d);
      expect(r, name).toMatchObject({ status: 'rejected', reason });
    }
    expect(await h.ingest.handle('bwc/v1/f1/+/status', good)).toMatchObject({ reason: 'BAD_TOPIC' });
    expect(await h.ingest.handle('bwc/v1/other/dock-1/status', good)).toMatchObject({ reason: 'WRONG_FLEET' });
    expect(await h.ingest.handle('bwc/v1/f1/dock-1/ack', good)).toMatchObject({ reason: 'WRONG_DIRECTION' });
    expect(await h.db.all('SELECT hash FROM messages')).toHaveLength(0);
    // Still serving: the genuine message goes through.
    expect(await h.send('status', good)).toMatchObject({ status: 'accepted' });
    const kinds = new Set(h.raised.map((a) => a.kind));
    for (const k of ['MALFORMED_MESSAGE', 'UNKNOWN_DEVICE', 'BAD_SIGNATURE', 'ID_MISMATCH'] as const) expect(kinds.has(k), k).toBe(true);
    expect(h.ingest.counters.rejected).toMatchObject({
      UNDECODABLE: 1,
      EMPTY: 1,
      TOO_LARGE: 1,
      UNKNOWN_DEVICE: 1,
      KEY_MISMATCH: 1,
      BAD_SIGNATURE: 1,
      ID_MISMATCH: 1,
    });
    await h.close();
  });

  it('refuses, counts and alerts on a message whose signed header names another device as its subject (DESIGN §8)', async () => {
    const h = await harness(engine);
    await h.fleet.enroll('dock-2', new TestDock('dock-2', 'f1', 12).key.publicKey, 'test');
    h.dock.subject = 'dock-2';
    const manifest = h.dock.clip(5000, { chunkSize: 4096 });
    const cases: [Parameters<TestDock['topic']>[0], Uint8Array][] = [
      ['status', h.dock.status()],
      ['birth', h.dock.birth()],
      ['event', h.dock.event({ kind: pb.EventKind.EVENT_KIND_CLOCK })],
      ['death', h.dock.death()],
      ['manifest', resignWithSubject(h.dock, manifest.manifest, 'dock-2')],
    ];
    for (const [kind, payload] of cases) expect(await h.send(kind, payload), kind).toMatchObject({ status: 'rejected', reason: 'SUBJECT_MISMATCH' });
    expect(h.ingest.counters.rejected.SUBJECT_MISMATCH).toBe(cases.length);
    expect(await h.db.all('SELECT hash FROM messages')).toHaveLength(0);
    expect(await h.db.all('SELECT manifest_hash FROM manifests')).toHaveLength(0);
    expect(h.raised.filter((a) => a.kind === 'ID_MISMATCH' && /dock-2/.test(a.message))).toHaveLength(cases.length);
    expect(h.accepted).toHaveLength(0);
    // Naming itself (as the dock does) or nobody is fine.
    h.dock.subject = 'dock-1';
    expect(await h.send('status', h.dock.status())).toMatchObject({ status: 'accepted' });
    h.dock.subject = null;
    expect(await h.send('status', h.dock.status())).toMatchObject({ status: 'accepted' });
    await h.close();
  });

  it('applies a replayed message once and refuses a seq signed twice with different content', async () => {
    const h = await harness(engine);
    const ev = h.dock.event({ kind: pb.EventKind.EVENT_KIND_CLOCK, detail: 'x' }, 5);
    expect((await h.send('event', ev)).status).toBe('accepted');
    expect((await h.send('event', ev)).status).toBe('duplicate');
    expect(h.acks().filter((a) => a.kind === pb.AckKind.ACK_KIND_RECEIVED)).toHaveLength(2);
    const other = h.dock.event({ kind: pb.EventKind.EVENT_KIND_CLOCK, detail: 'y' }, 5);
    expect(await h.send('event', other)).toMatchObject({ status: 'rejected', reason: 'SEQ_REUSED' });
    expect(h.accepted.filter((m) => m.type === 'Event')).toHaveLength(1);
    await h.close();
  });

  it('rejects a self-contradicting manifest with a signed REJECTED ack, and an unsigned chunk envelope that claims a signature', async () => {
    const h = await harness(engine);
    const clip = h.dock.clip(5000, { chunkSize: 4096 });
    const { openEnvelope } = await import('../proto/envelope.js');
    const m = pb.ClipManifest.decode(openEnvelope(clip.manifest).body);
    m.byteLength = 999_999; // chunk hashes no longer fit the length
    const bad = sealEnvelope('ClipManifest', pb.ClipManifest.encode(m).finish(), h.dock.key).bytes;
    expect(await h.send('manifest', bad)).toMatchObject({ status: 'rejected', reason: 'MANIFEST_INCONSISTENT' });
    const m2 = pb.ClipManifest.decode(openEnvelope(clip.manifest).body);
    m2.merkleRoot = Buffer.alloc(32, 0xab); // a root the chunk hashes do not produce
    const badRoot = sealEnvelope('ClipManifest', pb.ClipManifest.encode(m2).finish(), h.dock.key).bytes;
    expect(await h.send('manifest', badRoot)).toMatchObject({
      status: 'rejected',
      reason: 'MANIFEST_INCONSISTENT',
      detail: 'merkle_root does not match the chunk hashes',
    });
    expect(h.acks().at(-1)).toMatchObject({ kind: pb.AckKind.ACK_KIND_REJECTED });
    const signedChunk = sealEnvelope('ClipChunk', pb.ClipChunk.encode({ manifestHash: clip.hash, index: 0, data: clip.chunks[0]! }).finish(), h.dock.key).bytes;
    expect((await h.send('chunk', signedChunk)).status).toBe('rejected');
    expect(encodeUnsignedEnvelope('ClipChunk', new Uint8Array(0)).byteLength).toBeGreaterThan(0);
    await h.close();
  });
});

describe('clip store staging (chunks written in place, hashed as they arrive)', () => {
  const chunkSize = 4096;
  const bytes = Buffer.concat([Buffer.alloc(chunkSize * 4, 7), Buffer.from('tail of the clip')]);
  const chunks = Array.from({ length: 5 }, (_, i) => bytes.subarray(i * chunkSize, (i + 1) * chunkSize));
  const sha = sha256(bytes).toString('hex');
  const mh = 'cd'.repeat(32);
  const clipOf = (sha256: string) => ({ chunkSize, chunkHashes: chunks.map((c) => sha256Of(c)), sha256, byteLength: bytes.byteLength });

  it('makes the blob from chunks in any order, by rename, read-only; a wrong whole-file hash keeps the staging file', async () => {
    const store = await new ClipStore(join(tempDir(), 'clips')).init();
    for (const i of [3, 1, 0, 4, 2]) await store.stageChunk(mh, i, chunks[i]!, chunkSize);
    expect(await store.stagingSize(mh)).toBe(bytes.byteLength);
    await expect(store.finish(mh, clipOf('ee'.repeat(32)))).rejects.toThrow(/every chunk matches the manifest, but the clip's SHA-256/);
    expect(await store.stagingSize(mh)).toBe(bytes.byteLength);
    const r = await store.finish(mh, clipOf(sha));
    expect(r).toEqual({ sha256: sha, byteLength: bytes.byteLength, existed: false });
    expect(readFileSync(store.blobPath(sha)).equals(bytes)).toBe(true);
    const { statSync } = await import('node:fs');
    expect(statSync(store.blobPath(sha)).mode & 0o777).toBe(0o440);
    expect(await store.stagingSize(mh)).toBeNull();
    await store.close();
  });

  it('after a restart (a new store over the same files) hashes the staged file again, and says so when it is missing', async () => {
    const root = join(tempDir(), 'clips');
    const first = await new ClipStore(root).init();
    for (const i of [0, 1, 2]) await first.stageChunk(mh, i, chunks[i]!, chunkSize);
    await first.close();
    const second = await new ClipStore(root).init();
    for (const i of [4, 3]) await second.stageChunk(mh, i, chunks[i]!, chunkSize);
    expect(await second.finish(mh, clipOf(sha))).toMatchObject({ sha256: sha, existed: false });
    expect(readFileSync(second.blobPath(sha)).equals(bytes)).toBe(true);
    const { StagingIncompleteError } = await import('../gateway/ingest/clip-store.js');
    await expect(second.finish('ab'.repeat(32), clipOf('ee'.repeat(32)))).rejects.toMatchObject({
      name: 'StagingIncompleteError',
      chunks: [0, 1, 2, 3, 4],
    });
    await second.close();
    // A staged chunk damaged on this side is named, to be asked for again.
    const root3 = join(tempDir(), 'clips');
    const third = await new ClipStore(root3).init();
    for (const i of [0, 1, 2, 3, 4]) await third.stageChunk('ab'.repeat(32), i, chunks[i]!, chunkSize);
    await third.close();
    const { openSync, writeSync, closeSync } = await import('node:fs');
    const fd = openSync(join(root3, 'staging', `${'ab'.repeat(32)}.part`), 'r+');
    writeSync(fd, Buffer.from('bit rot'), 0, 7, 2 * chunkSize + 10);
    closeSync(fd);
    const damaged = await third.finish('ab'.repeat(32), clipOf(sha)).catch((e: unknown) => e);
    expect(damaged).toBeInstanceOf(StagingIncompleteError);
    expect((damaged as InstanceType<typeof StagingIncompleteError>).chunks).toEqual([2]);
    await third.close();
  });
});

describe('ingest when the staged bytes are gone', () => {
  it('asks the dock for every chunk again instead of rejecting the clip', async () => {
    const h = await harness('sqlite');
    const clip = h.dock.clip(5 * 4096, { chunkSize: 4096 });
    await h.send('manifest', clip.manifest);
    await upload(h, clip, [0, 1, 2, 3]);
    // The staging area is wiped (a restored disk): the last chunk completes the set in the database only;
    // chunks 0–3 are gone, chunk 4 (staged after the wipe) is fine.
    await h.store.dropStaging(clip.hashHex);
    expect((await h.send('chunk', h.dock.chunk(clip, 4))).status).toBe('accepted');
    expect(await manifestState(h, clip.hashHex)).toBe('RECEIVED');
    const again = h.acks().at(-1)!;
    expect(again.kind).toBe(pb.AckKind.ACK_KIND_CHUNKS_MISSING);
    expect(again.missingChunks.map((c) => [c.start, c.end])).toEqual([[0, 4]]);
    expect(h.raised.filter((a) => a.kind === 'CLIP_REJECTED')).toHaveLength(0);
    await upload(h, clip);
    expect(await manifestState(h, clip.hashHex)).toBe('VERIFIED');
    await h.close();
  });
});
