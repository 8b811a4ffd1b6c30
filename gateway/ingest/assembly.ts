/**
 * Clip assembly (DESIGN §4, §7): ClipChunk messages checked against the manifest's chunk hashes,
 * staged in the clip store and recorded; then, when every chunk is recorded, the replica that
 * recorded the last one takes the assembly lease, checks the staged file's length and SHA-256,
 * commits VERIFIED and only then sends the signed VERIFIED ack. A failure of this side leaves the
 * lease expired for the next sweep (`finishStale`), and a manifest sent again for a clip whose
 * chunks are all recorded finishes it too (`maybeComplete`, called by ingest).
 */
import { StagingIncompleteError, type ClipStore } from './clip-store.js';
import { pb, type bwc } from '../../proto/wire.js';
import type { OpenedEnvelope } from '../../proto/envelope.js';
import { bytesEqual, sha256, toHex } from '../../proto/bytes.js';
import type { Db, Queryable } from '../store/db.js';
import type { AuditAppender } from '../audit/log.js';
import type { TxBatcher } from './batcher.js';
import type { ManifestCache } from './manifest-cache.js';
import { Reject } from './reject.js';
import type { IngestAlert, IngestCounters, IngestResult, IngestSink } from './types.js';

/** What assembly shares with the rest of ingest. */
export interface AssemblyContext {
  db: Db;
  store: ClipStore;
  batcher: TxBatcher;
  manifests: ManifestCache;
  audit: AuditAppender | null;
  sink: IngestSink;
  counters: IngestCounters;
  gatewayId: string;
  leaseMs: number;
  now: () => number;
  count(which: 'accepted' | 'duplicates', type: string): void;
  ack(deviceId: string, ack: Omit<bwc.v1.Ack.$Properties, 'header'>): Promise<void>;
  alert(a: IngestAlert): Promise<void>;
}

export class ClipAssembly {
  readonly #c: AssemblyContext;

  constructor(context: AssemblyContext) {
    this.#c = context;
  }

  /** The chunks still needed, as half-open ranges. */
  async missingChunks(manifestHash: string, chunkCount: number): Promise<{ start: number; end: number }[]> {
    const have = await this.#c.db.all<{ idx: number }>('SELECT idx FROM chunks WHERE manifest_hash = ? ORDER BY idx', [manifestHash]);
    const ranges: { start: number; end: number }[] = [];
    let next = 0;
    for (const { idx } of have) {
      if (idx > next) ranges.push({ start: next, end: idx });
      next = idx + 1;
    }
    if (next < chunkCount) ranges.push({ start: next, end: chunkCount });
    return ranges;
  }

  async chunk(deviceId: string, env: OpenedEnvelope): Promise<IngestResult> {
    if (env.signed) throw new Reject('UNDECODABLE', 'a ClipChunk envelope carries no key id or signature');
    let c: bwc.v1.ClipChunk;
    try {
      c = pb.ClipChunk.decode(env.body);
    } catch (e) {
      throw new Reject('UNDECODABLE_BODY', `ClipChunk body cannot be decoded: ${(e as Error).message}`);
    }
    if (c.manifestHash.byteLength !== 32) throw new Reject('CHUNK_UNKNOWN_MANIFEST', 'chunk names no manifest (manifest_hash is not 32 bytes)');
    const hash = toHex(c.manifestHash);
    const info = await this.#c.manifests.info(hash);
    if (!info) throw new Reject('CHUNK_UNKNOWN_MANIFEST', `chunk for manifest ${hash.slice(0, 16)}…, which this gateway does not hold`);
    if (info.deviceId !== deviceId) {
      throw new Reject('CHUNK_DEVICE_MISMATCH', `chunk of ${info.deviceId}'s manifest on ${deviceId}'s topic`, {
        kind: 'ID_MISMATCH',
        deviceId,
        subject: hash,
        message: `${deviceId} sent a chunk of a manifest signed by ${info.deviceId}`,
        dedupeKey: `ID_MISMATCH|${deviceId}|chunk`,
      });
    }
    if (info.state === 'VERIFIED') {
      this.#c.count('duplicates', 'ClipChunk');
      await this.#c.ack(deviceId, {
        kind: pb.AckKind.ACK_KIND_VERIFIED,
        manifestHash: c.manifestHash,
        ackedType: 'ClipChunk',
        clipSha256: Buffer.from(info.clipSha256, 'hex'),
        byteLength: info.byteLength,
      });
      return { status: 'duplicate', type: 'ClipChunk', deviceId, hash };
    }
    if (info.state === 'REJECTED') throw new Reject('CLIP_HASH_MISMATCH', `manifest ${hash.slice(0, 16)}… was rejected`);
    const idx = c.index;
    if (!Number.isInteger(idx) || idx < 0 || idx >= info.chunkCount)
      throw new Reject('CHUNK_BAD_INDEX', `chunk index ${idx} is outside 0..${info.chunkCount - 1}`);
    const wantLen = idx === info.chunkCount - 1 ? info.byteLength - idx * info.chunkSize : info.chunkSize;
    const reRequest = async () => {
      await this.#c.ack(deviceId, {
        kind: pb.AckKind.ACK_KIND_CHUNKS_MISSING,
        manifestHash: c.manifestHash,
        ackedType: 'ClipChunk',
        missingChunks: [{ start: idx, end: idx + 1 }],
        reason: 'CHUNK_REJECTED',
      });
    };
    if (c.data.byteLength !== wantLen) {
      await reRequest();
      throw new Reject('CHUNK_BAD_LENGTH', `chunk ${idx} is ${c.data.byteLength} bytes, the manifest says ${wantLen}`, {
        kind: 'CHUNK_REJECTED',
        deviceId,
        subject: hash,
        message: `chunk ${idx} of clip ${info.clipId} from ${deviceId} has the wrong length; re-requested`,
        dedupeKey: `CHUNK_REJECTED|${hash}`,
      });
    }
    if (!bytesEqual(sha256(c.data), info.chunkHashes[idx]!)) {
      await reRequest();
      throw new Reject('CHUNK_HASH_MISMATCH', `chunk ${idx} does not match its hash in the manifest`, {
        kind: 'CHUNK_REJECTED',
        deviceId,
        subject: hash,
        message: `chunk ${idx} of clip ${info.clipId} from ${deviceId} does not match the signed manifest; re-requested`,
        dedupeKey: `CHUNK_REJECTED|${hash}`,
      });
    }
    await this.#c.store.stageChunk(hash, idx, c.data, info.chunkSize);
    const ins = await this.#c.batcher.run(
      (q) => q.run('INSERT INTO chunks (manifest_hash, idx, received_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [hash, idx, this.#c.now()]),
      { savepoint: false },
    );
    this.#c.count(ins.changes === 1 ? 'accepted' : 'duplicates', 'ClipChunk');
    // Until every chunk is recorded there is nothing to finish: one indexed count, then the full
    // check (the manifest's state, the stored content) only once the count is complete. Content
    // stored meanwhile under another manifest is found then, when this clip is finished.
    const have = await this.#c.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM chunks WHERE manifest_hash = ?', [hash]);
    const verified = Number(have?.n ?? 0) >= info.chunkCount && (await this.maybeComplete(hash));
    return {
      status: ins.changes === 1 ? 'accepted' : 'duplicate',
      type: 'ClipChunk',
      deviceId,
      hash,
      ...(verified ? { verified } : {}),
    } as IngestResult;
  }

  /**
   * When every chunk is recorded (or the content is already stored), takes the assembly lease,
   * assembles and checks the clip, commits VERIFIED, then sends the VERIFIED ack (naming
   * `ackedHash`, the manifest message being answered, if any). Returns true when this call
   * committed VERIFIED.
   */
  async maybeComplete(hash: string, ackedHash?: Uint8Array): Promise<boolean> {
    const info = await this.#c.manifests.info(hash);
    if (info?.state !== 'RECEIVED') return false;
    const stored = await this.#c.store.hasBlob(info.clipSha256);
    if (stored === null) {
      const n = await this.#c.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM chunks WHERE manifest_hash = ?', [hash]);
      if (Number(n?.n ?? 0) < info.chunkCount) return false;
    }
    const now = this.#c.now();
    const owner = this.#c.gatewayId;
    const lease = await this.#c.db.run(
      `UPDATE manifests SET lease_owner = ?, lease_until = ? WHERE manifest_hash = ? AND state = 'RECEIVED'
         AND (lease_owner IS NULL OR lease_until < ?)`,
      [owner, now + this.#c.leaseMs, hash, now],
    );
    if (lease.changes !== 1) return false;
    try {
      if (stored !== null) {
        // Already-stored content: check it against this manifest's own chunk hashes, not just its SHA-256.
        const hashes = stored === info.byteLength ? await this.#c.store.chunkHashesOf(info.clipSha256, info.chunkSize) : [];
        const same = stored === info.byteLength && hashes.length === info.chunkCount && hashes.every((h, i) => bytesEqual(h, info.chunkHashes[i]!));
        if (!same) throw new Reject('CLIP_HASH_MISMATCH', 'the stored content with this SHA-256 does not match the manifest chunk hashes');
      } else {
        try {
          await this.#c.store.finish(hash, {
            chunkSize: info.chunkSize,
            chunkHashes: info.chunkHashes,
            sha256: info.clipSha256,
            byteLength: info.byteLength,
          });
        } catch (e) {
          if (!(e instanceof StagingIncompleteError)) throw new Reject('CLIP_HASH_MISMATCH', (e as Error).message);
          // Staged bytes lost or damaged on this side (a wiped or restored disk): forget those
          // chunks and ask the dock for them again; the clip itself is fine.
          await this.#c.db.tx(async (q: Queryable) => {
            for (const i of e.chunks) await q.run('DELETE FROM chunks WHERE manifest_hash = ? AND idx = ?', [hash, i]);
            await q.run('UPDATE manifests SET lease_owner = NULL, lease_until = NULL WHERE manifest_hash = ? AND lease_owner = ?', [hash, owner]);
          });
          await this.#c.ack(info.deviceId, {
            kind: pb.AckKind.ACK_KIND_CHUNKS_MISSING,
            manifestHash: Buffer.from(hash, 'hex'),
            ackedType: 'ClipManifest',
            missingChunks: await this.missingChunks(hash, info.chunkCount),
            reason: 'STAGING_LOST',
          });
          return false;
        }
      }
      const at = this.#c.now();
      const committed = await this.#c.db.tx(async (q: Queryable) => {
        // A blob whose content was disposed of (records) and is stored again is live again.
        await q.run(
          `INSERT INTO blobs (sha256, byte_length, stored_at) VALUES (?, ?, ?)
                     ON CONFLICT (sha256) DO UPDATE SET deleted_at = NULL, stored_at = excluded.stored_at WHERE blobs.deleted_at IS NOT NULL`,
          [info.clipSha256, info.byteLength, at],
        );
        const r = await q.run(
          `UPDATE manifests SET state = 'VERIFIED', verified_at = ?, lease_owner = NULL, lease_until = NULL
                               WHERE manifest_hash = ? AND state = 'RECEIVED'`,
          [at, hash],
        );
        if (r.changes === 1) {
          await this.#c.audit?.append(q, {
            actor: `gateway:${this.#c.gatewayId}`,
            action: 'clip.verified',
            subject: hash,
            detail: {
              deviceId: info.deviceId,
              clipId: info.clipId,
              clipSha256: info.clipSha256,
              byteLength: info.byteLength,
              contentAlreadyStored: stored !== null,
            },
          });
        }
        return r.changes === 1;
      });
      if (!committed) return false;
      info.state = 'VERIFIED';
      this.#c.counters.verified++;
      await this.#c.store.dropStaging(hash);
      await this.#c.ack(info.deviceId, {
        kind: pb.AckKind.ACK_KIND_VERIFIED,
        manifestHash: Buffer.from(hash, 'hex'),
        ackedType: 'ClipManifest',
        ...(ackedHash ? { ackedHash } : {}),
        clipSha256: Buffer.from(info.clipSha256, 'hex'),
        byteLength: info.byteLength,
        storedAtMs: at,
      });
      await this.#c.sink.accepted({
        type: 'ClipVerified',
        deviceId: info.deviceId,
        hash,
        cameraSerial: info.cameraSerial,
        clipId: info.clipId,
        sha256: info.clipSha256,
        receivedAt: at,
      });
      return true;
    } catch (e) {
      if (!(e instanceof Reject)) {
        // A failure of this side (the database, the disk), not of the clip: the lease is left
        // expired, so the next sweep on any replica tries again. Released instead, nothing would:
        // every chunk is recorded, so no chunk the dock sends again is new.
        await this.#c.db.run('UPDATE manifests SET lease_until = 0 WHERE manifest_hash = ? AND lease_owner = ?', [hash, owner]);
        throw e;
      }
      await this.#c.db.tx(async (q: Queryable) => {
        const r = await q.run(
          `UPDATE manifests SET state = 'REJECTED', reject_reason = ?, lease_owner = NULL, lease_until = NULL WHERE manifest_hash = ? AND state = 'RECEIVED'`,
          [e.reason, hash],
        );
        if (r.changes === 1) {
          await this.#c.audit?.append(q, {
            actor: `gateway:${this.#c.gatewayId}`,
            action: 'clip.rejected',
            subject: hash,
            detail: { deviceId: info.deviceId, clipId: info.clipId, reason: e.reason, message: e.message },
          });
        }
      });
      info.state = 'REJECTED';
      await this.#c.ack(info.deviceId, {
        kind: pb.AckKind.ACK_KIND_REJECTED,
        manifestHash: Buffer.from(hash, 'hex'),
        ackedType: 'ClipManifest',
        reason: e.reason,
      });
      await this.#c.alert({
        kind: 'CLIP_REJECTED',
        deviceId: info.deviceId,
        subject: hash,
        message: `clip ${info.clipId} from ${info.deviceId} failed whole-file verification: ${e.message}; the dock keeps it`,
      });
      throw e;
    }
  }

  /**
   * Finishes clips whose assembly lease expired (a replica stopped, or finishing failed on this
   * side and was left for a sweep). Failures of this side are returned, to be logged.
   */
  async finishStale(): Promise<{ finished: number; failed: string[] }> {
    const now = this.#c.now();
    let finished = 0;
    const failed: string[] = [];
    const stale = await this.#c.db.all<{ manifest_hash: string }>(
      `SELECT manifest_hash FROM manifests WHERE state = 'RECEIVED' AND lease_owner IS NOT NULL AND lease_until < ? LIMIT 100`,
      [now],
    );
    for (const { manifest_hash } of stale) {
      try {
        if (await this.maybeComplete(manifest_hash)) finished++;
      } catch (e) {
        // A rejection is recorded (state, audit, alert) by #maybeComplete; a failure of this side
        // is left for the next sweep and reported to the caller. The sweep goes on.
        if (!(e instanceof Reject)) failed.push(`clip of manifest ${manifest_hash.slice(0, 16)}…: ${(e as Error).message}`);
      }
    }
    return { finished, failed };
  }
}
