import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateKeyDir, loadDeviceKey } from '../device/custody/keys.js';
import { loadPublicKeyFile } from '../proto/keyfile.js';
import { run, runBwc, tempDir } from './helpers.js';

const dir = tempDir();

describe('device keys (DESIGN §8: generated on the device, private key mode 0600)', () => {
  it('writes the private key 0600 and the public key as raw hex and SPKI PEM', () => {
    const key = generateKeyDir(join(dir, 'k1'));
    expect(statSync(key.files.privateKey).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'k1')).mode & 0o777).toBe(0o700);
    expect(readFileSync(key.files.publicHex, 'utf8').trim()).toBe(key.publicKeyHex);
    expect(loadPublicKeyFile(key.files.publicPem).keyId).toBe(key.keyId);
    expect(loadPublicKeyFile(key.files.publicHex).keyId).toBe(key.keyId);
    expect(loadDeviceKey(join(dir, 'k1')).keyId).toBe(key.keyId);
  });

  it('writes 0600 whatever the umask', () => {
    const old = process.umask(0o000);
    try {
      const key = generateKeyDir(join(dir, 'k-umask'));
      expect(statSync(key.files.privateKey).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(old);
    }
  });

  it('is read by OpenSSL, and OpenSSL derives the same public key', () => {
    const key = generateKeyDir(join(dir, 'k2'));
    const out = run('openssl', ['pkey', '-in', key.files.privateKey, '-pubout']);
    expect(out.code).toBe(0);
    expect(out.stdout.trim()).toBe(readFileSync(key.files.publicPem, 'utf8').trim());
  });

  it('never overwrites an existing key', () => {
    generateKeyDir(join(dir, 'k3'));
    const before = readFileSync(join(dir, 'k3', 'private.pem'));
    expect(() => generateKeyDir(join(dir, 'k3'))).toThrow(/already exists; refusing to overwrite/);
    expect(readFileSync(join(dir, 'k3', 'private.pem')).equals(before)).toBe(true);
  });

  it('refuses a private key readable by group or others, naming the file and the fix', () => {
    const key = generateKeyDir(join(dir, 'k4'));
    chmodSync(key.files.privateKey, 0o644);
    expect(() => loadDeviceKey(join(dir, 'k4'))).toThrow(
      `private key ${key.files.privateKey} is readable by group or others (mode 0644); fix it with: chmod 600 ${key.files.privateKey}`,
    );
    chmodSync(key.files.privateKey, 0o640);
    expect(() => loadDeviceKey(key.files.privateKey)).toThrow(/mode 0640/);
  });

  it('refuses a file that is not an Ed25519 private key', () => {
    const bogus = join(dir, 'bogus.pem');
    writeFileSync(bogus, 'not a key', { mode: 0o600 });
    expect(() => loadDeviceKey(bogus)).toThrow(/not a PEM private key/);
    expect(() => loadDeviceKey(join(dir, 'missing'))).toThrow(/does not exist/);
  });

  it('bwc keygen prints the key id and refuses an existing directory with a key', () => {
    const first = runBwc(['keygen', '--out', join(dir, 'cli'), '--json']);
    expect(first.code).toBe(0);
    const info = JSON.parse(first.stdout) as { keyId: string };
    expect(info.keyId).toMatch(/^[0-9a-f]{64}$/);
    const again = runBwc(['keygen', '--out', join(dir, 'cli')]);
    expect(again.code).toBe(2);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toMatch(/already exists; refusing to overwrite/);
  });
});
