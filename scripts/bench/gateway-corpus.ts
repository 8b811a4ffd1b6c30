/**
 * The gateway benchmark's input: N distinct manifests from D enrolled docks, each dock's chain in
 * seq order with its previous hashes, fed round-robin over the docks (scripts/bench/README.md,
 * `gateway`). Built once, before any timing.
 */
import { createPrivateKey, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { pb } from '../../proto/wire.js';
import type { Signer } from '../../proto/envelope.js';
import { keyIdOf, trustPublicKey, type TrustedKey } from '../../proto/ed25519.js';
import { deviceTopic } from '../../proto/topics.js';
import { merkleRoot } from '../../proto/merkle.js';
import { sha256, toHex } from '../../proto/bytes.js';
import { signManifest, type ClipFacts } from '../../device/custody/manifest.js';
import { MiB, now, pseudoRandomBytes, quantile } from './harness.js';

export const BENCH_FLEET = 'bench';

/**
 * A dock key that signs with node:crypto. Ed25519 is deterministic, so the signatures are the
 * bytes tweetnacl (the dock's signer) would produce from the same seed (the custody benchmark
 * checks this); node:crypto only makes building thousands of manifests take a fraction of a second.
 */
function dockSigner(seed: Buffer): Signer & { privateKey: KeyObject } {
  const privateKey = createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' }) as { x: string };
  const publicKey = Buffer.from(jwk.x, 'base64url');
  return { keyId: keyIdOf(publicKey), publicKey, privateKey, sign: (message) => cryptoSign(null, message, privateKey) };
}

export interface BenchManifest {
  deviceId: string;
  topic: string;
  bytes: Uint8Array;
  hashHex: string;
  seq: number;
  chunkCount: number;
  byteLength: number;
}

export interface Corpus {
  docks: Array<{ deviceId: string; signer: Signer; trusted: TrustedKey }>;
  /** In the order they are fed: round-robin over the docks, each dock's chain in seq order. */
  manifests: BenchManifest[];
  envelopeBytes: { min: number; median: number; max: number };
  chunks: { min: number; max: number; total: number };
  buildMs: number;
}

export function buildCorpus(total: number, dockCount: number): Corpus {
  const t0 = now();
  const docks = Array.from({ length: dockCount }, (_, d) => {
    const deviceId = `dock-bench-${String(d + 1).padStart(2, '0')}`;
    const signer = dockSigner(pseudoRandomBytes(32, 0x5eed + d));
    return { deviceId, signer, trusted: trustPublicKey(signer.publicKey, `key of ${deviceId}`) };
  });
  const chains = docks.map(() => ({ seq: 0, prev: null as Buffer | null }));
  const manifests: BenchManifest[] = [];
  const base = Date.UTC(2026, 2, 2, 8, 0, 0);
  for (let i = 0; i < total; i++) {
    const d = i % dockCount;
    const dock = docks[d]!;
    const chain = chains[d]!;
    chain.seq++;
    // 4–16 chunks of 1 MiB, the last one partial: clips of about 3.1 to 16 MiB, all sizes mixed.
    const chunkCount = 4 + ((i * 7 + d) % 13);
    const byteLength = (chunkCount - 1) * MiB + 1 + ((i * 104_729) % MiB);
    const chunkHashes = Array.from({ length: chunkCount }, (_, c) => sha256(pseudoRandomBytes(8, i * 31 + c + 1)));
    const startedAtMs = base + i * 90_000;
    const clipId = `clip-${dock.deviceId}-${chain.seq}`;
    const facts: ClipFacts = {
      cameraSerial: `AXN-BW4-${String(d).padStart(6, '0')}`,
      cameraModel: 'Body 4',
      firmwareVersion: '2.14.7',
      officerId: `OFC-${100_000 + ((i * 13) % 2_000)}`,
      clipId,
      mediaType: 'video/mp4',
      startedAtMs,
      endedAtMs: startedAtMs + 60_000 + (i % 600) * 1_000,
      preEventBufferS: 30,
      clock: { source: pb.ClockSource.CLOCK_SOURCE_NTP, synced: true, offsetMs: -12 },
      trigger: pb.TriggerSource.TRIGGER_SOURCE_HOLSTER,
      method: pb.RecordingMethod.RECORDING_METHOD_VIDEO,
      activity: 'at_large_arrest',
      purposes: ['public_interaction'],
      stopReason: pb.StopReason.STOP_REASON_BUTTON,
      decision: {
        decision: pb.Verdict.VERDICT_AUTHORIZED,
        basis: { kind: pb.BasisKind.BASIS_KIND_TRIGGER, id: 'at_large_arrest', category: 'directive_authorized' },
        reasons: ['TRIGGER_ACTIVITY'],
        clauses: ['BWC-2024§1'],
        policyVersion: 17,
        cacheAgeMs: 3_600_000,
        evaluatedAtMs: startedAtMs,
        decidedAtMs: startedAtMs + 850,
        bundleHash: Buffer.alloc(32, 0xbd),
      },
    };
    const digest = {
      byteLength,
      sha256: sha256(pseudoRandomBytes(8, 0xc11b + i)),
      chunkSize: MiB,
      chunks: chunkHashes,
      merkleRoot: merkleRoot(chunkHashes),
    };
    const signed = signManifest(facts, digest, { deviceId: dock.deviceId, fleet: BENCH_FLEET, seq: chain.seq, prevManifestHash: chain.prev }, dock.signer, {
      createdAtMs: startedAtMs + 120_000,
      manifestId: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
    });
    chain.prev = signed.hash;
    manifests.push({
      deviceId: dock.deviceId,
      topic: deviceTopic(BENCH_FLEET, dock.deviceId, 'manifest'),
      bytes: signed.bytes,
      hashHex: toHex(signed.hash),
      seq: chain.seq,
      chunkCount,
      byteLength,
    });
  }
  const sizes = manifests.map((m) => m.bytes.byteLength);
  const counts = manifests.map((m) => m.chunkCount);
  return {
    docks,
    manifests,
    envelopeBytes: { min: Math.min(...sizes), median: quantile(sizes, 0.5), max: Math.max(...sizes) },
    chunks: { min: Math.min(...counts), max: Math.max(...counts), total: counts.reduce((a, b) => a + b, 0) },
    buildMs: now() - t0,
  };
}
