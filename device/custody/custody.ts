/**
 * Custody of each clip from its file to its release (DESIGN §3):
 *
 *   CLOSED → HASHED → SIGNED → MANIFEST_ACKED → UPLOADED → VERIFIED → RELEASED
 *
 * - `hashAndSign` hashes a CLOSED clip in the background (worker threads), so a 2 GiB hash never delays a
 *   decision; the manifest (with the decision embedded) is signed and queued in the same transaction
 *   that advances the chain head.
 * - The gateway's acks move the clip on. Only its signed VERIFIED ack for exactly the manifest's
 *   SHA-256 and length moves a clip to VERIFIED, and only then is the camera told (ReleaseClip, with
 *   a `VerifiedClip`) that it may free those bytes; RELEASED is recorded when the camera confirms
 *   the same SHA-256. A REJECTED clip is kept on the camera. The dock never deletes a clip itself.
 * - After a restart, CLOSED and HASHED clips are hashed again (`resumeLocal`); on every connection,
 *   MANIFEST_ACKED and UPLOADED clips resend their manifest to learn what the gateway still needs
 *   (`resumeAtGateway`); an UPLOADED clip with no answer after the ack timeout asks again
 *   (`checkStalled`).
 *
 * Custody does not know how bytes travel: the gateway and the cameras are ports it is given.
 */
import type { Logger } from 'pino';
import { pb, type bwc } from '../../proto/wire.js';
import { hashClipFile, ClipFileError, type ClipDigest } from '../../proto/clip-hash.js';
import { VerifiedClip } from '../../proto/ack.js';
import { openEnvelope } from '../../proto/envelope.js';
import { fromHex, toHex } from '../../proto/bytes.js';
import type { TrustedKey } from '../../proto/ed25519.js';
import type { GatewayCert } from '../../proto/gateway-cert.js';
import { clipKey, type ClipRow, type Clips } from '../store/clips.js';
import type { Outbox } from '../store/outbox.js';
import type { DockState } from '../store/state.js';
import type { DeviceKey } from './keys.js';
import { signManifest } from './manifest.js';
import { manifestFacts, type RecordFacts } from './record.js';
import { resolveClipPath, storageMount, ClipPathError } from './clip-source.js';
import type { Transfers } from './transfers.js';

type EventBody = Omit<bwc.v1.Event.$Properties, 'header'>;

/** A signed clip's bytes as the gateway asks for them, chunk by chunk. */
export interface ClipBytes {
  /** Hex SHA-256 of the manifest's signed input. */
  readonly manifestHash: string;
  readonly path: string;
  readonly byteLength: number;
  readonly chunkSize: number;
  readonly chunkHashes: readonly Uint8Array[];
}

/** The way to the gateway, as custody needs it. */
export interface CustodyGateway {
  /** Connected to the broker now. */
  connected(): boolean;
  /** An event for the gateway. */
  report(event: EventBody): void;
  /** Sends the chunk ranges the gateway asked for; `check`: each chunk is checked against its hash first. */
  upload(clip: ClipBytes, ranges: readonly { start: number; end: number }[], options: { check: boolean }): void;
  /** Stops sending a clip's chunks (the gateway holds it, or refused it). */
  cancelUpload(manifestHash: string): void;
  /** Sends a signed manifest again. */
  resend(manifestHash: string, manifest: Uint8Array, subject: string): void;
  /** A manifest was queued: send what waits now. */
  flush(): void;
}

export interface CustodyOptions {
  deviceId: string;
  fleet: string;
  signer: DeviceKey;
  /** Where a camera's storage is mounted (config `storage`). */
  storage: { mountTemplate: string; mounts: Record<string, string> };
  clips: Clips;
  outbox: Pick<Outbox, 'add' | 'get'>;
  state: Pick<DockState, 'transaction' | 'json' | 'setJson'>;
  transfers: Transfers;
  gateway: CustodyGateway;
  /** The camera's link, if it is linked now. */
  camera(cameraSerial: string): { releaseClip(clip: VerifiedClip): void } | null;
  /** The key of the gateway that signed a stored ack (throws if that gateway is no longer trusted). */
  ackSigner(ack: Uint8Array): TrustedKey;
  /** An UPLOADED clip asks again after this long without an answer. */
  ackTimeoutMs: number;
  /** Background custody work that failed (retried when the state directory can be written). */
  fault(what: string, error: unknown): void;
  /** The dock database is open (false once the dock has stopped). */
  storeOpen(): boolean;
  now(): number;
  log: Logger;
}

export class Custody {
  readonly #o: CustodyOptions;
  readonly #work = new Map<string, Promise<void>>();
  readonly #bytes = new Map<string, ClipBytes>();
  #stopping = false;

  constructor(options: CustodyOptions) {
    this.#o = options;
  }

  /** Hashes and signs a CLOSED or HASHED clip in the background (once at a time per clip). */
  hashAndSign(serial: string, clipId: string): void {
    const key = clipKey(serial, clipId);
    if (this.#work.has(key) || this.#stopping) return;
    const work = this.#hashThenSign(serial, clipId)
      .catch((e: unknown) => {
        this.#o.fault(`custody of clip ${key} (resumed when the state directory can be written)`, e);
      })
      .finally(() => {
        this.#work.delete(key);
        this.#o.transfers.hashDone(key);
      });
    this.#work.set(key, work);
  }

  /** Finishes the custody step under way; nothing new starts. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.allSettled([...this.#work.values()]);
  }

  /** After a restart (or a full state directory): clips interrupted before signing are hashed again. */
  resumeLocal(): void {
    for (const row of this.#o.clips.inStates(['CLOSED', 'HASHED'])) {
      if (row.path) this.hashAndSign(row.camera_serial, row.clip_id);
    }
  }

  /** On every connection: clips past SIGNED resend their manifest; the gateway answers with their state. */
  resumeAtGateway(): void {
    for (const row of this.#o.clips.inStates(['MANIFEST_ACKED', 'UPLOADED'])) {
      if (row.manifest && row.manifest_hash) this.#o.gateway.resend(row.manifest_hash, row.manifest, clipKey(row.camera_serial, row.clip_id));
    }
  }

  /** Uploaded clips with no VERIFIED ack after the ack timeout ask again. */
  checkStalled(): void {
    if (!this.#o.gateway.connected()) return;
    const cutoff = this.#o.now() - this.#o.ackTimeoutMs;
    for (const row of this.#o.clips.inStates(['UPLOADED'])) {
      if (row.updated_at < cutoff && row.manifest && row.manifest_hash && !this.#o.outbox.get(row.manifest_hash)) {
        this.#o.clips.update(row.camera_serial, row.clip_id, { error: null }, this.#o.now());
        this.#o.gateway.resend(row.manifest_hash, row.manifest, clipKey(row.camera_serial, row.clip_id));
      }
    }
  }

  async #hashThenSign(serial: string, clipId: string): Promise<void> {
    const { clips, log } = this.#o;
    const row = clips.get(serial, clipId);
    if (!row || !['CLOSED', 'HASHED'].includes(row.state) || !row.path) return;
    let digest: ClipDigest;
    try {
      const mount = storageMount(row.storage_label ?? serial, this.#o.storage);
      const path = await resolveClipPath(mount, row.path);
      const key = clipKey(serial, clipId);
      let lastLog = 0;
      digest = await hashClipFile(path, {
        maxBytes: row.size ?? undefined,
        onProgress: (done, total) => {
          this.#o.transfers.hashing(key, { cameraSerial: serial, clipId, doneBytes: done, totalBytes: total });
          const t = this.#o.now();
          if (t - lastLog >= 5000 && total > 0) {
            lastLog = t;
            log.info(
              { camera: serial, clip: clipId, phase: 'hash', doneBytes: done, totalBytes: total },
              `hashing ${key}: ${Math.floor((done / total) * 100)}%`,
            );
          }
        },
      });
    } catch (e) {
      if (e instanceof ClipPathError || e instanceof ClipFileError) {
        clips.update(serial, clipId, { state: 'FAILED', error: e.message }, this.#o.now(), e.message);
        this.#o.gateway.report({
          kind: pb.EventKind.EVENT_KIND_LINK_ERROR,
          cameraSerial: serial,
          clipId,
          occurredAtMs: this.#o.now(),
          detail: `clip cannot be read: ${e.message}`,
        });
        log.error(
          { camera: serial, clip: clipId, err: e },
          `clip ${serial}/${clipId} cannot be read; kept FAILED until the camera announces it again: ${e.message}`,
        );
        return;
      }
      throw e;
    }
    if (this.#stopping && !this.#o.storeOpen()) return;
    const partial = row.size !== null && digest.byteLength < row.size;
    clips.update(
      serial,
      clipId,
      {
        state: 'HASHED',
        sha256: toHex(digest.sha256),
        byte_length: digest.byteLength,
        chunk_size: digest.chunkSize,
        chunk_count: digest.chunks.length,
      },
      this.#o.now(),
      `SHA-256 ${toHex(digest.sha256).slice(0, 16)}…, ${digest.byteLength} bytes${partial ? ` (PARTIAL: ${row.size} announced)` : ''}`,
    );
    this.#sign(serial, clipId, digest, partial);
  }

  /** Signs the manifest: chain head, clip row and outbox change in one transaction. */
  #sign(serial: string, clipId: string, digest: ClipDigest, partial: boolean): void {
    const { clips, state, outbox } = this.#o;
    const now = this.#o.now();
    const signed = state.transaction(() => {
      const row = clips.get(serial, clipId)!;
      if (row.state !== 'HASHED') return null;
      const chain = state.json<{ seq: number; hash: string | null }>('chain') ?? { seq: 0, hash: null };
      const facts = manifestFacts(serial, clipId, JSON.parse(row.facts) as RecordFacts, { partial });
      const s = signManifest(
        facts,
        digest,
        {
          deviceId: this.#o.deviceId,
          fleet: this.#o.fleet,
          seq: chain.seq + 1,
          prevManifestHash: chain.hash ? fromHex(chain.hash, 32) : null,
        },
        this.#o.signer,
        { createdAtMs: now },
      );
      const hash = toHex(s.hash);
      clips.update(
        serial,
        clipId,
        { state: 'SIGNED', manifest: Buffer.from(s.bytes), manifest_hash: hash, manifest_seq: chain.seq + 1 },
        now,
        `manifest seq ${chain.seq + 1} ${hash.slice(0, 16)}…`,
      );
      outbox.add({ kind: 'manifest', type: 'ClipManifest', hash, envelope: s.bytes, subject: clipKey(serial, clipId) }, now);
      state.setJson('chain', { seq: chain.seq + 1, hash });
      return { hash };
    });
    if (!signed) return;
    this.#bytes.set(signed.hash, bytesOf(clips.get(serial, clipId)!, digest.chunks));
    this.#o.log.info({ camera: serial, clip: clipId, manifestHash: signed.hash }, `clip ${serial}/${clipId} signed: manifest ${signed.hash.slice(0, 16)}…`);
    this.#o.gateway.flush();
  }

  /** Where the clip's bytes are now (the camera storage may have been remounted). */
  async #bytesOf(row: ClipRow): Promise<ClipBytes> {
    const base = this.#bytes.get(row.manifest_hash!) ?? bytesOf(row);
    this.#bytes.set(row.manifest_hash!, base);
    const path = await resolveClipPath(storageMount(row.storage_label ?? row.camera_serial, this.#o.storage), row.path!);
    return { ...base, path };
  }

  // ── the gateway's acks ────────────────────────────────────────────────────────────────────

  async onAck(ack: bwc.v1.Ack, bytes: Uint8Array, gateway: GatewayCert): Promise<void> {
    const { clips, log } = this.#o;
    const manifestHash =
      ack.manifestHash.byteLength === 32
        ? toHex(ack.manifestHash)
        : ack.ackedType === 'ClipManifest' && ack.ackedHash.byteLength === 32
          ? toHex(ack.ackedHash)
          : '';
    if (!manifestHash) return;
    const row = clips.byManifestHash(manifestHash);
    if (!row) {
      log.warn({ manifestHash }, `ack ${pb.AckKind[ack.kind]} names manifest ${manifestHash.slice(0, 16)}…, which this dock does not hold`);
      return;
    }
    const serial = row.camera_serial;
    const clipId = row.clip_id;
    const now = this.#o.now();
    switch (ack.kind) {
      case pb.AckKind.ACK_KIND_MANIFEST_RECEIVED:
      case pb.AckKind.ACK_KIND_CHUNKS_MISSING: {
        if (row.state === 'VERIFIED' || row.state === 'RELEASED' || row.state === 'REJECTED') return;
        const ranges = ack.missingChunks.map((r) => ({ start: r.start ?? 0, end: r.end ?? 0 }));
        if (row.state === 'SIGNED') clips.update(serial, clipId, { state: 'MANIFEST_ACKED' }, now, `gateway ${gateway.gatewayId} holds the manifest`);
        if (ranges.length === 0) {
          if (row.state !== 'UPLOADED') clips.update(serial, clipId, { state: 'UPLOADED' }, now, 'the gateway holds every chunk');
          return;
        }
        if (row.state === 'UPLOADED')
          clips.update(serial, clipId, { state: 'MANIFEST_ACKED' }, now, `the gateway asks for ${ranges.length} chunk range(s) again`);
        try {
          // A chunk the gateway refused (CHUNK_REJECTED) is checked here before it is sent again.
          this.#o.gateway.upload(await this.#bytesOf(clips.get(serial, clipId)!), ranges, { check: ack.reason === 'CHUNK_REJECTED' });
        } catch (e) {
          log.warn(
            { camera: serial, clip: clipId, err: e },
            `clip ${serial}/${clipId}: cannot upload now: ${(e as Error).message}; retried when the manifest is next answered`,
          );
        }
        return;
      }
      case pb.AckKind.ACK_KIND_VERIFIED: {
        if (row.state === 'VERIFIED' || row.state === 'RELEASED') return;
        // DESIGN §3: a VerifiedClip exists only for a VERIFIED ack signed by the gateway that names
        // this device, this manifest, and the clip's exact SHA-256 and length; it throws otherwise.
        const verified = VerifiedClip.fromAck(bytes, gateway.key, {
          deviceId: this.#o.deviceId,
          clipId,
          manifestHash: Buffer.from(manifestHash, 'hex'),
          sha256: Buffer.from(row.sha256 ?? '', 'hex'),
          byteLength: row.byte_length ?? -1,
        });
        this.#o.gateway.cancelUpload(manifestHash);
        this.#o.transfers.uploadDone(manifestHash);
        clips.update(serial, clipId, { state: 'VERIFIED', verified_ack: Buffer.from(bytes) }, now, `VERIFIED by gateway ${gateway.gatewayId}`);
        log.info({ camera: serial, clip: clipId }, `clip ${serial}/${clipId} VERIFIED by gateway ${gateway.gatewayId}`);
        this.#o.camera(serial)?.releaseClip(verified);
        return;
      }
      case pb.AckKind.ACK_KIND_REJECTED: {
        if (row.state === 'VERIFIED' || row.state === 'RELEASED') return;
        this.#o.gateway.cancelUpload(manifestHash);
        clips.update(serial, clipId, { state: 'REJECTED', error: ack.reason }, now, `REJECTED by gateway ${gateway.gatewayId}: ${ack.reason}`);
        log.error({ camera: serial, clip: clipId }, `clip ${serial}/${clipId} REJECTED by the gateway (${ack.reason}); the clip is kept on the camera`);
        this.#o.gateway.report({
          kind: pb.EventKind.EVENT_KIND_CLIP_REJECTED,
          cameraSerial: serial,
          clipId,
          manifestHash: Buffer.from(manifestHash, 'hex'),
          detail: ack.reason,
          occurredAtMs: now,
        });
        return;
      }
      default:
        return;
    }
  }

  /** Every chunk the gateway asked for has its PUBACK. */
  uploadSent(manifestHash: string): void {
    this.#o.transfers.uploadDone(manifestHash);
    const row = this.#o.clips.byManifestHash(manifestHash);
    if (row && row.state === 'MANIFEST_ACKED')
      this.#o.clips.update(row.camera_serial, row.clip_id, { state: 'UPLOADED' }, this.#o.now(), 'every requested chunk sent');
  }

  /** Sending stopped; `bytesChanged`: a chunk no longer matches its hash (reported as tamper, never sent). */
  uploadFailed(manifestHash: string, e: Error, bytesChanged: boolean): void {
    this.#o.transfers.uploadDone(manifestHash);
    const row = this.#o.clips.byManifestHash(manifestHash);
    if (!row) return;
    this.#o.log.error({ camera: row.camera_serial, clip: row.clip_id, err: e }, `clip ${row.camera_serial}/${row.clip_id}: upload stopped: ${e.message}`);
    this.#o.clips.update(row.camera_serial, row.clip_id, { error: e.message }, this.#o.now());
    if (bytesChanged) {
      this.#o.gateway.report({
        kind: pb.EventKind.EVENT_KIND_TAMPER,
        tamper: pb.TamperKind.TAMPER_KIND_OTHER,
        cameraSerial: row.camera_serial,
        clipId: row.clip_id,
        detail: `clip bytes changed after hashing: ${e.message}`,
        occurredAtMs: this.#o.now(),
      });
    }
  }

  uploadProgress(manifestHash: string, done: number, total: number): void {
    const row = this.#o.clips.byManifestHash(manifestHash);
    if (row)
      this.#o.transfers.uploading(manifestHash, {
        cameraSerial: row.camera_serial,
        clipId: row.clip_id,
        doneBytes: done,
        totalBytes: total,
      });
  }

  // ── release ───────────────────────────────────────────────────────────────────────────────

  /** Tells a camera it may free its verified clips (on connect; a VERIFIED ack does it at once). */
  releaseVerified(serial: string): void {
    const camera = this.#o.camera(serial);
    if (!camera) return;
    for (const row of this.#o.clips.inStates(['VERIFIED'])) {
      if (row.camera_serial !== serial || !row.verified_ack) continue;
      try {
        camera.releaseClip(
          VerifiedClip.fromAck(row.verified_ack, this.#o.ackSigner(row.verified_ack), {
            deviceId: this.#o.deviceId,
            clipId: row.clip_id,
            manifestHash: Buffer.from(row.manifest_hash!, 'hex'),
            sha256: Buffer.from(row.sha256!, 'hex'),
            byteLength: row.byte_length!,
          }),
        );
      } catch (e) {
        this.#o.log.error(
          { camera: serial, clip: row.clip_id, err: e },
          `clip ${serial}/${row.clip_id}: stored VERIFIED ack no longer checks (${(e as Error).message}); not released`,
        );
      }
    }
  }

  /** The camera's answer to a ReleaseClip: RELEASED only if it freed exactly the verified bytes. */
  onCameraEvent(ev: { readonly camera: { readonly cameraSerial: string }; readonly frame: bwc.v1.LinkFrame }): void {
    const r = ev.frame.clipReleased as bwc.v1.ClipReleased | null | undefined;
    if (!r) return;
    const serial = ev.camera.cameraSerial;
    const row = this.#o.clips.get(serial, r.clipId);
    if (!row) return;
    const same = row.sha256 !== null && toHex(r.sha256) === row.sha256;
    if (r.freed && same && row.state === 'VERIFIED') {
      this.#o.clips.update(serial, r.clipId, { state: 'RELEASED' }, this.#o.now(), 'the camera freed the verified bytes');
      this.#o.gateway.report({
        kind: pb.EventKind.EVENT_KIND_CLIP_RELEASED,
        cameraSerial: serial,
        clipId: r.clipId,
        occurredAtMs: this.#o.now(),
        clipSha256: r.sha256,
        ...(row.manifest_hash ? { manifestHash: Buffer.from(row.manifest_hash, 'hex') } : {}),
        detail: r.detail,
      });
    } else {
      this.#o.log.warn(
        { camera: serial, clip: r.clipId },
        `camera ${serial} clip ${r.clipId}: release not confirmed (freed ${r.freed}, ${same ? 'same' : 'other'} SHA-256, state ${row.state}): ${r.detail}`,
      );
    }
  }
}

/** A signed clip's chunk layout, from its row (and the chunk hashes, read from its manifest when not given). */
function bytesOf(row: ClipRow, chunkHashes?: readonly Uint8Array[]): ClipBytes {
  const hashes = chunkHashes ?? pb.ClipManifest.decode(openEnvelope(row.manifest!).body).chunkSha256;
  return {
    manifestHash: row.manifest_hash!,
    path: '',
    byteLength: row.byte_length ?? 0,
    chunkSize: row.chunk_size ?? 0,
    chunkHashes: hashes,
  };
}
