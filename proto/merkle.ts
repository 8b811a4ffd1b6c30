/**
 * RFC 6962 §2.1 Merkle Tree Hash. In a clip manifest the leaf inputs are the 32-byte SHA-256
 * digests of the chunks:
 *   MTH({})       = SHA-256("")
 *   leaf hash     = SHA-256(0x00 || leaf input)
 *   node hash     = SHA-256(0x01 || left || right)
 *   MTH(D[0:n])   = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n
 *
 * The code is in merkle-core.mjs, plain JavaScript shared with the gateway's crypto worker.
 */
export { leafHash, merkleRoot } from './merkle-core.mjs';
