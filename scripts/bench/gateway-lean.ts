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

export async function leanRound(
  manifests: readonly LeanManifest[], keys: ReadonlyMap<string, TrustedKey>, signer: GatewaySigner,
  gatewayId: string, fleet: string, dir: string,
): Promise<LeanRoundResult> {
  const path = join(dir, 'lean.db');
  await (await openGatewayDb(path)).close(); // the gateway's schema, migrated; then plain better-sqlite3
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const pool = new CryptoPool(1, signer.keyObject);
  let wal: number | null = null; // the WAL file exists once the first transaction has written it
  try {
    const near = db.prepare('SELECT manifest_hash, device_id, seq, prev_hash FROM manifests WHERE manifest_hash = ? OR (device_id = ? AND seq IN (?, ?, ?))');
    const insert = db.prepare(
      `INSERT INTO manifests (manifest_hash, device_id, seq, prev_hash, key_id, envelope, clip_sha256, byte_length, chunk_size, chunk_count,
         camera_serial, clip_id, officer_id, started_at, decision, decision_json, category, received_at, state)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'RECEIVED')`);
    const head = db.prepare('SELECT seq, entry_hash FROM audit_head WHERE id = 1');
    const append = db.prepare('INSERT INTO audit_log (seq, at, actor, action, subject, detail_json, prev_hash, entry_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    const moveHead = db.prepare('UPDATE audit_head SET seq = ?, entry_hash = ? WHERE id = 1');
    const blob = db.prepare('SELECT 1 AS x FROM blobs WHERE sha256 = ? AND deleted_at IS NULL');
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
          kind: pb.AckKind.ACK_KIND_MANIFEST_RECEIVED, deviceId, ackedHash: env.hash, ackedType: 'ClipManifest', manifestHash: env.hash,
          clipSha256: m.sha256, byteLength: m.byteLength, missingChunks: [{ start: 0, end: m.chunkSha256.length }],
        }).finish();
        items.push({
          i, deviceId, env, m, ackBody, raw: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
          checks: Promise.all([pool.verify(key, env.signedInput, env.sig), pool.merkleMatches(m.chunkSha256, m.merkleRoot), pool.sign(signedInput('Ack', ackBody))]),
        });
      }
      const checked = await Promise.all(items.map((it) => it.checks));
      const at = Date.now();
      db.exec('BEGIN IMMEDIATE');
      try {
        items.forEach((it, k) => {
          const [valid, merkle] = checked[k]!;
          if (!valid || !merkle) throw new BenchCheckError(`lean: manifest ${it.i} failed verification`);
          const { m, env, deviceId } = it;
          const hash = toHex(env.hash);
          const seq = Number(m.header!.seq);
          const prevHash = toHex(m.prevManifestHash);
          const rows = near.all(hash, deviceId, seq - 1, seq, seq + 1) as { manifest_hash: string; seq: bigint | number; prev_hash: string }[];
          if (rows.some((r) => r.manifest_hash === hash || (Number(r.seq) === seq - 1 && r.manifest_hash !== prevHash))) throw new BenchCheckError(`lean: manifest ${it.i} is held already or forks`);
          const clipSha = toHex(m.sha256);
          const decision = m.decision ? decisionToJson(m.decision) : null;
          insert.run(hash, deviceId, seq, prevHash, env.keyId, it.raw, clipSha, Number(m.byteLength), m.chunkSize, m.chunkSha256.length,
            m.cameraSerial, m.clipId, m.officerId, Number(m.startedAtMs) || null, decision?.decision ?? null, decision ? JSON.stringify(decision) : null,
            decision?.basis?.category || null, at);
          const h = head.get() as { seq: bigint | number; entry_hash: string };
          const entry = { seq: Number(h.seq) + 1, at, actor: `device:${deviceId}`, action: 'clip.manifest_stored', subject: hash, prev: h.entry_hash };
          const detail = canonicalJson({
            deviceId, seq, clipId: m.clipId, cameraSerial: m.cameraSerial, officerId: m.officerId, clipSha256: clipSha, byteLength: Number(m.byteLength),
            decision: decision?.decision ?? null, category: decision?.basis?.category ?? null,
          });
          const entryHash = entryHashFromDetailText(entry, detail);
          append.run(entry.seq, entry.at, entry.actor, entry.action, entry.subject, detail, entry.prev, entryHash);
          moveHead.run(entry.seq, entryHash);
          blob.get(clipSha);
        });
        db.exec('COMMIT');
        wal ??= openSync(`${path}-wal`, 'r+');
      } catch (e) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw e;
      }
      await new Promise<void>((resolve, reject) => fdatasync(wal!, (e) => (e ? reject(e) : resolve())));
      items.forEach((it, k) => { acks[it.i] = pb.Envelope.encode({ type: 'Ack', body: it.ackBody, keyId: signer.keyId, sig: checked[k]![2] }).finish(); });
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
    const stored = (db.prepare('SELECT manifest_hash, device_id, seq, state FROM manifests').all() as LeanRoundResult['stored'])
      .map((r) => ({ ...r, seq: Number(r.seq) }));
    return { ms, threadsUs, acks, stored };
  } finally {
    if (wal !== null) closeSync(wal);
    await pool.close();
    db.close();
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
  if (r.stored.length !== manifests.length || ok.length !== manifests.length) throw new BenchCheckError(`lean: ${ok.length} of ${manifests.length} manifests stored as sent`);
}

export function leanNote(rounds: readonly LeanRoundResult[], n: number): string[] {
  const mid = [...rounds].sort((a, b) => a.ms - b.ms)[Math.floor((rounds.length - 1) / 2)];
  if (!mid?.threadsUs) return [];
  return [`CPU per manifest by thread (the required work, lean): main ${(mid.threadsUs.main / n).toFixed(0)} µs, the crypto worker ${(mid.threadsUs.busiest / n).toFixed(0)} µs, ` +
    `other threads ${(mid.threadsUs.other / n).toFixed(0)} µs`];
}
