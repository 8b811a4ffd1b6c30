/**
 * Ed25519 signers for test fixtures, on node:crypto (OpenSSL). From a seed they make the same key
 * as the dock's `signerFromSeed` (device/custody/keys.ts, tweetnacl) and, Ed25519 signatures being
 * deterministic (RFC 8032 §5.1.6), the same signature bytes, some hundred times faster: fixtures
 * that sign thousands of grants, manifests and forgeries stay quick. proto.ed25519.test.ts holds
 * the two to the same keys and signatures.
 */
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import type { DeviceKey } from '../device/custody/keys.js';
import { toHex } from '../proto/bytes.js';
import { keyIdOf } from '../proto/ed25519.js';

/** PKCS #8 for an Ed25519 private key (RFC 8410 §7), up to the 32-byte seed. */
const PKCS8_ED25519_SEED_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export function fastSignerFromSeed(seed: Uint8Array): DeviceKey {
  if (seed.byteLength !== 32) throw new Error(`an Ed25519 seed is 32 bytes, got ${seed.byteLength}`);
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_SEED_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const publicKey = Buffer.from(spki.subarray(spki.byteLength - 32));
  return {
    keyId: keyIdOf(publicKey),
    publicKey,
    publicKeyHex: toHex(publicKey),
    sign: (message) => {
      const sig = sign(null, message, key);
      return new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength);
    },
  };
}
