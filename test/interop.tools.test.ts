/**
 * Interop with tools nobody here wrote: OpenSSL verifies our signatures, protoc decodes our bytes,
 * sha256sum agrees with our clip hashes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, run, runBwc, tempDir, writeClip } from './helpers.js';

const dir = tempDir();
let clip: string;
let manifest: string;
let shown: { type: string; body: string; sig: string; keyId: string; manifestHash: string; manifest: Record<string, unknown> };

beforeAll(() => {
  expect(runBwc(['keygen', '--out', join(dir, 'key')]).code).toBe(0);
  clip = writeClip(dir, 'clip.mp4', 2 * 1024 * 1024 + 99, 3);
  manifest = join(dir, 'clip.manifest');
  expect(runBwc(['manifest', 'sign', clip, '--key', join(dir, 'key'), '--device-id', 'WEAR-01', '--out', manifest]).code).toBe(0);
  const r = runBwc(['manifest', 'show', manifest, '--json']);
  expect(r.code).toBe(0);
  shown = JSON.parse(r.stdout);
});

function signedInputFromShow(): Buffer {
  return Buffer.concat([Buffer.from(`bwc/v1/${shown.type}\n`, 'utf8'), Buffer.from(shown.body, 'base64')]);
}

describe('OpenSSL verifies our Ed25519 envelope signatures', () => {
  it('accepts the signed input rebuilt from `bwc manifest show --json`', () => {
    writeFileSync(join(dir, 'signed.bin'), signedInputFromShow());
    writeFileSync(join(dir, 'sig.bin'), Buffer.from(shown.sig, 'base64'));
    const r = run('openssl', [
      'pkeyutl',
      '-verify',
      '-pubin',
      '-inkey',
      join(dir, 'key', 'public.pem'),
      '-rawin',
      '-in',
      join(dir, 'signed.bin'),
      '-sigfile',
      join(dir, 'sig.bin'),
    ]);
    expect(r.stdout + r.stderr).toMatch(/Signature Verified Successfully/);
    expect(r.code).toBe(0);
  });

  it('rejects the same input with one bit changed', () => {
    const tampered = signedInputFromShow();
    tampered[tampered.length - 3]! ^= 0x04;
    writeFileSync(join(dir, 'tampered.bin'), tampered);
    writeFileSync(join(dir, 'sig.bin'), Buffer.from(shown.sig, 'base64'));
    const r = run('openssl', [
      'pkeyutl',
      '-verify',
      '-pubin',
      '-inkey',
      join(dir, 'key', 'public.pem'),
      '-rawin',
      '-in',
      join(dir, 'tampered.bin'),
      '-sigfile',
      join(dir, 'sig.bin'),
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/Signature Verification Failure/);
  });

  it('names the message by SHA-256 of the signed input, which `openssl dgst` reproduces', () => {
    writeFileSync(join(dir, 'signed2.bin'), signedInputFromShow());
    const r = run('openssl', ['dgst', '-sha256', '-r', join(dir, 'signed2.bin')]);
    expect(r.stdout.split(' ')[0]).toBe(shown.manifestHash);
  });
});

describe('protoc decodes our bytes with proto/bwc.proto', () => {
  const protoc = (type: string, input: Buffer) => run('protoc', [`--proto_path=${join(ROOT, 'proto')}`, `--decode=bwc.v1.${type}`, 'bwc.proto'], { input });

  it('decodes the envelope', () => {
    const r = protoc('Envelope', readFileSync(manifest));
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^type: "ClipManifest"$/m);
    expect(r.stdout).toMatch(new RegExp(`^key_id: "${shown.keyId}"$`, 'm'));
  });

  it('decodes the manifest inside it, field for field', () => {
    const r = protoc('ClipManifest', Buffer.from(shown.body, 'base64'));
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^schema_version: 1$/m);
    expect(r.stdout).toMatch(/^device_id: "WEAR-01"$/m);
    expect(r.stdout).toMatch(new RegExp(`^byte_length: ${2 * 1024 * 1024 + 99}$`, 'm'));
    expect(r.stdout).toMatch(/^chunk_size: 1048576$/m);
    expect(r.stdout.match(/^chunk_sha256: /gm)).toHaveLength(3);
    expect(r.stdout).toMatch(/^flags: MANIFEST_FLAG_OUTSIDE_PIPELINE$/m);
    expect(r.stdout).toMatch(/^ +seq: 1$/m);
  });
});

describe('sha256sum agrees with the manifest', () => {
  it('has the clip SHA-256 that coreutils computes', () => {
    const r = run('sha256sum', [clip]);
    expect(r.code).toBe(0);
    expect(r.stdout.split(' ')[0]).toBe(shown.manifest.sha256);
  });
});
