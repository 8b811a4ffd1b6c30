// RFC 6962 §2.1 Merkle Tree Hash, the one implementation: proto/merkle.ts wraps it for TypeScript
// and the gateway's crypto worker imports it directly. Plain JavaScript so it runs from source and
// from dist, in the main thread and in workers.
//   MTH({}) = SHA-256(""); leaf = SHA-256(0x00 || input); node = SHA-256(0x01 || left || right)
import * as crypto from 'node:crypto';

// One-shot SHA-256 of a small buffer: crypto.hash (Node >= 20.12) is about twice as fast as
// createHash().update().digest() on 33-65 bytes, and a long clip's manifest has thousands of nodes.
const sha256Small =
  typeof crypto.hash === 'function' ? (data) => crypto.hash('sha256', data, 'buffer') : (data) => crypto.createHash('sha256').update(data).digest();

export function leafHash(input) {
  const buf = Buffer.allocUnsafe(1 + input.byteLength);
  buf[0] = 0;
  buf.set(input, 1);
  return sha256Small(buf);
}

function nodeHash(left, right) {
  const buf = Buffer.allocUnsafe(1 + left.byteLength + right.byteLength);
  buf[0] = 1;
  buf.set(left, 1);
  buf.set(right, 1 + left.byteLength);
  return sha256Small(buf);
}

// Bottom-up: hashing adjacent pairs level by level and carrying an odd last node up unchanged
// yields exactly the RFC 6962 split at the largest power of two.
export function merkleRoot(leaves) {
  if (leaves.length === 0) return crypto.createHash('sha256').digest();
  let level = leaves.map(leafHash);
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i], level[i + 1]));
    if (level.length % 2 === 1) next.push(level[level.length - 1]);
    level = next;
  }
  return level[0];
}
