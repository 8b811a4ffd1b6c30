/**
 * The device's own Ed25519 key (DESIGN §8): generated on the device, never leaves it, private
 * key file mode 0600 (the key directory format is proto/keydir.ts). Signing uses tweetnacl
 * (portable to wearables); verification elsewhere is strict node:crypto.
 */
import nacl from 'tweetnacl';
import type { Signer } from '../../proto/envelope.js';
import { keyIdOf } from '../../proto/ed25519.js';
import { toHex } from '../../proto/bytes.js';
import { KeyFileError, readPrivateKey } from '../../proto/keydir.js';

export { generateKeyDir, KeyFileError, type GeneratedKey } from '../../proto/keydir.js';

export interface DeviceKey extends Signer {
  readonly publicKeyHex: string;
}

/** A tweetnacl signer from a 32-byte Ed25519 seed. */
export function signerFromSeed(seed: Uint8Array): DeviceKey {
  if (seed.byteLength !== 32) throw new KeyFileError('INVALID', `an Ed25519 seed is 32 bytes, got ${seed.byteLength}`);
  const pair = nacl.sign.keyPair.fromSeed(seed);
  const publicKey = Buffer.from(pair.publicKey);
  return {
    keyId: keyIdOf(publicKey),
    publicKey,
    publicKeyHex: toHex(publicKey),
    sign: (message) => nacl.sign.detached(message, pair.secretKey),
  };
}

/** Loads the device key from a key directory (or a private.pem path); see proto/keydir.ts. */
export function loadDeviceKey(dirOrFile: string): DeviceKey {
  return signerFromSeed(readPrivateKey(dirOrFile).seed);
}
