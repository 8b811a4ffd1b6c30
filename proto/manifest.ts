/**
 * Reading a signed clip manifest: decode, check the schema version and the manifest's internal
 * consistency, and render it as JSON (proto/README.md, "Clip manifest"). Building and signing one
 * is the dock's job (device/custody).
 */
import { pb } from './wire.js';
import type { bwc } from './wire.js';
import { WireError } from './errors.js';
import { openEnvelope, type OpenedEnvelope } from './envelope.js';
import { bytesEqual, toHex } from './bytes.js';
import { merkleRoot } from './merkle.js';
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from './clip-hash.js';
import { CLOCK_SOURCES, MANIFEST_FLAGS, METHODS, STOP_REASONS, TRIGGERS } from './vocab.js';
import { decisionToJson } from './decision.js';

export const MANIFEST_SCHEMA_VERSION = 1;

export type ClipManifest = bwc.v1.ClipManifest;

export interface DecodedManifest {
  readonly envelope: OpenedEnvelope;
  readonly manifest: ClipManifest;
}

/**
 * Decodes a manifest envelope and its body, without trusting either. Throws WireError: EMPTY,
 * TOO_LARGE, UNDECODABLE, BAD_TYPE, WRONG_TYPE, UNSUPPORTED_VERSION.
 */
export function decodeManifest(bytes: Uint8Array, maxBytes?: number): DecodedManifest {
  const envelope = openEnvelope(bytes, maxBytes === undefined ? { expectType: 'ClipManifest' } : { expectType: 'ClipManifest', maxBytes });
  let manifest: ClipManifest;
  try {
    manifest = pb.ClipManifest.decode(envelope.body);
  } catch (e) {
    throw new WireError('UNDECODABLE', `manifest body is not a ClipManifest: ${(e as Error).message}`, { cause: e });
  }
  if (manifest.schemaVersion !== MANIFEST_SCHEMA_VERSION) {
    throw new WireError(
      'UNSUPPORTED_VERSION',
      `manifest schema version ${manifest.schemaVersion} is not supported (this build reads version ${MANIFEST_SCHEMA_VERSION})`,
    );
  }
  return { envelope, manifest };
}

export function expectedChunkCount(byteLength: number, chunkSize: number): number {
  return Math.ceil(byteLength / chunkSize);
}

/**
 * Ways a manifest contradicts itself or its envelope; empty when it is consistent. `merkle: false`
 * leaves out the Merkle-root check for a caller that runs it elsewhere (the gateway's workers).
 */
export function manifestProblems({ envelope, manifest: m }: DecodedManifest, options: { merkle?: boolean } = {}): string[] {
  const problems: string[] = [];
  const issuer = m.header?.issuer ?? '';
  if (!issuer) problems.push('header has no issuer');
  if (m.deviceId !== issuer) problems.push(`device_id "${m.deviceId}" differs from the header issuer "${issuer}"`);
  if (envelope.keyId && m.keyId !== envelope.keyId) problems.push('key_id differs from the envelope key_id');
  if ((m.header?.seq ?? 0) < 1) problems.push('seq must be 1 or more');
  if (m.sha256.byteLength !== 32) problems.push(`sha256 is ${m.sha256.byteLength} bytes, not 32`);
  if (m.merkleRoot.byteLength !== 32) problems.push(`merkle_root is ${m.merkleRoot.byteLength} bytes, not 32`);
  if (m.prevManifestHash.byteLength !== 0 && m.prevManifestHash.byteLength !== 32) {
    problems.push(`prev_manifest_hash is ${m.prevManifestHash.byteLength} bytes, not 0 or 32`);
  }
  if (m.chunkSize < MIN_CHUNK_SIZE || m.chunkSize > MAX_CHUNK_SIZE) {
    problems.push(`chunk_size ${m.chunkSize} is outside ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}`);
    return problems;
  }
  const want = expectedChunkCount(m.byteLength, m.chunkSize);
  if (m.chunkSha256.length !== want) {
    problems.push(`${m.chunkSha256.length} chunk hashes for ${m.byteLength} bytes in ${m.chunkSize}-byte chunks (expected ${want})`);
  }
  if (m.chunkSha256.some((c) => c.byteLength !== 32)) problems.push('a chunk hash is not 32 bytes');
  else if (options.merkle !== false && m.merkleRoot.byteLength === 32 && !bytesEqual(merkleRoot(m.chunkSha256), m.merkleRoot)) {
    problems.push('merkle_root does not match the chunk hashes');
  }
  return problems;
}

function iso(ms: number | null | undefined): string | null {
  return ms ? new Date(ms).toISOString() : null;
}

/** The manifest as readable JSON: codes instead of enum numbers, hex hashes, ISO times. */
export function manifestToJson(m: ClipManifest): Record<string, unknown> {
  return {
    schemaVersion: m.schemaVersion,
    manifestId: m.manifestId,
    header: {
      issuer: m.header?.issuer ?? '',
      subjectDevice: m.header?.subjectDevice ?? '',
      fleet: m.header?.fleet ?? '',
      seq: m.header?.seq ?? 0,
      createdAt: iso(m.header?.createdAtMs),
    },
    deviceId: m.deviceId,
    keyId: m.keyId,
    cameraSerial: m.cameraSerial,
    cameraModel: m.cameraModel,
    officerId: m.officerId,
    clipId: m.clipId,
    mediaType: m.mediaType,
    byteLength: m.byteLength,
    sha256: toHex(m.sha256),
    chunkSize: m.chunkSize,
    chunkCount: m.chunkSha256.length,
    chunkSha256: m.chunkSha256.map(toHex),
    merkleRoot: toHex(m.merkleRoot),
    startedAt: iso(m.startedAtMs),
    endedAt: iso(m.endedAtMs),
    preEventBufferS: m.preEventBufferS,
    clock: {
      source: CLOCK_SOURCES.code(m.clock?.source) ?? null,
      synced: m.clock?.synced ?? false,
      offsetMs: m.clock?.offsetMs ?? 0,
      offsetUncertaintyMs: m.clock?.offsetUncertaintyMs ?? 0,
    },
    trigger: TRIGGERS.code(m.trigger) ?? null,
    method: METHODS.code(m.method) ?? null,
    activity: m.activity || null,
    purposes: m.purposes,
    mutes: m.mutes.map((x) => ({ from: iso(x.fromMs), to: iso(x.toMs), reason: x.reason ?? '' })),
    stopReason: STOP_REASONS.code(m.stopReason) ?? null,
    stopDetail: m.stopDetail || null,
    decision: m.decision ? decisionToJson(m.decision) : null,
    seq: m.header?.seq ?? 0,
    prevManifestHash: m.prevManifestHash.byteLength ? toHex(m.prevManifestHash) : null,
    agentVersion: m.agentVersion,
    firmwareVersion: m.firmwareVersion,
    flags: m.flags.map((f) => MANIFEST_FLAGS.code(f) ?? `UNKNOWN_${f}`),
  };
}
