/**
 * Reading public keys from files, for anyone who verifies: the raw hex form (`public.hex`, 64 hex
 * characters) or SPKI PEM (`public.pem`, what OpenSSL writes). Every key is checked by
 * `trustPublicKey` (canonical, on the curve, not of small order) before it is used.
 */
import { createPublicKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { WireError } from './errors.js';
import { fromHex } from './bytes.js';
import { trustPublicKey, type TrustedKey } from './ed25519.js';

/** Parses a public key from text: 64 hex characters, or a PEM SPKI Ed25519 key. */
export function parsePublicKeyText(text: string, what = 'public key'): Buffer {
  const t = text.trim();
  if (t.startsWith('-----BEGIN')) {
    let jwk: { kty?: string; crv?: string; x?: string };
    try {
      jwk = createPublicKey({ key: t, format: 'pem' }).export({ format: 'jwk' }) as typeof jwk;
    } catch (e) {
      throw new WireError('BAD_KEY', `${what} is not a readable PEM public key (${(e as Error).message})`);
    }
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || !jwk.x) throw new WireError('BAD_KEY', `${what} is not an Ed25519 key`);
    return Buffer.from(jwk.x, 'base64url');
  }
  const raw = fromHex(t);
  if (!raw) throw new WireError('BAD_KEY', `${what} is neither hex nor PEM`);
  if (raw.byteLength !== 32) throw new WireError('BAD_KEY', `${what} is ${raw.byteLength} bytes; an Ed25519 public key is 32`);
  return raw;
}

/**
 * Loads and checks a public key file: hex, PEM, or the 32 raw bytes. Throws WireError BAD_KEY /
 * WEAK_KEY with a one-line message naming the file.
 */
export function loadPublicKeyFile(path: string): TrustedKey {
  const what = `public key ${path}`;
  let data: Buffer;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new WireError('BAD_KEY', `${what} is a directory, not a file`);
    if (st.size > 64 * 1024) throw new WireError('BAD_KEY', `${what} is ${st.size} bytes; not a key file`);
    data = readFileSync(path);
  } catch (e) {
    if (e instanceof WireError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new WireError('BAD_KEY', code === 'ENOENT' ? `${what} does not exist` : `${what} cannot be read: ${(e as Error).message}`);
  }
  const text = data.toString('latin1').trim();
  const looksText = text.startsWith('-----BEGIN') || /^[0-9a-fA-F]+$/.test(text);
  if (!looksText) {
    if (data.byteLength !== 32) {
      throw new WireError('BAD_KEY', `${what} is ${data.byteLength} raw bytes; an Ed25519 public key is 32 bytes, 64 hex characters or PEM`);
    }
    return trustPublicKey(data, what);
  }
  return trustPublicKey(parsePublicKeyText(text, what), what);
}
