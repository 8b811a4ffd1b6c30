/**
 * A dock for gateway tests: a real device key and real signed messages (births, statuses, events,
 * manifests over real clip bytes, unsigned chunks), with the per-type seqs a dock keeps.
 */
import { pb, type bwc } from '../proto/wire.js';
import { sealEnvelope, encodeUnsignedEnvelope } from '../proto/envelope.js';
import { ClipHasher } from '../proto/clip-hash.js';
import { deviceTopic } from '../proto/topics.js';
import { signerFromSeed, type DeviceKey } from '../device/custody/keys.js';
import { signManifest, type ClipFacts } from '../device/custody/manifest.js';
import { pseudoRandomBytes } from './helpers.js';

export interface TestClip {
  bytes: Buffer;
  manifest: Uint8Array;
  hash: Buffer;
  hashHex: string;
  chunks: Buffer[];
  chunkSize: number;
  seq: number;
  clipId: string;
}

export class TestDock {
  readonly key: DeviceKey;
  readonly seqs = new Map<string, number>();
  lastManifestHash: Buffer | null = null;
  bdSeq = 0;

  constructor(readonly deviceId: string, readonly fleet = 'f1', seed = 7) {
    this.key = signerFromSeed(pseudoRandomBytes(32, seed));
  }

  topic(kind: Parameters<typeof deviceTopic>[2]): string {
    return deviceTopic(this.fleet, this.deviceId, kind);
  }

  header(type: string, seq?: number): bwc.v1.IHeader {
    const next = seq ?? (this.seqs.get(type) ?? 0) + 1;
    this.seqs.set(type, Math.max(next, this.seqs.get(type) ?? 0));
    return { issuer: this.deviceId, fleet: this.fleet, seq: next, createdAtMs: Date.now() };
  }

  birth(extra: Partial<bwc.v1.Birth.$Properties> = {}): Uint8Array {
    this.bdSeq++;
    const body = pb.Birth.encode({ header: this.header('Birth'), bdSeq: this.bdSeq, agentVersion: '0.1.0', policyVersion: 3, clock: { synced: true, offsetMs: 12 }, ...extra }).finish();
    return sealEnvelope('Birth', body, this.key).bytes;
  }

  death(bdSeq = this.bdSeq, clean = false): Uint8Array {
    const body = pb.Death.encode({ header: this.header('Death'), bdSeq, clean }).finish();
    return sealEnvelope('Death', body, this.key).bytes;
  }

  status(extra: Partial<bwc.v1.Status.$Properties> = {}, seq?: number): Uint8Array {
    const body = pb.Status.encode({ header: this.header('Status', seq), outboxDepth: 2, diskFreeBytes: 50 * 1024 ** 3, clock: { synced: true, offsetMs: 5 }, ...extra }).finish();
    return sealEnvelope('Status', body, this.key).bytes;
  }

  event(e: Partial<bwc.v1.Event.$Properties>, seq?: number): Uint8Array {
    const body = pb.Event.encode({ header: this.header('Event', seq), occurredAtMs: Date.now(), ...e }).finish();
    return sealEnvelope('Event', body, this.key).bytes;
  }

  /** Signs a manifest for `length` pseudo-random bytes, chained after the previous one. */
  clip(length: number, options: { chunkSize?: number; seed?: number; seq?: number; prev?: Buffer | null; facts?: Partial<ClipFacts>; bytes?: Buffer } = {}): TestClip {
    const chunkSize = options.chunkSize ?? 64 * 1024;
    const bytes = options.bytes ?? pseudoRandomBytes(length, options.seed ?? length + 1);
    const digest = new ClipHasher(chunkSize).update(bytes).digest();
    const seq = options.seq ?? (this.seqs.get('ClipManifest') ?? 0) + 1;
    this.seqs.set('ClipManifest', Math.max(seq, this.seqs.get('ClipManifest') ?? 0));
    const prev = options.prev === undefined ? (seq === 1 ? null : this.lastManifestHash) : options.prev;
    const clipId = `clip-${this.deviceId}-${seq}`;
    const facts: ClipFacts = {
      cameraSerial: 'CAM-1', officerId: 'O-17', clipId, mediaType: 'video/mp4', startedAtMs: Date.now() - 60_000, endedAtMs: Date.now(),
      clock: { source: pb.ClockSource.CLOCK_SOURCE_NTP, synced: true, offsetMs: 0 }, trigger: pb.TriggerSource.TRIGGER_SOURCE_BUTTON,
      method: pb.RecordingMethod.RECORDING_METHOD_VIDEO, ...options.facts,
    };
    const signed = signManifest(facts, digest, { deviceId: this.deviceId, fleet: this.fleet, seq, prevManifestHash: prev }, this.key);
    this.lastManifestHash = signed.hash;
    const chunks: Buffer[] = [];
    for (let off = 0; off < bytes.byteLength; off += chunkSize) chunks.push(bytes.subarray(off, off + chunkSize));
    return { bytes, manifest: signed.bytes, hash: signed.hash, hashHex: signed.hash.toString('hex'), chunks, chunkSize, seq, clipId };
  }

  chunk(clip: TestClip, index: number, data: Uint8Array = clip.chunks[index]!): Uint8Array {
    return encodeUnsignedEnvelope('ClipChunk', pb.ClipChunk.encode({ manifestHash: clip.hash, index, data }).finish());
  }
}
