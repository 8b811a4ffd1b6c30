/**
 * RFC 6962 §2.1 Merkle Tree Hash. In a clip manifest the leaf inputs are the 32-byte SHA-256
 * digests of the chunks:
 *   MTH({})       = SHA-256("")
 *   leaf hash     = SHA-256(0x00 || leaf input)
 *   node hash     = SHA-256(0x01 || left || right)
 *   MTH(D[0:n])   = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n
 */
import * as crypto from 'node:crypto';

const { createHash } = crypto;

/**
 * One-shot SHA-256 of a small buffer: `crypto.hash` (Node ≥ 20.12) is about twice as fast as
 * createHash().update().digest() on 33–65 bytes, and a manifest of a long clip has thousands of nodes.
 */
const sha256Small: (data: Buffer) => Buffer = typeof (crypto as { hash?: unknown }).hash === 'function'
  ? (data) => (crypto as unknown as { hash(alg: string, d: Buffer, enc: 'buffer'): Buffer }).hash('sha256', data, 'buffer')
  : (data) => createHash('sha256').update(data).digest();

export function leafHash(input: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(1 + input.byteLength);
  buf[0] = 0;
  buf.set(input, 1);
  return sha256Small(buf);
}

function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(1 + left.byteLength + right.byteLength);
  buf[0] = 1;
  buf.set(left, 1);
  buf.set(right, 1 + left.byteLength);
  return sha256Small(buf);
}

/**
 * Computes the root bottom-up: hashing adjacent pairs level by level and carrying an odd last
 * node up unchanged yields exactly the RFC 6962 split at the largest power of two.
 */
export function merkleRoot(leaves: readonly Uint8Array[]): Buffer {
  if (leaves.length === 0) return createHash('sha256').digest();
  let level: Buffer[] = leaves.map(leafHash);
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!;
}
