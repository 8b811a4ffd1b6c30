/**
 * `npm run bench -- gateway`: gateway manifest ingest against a bare verify loop, in the same run.
 *
 * Every manifest a gateway receives costs one strict Ed25519 verification and one Ed25519
 * signature (its ack), so ingest speed is a ratio to those primitives on the same cores in the
 * same run (DESIGN, top notes: ≥ 0.6× of a bare verify loop), not an absolute number.
 *
 * Three contenders, interleaved round by round, on the same N distinct pre-signed manifests:
 * 1. bare verify: `openEnvelope` + `verifyStrict` on every envelope (the primitives ingest uses);
 * 2. bare verify + sign: the same, plus one node:crypto Ed25519 signature of an ack-sized message;
 * 3. ingest: `Ingest.handle(topic, payload)` for every manifest, up to 256 in flight, against a
 *    fresh SQLite file (WAL, every write fsynced before it resolves, as `openGatewayDb` opens it), a real ClipStore, a
 *    real GatewayMessenger with a gateway key and a sink that keeps the acks in memory. After each
 *    round: every manifest stored RECEIVED, one signed MANIFEST_RECEIVED ack each, nothing refused.
 * Optionally (BWC_BENCH_GATEWAY_PG): the same ingest on PostgreSQL, one new database per round.
 *
 * Sizes: BWC_BENCH_GATEWAY_N (manifests per round), BWC_BENCH_GATEWAY_DOCKS, BWC_BENCH_GATEWAY_INFLIGHT,
 * BWC_BENCH_GATEWAY_ROUNDS. scripts/bench/README.md explains every number.
 *
 * `ingestRound` and `sqliteRoundDb` (and gateway-corpus.ts's `buildCorpus`) are exported so that a
 * small script can run ingest alone, e.g. under `node --cpu-prof`.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { pb } from '../../proto/wire.js';
import { openEnvelope, signedInput } from '../../proto/envelope.js';
import { trustPublicKey, verifyStrict, type TrustedKey } from '../../proto/ed25519.js';
import { openAck } from '../../proto/ack.js';
import { deviceTopic } from '../../proto/topics.js';
import { toHex } from '../../proto/bytes.js';
import { openGatewayDb } from '../../gateway/store/open.js';
import type { Db } from '../../gateway/store/db.js';
import { ClipStore } from '../../gateway/ingest/clip-store.js';
import { CryptoPool } from '../../gateway/ingest/crypto-pool.js';
import { Ingest } from '../../gateway/ingest/ingest.js';
import type { IngestResult } from '../../gateway/ingest/types.js';
import { GatewayMessenger } from '../../gateway/messenger.js';
import { Fleet } from '../../gateway/fleet/registry.js';
import { Alerts } from '../../gateway/fleet/alerts.js';
import { AuditLog } from '../../gateway/audit/log.js';
import { loadOrCreateGatewayKey, type GatewaySigner } from '../../gateway/signer.js';
import { checkLean, leanNote, leanRound, type LeanRoundResult } from './gateway-lean.js';
import { BENCH_FLEET as FLEET, buildCorpus, type BenchManifest, type Corpus } from './gateway-corpus.js';
import {
  BenchCheckError,
  interleave,
  now,
  pairedRatios,
  pairedRow,
  quantile,
  row,
  threadCpu,
  threadSplit,
  timeLoop,
  type BenchContext,
  type BenchRow,
  type Benchmark,
  type Contender,
} from './harness.js';

const GATEWAY_ID = 'gw-bench';
const RATIO_TARGET = 0.6;
/** Ingest against the required work written plainly, on the same engine in the same round. */
const LEAN_TARGET = 0.9;
const ABSOLUTE_REFERENCE = 8_000;
/** Each bare round verifies the N envelopes as many times as it takes to last about this long. */
const BARE_ROUND_MS = 400;
const WARMUP_MANIFESTS = 500;

function envInt(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new BenchCheckError(`${name}=${raw}: expected a whole number from ${min} to ${max}`);
  }
  return n;
}

interface Settings {
  manifests: number;
  docks: number;
  inFlight: number;
  rounds: number;
  pgUrl: string | null;
}

function settings(): Settings {
  return {
    manifests: envInt('BWC_BENCH_GATEWAY_N', 4_000, 8, 1_000_000),
    docks: envInt('BWC_BENCH_GATEWAY_DOCKS', 8, 1, 10_000),
    inFlight: envInt('BWC_BENCH_GATEWAY_INFLIGHT', 256, 1, 100_000),
    rounds: envInt('BWC_BENCH_GATEWAY_ROUNDS', 8, 1, 50),
    pgUrl: process.env.BWC_BENCH_GATEWAY_PG || null,
  };
}

/** The signed input of an ack as ingest sends it for a stored manifest (MANIFEST_RECEIVED). */
function ackSizedInput(m: BenchManifest): Buffer {
  const hash = Buffer.from(m.hashHex, 'hex');
  const body = pb.Ack.encode({
    header: { issuer: GATEWAY_ID, subjectDevice: m.deviceId, fleet: FLEET, seq: 1_234, createdAtMs: Date.now() },
    kind: pb.AckKind.ACK_KIND_MANIFEST_RECEIVED,
    deviceId: m.deviceId,
    ackedHash: hash,
    ackedType: 'ClipManifest',
    manifestHash: hash,
    clipSha256: Buffer.alloc(32, 0xab),
    byteLength: m.byteLength,
    missingChunks: [{ start: 0, end: m.chunkCount }],
  }).finish();
  return signedInput('Ack', body);
}

// ---------------------------------------------------------------------------------------------
// One ingest round
// ---------------------------------------------------------------------------------------------

export interface IngestRoundResult {
  ms: number;
  /** Wall-clock latency of every handle() call, from its start to its resolution. */
  latenciesMs: number[];
  cpuUs: number;
  eventLoopUtilization: number;
  setupMs: number;
  checkMs: number;
  /** Group-commit batches during the round, when Ingest exposes `batcher.stats` (else null). */
  batches: { batches: number; units: number } | null;
  /**
   * CPU µs of the measured part by thread (Linux): the main thread, the busiest other thread
   * (the crypto worker, when there is one), and every other thread (libuv's pool
   * doing the fsyncs, the checkpoint thread, V8's helpers). Null where /proc is not there.
   */
  threadsUs: { main: number; busiest: number; other: number } | null;
}

/** A fresh database for one round: a SQLite file in `dir`, or a new database on the PostgreSQL cluster. */
export interface RoundDb {
  db: Db;
  dispose(): Promise<void>;
}

export async function sqliteRoundDb(dir: string): Promise<RoundDb> {
  const db = await openGatewayDb(join(dir, 'gateway.db'));
  return { db, dispose: () => db.close() };
}

let pgDatabases = 0;

/** A new empty database on the cluster at `adminUrl` (which may CREATE DATABASE): its URL, and a way to drop it. */
async function createPgDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `bwc_bench_${process.pid}_${++pgDatabases}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

async function postgresRoundDb(adminUrl: string): Promise<RoundDb> {
  const created = await createPgDatabase(adminUrl);
  let db: Db;
  try {
    db = await openGatewayDb(created.url);
  } catch (e) {
    await created.drop();
    throw e;
  }
  return {
    db,
    dispose: async () => {
      await db.close();
      await created.drop();
    },
  };
}

/**
 * Feeds `manifests` through a new Ingest on a fresh database, keeping up to `inFlight` handle()
 * calls outstanding, then checks that every manifest was stored RECEIVED and acked once.
 */
export async function ingestRound(
  corpus: Corpus,
  manifests: readonly BenchManifest[],
  gatewaySigner: GatewaySigner,
  gatewayKey: TrustedKey,
  dir: string,
  openDb: (dir: string) => Promise<RoundDb>,
  inFlight: number,
  cryptoThreads = 0,
): Promise<IngestRoundResult> {
  const s0 = now();
  mkdirSync(dir, { recursive: true });
  const roundDb = await openDb(dir);
  // As the gateway composes it (gateway/compose/foundation.ts): verification and ack signatures on worker threads.
  const pool = cryptoThreads > 0 ? new CryptoPool(cryptoThreads, gatewaySigner.keyObject) : null;
  try {
    const { db } = roundDb;
    const store = await new ClipStore(join(dir, 'clips')).init();
    const messenger = new GatewayMessenger({
      db,
      signer: gatewaySigner,
      gatewayId: GATEWAY_ID,
      fleet: FLEET,
      ...(pool ? { signWith: (m: Uint8Array) => pool.sign(m) } : {}),
    });
    // The audit log records every manifest stored, in the same transaction (gateway/README.md "Audit log").
    const audit = new AuditLog({ db, gatewayId: GATEWAY_ID, fleet: FLEET, signer: gatewaySigner });
    const fleet = new Fleet({ db, alerts: new Alerts(db), fleet: FLEET, audit });
    const published: { topic: string; payload: Uint8Array }[] = [];
    const alerts: string[] = [];
    let accepted = 0;
    const ingest = new Ingest({
      db,
      store,
      sealer: messenger,
      fleet: FLEET,
      ...(pool ? { verifier: pool } : {}),
      audit,
      sink: {
        publish: async (topic, payload) => {
          published.push({ topic, payload });
        },
        alert: async (a) => {
          alerts.push(`${a.kind}: ${a.message}`);
        },
        accepted: async (m) => {
          if (m.type === 'ClipManifest') accepted++;
        },
      },
    });
    for (const d of corpus.docks) await fleet.enroll(d.deviceId, d.signer.publicKey, 'bench');
    const setupMs = now() - s0;

    // The measured part: every manifest handled, up to `inFlight` at once, as the gateway's MQTT
    // handler does (it acknowledges each message to the broker only when handle() resolves).
    const results: IngestResult[] = new Array(manifests.length);
    const latenciesMs: number[] = new Array(manifests.length);
    let next = 0;
    const worker = async () => {
      while (next < manifests.length) {
        const i = next++;
        const m = manifests[i]!;
        const t = performance.now();
        results[i] = await ingest.handle(m.topic, m.bytes);
        latenciesMs[i] = performance.now() - t;
      }
    };
    // Read without depending on it: the batcher is an implementation detail of Ingest.
    const batchStats = () => {
      const st = (ingest as unknown as { batcher?: { stats?: { batches?: unknown; units?: unknown } } }).batcher?.stats;
      return typeof st?.batches === 'number' && typeof st.units === 'number' ? { batches: st.batches, units: st.units } : null;
    };
    const b0 = batchStats();
    const th0 = threadCpu();
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = process.cpuUsage();
    const t0 = now();
    await Promise.all(Array.from({ length: Math.min(inFlight, manifests.length) }, worker));
    const ms = now() - t0;
    const th1 = threadCpu();
    const cpu = process.cpuUsage(cpu0);
    const elu = performance.eventLoopUtilization(elu0);
    const b1 = batchStats();
    const batches = b0 && b1 ? { batches: b1.batches - b0.batches, units: b1.units - b0.units } : null;

    // Correctness, outside the clock: a manifest counts only if it was stored and acked.
    const c0 = now();
    const refused = results.map((r, i) => ({ r, m: manifests[i]! })).filter(({ r }) => r.status !== 'accepted');
    if (refused.length > 0) {
      const { r, m } = refused[0]!;
      throw new BenchCheckError(
        `ingest did not accept ${refused.length} of ${manifests.length} manifests; first: ${m.deviceId} seq ${m.seq}: ${JSON.stringify(r)}`,
      );
    }
    const rejected = Object.entries(ingest.counters.rejected).filter(([, n]) => (n ?? 0) > 0);
    if (rejected.length > 0) throw new BenchCheckError(`ingest counted rejections: ${JSON.stringify(Object.fromEntries(rejected))}`);
    if (alerts.length > 0) throw new BenchCheckError(`ingest raised ${alerts.length} alert(s); first: ${alerts[0]}`);
    if (accepted !== manifests.length) throw new BenchCheckError(`the sink was told of ${accepted} accepted manifests, not ${manifests.length}`);
    if (published.length !== manifests.length)
      throw new BenchCheckError(`${published.length} messages published for ${manifests.length} manifests (one ack each expected)`);
    const byHash = new Map(manifests.map((m) => [m.hashHex, m]));
    const acked = new Set<string>();
    for (const p of published) {
      let ack: ReturnType<typeof openAck>;
      try {
        ack = openAck(p.payload, gatewayKey); // strict verification with the gateway's public key
      } catch (e) {
        throw new BenchCheckError(`an ack on ${p.topic} does not open with the gateway key: ${(e as Error).message}`);
      }
      const hash = toHex(ack.ackedHash);
      const m = byHash.get(hash);
      if (!m) throw new BenchCheckError(`an ack names ${hash.slice(0, 16)}…, which is not a manifest of this round`);
      if (acked.has(hash)) throw new BenchCheckError(`manifest ${hash.slice(0, 16)}… was acked twice`);
      acked.add(hash);
      if (p.topic !== deviceTopic(FLEET, m.deviceId, 'ack')) throw new BenchCheckError(`the ack for ${m.deviceId} seq ${m.seq} went to ${p.topic}`);
      if (ack.kind !== pb.AckKind.ACK_KIND_MANIFEST_RECEIVED)
        throw new BenchCheckError(`the ack for ${m.deviceId} seq ${m.seq} is of kind ${ack.kind}, not MANIFEST_RECEIVED`);
      if (ack.deviceId !== m.deviceId || toHex(ack.manifestHash) !== hash || Number(ack.byteLength) !== m.byteLength) {
        throw new BenchCheckError(`the ack for ${m.deviceId} seq ${m.seq} names another device, manifest or length`);
      }
      const missing = ack.missingChunks.map((r) => [Number(r.start), Number(r.end)]);
      if (missing.length !== 1 || missing[0]![0] !== 0 || missing[0]![1] !== m.chunkCount) {
        throw new BenchCheckError(`the ack for ${m.deviceId} seq ${m.seq} asks for chunks ${JSON.stringify(missing)}, not [[0,${m.chunkCount}]]`);
      }
    }
    const rows = await db.all<{ manifest_hash: string; device_id: string; seq: number; state: string; chunk_count: number }>(
      'SELECT manifest_hash, device_id, seq, state, chunk_count FROM manifests',
    );
    if (rows.length !== manifests.length) throw new BenchCheckError(`${rows.length} manifests stored, not ${manifests.length}`);
    for (const r of rows) {
      const m = byHash.get(r.manifest_hash);
      if (!m || r.device_id !== m.deviceId || Number(r.seq) !== m.seq || Number(r.chunk_count) !== m.chunkCount) {
        throw new BenchCheckError(`stored manifest ${r.manifest_hash.slice(0, 16)}… (${r.device_id} seq ${r.seq}) is not the one sent`);
      }
      if (r.state !== 'RECEIVED') throw new BenchCheckError(`stored manifest ${r.device_id} seq ${r.seq} is ${r.state}, not RECEIVED`);
    }
    return {
      ms,
      latenciesMs,
      cpuUs: cpu.user + cpu.system,
      eventLoopUtilization: elu.utilization,
      setupMs,
      checkMs: now() - c0,
      batches,
      threadsUs: threadSplit(th0, th1),
    };
  } finally {
    await pool?.close();
    await roundDb.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The benchmark
// ---------------------------------------------------------------------------------------------

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

export const gateway: Benchmark = {
  name: 'gateway',
  summary: 'manifest ingest (verify, SQLite WAL+FULL, signed ack; 256 in flight) vs a bare verify loop and verify + sign (≥ 0.6×)',
  async run(ctx: BenchContext) {
    const s = settings();
    const root = mkdtempSync(join(tmpdir(), 'bwc-bench-gateway-'));
    try {
      return await runIn(ctx, s, root);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
};

async function runIn(ctx: BenchContext, s: Settings, root: string): Promise<Awaited<ReturnType<Benchmark['run']>>> {
  ctx.progress(`gateway: signing ${s.manifests} manifests from ${s.docks} docks…`);
  const corpus = buildCorpus(s.manifests, s.docks);
  const { manifests } = corpus;
  const { signer: gatewaySigner } = loadOrCreateGatewayKey(join(root, 'gateway-key'));
  const gatewayKey = trustPublicKey(gatewaySigner.publicKey);
  const keys = new Map(corpus.docks.map((d) => [d.trusted.keyId, d.trusted]));
  const ackInputs = manifests.map(ackSizedInput);
  const ackBytes = median(ackInputs.map((a) => a.byteLength));

  // Bare loops: the same envelopes through the same primitives, nothing else.
  let verified = 0;
  const verifyOne = (bytes: Uint8Array): void => {
    const env = openEnvelope(bytes);
    const key = keys.get(env.keyId);
    if (key && verifyStrict(key, env.signedInput, env.sig)) verified++;
  };
  const bare = () => {
    for (const m of manifests) verifyOne(m.bytes);
  };
  const bareSign = () => {
    for (let i = 0; i < manifests.length; i++) {
      verifyOne(manifests[i]!.bytes);
      gatewaySigner.sign(ackInputs[i]!);
    }
  };
  ctx.progress('gateway: warming up the bare loops…');
  bare();
  if (verified !== manifests.length) throw new BenchCheckError(`only ${verified} of ${manifests.length} manifests verify`);
  const onePassMs = timeLoop(1, bare);
  const passes = Math.max(1, Math.ceil(BARE_ROUND_MS / Math.max(onePassMs, 0.001)));
  bareSign();

  let round = 0;
  const openSqliteRound = (dir: string) => sqliteRoundDb(dir);
  const openPgRound = s.pgUrl ? () => postgresRoundDb(s.pgUrl!) : null;
  ctx.progress(`gateway: warming up ingest (${Math.min(WARMUP_MANIFESTS, manifests.length)} manifests)…`);
  await ingestRound(corpus, manifests.slice(0, WARMUP_MANIFESTS), gatewaySigner, gatewayKey, join(root, 'warmup'), openSqliteRound, s.inFlight);
  if (openPgRound) await ingestRound(corpus, manifests.slice(0, WARMUP_MANIFESTS), gatewaySigner, gatewayKey, join(root, 'warmup-pg'), openPgRound, s.inFlight);

  const ingestRounds: IngestRoundResult[] = [];
  const inlineRounds: IngestRoundResult[] = [];
  const verifyPool = new CryptoPool(2);
  const pgRounds: IngestRoundResult[] = [];
  const contenders: Contender[] = [
    { name: 'bare', round: () => timeLoop(passes, bare) / passes },
    { name: 'bareSign', round: () => timeLoop(passes, bareSign) / passes },
    {
      name: 'ingestInline',
      round: async () => {
        const r = await ingestRound(corpus, manifests, gatewaySigner, gatewayKey, join(root, `round-inline-${++round}`), openSqliteRound, s.inFlight, 0);
        inlineRounds.push(r);
        return r.ms;
      },
    },
    {
      name: 'bare2',
      round: async () => {
        const t = now();
        const ok = await Promise.all(
          manifests.map((m) => {
            const env = openEnvelope(m.bytes);
            return verifyPool.verify(keys.get(env.keyId)!, env.signedInput, env.sig);
          }),
        );
        if (ok.some((v) => !v)) throw new BenchCheckError('a manifest failed to verify on the worker threads');
        return now() - t;
      },
    },
  ];
  // Ingest and what any gateway must do with a manifest, written plainly (gateway-lean.ts), run
  // one right after the other in every round (adjacent here, so in the reversed order too): each
  // round's ratio of the two is taken under the same load, and the row is their median.
  const leanRounds: LeanRoundResult[] = [];
  const leanPgRounds: LeanRoundResult[] = [];
  const lean =
    (pgUrl: string | null, into: LeanRoundResult[]): Contender['round'] =>
    async () => {
      const dir = join(root, `round-lean-${++round}`);
      mkdirSync(dir, { recursive: true });
      const pgDb = pgUrl ? await createPgDatabase(pgUrl) : null;
      try {
        const r = await leanRound(manifests, keys, gatewaySigner, GATEWAY_ID, FLEET, pgDb ? { postgresUrl: pgDb.url } : { sqliteDir: dir });
        checkLean(r, manifests, gatewayKey);
        into.push(r);
        return r.ms;
      } finally {
        await pgDb?.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    };
  contenders.push(
    {
      name: 'ingest',
      round: async () => {
        const r = await ingestRound(corpus, manifests, gatewaySigner, gatewayKey, join(root, `round-${++round}`), openSqliteRound, s.inFlight, 1);
        ingestRounds.push(r);
        return r.ms;
      },
    },
    { name: 'lean', round: lean(null, leanRounds) },
  );
  if (openPgRound) {
    contenders.push(
      {
        name: 'ingestPg',
        round: async () => {
          const r = await ingestRound(corpus, manifests, gatewaySigner, gatewayKey, join(root, `round-pg-${++round}`), openPgRound, s.inFlight, 1);
          pgRounds.push(r);
          return r.ms;
        },
      },
      { name: 'leanPg', round: lean(s.pgUrl, leanPgRounds) },
    );
  }
  const label: Record<string, string> = {
    bare: `bare verify (${passes} × ${manifests.length})`,
    bareSign: `bare verify + sign (${passes} × ${manifests.length})`,
    ingest: `ingest of ${manifests.length} on SQLite`,
    ingestPg: `ingest of ${manifests.length} on PostgreSQL`,
  };
  verified = 0;
  label.ingestInline = `ingest of ${manifests.length} on SQLite, crypto on the main thread`;
  label.bare2 = `bare verify on two worker threads (${manifests.length})`;
  label.lean = `the required work, lean, on ${manifests.length}`;
  label.leanPg = `the required work, lean, on PostgreSQL, on ${manifests.length}`;
  let result;
  try {
    result = await interleave(contenders, s.rounds, (name, r, n) => ctx.progress(`gateway: ${label[name]} (round ${r}/${n})…`));
  } finally {
    await verifyPool.close();
  }
  if (verified !== manifests.length * passes * s.rounds * 2) {
    throw new BenchCheckError(`only ${verified} of ${manifests.length * passes * s.rounds * 2} bare verifications succeeded`);
  }

  const perSec = (ms: number) => manifests.length / (ms / 1000);
  const bareRate = perSec(result.median.bare!);
  const bareSignRate = perSec(result.median.bareSign!);
  const ingestRate = perSec(result.median.ingest!);
  const inlineRate = perSec(result.median.ingestInline!);
  const bare2Rate = perSec(result.median.bare2!);
  const rows: BenchRow[] = [
    row('ingest manifests (SQLite, main + 1 crypto worker) vs bare verify loop', ingestRate, bareRate, 'manifests/s', RATIO_TARGET),
    row('ingest manifests (SQLite, all on one thread) vs bare verify loop', inlineRate, bareRate, 'manifests/s', null),
    row('ingest manifests (main + 1 crypto worker) vs bare verify on two threads', ingestRate, bare2Rate, 'manifests/s', null),
    row('ingest manifests (SQLite) vs bare verify + ack sign', ingestRate, bareSignRate, 'manifests/s', null),
    row('bare verify + ack sign vs bare verify (ceiling)', bareSignRate, bareRate, 'manifests/s', null),
    row('the required work, lean (same schema, plain better-sqlite3) vs bare verify loop', perSec(result.median.lean!), bareRate, 'manifests/s', null),
    pairedRow(
      'ingest manifests (SQLite) vs the required work, lean: median of paired rounds',
      ingestRate,
      perSec(result.median.lean!),
      'manifests/s',
      LEAN_TARGET,
      pairedRatios(result.times.ingest!, result.times.lean!),
    ),
    row(`ingest manifests (SQLite) vs ${ABSOLUTE_REFERENCE.toLocaleString('en-US')}/s`, ingestRate, ABSOLUTE_REFERENCE, 'manifests/s', null),
  ];
  const describe = (rounds: IngestRoundResult[], engine: string): string[] => {
    const mid = [...rounds].sort((a, b) => a.ms - b.ms)[Math.floor((rounds.length - 1) / 2)]!;
    return [
      `ingest (${engine}) median round: ${mid.ms.toFixed(0)} ms for ${manifests.length}; handle() latency p50 ${quantile(mid.latenciesMs, 0.5).toFixed(1)} ms, ` +
        `p99 ${quantile(mid.latenciesMs, 0.99).toFixed(1)} ms with ${s.inFlight} in flight; per manifest ${((mid.ms * 1000) / manifests.length).toFixed(0)} µs wall, ` +
        `${(mid.cpuUs / manifests.length).toFixed(0)} µs CPU (user+sys, all threads); event loop busy ${(mid.eventLoopUtilization * 100).toFixed(0)} %` +
        (mid.batches && mid.batches.batches > 0
          ? `; ${mid.batches.batches} group commits, ${(mid.batches.units / mid.batches.batches).toFixed(1)} writes each on average`
          : ''),
      ...(mid.threadsUs
        ? [
            `CPU per manifest by thread (${engine}): main ${(mid.threadsUs.main / manifests.length).toFixed(0)} µs, busiest other thread (the crypto worker) ${(mid.threadsUs.busiest / manifests.length).toFixed(0)} µs, ` +
              `other threads (libuv's pool: fsyncs; the checkpoint thread; V8) ${(mid.threadsUs.other / manifests.length).toFixed(0)} µs; the bare verify loop ${(1e6 / bareRate).toFixed(0)} µs, verify + sign ${(1e6 / bareSignRate).toFixed(0)} µs`,
          ]
        : []),
    ];
  };
  const notes = [
    `${manifests.length} distinct manifests from ${s.docks} docks (seq 1..${Math.ceil(manifests.length / s.docks)} each, fed round-robin), ` +
      `${corpus.chunks.min}–${corpus.chunks.max} chunks of 1 MiB declared; envelopes ${corpus.envelopeBytes.min}–${corpus.envelopeBytes.max} bytes (median ${corpus.envelopeBytes.median}); ack signed input ≈ ${ackBytes} bytes`,
    `medians of ${s.rounds} interleaved rounds: bare verify ${Math.round(bareRate)}/s, verify + sign ${Math.round(bareSignRate)}/s, ingest ${Math.round(ingestRate)}/s ` +
      `(best: ${Math.round(perSec(result.best.bare!))}, ${Math.round(perSec(result.best.bareSign!))}, ${Math.round(perSec(result.best.ingest!))})`,
    ...describe(ingestRounds, 'SQLite WAL, durable writes'),
    ...leanNote(leanRounds, manifests.length),
    `checked every ingest round: ${manifests.length} accepted, 0 refused, 0 alerts, ${manifests.length} signed MANIFEST_RECEIVED acks (one per manifest, verified with the gateway key, missing = all chunks), ${manifests.length} rows RECEIVED`,
  ];
  const details: Record<string, unknown> = {
    settings: { ...s, pgUrl: s.pgUrl ? '(set)' : null },
    corpus: {
      manifests: manifests.length,
      docks: s.docks,
      envelopeBytes: corpus.envelopeBytes,
      chunks: corpus.chunks,
      buildMs: corpus.buildMs,
      ackSignedInputBytes: ackBytes,
    },
    barePassesPerRound: passes,
    roundsMs: result.times,
    medianMs: result.median,
    bestMs: result.best,
    perSecond: { bare: bareRate, bareSign: bareSignRate, ingest: ingestRate },
    pairedIngestVsLean: pairedRatios(result.times.ingest!, result.times.lean!),
    ...(openPgRound ? { pairedIngestPgVsLeanPg: pairedRatios(result.times.ingestPg!, result.times.leanPg!) } : {}),
    ingestRounds: ingestRounds.map((r) => ({
      ms: r.ms,
      setupMs: r.setupMs,
      checkMs: r.checkMs,
      cpuUs: r.cpuUs,
      eventLoopUtilization: r.eventLoopUtilization,
      batches: r.batches,
      latencyMs: { p50: quantile(r.latenciesMs, 0.5), p99: quantile(r.latenciesMs, 0.99), max: Math.max(...r.latenciesMs) },
    })),
  };
  if (openPgRound) {
    const pgRate = perSec(result.median.ingestPg!);
    rows.push(row('ingest manifests (PostgreSQL) vs bare verify loop', pgRate, bareRate, 'manifests/s', null));
    rows.push(
      pairedRow(
        'ingest manifests (PostgreSQL) vs the required work, lean, on PostgreSQL: median of paired rounds',
        pgRate,
        perSec(result.median.leanPg!),
        'manifests/s',
        LEAN_TARGET,
        pairedRatios(result.times.ingestPg!, result.times.leanPg!),
      ),
    );
    notes.push(...describe(pgRounds, 'PostgreSQL'), ...leanNote(leanPgRounds, manifests.length, 'PostgreSQL'));
    details.perSecond = { ...(details.perSecond as object), ingestPg: pgRate };
    details.pgRounds = pgRounds.map((r) => ({
      ms: r.ms,
      setupMs: r.setupMs,
      cpuUs: r.cpuUs,
      eventLoopUtilization: r.eventLoopUtilization,
      batches: r.batches,
    }));
  } else {
    notes.push('PostgreSQL not measured: set BWC_BENCH_GATEWAY_PG to a postgres:// URL allowed to CREATE DATABASE to add it');
  }
  return { rows, notes, details };
}
