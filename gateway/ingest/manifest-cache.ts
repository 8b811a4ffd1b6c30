/**
 * What ingest keeps of the manifests it handles: the columns it reads back, and a cache of the
 * facts a chunk is checked against (its size, count and hashes, decoded once from the stored
 * envelope). A cached manifest still RECEIVED has its state read again, since another replica may
 * have finished it.
 */
import { pb } from '../../proto/wire.js';
import { openEnvelope } from '../../proto/envelope.js';
import { get, type Db, type Queryable, type Steps } from '../store/db.js';

export interface ManifestInfo {
  hash: string;
  deviceId: string;
  state: string;
  chunkSize: number;
  chunkCount: number;
  byteLength: number;
  clipSha256: string;
  chunkHashes: Uint8Array[];
  cameraSerial: string;
  clipId: string;
}

/** Every manifest column but the envelope (a kilobyte or more, read only when a manifest is decoded again). */
const MANIFEST_COLS =
  'manifest_hash, device_id, seq, prev_hash, state, clip_sha256, byte_length, chunk_size, chunk_count, camera_serial, clip_id, verified_at, reject_reason, lease_owner, lease_until';

export interface ManifestRow {
  manifest_hash: string;
  device_id: string;
  seq: number;
  prev_hash: string;
  state: string;
  clip_sha256: string;
  byte_length: number;
  chunk_size: number;
  chunk_count: number;
  camera_serial: string;
  clip_id: string;
  verified_at: number | null;
  reject_reason: string | null;
  lease_owner: string | null;
  lease_until: number | null;
}

/** A stored manifest's row, without its envelope; `q` is a transaction's Queryable or the Db. */
export function manifestRow(q: Queryable, hash: string): Promise<ManifestRow | undefined> {
  return q.get<ManifestRow>(`SELECT ${MANIFEST_COLS} FROM manifests WHERE manifest_hash = ?`, [hash]);
}

/** `manifestRow` as a statement, for work written as steps (store/db.ts). */
export function manifestRowStep(hash: string): Steps<ManifestRow | undefined> {
  return get<ManifestRow>(`SELECT ${MANIFEST_COLS} FROM manifests WHERE manifest_hash = ?`, [hash]);
}

export class ManifestCache {
  readonly #db: Db;
  readonly #maxEnvelopeBytes: number;
  readonly #manifests = new Map<string, ManifestInfo>();

  constructor(db: Db, maxEnvelopeBytes: number) {
    this.#db = db;
    this.#maxEnvelopeBytes = maxEnvelopeBytes;
  }

  remember(info: ManifestInfo): void {
    if (this.#manifests.size > 10_000) this.#manifests.delete(this.#manifests.keys().next().value!);
    this.#manifests.set(info.hash, info);
  }

  async info(hash: string): Promise<ManifestInfo | null> {
    const hit = this.#manifests.get(hash);
    if (hit && hit.state !== 'RECEIVED') return hit;
    const row = await manifestRow(this.#db, hash);
    if (!row) return null;
    if (hit) {
      hit.state = row.state;
      return hit;
    }
    const stored = await this.#db.get<{ envelope: Buffer }>('SELECT envelope FROM manifests WHERE manifest_hash = ?', [hash]);
    if (!stored) return null;
    const env = openEnvelope(stored.envelope, { maxBytes: this.#maxEnvelopeBytes });
    const m = pb.ClipManifest.decode(env.body);
    const info: ManifestInfo = {
      hash,
      deviceId: row.device_id,
      state: row.state,
      chunkSize: row.chunk_size,
      chunkCount: row.chunk_count,
      byteLength: row.byte_length,
      clipSha256: row.clip_sha256,
      chunkHashes: m.chunkSha256,
      cameraSerial: row.camera_serial,
      clipId: row.clip_id,
    };
    this.remember(info);
    return info;
  }
}
