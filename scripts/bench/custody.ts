/**
 * `npm run bench -- custody`: the three costs of custody, each against a baseline in the same run.
 *
 * 1. Hashing a 1 GiB clip from the page cache: `hashClipFile` (whole-file SHA-256, 1 MiB chunk
 *    hashes and their Merkle root, on two worker threads) against `openssl dgst -sha256`, wall
 *    clock, best of 3 alternating rounds. Target ≥ 0.9×. Our SHA-256 must equal OpenSSL's.
 * 2. Signing a clip manifest with the device key (tweetnacl): `signManifest` (build, encode, seal)
 *    against a bare `nacl.sign.detached` of the same signed input. Informational.
 * 3. Verifying that manifest: `openEnvelope` + `envelopeSignatureValid` against a bare
 *    `crypto.verify` loop on the same envelope, same iteration count, interleaved. Target ≥ 0.8×.
 *
 * scripts/bench/README.md explains every number.
 */
import { spawn } from 'node:child_process';
import { createPrivateKey, randomFillSync, randomUUID, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { ClipHasher, hashClipFile, type ClipDigest } from '../../proto/clip-hash.js';
import { envelopeSignatureValid, openEnvelope } from '../../proto/envelope.js';
import { trustPublicKey } from '../../proto/ed25519.js';
import { pb } from '../../proto/wire.js';
import { merkleRoot } from '../../proto/merkle.js';
import { signerFromSeed } from '../../device/custody/keys.js';
import { signManifest, type ClipFacts } from '../../device/custody/manifest.js';
import {
  BenchCheckError,
  MB,
  MiB,
  RssSampler,
  calibrate,
  interleave,
  mib,
  now,
  row,
  timeLoop,
  type BenchContext,
  type BenchOutcome,
  type Benchmark,
} from './harness.js';

const HASH_FILE = join(tmpdir(), 'bwc-bench-1g.bin');
const HASH_BYTES = 1024 * MiB;
const HASH_ROUNDS = 3;
const HASH_TARGET = 0.9;

const SIGN_CLIP_BYTES = 10 * MiB;
const SIGN_ROUNDS = 5;
const SIGN_ROUND_MS = 400;

const VERIFY_ROUNDS = 5;
const VERIFY_ROUND_MS = 400;
const VERIFY_TARGET = 0.8;

/** A fixed seed: the benchmark key is not a secret, and a fixed key makes runs comparable. */
const SEED = Buffer.alloc(32, 0x42);

// ---------------------------------------------------------------------------------------------
// 1. Hashing
// ---------------------------------------------------------------------------------------------

/** Creates the 1 GiB file once (random bytes, 16 MiB at a time); reuses it when the size is right. */
function ensureHashFile(ctx: BenchContext): { created: boolean; ms: number } {
  try {
    const st = statSync(HASH_FILE);
    if (st.isFile() && st.size === HASH_BYTES) return { created: false, ms: 0 };
  } catch {
    // absent: create it
  }
  ctx.progress(`creating ${HASH_FILE} (1 GiB of random bytes, once; later runs reuse it)…`);
  const t0 = now();
  const tmp = `${HASH_FILE}.${process.pid}.tmp`;
  const block = Buffer.allocUnsafe(16 * MiB);
  const fd = openSync(tmp, 'w', 0o644);
  try {
    for (let written = 0; written < HASH_BYTES; written += block.length) {
      randomFillSync(block);
      let off = 0;
      while (off < block.length) off += writeSync(fd, block, off, block.length - off);
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* best effort */
    }
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, HASH_FILE); // a run stopped half-way never leaves a file of the right size
  return { created: true, ms: now() - t0 };
}

/** Reads the file once so both hashers start from the page cache; returns the read's MB/s. */
function warmPageCache(): number {
  const buf = Buffer.allocUnsafe(MiB);
  const fd = openSync(HASH_FILE, 'r');
  const t0 = now();
  let pos = 0;
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
  return pos / MB / ((now() - t0) / 1000);
}

/** `openssl dgst -sha256 FILE`, spawned; the wall clock from spawn to exit, and the digest. */
function opensslDigest(path: string): Promise<{ ms: number; hex: string }> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const child = spawn('openssl', ['dgst', '-sha256', path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      err += s;
    });
    child.on('error', (e) => reject(new BenchCheckError(`cannot run openssl: ${e.message} (install the openssl package)`)));
    child.on('close', (code) => {
      const ms = now() - t0;
      // OpenSSL 3 prints "SHA2-256(FILE)= hex", 1.1 "SHA256(FILE)= hex".
      const m = /=\s*([0-9a-f]{64})\s*$/.exec(out);
      if (code !== 0 || !m) {
        reject(new BenchCheckError(`openssl dgst -sha256 failed (exit ${code}): ${err.trim() || out.trim()}`));
      } else {
        resolve({ ms, hex: m[1]! });
      }
    });
  });
}

interface HashingResult {
  outcome: Pick<BenchOutcome, 'rows' | 'notes'>;
  details: Record<string, unknown>;
}

async function benchHashing(ctx: BenchContext): Promise<HashingResult> {
  const file = ensureHashFile(ctx);
  ctx.progress('warming the page cache (reading the 1 GiB file once)…');
  const cacheReadMBps = warmPageCache();

  let opensslHex = '';
  let ours: ClipDigest | undefined;
  const memory: Array<ReturnType<RssSampler['end']> & { progressRss: number[] }> = [];
  const result = await interleave(
    [
      {
        name: 'openssl',
        round: async () => {
          const r = await opensslDigest(HASH_FILE);
          if (opensslHex && r.hex !== opensslHex) throw new BenchCheckError(`openssl gave two digests for one file: ${opensslHex} then ${r.hex}`);
          opensslHex = r.hex;
          return r.ms;
        },
      },
      {
        name: 'ours',
        round: async () => {
          const sampler = new RssSampler(20);
          const progressRss: number[] = [];
          sampler.begin();
          const t0 = now();
          const d = await hashClipFile(HASH_FILE, {
            onProgress: () => {
              progressRss.push(sampler.sample());
            },
          });
          const ms = now() - t0;
          memory.push({ ...sampler.end(), progressRss });
          ours = d;
          return ms;
        },
      },
    ],
    HASH_ROUNDS,
    (name, r, n) => ctx.progress(`hashing 1 GiB with ${name === 'ours' ? 'hashClipFile' : 'openssl'} (round ${r}/${n})…`),
  );

  // Correctness before speed: a fast wrong hash is worth nothing.
  const d = ours!;
  const oursHex = d.sha256.toString('hex');
  if (oursHex !== opensslHex) {
    throw new BenchCheckError(`hashClipFile SHA-256 ${oursHex} differs from openssl's ${opensslHex} for ${HASH_FILE}`);
  }
  if (d.byteLength !== HASH_BYTES || d.chunks.length !== HASH_BYTES / d.chunkSize) {
    throw new BenchCheckError(`hashClipFile read ${d.byteLength} bytes in ${d.chunks.length} chunks; expected ${HASH_BYTES} in ${HASH_BYTES / d.chunkSize}`);
  }

  const mbps = (ms: number) => HASH_BYTES / MB / (ms / 1000);
  const oursMBps = mbps(result.best.ours!);
  const opensslMBps = mbps(result.best.openssl!);
  const peak = Math.max(...memory.map((m) => m.peakBytes));
  const start = Math.min(...memory.map((m) => m.startBytes));
  // Flat memory: RSS once the workers are reading (first progress report, 32 MiB in) against
  // RSS near the end of the file. Growth with the bytes read would show here.
  const growth = Math.max(...memory.map((m) => (m.progressRss.length >= 2 ? m.progressRss.at(-1)! - m.progressRss[0]! : 0)));
  return {
    outcome: {
      rows: [row('hash 1 GiB (page cache) vs openssl dgst', oursMBps, opensslMBps, 'MB/s', HASH_TARGET)],
      notes: [
        `hash: SHA-256 equals openssl's (${oursHex.slice(0, 16)}…); ${d.chunks.length} chunk hashes of ${d.chunkSize / MiB} MiB, Merkle root ${d.merkleRoot.toString('hex').slice(0, 16)}…`,
        `hash: wall clock best of ${HASH_ROUNDS}: ours ${result.best.ours!.toFixed(0)} ms, openssl ${result.best.openssl!.toFixed(0)} ms (median ${result.median.ours!.toFixed(0)} / ${result.median.openssl!.toFixed(0)} ms); plain 1 MiB read from page cache ${cacheReadMBps.toFixed(0)} MB/s`,
        `hash: RSS ${mib(start)} before, peak ${mib(peak)} while hashing 1024 MiB (+${mib(peak - start)}); growth from 32 MiB in to the end: ${growth >= 0 ? '+' : ''}${mib(growth)}`,
      ],
    },
    details: {
      file: HASH_FILE,
      bytes: HASH_BYTES,
      fileCreated: file.created,
      fileCreateMs: file.ms,
      pageCacheReadMBps: cacheReadMBps,
      sha256: oursHex,
      merkleRoot: d.merkleRoot.toString('hex'),
      chunkSize: d.chunkSize,
      chunks: d.chunks.length,
      roundsMs: result.times,
      bestMs: result.best,
      medianMs: result.median,
      oursMBps,
      opensslMBps,
      memory: {
        startBytes: start,
        peakBytes: peak,
        peakGrowthBytes: peak - start,
        growthWhileReadingBytes: growth,
        rounds: memory.map(({ progressRss, ...m }) => ({ ...m, progressSamples: progressRss.length })),
        maxRssKiBLifetime: process.resourceUsage().maxRSS,
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// 2. Signing and 3. verification
// ---------------------------------------------------------------------------------------------

/** The digest of a 10 MiB clip: hashed for real, so the manifest carries 10 real chunk hashes. */
function tenMiBDigest(): ClipDigest {
  const clip = randomFillSync(Buffer.allocUnsafe(SIGN_CLIP_BYTES));
  return new ClipHasher().update(clip).digest();
}

/** What a dock knows about a typical clip: every optional field a real manifest carries. */
function realisticFacts(): ClipFacts {
  const started = Date.UTC(2025, 5, 14, 9, 30, 0);
  const ended = started + 7 * 60_000 + 12_345;
  return {
    cameraSerial: 'AXN-BW4-X7K29031',
    cameraModel: 'Body 4',
    firmwareVersion: '2.14.7',
    officerId: 'OFC-118204',
    clipId: 'clip-20250614-093000-0042',
    mediaType: 'video/mp4',
    startedAtMs: started,
    endedAtMs: ended,
    preEventBufferS: 30,
    clock: { source: pb.ClockSource.CLOCK_SOURCE_NTP, synced: true, offsetMs: -412 },
    trigger: pb.TriggerSource.TRIGGER_SOURCE_HOLSTER,
    method: pb.RecordingMethod.RECORDING_METHOD_VIDEO,
    activity: 'at_large_arrest',
    purposes: ['public_interaction'],
    mutes: [{ fromMs: started + 120_000, toMs: started + 150_000, reason: 'sensitive_location' }],
    stopReason: pb.StopReason.STOP_REASON_BUTTON,
    decision: {
      decision: pb.Verdict.VERDICT_AUTHORIZED,
      basis: { kind: pb.BasisKind.BASIS_KIND_TRIGGER, id: 'at_large_arrest', category: 'directive_authorized' },
      reasons: ['TRIGGER_ACTIVITY'],
      clauses: ['BWC-2024§1', '1061.2§2.1(2)'],
      policyVersion: 17,
      cacheAgeMs: 3_600_000,
      evaluatedAtMs: started,
      decidedAtMs: started + 850,
      activation: {
        cameraSerial: 'AXN-BW4-X7K29031',
        officerId: 'OFC-118204',
        deviceRole: pb.DeviceRole.DEVICE_ROLE_BWC,
        trigger: pb.TriggerSource.TRIGGER_SOURCE_HOLSTER,
        activity: 'at_large_arrest',
        purposes: ['public_interaction'],
        method: pb.RecordingMethod.RECORDING_METHOD_VIDEO,
        atMs: started,
        stoppedAtMs: ended,
        clock: { source: pb.ClockSource.CLOCK_SOURCE_NTP, synced: true, offsetMs: -412 },
        clipId: 'clip-20250614-093000-0042',
      },
      bundleHash: Buffer.alloc(32, 0xbd),
    },
  };
}

/** The manifest of a 2 GiB clip (2048 chunk hashes, ~70 KB): verification cost grows with it. */
function longClipManifest(): Uint8Array {
  const chunks = Array.from({ length: 2048 }, () => randomFillSync(Buffer.allocUnsafe(32)));
  const digest: ClipDigest = {
    byteLength: 2048 * MiB,
    sha256: randomFillSync(Buffer.allocUnsafe(32)),
    chunkSize: MiB,
    chunks,
    merkleRoot: merkleRoot(chunks),
  };
  return signManifest(realisticFacts(), digest, { deviceId: 'DOCK-FO-NYC-07', fleet: 'ero-nyc', seq: 1 }, signerFromSeed(SEED)).bytes;
}

interface CryptoResult {
  rows: BenchOutcome['rows'];
  notes: string[];
  details: Record<string, unknown>;
}

async function benchSigning(ctx: BenchContext): Promise<CryptoResult & { envelope: Uint8Array }> {
  const signer = signerFromSeed(SEED);
  const digest = tenMiBDigest();
  const facts = realisticFacts();
  const chain = { deviceId: 'DOCK-FO-NYC-07', fleet: 'ero-nyc', seq: 1, prevManifestHash: null as Uint8Array | null };
  const signOne = (): Uint8Array => {
    const s = signManifest(facts, digest, chain, signer, { createdAtMs: Date.now(), manifestId: randomUUID() });
    chain.seq++;
    chain.prevManifestHash = s.hash; // a real chain: every manifest names the one before it
    return s.bytes;
  };
  const envelope = signOne();
  const opened = openEnvelope(envelope, { expectType: 'ClipManifest' });
  const input = opened.signedInput;
  const nacKey = nacl.sign.keyPair.fromSeed(SEED).secretKey;

  ctx.progress('signing manifests: calibrating…');
  const iterations = calibrate(() => {
    signOne();
  }, SIGN_ROUND_MS);
  const result = await interleave(
    [
      {
        name: 'ours',
        round: () =>
          timeLoop(iterations, () => {
            signOne();
          }),
      },
      {
        name: 'bare',
        round: () =>
          timeLoop(iterations, () => {
            nacl.sign.detached(input, nacKey);
          }),
      },
    ],
    SIGN_ROUNDS,
    (name, r, n) => ctx.progress(`signing ${iterations} manifests with ${name === 'ours' ? 'signManifest' : 'bare nacl.sign.detached'} (round ${r}/${n})…`),
  );
  const perSec = (ms: number) => iterations / (ms / 1000);

  // For context only: the same signature with node:crypto (OpenSSL), which the dock does not use.
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), SEED]);
  const nodeKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  if (!Buffer.from(cryptoSign(null, input, nodeKey)).equals(Buffer.from(opened.sig))) {
    throw new BenchCheckError('node:crypto and tweetnacl disagree on an Ed25519 signature of the same input with the same seed');
  }
  const nodeIterations = calibrate(() => {
    cryptoSign(null, input, nodeKey);
  }, 200);
  const nodeMs = timeLoop(nodeIterations, () => {
    cryptoSign(null, input, nodeKey);
  });
  const nodePerSec = nodeIterations / (nodeMs / 1000);

  return {
    envelope,
    rows: [row('sign manifest (tweetnacl) vs bare nacl sign', perSec(result.best.ours!), perSec(result.best.bare!), 'sig/s', null)],
    notes: [
      `sign: ClipManifest of a 10 MiB clip (${digest.chunks.length} chunks), envelope ${envelope.byteLength} bytes, signed input ${input.byteLength} bytes; node:crypto Ed25519 sign of the same input: ${Math.round(nodePerSec)} sig/s (context only)`,
    ],
    details: {
      envelopeBytes: envelope.byteLength,
      signedInputBytes: input.byteLength,
      iterationsPerRound: iterations,
      roundsMs: result.times,
      oursPerSec: perSec(result.best.ours!),
      bareNaclPerSec: perSec(result.best.bare!),
      nodeCryptoSignPerSec: nodePerSec,
    },
  };
}

async function benchVerifying(ctx: BenchContext, envelope: Uint8Array, label: string): Promise<CryptoResult> {
  const key = trustPublicKey(signerFromSeed(SEED).publicKey);
  const opened = openEnvelope(envelope, { expectType: 'ClipManifest' });
  const input = opened.signedInput;
  const sig = opened.sig;
  const keyObject = key.object;
  let valid = 0;
  const ours = () => {
    const env = openEnvelope(envelope, { expectType: 'ClipManifest' });
    if (envelopeSignatureValid(env, key)) valid++;
  };
  const bare = () => {
    if (cryptoVerify(null, input, keyObject, sig)) valid++;
  };
  ours();
  bare();
  if (valid !== 2) throw new BenchCheckError('the benchmark envelope does not verify');

  ctx.progress('verifying manifests: calibrating…');
  const iterations = calibrate(bare, VERIFY_ROUND_MS);
  valid = 0;
  const result = await interleave(
    [
      { name: 'ours', round: () => timeLoop(iterations, ours) },
      { name: 'bare', round: () => timeLoop(iterations, bare) },
    ],
    VERIFY_ROUNDS,
    (name, r, n) =>
      ctx.progress(
        `verifying ${iterations} manifests with ${name === 'ours' ? 'openEnvelope + envelopeSignatureValid' : 'bare crypto.verify'} (round ${r}/${n})…`,
      ),
  );
  if (valid !== iterations * VERIFY_ROUNDS * 2) {
    throw new BenchCheckError(`only ${valid} of ${iterations * VERIFY_ROUNDS * 2} verifications succeeded`);
  }
  const perSec = (ms: number) => iterations / (ms / 1000);
  const oursPerSec = perSec(result.best.ours!);
  const barePerSec = perSec(result.best.bare!);
  return {
    rows: [row(`verify manifest envelope (${label}) vs bare crypto.verify`, oursPerSec, barePerSec, 'verify/s', VERIFY_TARGET)],
    notes: [
      `verify (${label}, envelope ${envelope.byteLength} bytes): ${iterations} iterations per round, best of ${VERIFY_ROUNDS} interleaved rounds; median ours ${Math.round(perSec(result.median.ours!))}/s, bare ${Math.round(perSec(result.median.bare!))}/s`,
    ],
    details: {
      iterationsPerRound: iterations,
      roundsMs: result.times,
      oursPerSec,
      barePerSec,
      medianOursPerSec: perSec(result.median.ours!),
      medianBarePerSec: perSec(result.median.bare!),
    },
  };
}

export const custody: Benchmark = {
  name: 'custody',
  summary: 'clip hashing vs openssl dgst, manifest signing (tweetnacl), envelope verification vs bare crypto.verify',
  async run(ctx) {
    const hashing = await benchHashing(ctx);
    const signing = await benchSigning(ctx);
    const verifying = await benchVerifying(ctx, signing.envelope, '10 MiB clip');
    const verifyingLong = await benchVerifying(ctx, longClipManifest(), '2 GiB clip');
    return {
      rows: [...hashing.outcome.rows, ...signing.rows, ...verifying.rows, ...verifyingLong.rows],
      notes: [...hashing.outcome.notes, ...signing.notes, ...verifying.notes, ...verifyingLong.notes],
      details: {
        hashing: hashing.details,
        signing: signing.details,
        verifying: verifying.details,
        verifyingLongClip: verifyingLong.details,
      },
    };
  },
};
