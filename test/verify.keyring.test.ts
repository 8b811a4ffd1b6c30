/**
 * Keyrings (proto/keyring.ts) and `bwc verify --keyring --root-pubkey`: a gateway-signed list of
 * every device key, trusted only through the agency root, judging a clip's signer at recording
 * time — KEY_CHANGED for a key the device never enrolled, REVOKED_AT_RECORDING_TIME for a manifest
 * above the last seq before a revocation, or claiming a time after it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { pb } from '../proto/wire.js';
import { keyIdOf, trustPublicKey } from '../proto/ed25519.js';
import { openEnvelope, sealEnvelope } from '../proto/envelope.js';
import { openKeyring, sealKeyring, type KeyringEntry } from '../proto/keyring.js';
import { signerFromSeed } from '../device/custody/keys.js';
import { TestDock, trustFiles, type TestClip, type TrustFiles } from './gateway.fixtures.js';
import { pseudoRandomBytes, runBwc, tempDir } from './helpers.js';

const HOUR = 3600_000;
const dir = tempDir();
let trust: TrustFiles;
const now = Date.now();
const docks = { one: new TestDock('dock-1', 'f1', 31), two: new TestDock('dock-2', 'f1', 32), four: new TestDock('dock-4', 'f1', 34) };
const entry = (d: TestDock, revokedAtMs = 0, lastSeqBeforeRevocation = 0): KeyringEntry => ({
  deviceId: d.deviceId,
  keyId: keyIdOf(d.key.publicKey),
  publicKey: d.key.publicKey,
  validFromMs: now - 24 * HOUR,
  revokedAtMs,
  lastSeqBeforeRevocation,
});
const ENTRIES = [
  entry(docks.one, now + HOUR, 2), // revoked later, after seq 2
  entry(docks.two, now - HOUR, 5), // revoked an hour ago
  entry(docks.four), // never revoked
];
let ring: string;
let root: string;

function files(name: string, clip: TestClip): [string, string] {
  const c = join(dir, `${name}.mp4`);
  const m = join(dir, `${name}.manifest`);
  writeFileSync(c, clip.bytes);
  writeFileSync(m, clip.manifest);
  return [c, m];
}

beforeAll(() => {
  trust = trustFiles(tempDir(), { gatewayId: 'gw1', fleet: 'f1' });
  ring = join(dir, 'fleet.keyring');
  root = trust.rootPublicKey;
  writeFileSync(ring, sealKeyring(ENTRIES, trust.certificateBytes, trust.gatewayKey, { gatewayId: 'gw1', fleet: 'f1', createdAtMs: now }));
});

describe('openKeyring', () => {
  it('opens a keyring signed by the certified gateway key, through the root, with every entry', () => {
    const bytes = sealKeyring(ENTRIES, trust.certificateBytes, trust.gatewayKey, { gatewayId: 'gw1', fleet: 'f1', createdAtMs: now });
    const k = openKeyring(bytes, trust.rootKey);
    expect(k.gateway.gatewayId).toBe('gw1');
    expect(k.entries.map((e) => [e.deviceId, e.revokedAtMs, e.lastSeqBeforeRevocation])).toEqual([
      ['dock-1', now + HOUR, 2],
      ['dock-2', now - HOUR, 5],
      ['dock-4', 0, 0],
    ]);
  });

  it('refuses another root, an altered byte, a key the certificate does not name, a weak key and a wrong key id', () => {
    const good = sealKeyring(ENTRIES, trust.certificateBytes, trust.gatewayKey, { gatewayId: 'gw1', fleet: 'f1', createdAtMs: now });
    const otherRoot = trustPublicKey(signerFromSeed(pseudoRandomBytes(32, 77)).publicKey);
    expect(() => openKeyring(good, otherRoot)).toThrow(/not by the root key/);
    const altered = Buffer.from(good);
    altered[altered.byteLength - 70]! ^= 0x01; // inside the signature
    expect(() => openKeyring(altered, trust.rootKey)).toThrow();
    const stranger = signerFromSeed(pseudoRandomBytes(32, 78));
    expect(() =>
      openKeyring(sealKeyring(ENTRIES, trust.certificateBytes, stranger, { gatewayId: 'gw1', fleet: 'f1', createdAtMs: now }), trust.rootKey),
    ).toThrow(/not by gateway gw1's certified key/);
    // The identity point, encoded canonically: node:crypto would accept any signature under it.
    const identity = Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]);
    const weak = { ...entry(docks.four), publicKey: identity, keyId: keyIdOf(identity) };
    expect(() =>
      openKeyring(sealKeyring([weak], trust.certificateBytes, trust.gatewayKey, { gatewayId: 'gw1', fleet: 'f1', createdAtMs: now }), trust.rootKey),
    ).toThrow(expect.objectContaining({ code: 'WEAK_KEY' }));
    const misnamed = { ...entry(docks.four), keyId: keyIdOf(docks.one.key.publicKey) };
    expect(() =>
      openKeyring(sealKeyring([misnamed], trust.certificateBytes, trust.gatewayKey, { gatewayId: 'gw1', fleet: 'f1', createdAtMs: now }), trust.rootKey),
    ).toThrow(/not its key's id/);
    // A Keyring without a certificate ties nothing to the root.
    const bare = sealEnvelope('Keyring', pb.Keyring.encode({ header: { issuer: 'gw1', createdAtMs: now }, keys: [] }).finish(), trust.gatewayKey).bytes;
    expect(() => openKeyring(bare, trust.rootKey)).toThrow(/carries no gateway certificate/);
    expect(openEnvelope(bare).type).toBe('Keyring');
  });
});

describe('bwc verify --keyring', () => {
  const verify = (name: string, clip: TestClip, ...extra: string[]) => {
    const [c, m] = files(name, clip);
    return runBwc(['verify', c, m, '--keyring', ring, '--root-pubkey', root, '--json', ...extra]);
  };

  it('judges the signer at recording time: OK, REVOKED_AT_RECORDING_TIME by seq or by claimed time, KEY_CHANGED, UNKNOWN_KEY', () => {
    const cases: [string, TestClip, number, string][] = [
      ['d1-seq1', docks.one.clip(20_000, { chunkSize: 4096 }), 0, 'OK'], // signed before the revocation
      ['d1-seq3', docks.one.clip(20_000, { chunkSize: 4096, seq: 3 }), 4, 'REVOKED_AT_RECORDING_TIME'], // above the last seq before it
      ['d2-seq1', docks.two.clip(20_000, { chunkSize: 4096 }), 4, 'REVOKED_AT_RECORDING_TIME'], // claims a time after it
      ['d4-seq1', docks.four.clip(20_000, { chunkSize: 4096 }), 0, 'OK'],
      ['impostor', new TestDock('dock-1', 'f1', 99).clip(20_000, { chunkSize: 4096 }), 4, 'KEY_CHANGED'],
      ['unlisted', new TestDock('dock-3', 'f1', 33).clip(20_000, { chunkSize: 4096 }), 4, 'UNKNOWN_KEY'],
    ];
    for (const [name, clip, code, key] of cases) {
      const r = verify(name, clip);
      expect(r.code, `${name}: ${r.stderr}`).toBe(code);
      const j = JSON.parse(r.stdout) as { key: string; keyDetail: string; content: string; signature: string };
      expect(j.key, name).toBe(key);
      expect(j.content, name).toBe('AUTHENTIC'); // the bytes match; the key verdict is what differs
      if (key !== 'KEY_CHANGED' && key !== 'UNKNOWN_KEY') expect(j.signature, name).toBe('VALID');
    }
  });

  it('refuses a keyring without the root key, with --pubkey, or one the root did not certify', () => {
    const clip = docks.four.clip(5_000, { chunkSize: 4096 });
    const [c, m] = files('usage', clip);
    const noRoot = runBwc(['verify', c, m, '--keyring', ring]);
    expect(noRoot.code).toBe(2);
    expect(noRoot.stderr).toMatch(/trusted only through the agency root key: give --root-pubkey/);
    const both = runBwc(['verify', c, m, '--keyring', ring, '--root-pubkey', root, '--pubkey', root]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--pubkey or --keyring, not both/);
    const otherRoot = join(dir, 'other-root.hex');
    writeFileSync(otherRoot, `${Buffer.from(signerFromSeed(pseudoRandomBytes(32, 79)).publicKey).toString('hex')}\n`);
    const wrong = runBwc(['verify', c, m, '--keyring', ring, '--root-pubkey', otherRoot]);
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toMatch(/no usable key: keyring .*not by the root key/);
  });
});
