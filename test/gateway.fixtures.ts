/**
 * A dock for gateway tests: a real device key and real signed messages (births, statuses, events,
 * manifests over real clip bytes, unsigned chunks), with the per-type seqs a dock keeps. And the
 * trust files a gateway starts with: an agency root, the gateway's certificate, a policy bundle.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pb, type bwc } from '../proto/wire.js';
import { sealEnvelope, encodeUnsignedEnvelope } from '../proto/envelope.js';
import { ClipHasher } from '../proto/clip-hash.js';
import { deviceTopic } from '../proto/topics.js';
import { trustPublicKey, type TrustedKey } from '../proto/ed25519.js';
import { signGatewayCertificate } from '../proto/gateway-cert.js';
import { bundleFromSource, signPolicyObject } from '../proto/policy.js';
import { DEFAULT_TRIGGERS } from '../proto/policy-vocab.js';
import type { DeviceKey } from '../device/custody/keys.js';
import { fastSignerFromSeed as signerFromSeed } from './keys.js';
import { signManifest, type ClipFacts } from '../device/custody/manifest.js';
import { loadOrCreateGatewayKey, type GatewaySigner } from '../gateway/signer.js';
import { pseudoRandomBytes, tempDir } from './helpers.js';

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
  /** The Header's subject device; none by default (a forger may set another device's id). */
  subject: string | null = null;

  constructor(
    readonly deviceId: string,
    readonly fleet = 'f1',
    seed = 7,
  ) {
    this.key = signerFromSeed(pseudoRandomBytes(32, seed));
  }

  topic(kind: Parameters<typeof deviceTopic>[2]): string {
    return deviceTopic(this.fleet, this.deviceId, kind);
  }

  header(type: string, seq?: number): bwc.v1.IHeader {
    const next = seq ?? (this.seqs.get(type) ?? 0) + 1;
    this.seqs.set(type, Math.max(next, this.seqs.get(type) ?? 0));
    return {
      issuer: this.deviceId,
      ...(this.subject !== null ? { subjectDevice: this.subject } : {}),
      fleet: this.fleet,
      seq: next,
      createdAtMs: Date.now(),
    };
  }

  birth(extra: Partial<bwc.v1.Birth.$Properties> = {}): Uint8Array {
    this.bdSeq++;
    const body = pb.Birth.encode({
      header: this.header('Birth'),
      bdSeq: this.bdSeq,
      agentVersion: '0.1.0',
      policyVersion: 3,
      clock: { synced: true, offsetMs: 12 },
      ...extra,
    }).finish();
    return sealEnvelope('Birth', body, this.key).bytes;
  }

  death(bdSeq = this.bdSeq, clean = false): Uint8Array {
    const body = pb.Death.encode({ header: this.header('Death'), bdSeq, clean }).finish();
    return sealEnvelope('Death', body, this.key).bytes;
  }

  status(extra: Partial<bwc.v1.Status.$Properties> = {}, seq?: number): Uint8Array {
    const body = pb.Status.encode({
      header: this.header('Status', seq),
      outboxDepth: 2,
      diskFreeBytes: 50 * 1024 ** 3,
      clock: { synced: true, offsetMs: 5 },
      ...extra,
    }).finish();
    return sealEnvelope('Status', body, this.key).bytes;
  }

  event(e: Partial<bwc.v1.Event.$Properties>, seq?: number): Uint8Array {
    const body = pb.Event.encode({ header: this.header('Event', seq), occurredAtMs: Date.now(), ...e }).finish();
    return sealEnvelope('Event', body, this.key).bytes;
  }

  /** Signs a manifest for `length` pseudo-random bytes, chained after the previous one. */
  clip(
    length: number,
    options: { chunkSize?: number; seed?: number; seq?: number; prev?: Buffer | null; facts?: Partial<ClipFacts>; bytes?: Buffer } = {},
  ): TestClip {
    const chunkSize = options.chunkSize ?? 64 * 1024;
    const bytes = options.bytes ?? pseudoRandomBytes(length, options.seed ?? length + 1);
    const digest = new ClipHasher(chunkSize).update(bytes).digest();
    const seq = options.seq ?? (this.seqs.get('ClipManifest') ?? 0) + 1;
    this.seqs.set('ClipManifest', Math.max(seq, this.seqs.get('ClipManifest') ?? 0));
    const prev = options.prev === undefined ? (seq === 1 ? null : this.lastManifestHash) : options.prev;
    const clipId = `clip-${this.deviceId}-${seq}`;
    const facts: ClipFacts = {
      cameraSerial: 'CAM-1',
      officerId: 'O-17',
      clipId,
      mediaType: 'video/mp4',
      startedAtMs: Date.now() - 60_000,
      endedAtMs: Date.now(),
      clock: { source: pb.ClockSource.CLOCK_SOURCE_NTP, synced: true, offsetMs: 0 },
      trigger: pb.TriggerSource.TRIGGER_SOURCE_BUTTON,
      method: pb.RecordingMethod.RECORDING_METHOD_VIDEO,
      ...options.facts,
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

export interface TrustFiles {
  /** The agency root (a signer, as `bwc authz keygen` makes one) and its trusted public key. */
  root: DeviceKey;
  rootKey: TrustedKey;
  /** The gateway key in `{dataDir}/keys/gateway`, created here before the gateway first starts. */
  gatewayKey: GatewaySigner;
  /** Files for `trust.rootPublicKey`, `trust.certificate` and (with `bundle`) `trust.bundle`. */
  rootPublicKey: string;
  certificate: string;
  bundle?: string;
  certificateBytes: Uint8Array;
  bundleBytes?: Uint8Array;
}

/**
 * Creates the gateway key in `dataDir`, an agency root, the root-signed certificate of that key for
 * `gatewayId` in `fleet` (valid from an hour ago for `days`), and with `bundle: true` a root-signed
 * policy bundle. `certify` replaces the certified key or window (to make bad certificates).
 */
export function trustFiles(
  dataDir: string,
  o: {
    gatewayId: string;
    fleet: string;
    seed?: number;
    bundle?: boolean;
    certify?: Partial<{ publicKey: Uint8Array; notBeforeMs: number; notAfterMs: number; gatewayId: string; fleet: string }>;
  },
): TrustFiles {
  const root = signerFromSeed(pseudoRandomBytes(32, o.seed ?? 9001));
  const { signer: gatewayKey } = loadOrCreateGatewayKey(join(dataDir, 'keys', 'gateway'));
  const dir = tempDir('bwc-trust-');
  const now = Date.now();
  const certificateBytes = signGatewayCertificate(
    {
      gatewayId: o.gatewayId,
      fleet: o.fleet,
      publicKey: gatewayKey.publicKey,
      notBeforeMs: now - 3600_000,
      notAfterMs: now + 365 * 86_400_000,
      ...o.certify,
    },
    root,
  );
  const files: TrustFiles = {
    root,
    rootKey: trustPublicKey(root.publicKey),
    gatewayKey,
    certificateBytes,
    rootPublicKey: join(dir, 'root.hex'),
    certificate: join(dir, `${o.gatewayId}.cert`),
  };
  writeFileSync(files.rootPublicKey, `${root.publicKeyHex}\n`);
  writeFileSync(files.certificate, certificateBytes);
  if (o.bundle) {
    files.bundleBytes = signPolicyObject(
      'PolicyBundle',
      bundleFromSource({
        version: 4,
        issuedAt: new Date(now - 86_400_000).toISOString(),
        expiresAt: new Date(now + 30 * 86_400_000).toISOString(),
        triggers: [...DEFAULT_TRIGGERS],
        officersIssued: ['O-17'],
      }),
      root,
    ).bytes;
    files.bundle = join(dir, 'policy-v4.bundle');
    writeFileSync(files.bundle, files.bundleBytes);
  }
  return files;
}
