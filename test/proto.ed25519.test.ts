import { createPublicKey, generateKeyPairSync, verify as cryptoVerify } from 'node:crypto';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { ED25519_ORDER, isCanonicalSignature, keyIdOf, publicKeyProblem, publicKeyToSpkiDer, trustPublicKey, verifyStrict } from '../proto/ed25519.js';
import { sha256, toHex } from '../proto/bytes.js';
import { signerFromSeed } from '../device/custody/keys.js';
import { fastSignerFromSeed } from './keys.js';
import { pseudoRandomBytes } from './helpers.js';

const hex = (s: string) => Buffer.from(s, 'hex');
const IDENTITY = '0100000000000000000000000000000000000000000000000000000000000000';

// Small-order points (libsodium's blocklist, canonical encodings): orders 1, 2, 4 and 8.
const SMALL_ORDER = [
  IDENTITY,
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
];
// Encodings with y >= p, or x = 0 with the sign bit set.
const NON_CANONICAL = [
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = p
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = p + 1: the identity again
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // y = 2^255 - 1
  '0100000000000000000000000000000000000000000000000000000000000080', // identity, "negative zero" x
];

function addOrder(sig: Uint8Array): Buffer {
  const out = Buffer.from(sig);
  let carry = 0n;
  let l = ED25519_ORDER;
  for (let i = 32; i < 64; i++) {
    const v = BigInt(out[i]!) + (l & 0xffn) + carry;
    out[i] = Number(v & 0xffn);
    carry = v >> 8n;
    l >>= 8n;
  }
  return out;
}

describe('Ed25519 keys and strict verification (DESIGN §4)', () => {
  it('names a key by the hex SHA-256 of its 32 raw bytes', () => {
    const signer = signerFromSeed(Buffer.alloc(32, 7));
    expect(keyIdOf(signer.publicKey)).toBe(toHex(sha256(signer.publicKey)));
    expect(signer.keyId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts ordinary keys from node:crypto and tweetnacl', () => {
    for (let i = 0; i < 20; i++) {
      const { publicKey } = generateKeyPairSync('ed25519');
      const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
      expect(publicKeyProblem(raw)).toBeNull();
      expect(publicKeyProblem(nacl.sign.keyPair().publicKey)).toBeNull();
    }
  });

  it.each(SMALL_ORDER)('rejects the small-order point %s', (k) => {
    expect(publicKeyProblem(hex(k))).toBe('SMALL_ORDER');
    expect(() => trustPublicKey(hex(k))).toThrow(/small-order/);
  });

  it.each(NON_CANONICAL)('rejects the non-canonical encoding %s', (k) => {
    expect(publicKeyProblem(hex(k))).toBe('NON_CANONICAL');
    expect(() => trustPublicKey(hex(k))).toThrow(/canonical/);
  });

  it('rejects encodings that are not on the curve and keys of the wrong length', () => {
    // y = 2 is not the y of any curve point ((y²-1)/(dy²+1) is not a square).
    expect(publicKeyProblem(hex('0200000000000000000000000000000000000000000000000000000000000000'))).toBe('NOT_ON_CURVE');
    expect(publicKeyProblem(Buffer.alloc(31, 1))).toBe('LENGTH');
    expect(() => trustPublicKey(Buffer.alloc(31, 1))).toThrow(/32 bytes, got 31/);
  });

  it('closes the weak-key hole node:crypto leaves open: the identity key "verifies" every message there', () => {
    const identity = createPublicKey({ key: publicKeyToSpkiDer(hex(IDENTITY)), format: 'der', type: 'spki' });
    const forged = Buffer.concat([hex(IDENTITY), Buffer.alloc(32)]); // R = identity, S = 0
    const message = Buffer.from('bwc/v1/ClipManifest\nanything at all');
    // Node 20 ships OpenSSL 3.0, which accepts this forgery; newer OpenSSL may refuse it. Our
    // check must not depend on which.
    if (process.versions.openssl.startsWith('3.0.')) expect(cryptoVerify(null, message, identity, forged)).toBe(true);
    expect(() => trustPublicKey(hex(IDENTITY))).toThrow(/small-order/);
  });

  it('rejects a signature with S >= L that tweetnacl accepts (malleability)', () => {
    const seed = Buffer.alloc(32, 3);
    const signer = signerFromSeed(seed);
    const message = Buffer.from('bwc/v1/ClipManifest\nbody');
    const sig = signer.sign(message);
    const malleated = addOrder(sig);
    expect(nacl.sign.detached.verify(message, malleated, signer.publicKey)).toBe(true);
    expect(isCanonicalSignature(malleated)).toBe(false);
    const key = trustPublicKey(signer.publicKey);
    expect(verifyStrict(key, message, sig)).toBe(true);
    expect(verifyStrict(key, message, malleated)).toBe(false);
  });

  it('rejects a wrong message, a flipped bit and a short signature', () => {
    const signer = signerFromSeed(Buffer.alloc(32, 4));
    const key = trustPublicKey(signer.publicKey);
    const message = Buffer.from('hello');
    const sig = Buffer.from(signer.sign(message));
    expect(verifyStrict(key, Buffer.from('hellO'), sig)).toBe(false);
    const flipped = Buffer.from(sig);
    flipped[10]! ^= 1;
    expect(verifyStrict(key, message, flipped)).toBe(false);
    expect(verifyStrict(key, message, sig.subarray(0, 63))).toBe(false);
  });
});

describe("the test fixtures' node:crypto signer", () => {
  it('makes the same key and the same signature bytes as the dock signer, for any seed and message', () => {
    for (let i = 0; i < 16; i++) {
      const seed = pseudoRandomBytes(32, 500 + i);
      const message = pseudoRandomBytes(i * 97, 900 + i);
      const dock = signerFromSeed(seed);
      const fast = fastSignerFromSeed(seed);
      expect(fast.publicKeyHex).toBe(dock.publicKeyHex);
      expect(fast.keyId).toBe(dock.keyId);
      expect(toHex(fast.sign(message))).toBe(toHex(dock.sign(message)));
      expect(fast.sign(message)).toBeInstanceOf(Uint8Array);
    }
    expect(() => fastSignerFromSeed(Buffer.alloc(31))).toThrow(/32 bytes/);
  });
});
