/**
 * Building and signing clip manifests (proto/README.md, "Clip manifest"). The dock pipeline and
 * `bwc manifest sign` both come through here, so every manifest has the same fields and checks.
 */
import { randomUUID } from 'node:crypto';
import { pb, type bwc } from '../../proto/wire.js';
import { sealEnvelope, type Signer } from '../../proto/envelope.js';
import type { ClipDigest } from '../../proto/clip-hash.js';
import { MANIFEST_SCHEMA_VERSION } from '../../proto/manifest.js';
import { assertId } from '../../proto/topics.js';
import { SOFTWARE_VERSION } from '../../proto/version.js';

/** What the caller knows about a clip beyond its bytes. Times are Unix ms. */
export interface ClipFacts {
  cameraSerial: string;
  cameraModel?: string;
  firmwareVersion?: string;
  officerId: string;
  clipId: string;
  mediaType: string;
  startedAtMs: number;
  endedAtMs: number;
  preEventBufferS?: number;
  clock: bwc.v1.ClockState.$Properties;
  trigger: bwc.v1.TriggerSource;
  method: bwc.v1.RecordingMethod;
  activity?: string;
  purposes?: string[];
  mutes?: bwc.v1.MuteInterval.$Properties[];
  stopReason?: bwc.v1.StopReason;
  stopDetail?: string;
  decision?: bwc.v1.ActivationDecision.$Properties | null;
  flags?: bwc.v1.ManifestFlag[];
}

/** Where the manifest sits in its device's chain. */
export interface ChainPosition {
  deviceId: string;
  fleet: string;
  /** Header seq: 1 for the device's first manifest, then +1. */
  seq: number;
  /** SHA-256 of the previous manifest's signed input; absent only for seq 1. */
  prevManifestHash?: Uint8Array | null;
}

export interface SignedManifest {
  readonly bytes: Uint8Array;
  /** SHA-256 of the signed input: the manifest's identity. */
  readonly hash: Buffer;
  readonly manifest: bwc.v1.ClipManifest.$Properties;
}

export class ManifestInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestInputError';
  }
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new ManifestInputError(message);
}

export function buildManifest(
  facts: ClipFacts,
  digest: ClipDigest,
  chain: ChainPosition,
  signer: Signer,
  options: { createdAtMs?: number; manifestId?: string } = {},
): bwc.v1.ClipManifest.$Properties {
  assertId(chain.deviceId, 'device id');
  assertId(chain.fleet, 'fleet');
  check(Number.isSafeInteger(chain.seq) && chain.seq >= 1, `seq must be a whole number from 1, got ${chain.seq}`);
  const prev = chain.prevManifestHash ?? new Uint8Array(0);
  check(prev.byteLength === 0 || prev.byteLength === 32, 'prevManifestHash must be 32 bytes');
  check(chain.seq === 1 || prev.byteLength === 32, `seq ${chain.seq} needs the previous manifest's hash (--prev)`);
  check(facts.cameraSerial.length > 0, 'cameraSerial is required');
  check(facts.clipId.length > 0, 'clipId is required');
  check(facts.endedAtMs === 0 || facts.endedAtMs >= facts.startedAtMs, 'endedAt is before startedAt');
  return {
    header: {
      issuer: chain.deviceId,
      subjectDevice: chain.deviceId,
      fleet: chain.fleet,
      seq: chain.seq,
      createdAtMs: options.createdAtMs ?? Date.now(),
    },
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    manifestId: options.manifestId ?? randomUUID(),
    deviceId: chain.deviceId,
    keyId: signer.keyId,
    cameraSerial: facts.cameraSerial,
    cameraModel: facts.cameraModel ?? '',
    officerId: facts.officerId,
    clipId: facts.clipId,
    mediaType: facts.mediaType,
    byteLength: digest.byteLength,
    sha256: digest.sha256,
    chunkSize: digest.chunkSize,
    chunkSha256: digest.chunks,
    merkleRoot: digest.merkleRoot,
    startedAtMs: facts.startedAtMs,
    endedAtMs: facts.endedAtMs,
    preEventBufferS: facts.preEventBufferS ?? 0,
    clock: facts.clock,
    trigger: facts.trigger,
    activity: facts.activity ?? '',
    mutes: facts.mutes ?? [],
    stopReason: facts.stopReason ?? pb.StopReason.STOP_REASON_UNSPECIFIED,
    stopDetail: facts.stopDetail ?? '',
    decision: facts.decision ?? null,
    prevManifestHash: prev,
    agentVersion: SOFTWARE_VERSION,
    firmwareVersion: facts.firmwareVersion ?? '',
    flags: facts.flags ?? [],
    method: facts.method,
    purposes: facts.purposes ?? [],
  };
}

/** Builds, encodes and signs a manifest with the device key. */
export function signManifest(
  facts: ClipFacts,
  digest: ClipDigest,
  chain: ChainPosition,
  signer: Signer,
  options: { createdAtMs?: number; manifestId?: string } = {},
): SignedManifest {
  const manifest = buildManifest(facts, digest, chain, signer, options);
  const body = pb.ClipManifest.encode(manifest).finish();
  const sealed = sealEnvelope('ClipManifest', body, signer);
  return { bytes: sealed.bytes, hash: sealed.hash, manifest };
}
