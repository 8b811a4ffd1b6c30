/** Arbitrary bytes never throw out of the verify API and never yield AUTHENTIC. */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { pb } from '../proto/wire.js';
import { hashClipFile } from '../proto/clip-hash.js';
import { trustPublicKey } from '../proto/ed25519.js';
import { judge, pinnedKey, readManifest, verifyClip, type KeySource } from '../proto/verify.js';
import { fastSignerFromSeed as signerFromSeed } from './keys.js';
import { signManifest } from '../device/custody/manifest.js';
import { tempDir, writeClip } from './helpers.js';

const dir = tempDir();
const signer = signerFromSeed(Buffer.alloc(32, 5));
const keys: KeySource = pinnedKey(trustPublicKey(signer.publicKey));
let clip: string;
let good: Buffer;
let digest: Awaited<ReturnType<typeof hashClipFile>>;

beforeAll(async () => {
  clip = writeClip(dir, 'clip.bin', 300_000, 8);
  digest = await hashClipFile(clip, { chunkSize: 16 * 1024 });
  good = Buffer.from(
    signManifest(
      {
        cameraSerial: 'CAM-1',
        officerId: 'O1',
        clipId: 'c1',
        mediaType: 'video/mp4',
        startedAtMs: 1,
        endedAtMs: 2,
        clock: { synced: true },
        trigger: pb.TriggerSource.TRIGGER_SOURCE_BUTTON,
        method: pb.RecordingMethod.RECORDING_METHOD_VIDEO,
      },
      digest,
      { deviceId: 'DOCK-1', fleet: 'f', seq: 1 },
      signer,
    ).bytes,
  );
});

/** Verifies in memory against the clip digest (the same judge() the CLI uses after hashing). */
function verdictOf(bytes: Uint8Array): string {
  const decoded = readManifest(bytes);
  if ('error' in decoded) return decoded.error;
  return judge(decoded, keys, clip, 300_000, decoded.manifest.chunkSize === digest.chunkSize ? digest : null).verdict;
}

describe('verify API under fuzzing', () => {
  it('the untouched manifest is AUTHENTIC (the property below can fail)', async () => {
    expect(verdictOf(good)).toBe('AUTHENTIC');
    const outcome = await verifyClip(clip, good, keys);
    expect('verdict' in outcome && outcome.verdict).toBe('AUTHENTIC');
  });

  it('arbitrary bytes never throw and never verify', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async (bytes) => {
        const outcome = await verifyClip(clip, bytes, keys);
        expect(outcome.verdict).not.toBe('AUTHENTIC');
      }),
      { numRuns: 300 },
    );
  });

  it('a valid manifest with any bytes changed never verifies', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }), { minLength: 1, maxLength: 4 }), (edits) => {
        const bytes = Buffer.from(good);
        for (const e of edits) bytes[e.at % bytes.length]! ^= e.xor;
        if (bytes.equals(good)) return;
        expect(verdictOf(bytes)).not.toBe('AUTHENTIC');
      }),
      { numRuns: 1500 },
    );
  });

  it('a valid manifest cut or extended never verifies', () => {
    fc.assert(
      fc.property(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 64 }), (cut, tail) => {
        const n = cut % good.length;
        expect(verdictOf(good.subarray(0, n))).not.toBe('AUTHENTIC');
        expect(verdictOf(Buffer.concat([good, tail]))).not.toBe('AUTHENTIC');
      }),
      { numRuns: 400 },
    );
  });

  it('manifests built from arbitrary protobuf fields never throw out of readManifest or judge', () => {
    fc.assert(
      fc.property(
        fc.record({
          schemaVersion: fc.constantFrom(0, 1, 2),
          byteLength: fc.nat(),
          chunkSize: fc.nat(),
          chunkSha256: fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 30 }),
          sha256: fc.uint8Array({ maxLength: 40 }),
          merkleRoot: fc.uint8Array({ maxLength: 40 }),
          deviceId: fc.string(),
        }),
        (fields) => {
          const body = pb.ClipManifest.encode({ ...fields, header: { issuer: 'DOCK-1', seq: 1 }, keyId: signer.keyId }).finish();
          const env = pb.Envelope.encode({
            type: 'ClipManifest',
            body,
            keyId: signer.keyId,
            sig: signer.sign(Buffer.concat([Buffer.from('bwc/v1/ClipManifest\n'), body])),
          }).finish();
          const v = verdictOf(env);
          // Only a manifest whose every field matches the clip could verify, and these never do.
          expect(v).not.toBe('AUTHENTIC');
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('verify API on inconsistent signed manifests', () => {
  it('judges a manifest listing more chunk hashes than its length allows as NOT_AUTHENTIC, without throwing', () => {
    const m = pb.ClipManifest.decode(pb.Envelope.decode(good).body);
    const body = pb.ClipManifest.encode({ ...m, byteLength: 20_000 }).finish(); // 19 chunk hashes for 2 chunks' worth
    const env = pb.Envelope.encode({
      type: 'ClipManifest',
      body,
      keyId: signer.keyId,
      sig: signer.sign(Buffer.concat([Buffer.from('bwc/v1/ClipManifest\n'), body])),
    }).finish();
    const decoded = readManifest(env);
    if ('error' in decoded) throw new Error(decoded.message);
    const report = judge(decoded, keys, clip, 300_000, digest);
    expect(report.verdict).toBe('NOT_AUTHENTIC');
    expect(report.problems.join()).toMatch(/19 chunk hashes for 20000 bytes/);
  });
});
