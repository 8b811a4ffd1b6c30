/**
 * Ed25519 public-key hygiene and strict verification.
 *
 * node:crypto (OpenSSL) rejects signatures with S >= L, which tweetnacl accepts, but it accepts
 * weak public keys: with the identity point as the key, (R = identity, S = 0) verifies for every
 * message. So every key that enters trust goes through `checkPublicKey` first: the encoding must
 * be canonical (y < p, no "negative zero" x), the point must be on the curve, and it must not be of
 * small order ([8]A != identity). DESIGN §4. The curve arithmetic is @noble/curves' (audited), not
 * ours; proto/README.md says why.
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { WireError } from './errors.js';
import { sha256, toHex } from './bytes.js';

const P = 2n ** 255n - 19n;
/** Order of the prime subgroup. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

export type KeyProblem = 'LENGTH' | 'NON_CANONICAL' | 'NOT_ON_CURVE' | 'SMALL_ORDER';

/**
 * Returns why a 32-byte encoding is not a safe Ed25519 public key, or null when it is one. The
 * curve work is @noble/curves' (strict RFC 8032 §5.1.3 decoding, `isSmallOrder()`); verification
 * stays node:crypto's.
 */
export function publicKeyProblem(raw: Uint8Array): KeyProblem | null {
  if (raw.byteLength !== 32) return 'LENGTH';
  const yBytes = Uint8Array.from(raw);
  yBytes[31]! &= 0x7f;
  if (littleEndian(yBytes) >= P) return 'NON_CANONICAL';
  let point;
  try {
    point = ed25519.Point.fromBytes(Uint8Array.from(raw), false); // strict: no ZIP 215 leniency
  } catch {
    // y < p, so a strict refusal is either "x = 0 with the sign bit set" (a point ZIP 215 still
    // decodes) or no point at all.
    try {
      ed25519.Point.fromBytes(Uint8Array.from(raw), true);
      return 'NON_CANONICAL';
    } catch {
      return 'NOT_ON_CURVE';
    }
  }
  return point.isSmallOrder() ? 'SMALL_ORDER' : null;
}

/** Throws a WireError naming the problem unless `raw` is a safe public key. */
export function checkPublicKey(raw: Uint8Array, what = 'public key'): void {
  const problem = publicKeyProblem(raw);
  if (problem === null) return;
  const text: Record<KeyProblem, string> = {
    LENGTH: `${what} must be 32 bytes, got ${raw.byteLength}`,
    NON_CANONICAL: `${what} is not a canonical Ed25519 encoding`,
    NOT_ON_CURVE: `${what} is not a point on Ed25519`,
    SMALL_ORDER: `${what} is a small-order (weak) Ed25519 point`,
  };
  throw new WireError(problem === 'LENGTH' ? 'BAD_KEY' : 'WEAK_KEY', text[problem]);
}

/** keyId: lowercase hex SHA-256 of the 32-byte raw public key. */
export function keyIdOf(raw: Uint8Array): string {
  return toHex(sha256(raw));
}

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function publicKeyToSpkiDer(raw: Uint8Array): Buffer {
  return Buffer.concat([SPKI_PREFIX, raw]);
}

export function publicKeyToPem(raw: Uint8Array): string {
  const b64 = publicKeyToSpkiDer(raw).toString('base64');
  return `-----BEGIN PUBLIC KEY-----\n${b64}\n-----END PUBLIC KEY-----\n`;
}

/** A public key that passed `checkPublicKey`, with its node:crypto KeyObject. */
export interface TrustedKey {
  readonly keyId: string;
  readonly raw: Buffer;
  readonly object: KeyObject;
}

const cache = new Map<string, TrustedKey>();
const CACHE_LIMIT = 100_000;

/** Checks and wraps a raw public key; KeyObjects are cached by key id. */
export function trustPublicKey(raw: Uint8Array, what?: string): TrustedKey {
  const keyId = keyIdOf(raw);
  const hit = cache.get(keyId);
  if (hit) return hit;
  checkPublicKey(raw, what);
  const buf = Buffer.from(raw);
  const key: TrustedKey = {
    keyId,
    raw: buf,
    object: createPublicKey({ key: publicKeyToSpkiDer(buf), format: 'der', type: 'spki' }),
  };
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
  cache.set(keyId, key);
  return key;
}

/** True when the signature's S half is a canonical scalar (S < L). */
export function isCanonicalSignature(sig: Uint8Array): boolean {
  if (sig.byteLength !== 64) return false;
  // L = 2^252 + δ with δ < 2^125: a top byte below 0x10 means S < 2^252 < L (the common case).
  const top = sig[63]!;
  if (top < 0x10) return true;
  if (top > 0x10) return false;
  return littleEndian(sig.subarray(32)) < L;
}

/** Strict Ed25519 verification with node:crypto; never throws. */
export function verifyStrict(key: TrustedKey, message: Uint8Array, sig: Uint8Array): boolean {
  if (!isCanonicalSignature(sig)) return false;
  try {
    return cryptoVerify(null, message, key.object, sig);
  } catch {
    return false;
  }
}

export const ED25519_ORDER = L;
