import { copyFileSync, mkdirSync, readFileSync, truncateSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { pb } from '../proto/wire.js';
import { signerFromSeed } from '../device/custody/keys.js';
import { sealEnvelope } from '../proto/envelope.js';
import { runBwc, tempDir, writeClip } from './helpers.js';

const dir = tempDir();
const MiB = 1024 * 1024;
let clip: string;
let manifest: string;
let pub: string;

function copyClip(name: string): string {
  const p = join(dir, name);
  copyFileSync(clip, p);
  return p;
}

function flipByte(path: string, offset: number): void {
  const buf = readFileSync(path);
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.from([buf[offset]! ^ 0xff]), 0, 1, offset);
  closeSync(fd);
}

beforeAll(() => {
  expect(runBwc(['keygen', '--out', join(dir, 'key')]).code).toBe(0);
  pub = join(dir, 'key', 'public.hex');
  clip = writeClip(dir, 'clip.mp4', 3 * MiB + 500_000, 11);
  writeFileSync(
    join(dir, 'meta.json'),
    JSON.stringify({
      fleet: 'sea',
      cameraSerial: 'CAM-0042',
      officerId: 'O1',
      clipId: 'clip-0001',
      startedAt: '2026-11-22T14:03:00Z',
      endedAt: '2026-11-22T14:05:00Z',
      trigger: 'button',
      method: 'video',
      activity: 'at_large_arrest',
      clock: { source: 'ntp', synced: true, offsetMs: 120 },
    }),
  );
  manifest = join(dir, 'clip.manifest');
  const signed = runBwc(['manifest', 'sign', clip, '--key', join(dir, 'key'), '--device-id', 'DOCK-7', '--meta', join(dir, 'meta.json'), '--out', manifest]);
  expect(signed.stderr).toBe('');
  expect(signed.code).toBe(0);
});

describe('bwc verify: verdicts and exit codes (proto/README.md, "Verification")', () => {
  it('exits 0 with AUTHENTIC when every byte matches and the key is the signer', () => {
    const r = runBwc(['verify', clip, manifest, '--pubkey', pub]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^content +AUTHENTIC$/m);
    expect(r.stdout).toMatch(/^ +\.\.\.\.$/m);
    expect(r.stdout.trim().split('\n').at(-1)).toMatch(/^AUTHENTIC: all 4 chunks and the whole-file SHA-256 match/);
  });

  it('reports the verdicts, the chunk map and the manifest as JSON', () => {
    const r = runBwc(['verify', clip, manifest, '--pubkey', join(dir, 'key', 'public.pem'), '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({
      verdict: 'AUTHENTIC',
      content: 'AUTHENTIC',
      key: 'OK',
      signature: 'VALID',
      chunkMap: '....',
      chunks: { total: 4, ok: 4, altered: 0, missing: 0 },
      exitCode: 0,
      manifest: { deviceId: 'DOCK-7', seq: 1, cameraSerial: 'CAM-0042', clipId: 'clip-0001', byteLength: 3 * MiB + 500_000 },
    });
    expect(j.clip.sha256).toBe(j.manifest.sha256);
  });

  it('exits 1 with NOT_AUTHENTIC and marks the altered chunk N', () => {
    const altered = copyClip('altered.mp4');
    flipByte(altered, 2 * MiB + 17);
    const r = runBwc(['verify', altered, manifest, '--pubkey', pub, '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ verdict: 'NOT_AUTHENTIC', chunkMap: '..N.', chunks: { altered: 1 } });
  });

  it('exits 3 with AUTHENTIC_WITH_GAPS for a clip cut at a chunk boundary whose present chunks match, leading with the count', () => {
    const cut = copyClip('truncated.mp4');
    truncateSync(cut, 2 * MiB);
    const r = runBwc(['verify', cut, manifest, '--pubkey', pub, '--json']);
    expect(r.code).toBe(3);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ verdict: 'AUTHENTIC_WITH_GAPS', chunkMap: '..MM', chunks: { ok: 2, missing: 2 } });
    expect(j.summary).toMatch(/^AUTHENTIC_WITH_GAPS: 2 of 4 chunks verified; missing 2-3; every byte present is the signed clip's/);
  });

  // AUTHENTIC_WITH_GAPS means every byte present is the signed clip's; anything less is NOT_AUTHENTIC.
  it('exits 1 for a clip cut inside a chunk: the bytes of the cut chunk cannot be verified', () => {
    const cut = copyClip('cut-inside.mp4');
    truncateSync(cut, 2 * MiB + 100);
    const r = runBwc(['verify', cut, manifest, '--pubkey', pub, '--json']);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ verdict: 'NOT_AUTHENTIC', chunkMap: '..NM', chunks: { ok: 2, altered: 1, missing: 1 } });
    expect(j.summary).toMatch(/^NOT_AUTHENTIC: 2 of 4 chunks verified; missing 3; chunk 2 is cut short \(100 of 1048576 bytes\)/);
  });

  it('exits 1 for a 6-byte unrelated file and for an altered prefix: no chunk verified', () => {
    const tiny = writeTo('tiny.mp4', Buffer.from('hello\n'));
    const r = runBwc(['verify', tiny, manifest, '--pubkey', pub, '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ verdict: 'NOT_AUTHENTIC', chunkMap: 'NMMM', chunks: { ok: 0 } });
    const prefix = copyClip('prefix.mp4');
    flipByte(prefix, 5);
    truncateSync(prefix, MiB);
    const p = runBwc(['verify', prefix, manifest, '--pubkey', pub, '--json']);
    expect(p.code).toBe(1);
    expect(JSON.parse(p.stdout)).toMatchObject({ verdict: 'NOT_AUTHENTIC', chunkMap: 'NMMM' });
    const empty = writeTo('empty.mp4', Buffer.alloc(0));
    const e = runBwc(['verify', empty, manifest, '--pubkey', pub, '--json']);
    expect(e.code).toBe(1);
    expect(JSON.parse(e.stdout).summary).toMatch(/^NOT_AUTHENTIC: 0 of 4 chunks verified; missing 0-3; no chunk of the signed clip is present/);
  });

  it('exits 1 when bytes are appended beyond the signed length', () => {
    const longer = copyClip('longer.mp4');
    writeFileSync(longer, Buffer.from('extra'), { flag: 'a' });
    const r = runBwc(['verify', longer, manifest, '--pubkey', pub]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/5 bytes beyond the signed length/);
  });

  it('exits 1 when the altered chunk and a missing tail come together (1 over 3)', () => {
    const both = copyClip('both.mp4');
    flipByte(both, 10);
    truncateSync(both, 2 * MiB);
    const r = runBwc(['verify', both, manifest, '--pubkey', pub, '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).chunkMap).toBe('N.MM');
  });

  it('exits 4 with UNKNOWN_KEY for another key, or no key at all, even when the content matches', () => {
    expect(runBwc(['keygen', '--out', join(dir, 'other')]).code).toBe(0);
    const wrong = runBwc(['verify', clip, manifest, '--pubkey', join(dir, 'other', 'public.hex'), '--json']);
    expect(wrong.code).toBe(4);
    expect(JSON.parse(wrong.stdout)).toMatchObject({ verdict: 'UNKNOWN_KEY', content: 'AUTHENTIC', signature: 'UNCHECKED' });
    const none = runBwc(['verify', clip, manifest]);
    expect(none.code).toBe(4);
    expect(none.stdout).toMatch(/UNKNOWN_KEY: no public key given/);
  });

  it('exits 1 over 4: altered content with an unknown key is NOT_AUTHENTIC', () => {
    const altered = copyClip('altered2.mp4');
    flipByte(altered, 5);
    expect(runBwc(['verify', altered, manifest]).code).toBe(1);
  });

  it('exits 1 with NOT_SIGNED for a manifest without a signature', () => {
    const env = pb.Envelope.decode(readFileSync(manifest));
    const unsigned = join(dir, 'unsigned.manifest');
    writeFileSync(unsigned, pb.Envelope.encode({ type: env.type, body: env.body }).finish());
    const r = runBwc(['verify', clip, unsigned, '--pubkey', pub]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/NOT_SIGNED/);
  });

  it('exits 1 when the signature does not verify (a re-signed body by the right key id is impossible)', () => {
    const env = pb.Envelope.decode(readFileSync(manifest));
    const sig = Buffer.from(env.sig);
    sig[0]! ^= 1;
    const forged = join(dir, 'badsig.manifest');
    writeFileSync(forged, pb.Envelope.encode({ ...env, sig }).finish());
    const r = runBwc(['verify', clip, forged, '--pubkey', pub, '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ verdict: 'NOT_AUTHENTIC', signature: 'INVALID' });
  });
});

describe('bwc verify: bad input gets one line, a distinct message and no stack trace', () => {
  const cases: [string, () => string[], number, RegExp][] = [
    ['an empty manifest', () => [clip, writeTo('empty.manifest', Buffer.alloc(0)), '--pubkey', pub], 2, /manifest is empty/],
    [
      'a garbage manifest',
      () => [clip, writeTo('garbage.manifest', Buffer.from('this is not protobuf at all \xff\xfe')), '--pubkey', pub],
      2,
      /not a bwc manifest/,
    ],
    ['a truncated manifest', () => [clip, writeTo('trunc.manifest', readFileSync(manifest).subarray(0, 200)), '--pubkey', pub], 2, /manifest is truncated/],
    [
      'a manifest with bytes appended',
      () => [clip, writeTo('appended.manifest', Buffer.concat([readFileSync(manifest), Buffer.from([0x15, 0, 0, 0, 0])])), '--pubkey', pub],
      2,
      /manifest file was altered: .*appended/,
    ],
    ['an oversize manifest', () => [clip, writeTo('huge.manifest', Buffer.alloc(8 * MiB + 1)), '--pubkey', pub], 2, /above the 8388608-byte limit/],
    ['a manifest of a future schema version', () => [clip, futureVersion(), '--pubkey', pub], 2, /schema version 2 is not supported/],
    ['another message type', () => [clip, otherType(), '--pubkey', pub], 2, /not a clip manifest: envelope holds a Status/],
    ['a missing clip', () => [join(dir, 'nope.mp4'), manifest, '--pubkey', pub], 2, /clip .*nope\.mp4 does not exist/],
    ['a directory as the clip', () => [dir, manifest, '--pubkey', pub], 2, /is a directory, not a file/],
    ['a directory as the manifest', () => [clip, dir, '--pubkey', pub], 2, /manifest .* is a directory/],
    ['a missing manifest', () => [clip, join(dir, 'nope.manifest'), '--pubkey', pub], 2, /manifest .*nope\.manifest does not exist/],
    ['a 31-byte key', () => [clip, manifest, '--pubkey', writeTo('short.hex', 'ab'.repeat(31))], 4, /no usable key: .* is 31 bytes/],
    ['a 31-byte raw key', () => [clip, manifest, '--pubkey', writeTo('short.bin', Buffer.alloc(31, 0x99))], 4, /31 raw bytes/],
    ['a small-order key', () => [clip, manifest, '--pubkey', writeTo('weak.hex', '01'.padEnd(64, '0'))], 4, /small-order/],
    ['a missing key file', () => [clip, manifest, '--pubkey', join(dir, 'nokey')], 4, /no usable key: public key .* does not exist/],
    ['a missing argument', () => [clip], 2, /missing required argument 'manifest'/],
  ];

  it.each(cases)('%s', (_name, args, code, message) => {
    const r = runBwc(['verify', ...args()]);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    if (code !== 2 || !/missing required/.test(r.stderr)) expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('gives every bad manifest a different message', () => {
    const messages = cases.slice(0, 7).map(([, args]) => runBwc(['verify', ...args()]).stderr.replace(/\/tmp\/\S+/g, 'P'));
    expect(new Set(messages).size).toBe(messages.length);
  });

  it('answers UNSUPPORTED_VERSION in JSON too', () => {
    const r = runBwc(['verify', clip, futureVersion(), '--pubkey', pub, '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ verdict: 'UNSUPPORTED_VERSION', error: 'UNSUPPORTED_VERSION' });
  });
});

function writeTo(name: string, data: Buffer | string): string {
  mkdirSync(join(dir, 'bad'), { recursive: true });
  const p = join(dir, 'bad', name);
  writeFileSync(p, data);
  return p;
}

function futureVersion(): string {
  const signer = signerFromSeed(Buffer.alloc(32, 1));
  const body = pb.ClipManifest.encode({ header: { issuer: 'DOCK-7', seq: 1 }, schemaVersion: 2, deviceId: 'DOCK-7' }).finish();
  return writeTo('v2.manifest', Buffer.from(sealEnvelope('ClipManifest', body, signer).bytes));
}

function otherType(): string {
  const signer = signerFromSeed(Buffer.alloc(32, 1));
  return writeTo('status.manifest', Buffer.from(sealEnvelope('Status', pb.Status.encode({ outboxDepth: 1 }).finish(), signer).bytes));
}
