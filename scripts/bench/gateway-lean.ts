/**
 * The gateway benchmark's "required work, lean" contender: what any gateway must do with a new
 * manifest, written as plainly as the platform allows, in the same run as ingest and the bare
 * loops. It answers one question: is the ingest target out of this machine's reach, or is the
 * gap our code's?
 *
 * Per manifest, exactly what ingest does and nothing it could skip:
 * - open the envelope, find the dock's key by key id, decode the manifest, check that its header
 *   names the dock and the fleet;
 * - strict Ed25519 verification, the Merkle-root check and the ack signature on one crypto worker
 *   (`CryptoPool`, which costs what the bare operations do: scripts/bench/README.md);
 * - in one SQLite transaction per batch, on a database with the gateway's schema (migrated by
 *   `openGatewayDb`): the chain-neighbour read, the manifest row, its audit entry (canonical JSON,
 *   SHA-256 chained to the head, the head updated) and the stored-content check — the statements
 *   ingest runs, through better-sqlite3 prepared statements with nothing around them;
 * - the commit made durable (fdatasync of the WAL on libuv's pool) before its acks are released.
 *
 * Left out, because no gateway needs them to accept a manifest: the async Db interface (engines
 * other than SQLite), the batcher's error isolation between units, counters, alerts, the sink,
 * the checkpoint thread (SQLite's own checkpoints run inside COMMIT here). Ack headers take their
 * seq from a counter in memory (ingest reserves them in blocks in the database).
 */
import { fdatasync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { pb } from '../../proto/wire.js';
import { openEnvelope, signedInput } from '../../proto/envelope.js';
import { toHex } from '../../proto/bytes.js';
import { decisionToJson } from '../../proto/decision.js';
import type { TrustedKey } from '../../proto/ed25519.js';
import { openGatewayDb } from '../../gateway/store/open.js';
import { CryptoPool } from '../../gateway/ingest/crypto-pool.js';
import { canonicalJson } from '../../gateway/audit/canonical.js';
import { entryHashFromDetailText } from '../../gateway/audit/entry.js';
import type { GatewaySigner } from '../../gateway/signer.js';
import { BenchCheckError, now, threadCpu, threadSplit } from './harness.js';
import { openAck } from '../../proto/ack.js';
import type { BenchManifest } from './gateway-corpus.js';

export interface LeanManifest {
  deviceId: string;
  bytes: Uint8Array;
}

export interface LeanRoundResult {
  ms: number;
  threadsUs: { main: number; busiest: number; other: number } | null;
  /** One signed Ack envelope per manifest, in input order (checked by the caller). */
  acks: Uint8Array[];
  /** The manifests stored, read back after the round. */
  stored: { manifest_hash: string; device_id: string; seq: number; state: string }[];
}

/** Manifests per transaction (ingest's group commits average 55–60 under the same load). */
const BATCH = 64;
/** Batches in flight: one in the crypto worker, one in the database, one waiting on its fsync. */
const PIPELINE = 4;

/** What one manifest writes, worked out before the transaction (the audit entry needs the head). */
interface LeanRow {
  i: number;
  hash: string;
  deviceId: string;
  seq: number;
  prevHash: string;
  clipSha: string;
  insert: unknown[];
  at: number;
  detail: string;
}

/** The audit entry's row for `r` after the head `h`: its values for INSERT and its hash. */
function auditValues(r: LeanRow, h: { seq: number | bigint | string; entry_hash: string }): { values: unknown[]; seq: number; hash: string } {
  const entry = {
    seq: Number(h.seq) + 1,
    at: r.at,
    actor: `device:${r.deviceId}`,
    action: 'clip.manifest_stored',
    subject: r.hash,
    prev: h.entry_hash,
  };
  const hash = entryHashFromDetailText(entry, r.detail);
  return { values: [entry.seq, entry.at, entry.actor, entry.action, entry.subject, r.detail, entry.prev, hash], seq: entry.seq, hash };
}

function refuseFork(r: LeanRow, near: readonly { manifest_hash: string; seq: number | bigint | string }[]): void {
  if (near.some((n) => n.manifest_hash === r.hash || (Number(n.seq) === r.seq - 1 && n.manifest_hash !== r.prevHash))) {
    throw new BenchCheckError(`lean: manifest ${r.i} is held already or forks`);
  }
}

/** One engine's plain connection: `batch` stores the rows in one transaction and resolves once it is durable. */
interface LeanEngine {
  batch(rows: readonly LeanRow[]): Promise<void>;
  stored(): Promise<LeanRoundResult['stored']>;
  close(): Promise<void>;
}

const INSERT_MANIFEST = `INSERT INTO manifests (manifest_hash, device_id, seq, prev_hash, key_id, envelope, clip_sha256, byte_length, chunk_size, chunk_count,
  camera_serial, clip_id, officer_id, started_at, decision, decision_json, category, received_at, state)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'RECEIVED')`;
const NEAR = 'SELECT manifest_hash, device_id, seq, prev_hash FROM manifests WHERE manifest_hash = ? OR (device_id = ? AND seq IN (?, ?, ?))';
const APPEND = 'INSERT INTO audit_log (seq, at, actor, action, subject, detail_json, prev_hash, entry_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)';
const BLOB = 'SELECT 1 AS x FROM blobs WHERE sha256 = ? AND deleted_at IS NULL';

/**
 * SQLite through better-sqlite3 prepared statements: BEGIN IMMEDIATE … COMMIT on the event loop
 * (synchronous = NORMAL), then an fdatasync of the WAL on libuv's pool before the batch resolves.
 */
async function sqliteEngine(dir: string): Promise<LeanEngine> {
  const path = join(dir, 'lean.db');
  await (await openGatewayDb(path)).close(); // the gateway's schema, migrated; then plain better-sqlite3
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  let wal: number | null = null; // the WAL file exists once the first transaction has written it
  const near = db.prepare(NEAR);
  const insert = db.prepare(INSERT_MANIFEST);
  const head = db.prepare('SELECT seq, entry_hash FROM audit_head WHERE id = 1');
  const append = db.prepare(APPEND);
  const moveHead = db.prepare('UPDATE audit_head SET seq = ?, entry_hash = ? WHERE id = 1');
  const blob = db.prepare(BLOB);
  return {
    async batch(rows) {
      db.exec('BEGIN IMMEDIATE');
      try {
        for (const r of rows) {
          refuseFork(r, near.all(r.hash, r.deviceId, r.seq - 1, r.seq, r.seq + 1) as { manifest_hash: string; seq: bigint }[]);
          insert.run(...r.insert);
          const a = auditValues(r, head.get() as { seq: bigint; entry_hash: string });
          append.run(...a.values);
          moveHead.run(a.seq, a.hash);
          blob.get(r.clipSha);
        }
        db.exec('COMMIT');
        wal ??= openSync(`${path}-wal`, 'r+');
      } catch (e) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw e;
      }
      await new Promise<void>((resolve, reject) => fdatasync(wal!, (e) => (e ? reject(e) : resolve())));
    },
    stored: async () =>
      (db.prepare('SELECT manifest_hash, device_id, seq, state FROM manifests').all() as LeanRoundResult['stored']).map((r) => ({
        ...r,
        seq: Number(r.seq),
      })),
    close: async () => {
      if (wal !== null) closeSync(wal);
      db.close();
    },
  };
}

/** `?` placeholders numbered `$1…`, as PostgreSQL wants them. */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/**
 * PostgreSQL through plain node-postgres clients, one per batch in flight: BEGIN … COMMIT (the
 * server fsyncs its WAL inside COMMIT with its default synchronous_commit = on). The audit head is
 * read FOR UPDATE, so batches in flight on other clients wait for it and the chain stays one line:
 * the least any gateway on PostgreSQL must do to keep the log chained with concurrent writers.
 * Prepared statements by name, as a plain client would keep them.
 */
async function postgresEngine(url: string, lanes: number): Promise<LeanEngine> {
  await (await openGatewayDb(url)).close(); // the gateway's schema, migrated
  const clients: pg.Client[] = [];
  try {
    for (let i = 0; i < lanes; i++) {
      const c = new pg.Client({ connectionString: url, application_name: 'bwc-bench-lean' });
      clients.push(c);
      await c.connect();
    }
  } catch (e) {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    throw e;
  }
  const free = [...clients];
  const waiting: ((c: pg.Client) => void)[] = [];
  const take = (): Promise<pg.Client> =>
    new Promise((resolve) => {
      const c = free.pop();
      if (c) resolve(c);
      else waiting.push(resolve);
    });
  const give = (c: pg.Client) => {
    const w = waiting.shift();
    if (w) w(c);
    else free.push(c);
  };
  const q = (c: pg.Client, name: string, sql: string, values: unknown[]) => c.query({ name, text: numbered(sql), values });
  return {
    async batch(rows) {
      const c = await take();
      try {
        await c.query('BEGIN');
        try {
          for (const r of rows) {
            refuseFork(
              r,
              (await q(c, 'near', NEAR, [r.hash, r.deviceId, r.seq - 1, r.seq, r.seq + 1])).rows as {
                manifest_hash: string;
                seq: string;
              }[],
            );
            await q(c, 'insert', INSERT_MANIFEST, r.insert);
            const a = auditValues(
              r,
              (await q(c, 'head', 'SELECT seq, entry_hash FROM audit_head WHERE id = 1 FOR UPDATE', [])).rows[0] as {
                seq: string;
                entry_hash: string;
              },
            );
            await q(c, 'append', APPEND, a.values);
            await q(c, 'move', 'UPDATE audit_head SET seq = ? , entry_hash = ? WHERE id = 1', [a.seq, a.hash]);
            await q(c, 'blob', BLOB, [r.clipSha]);
          }
          await c.query('COMMIT');
        } catch (e) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw e;
        }
      } finally {
        give(c);
      }
    },
    stored: async () =>
      ((await clients[0]!.query('SELECT manifest_hash, device_id, seq, state FROM manifests')).rows as LeanRoundResult['stored']).map((r) => ({
        ...r,
        seq: Number(r.seq),
      })),
    close: async () => {
      await Promise.all(clients.map((c) => c.end()));
    },
  };
}

/** Where a lean round stores: a SQLite file in `dir`, or a fresh PostgreSQL database (its URL). */
export type LeanTarget = { sqliteDir: string } | { postgresUrl: string };

export async function leanRound(
  manifests: readonly LeanManifest[],
  keys: ReadonlyMap<string, TrustedKey>,
  signer: GatewaySigner,
  gatewayId: string,
  fleet: string,
  target: LeanTarget,
): Promise<LeanRoundResult> {
  const engine = 'sqliteDir' in target ? await sqliteEngine(target.sqliteDir) : await postgresEngine(target.postgresUrl, PIPELINE);
  const pool = new CryptoPool(1, signer.keyObject);
  try {
    let ackSeq = 0;
    const acks: Uint8Array[] = new Array(manifests.length);

    const batch = async (from: number, to: number): Promise<void> => {
      const items = [];
      for (let i = from; i < to; i++) {
        const { deviceId, bytes } = manifests[i]!;
        const env = openEnvelope(bytes);
        const key = keys.get(env.keyId);
        if (!key) throw new BenchCheckError(`lean: no key ${env.keyId.slice(0, 16)}…`);
        const m = pb.ClipManifest.decode(env.body);
        if (m.header?.issuer !== deviceId || m.header.fleet !== fleet) throw new BenchCheckError(`lean: manifest ${i} names another dock or fleet`);
        const ackBody = pb.Ack.encode({
          header: { issuer: gatewayId, subjectDevice: deviceId, fleet, seq: ++ackSeq, createdAtMs: Date.now() },
          kind: pb.AckKind.ACK_KIND_MANIFEST_RECEIVED,
          deviceId,
          ackedHash: env.hash,
          ackedType: 'ClipManifest',
          manifestHash: env.hash,
          clipSha256: m.sha256,
          byteLength: m.byteLength,
          missingChunks: [{ start: 0, end: m.chunkSha256.length }],
        }).finish();
        items.push({
          i,
          deviceId,
          env,
          m,
          ackBody,
          raw: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
          checks: Promise.all([
            pool.verify(key, env.signedInput, env.sig),
            pool.merkleMatches(m.chunkSha256, m.merkleRoot),
            pool.sign(signedInput('Ack', ackBody)),
          ]),
        });
      }
      const checked = await Promise.all(items.map((it) => it.checks));
      const at = Date.now();
      const rows: LeanRow[] = items.map((it, k) => {
        const [valid, merkle] = checked[k]!;
        if (!valid || !merkle) throw new BenchCheckError(`lean: manifest ${it.i} failed verification`);
        const { m, env, deviceId } = it;
        const hash = toHex(env.hash);
        const seq = Number(m.header!.seq);
        const prevHash = toHex(m.prevManifestHash);
        const clipSha = toHex(m.sha256);
        const decision = m.decision ? decisionToJson(m.decision) : null;
        return {
          i: it.i,
          hash,
          deviceId,
          seq,
          prevHash,
          clipSha,
          at,
          insert: [
            hash,
            deviceId,
            seq,
            prevHash,
            env.keyId,
            it.raw,
            clipSha,
            Number(m.byteLength),
            m.chunkSize,
            m.chunkSha256.length,
            m.cameraSerial,
            m.clipId,
            m.officerId,
            Number(m.startedAtMs) || null,
            decision?.decision ?? null,
            decision ? JSON.stringify(decision) : null,
            decision?.basis?.category || null,
            at,
          ],
          detail: canonicalJson({
            deviceId,
            seq,
            clipId: m.clipId,
            cameraSerial: m.cameraSerial,
            officerId: m.officerId,
            clipSha256: clipSha,
            byteLength: Number(m.byteLength),
            decision: decision?.decision ?? null,
            category: decision?.basis?.category ?? null,
          }),
        };
      });
      await engine.batch(rows);
      items.forEach((it, k) => {
        acks[it.i] = pb.Envelope.encode({ type: 'Ack', body: it.ackBody, keyId: signer.keyId, sig: checked[k]![2] }).finish();
      });
    };

    const th0 = threadCpu();
    const t0 = now();
    let next = 0;
    const lane = async () => {
      while (next < manifests.length) {
        const from = next;
        next = Math.min(manifests.length, next + BATCH);
        await batch(from, next);
      }
    };
    await Promise.all(Array.from({ length: PIPELINE }, lane));
    const ms = now() - t0;
    const threadsUs = threadSplit(th0, threadCpu());
    return { ms, threadsUs, acks, stored: await engine.stored() };
  } finally {
    await pool.close();
    await engine.close();
  }
}

/** The lean contender's output, checked as strictly as ingest's: one signed ack and one stored row per manifest. */
export function checkLean(r: LeanRoundResult, manifests: readonly BenchManifest[], gatewayKey: TrustedKey): void {
  manifests.forEach((m, i) => {
    const ack = openAck(r.acks[i]!, gatewayKey);
    if (toHex(ack.ackedHash) !== m.hashHex || ack.deviceId !== m.deviceId || ack.kind !== pb.AckKind.ACK_KIND_MANIFEST_RECEIVED) {
      throw new BenchCheckError(`lean: the ack for ${m.deviceId} seq ${m.seq} names another manifest, device or kind`);
    }
  });
  const byHash = new Map(manifests.map((m) => [m.hashHex, m]));
  const ok = r.stored.filter((row) => byHash.get(row.manifest_hash)?.seq === row.seq && row.state === 'RECEIVED');
  if (r.stored.length !== manifests.length || ok.length !== manifests.length)
    throw new BenchCheckError(`lean: ${ok.length} of ${manifests.length} manifests stored as sent`);
}

export function leanNote(rounds: readonly LeanRoundResult[], n: number, engine = 'SQLite'): string[] {
  const mid = [...rounds].sort((a, b) => a.ms - b.ms)[Math.floor((rounds.length - 1) / 2)];
  if (!mid?.threadsUs) return [];
  return [
    `CPU per manifest by thread (the required work, lean, ${engine}): main ${(mid.threadsUs.main / n).toFixed(0)} µs, the crypto worker ${(mid.threadsUs.busiest / n).toFixed(0)} µs, ` +
      `other threads ${(mid.threadsUs.other / n).toFixed(0)} µs`,
  ];
}
