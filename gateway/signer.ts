/**
 * The gateway's signing key (DESIGN §4 "Who signs what": acks, commands, audit checkpoints). The
 * key directory format is proto/keydir.ts; signing uses node:crypto, which is two orders of
 * magnitude faster than tweetnacl and matters here: every ack is signed.
 */
import { sign, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Signer } from '../proto/envelope.js';
import { keyIdOf } from '../proto/ed25519.js';
import { generateKeyDir, PRIVATE_KEY_FILE, readPrivateKey } from '../proto/keydir.js';

export interface GatewaySigner extends Signer {
  readonly publicKeyHex: string;
  /** The private key, for a signing worker (never logged, never written). */
  readonly keyObject: KeyObject;
}

/** Loads the gateway key from `dir`, generating it first if the directory has none. */
export function loadOrCreateGatewayKey(dir: string): { signer: GatewaySigner; created: boolean } {
  const created = !existsSync(join(dir, PRIVATE_KEY_FILE));
  if (created) generateKeyDir(dir);
  return { signer: loadGatewayKey(dir), created };
}

export function loadGatewayKey(dirOrFile: string): GatewaySigner {
  const { keyObject, seed } = readPrivateKey(dirOrFile);
  const jwk = keyObject.export({ format: 'jwk' }) as { x?: string };
  const publicKey = Buffer.from(jwk.x ?? '', 'base64url');
  seed.fill(0);
  return {
    keyId: keyIdOf(publicKey),
    publicKey,
    publicKeyHex: publicKey.toString('hex'),
    keyObject,
    sign: (message) => sign(null, message, keyObject),
  };
}
