/**
 * Ed25519 public-key hygiene and strict verification.
 *
 * node:crypto (OpenSSL) rejects signatures with S >= L, which tweetnacl accepts, but it accepts
 * weak public keys: with the identity point as the key, (R = identity, S = 0) verifies for every
 * message. So every key that enters trust goes through `checkPublicKey` first: the encoding must
 * be canonical (y < p, no "negative zero" x), the point must be on the curve, and it must not be of
 * small order ([8]A != identity). DESIGN §4.
 */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { WireError } from './errors.js';
import { sha256, toHex } from './bytes.js';

const P = 2n ** 255n - 19n;
const D = mod(-121665n * inverse(121666n));
const D2 = mod(2n * D);
const SQRT_M1 = pow(2n, (P - 1n) / 4n);
/** Order of the prime subgroup. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function mod(a: bigint): bigint {
  const r = a % P;
  return r >= 0n ? r : r + P;
}
function pow(b: bigint, e: bigint): bigint {
  let r = 1n;
  let x = mod(b);
  while (e > 0n) {
    if (e & 1n) r = (r * x) % P;
    x = (x * x) % P;
    e >>= 1n;
  }
  return r;
}
function inverse(a: bigint): bigint {
  return pow(a, P - 2n);
}
function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

type Point = { x: bigint; y: bigint; z: bigint; t: bigint };

/** RFC 8032 §5.1.4 point addition (complete, so it also doubles). */
function add(p: Point, q: Point): Point {
  const a = mod((p.y - p.x) * (q.y - q.x));
  const b = mod((p.y + p.x) * (q.y + q.x));
  const c = mod(p.t * D2 * q.t);
  const d = mod(2n * p.z * q.z);
  const e = b - a;
  const f = d - c;
  const g = d + c;
  const h = b + a;
  return { x: mod(e * f), y: mod(g * h), z: mod(f * g), t: mod(e * h) };
}

export type KeyProblem = 'LENGTH' | 'NON_CANONICAL' | 'NOT_ON_CURVE' | 'SMALL_ORDER';

/** Returns why a 32-byte encoding is not a safe Ed25519 public key, or null when it is one. */
export function publicKeyProblem(raw: Uint8Array): KeyProblem | null {
  if (raw.byteLength !== 32) return 'LENGTH';
  const sign = raw[31]! >> 7;
  const yBytes = Uint8Array.from(raw);
  yBytes[31]! &= 0x7f;
  const y = littleEndian(yBytes);
  if (y >= P) return 'NON_CANONICAL';
  // RFC 8032 §5.1.3 decoding.
  const y2 = mod(y * y);
  const u = mod(y2 - 1n);
  const v = mod(D * y2 + 1n);
  let x = mod(u * pow(v, 3n) * pow(u * pow(v, 7n), (P - 5n) / 8n));
  const vx2 = mod(v * x * x);
  if (vx2 === u) {
    // x is a root
  } else if (vx2 === mod(-u)) {
    x = mod(x * SQRT_M1);
  } else {
    return 'NOT_ON_CURVE';
  }
  if (x === 0n && sign === 1) return 'NON_CANONICAL';
  if (Number(x & 1n) !== sign) x = P - x;
  let q: Point = { x, y, z: 1n, t: mod(x * y) };
  for (let i = 0; i < 3; i++) q = add(q, q);
  if (q.x === 0n && q.y === q.z) return 'SMALL_ORDER';
  return null;
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
