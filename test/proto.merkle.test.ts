import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { leafHash, merkleRoot } from '../proto/merkle.js';

// RFC 6962 test vectors (certificate-transparency reference implementation, merkle_tree_test):
// the roots of the trees over the first n of these leaf inputs.
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) => Buffer.from(h, 'hex'));
const ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

const sha = (...parts: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** RFC 6962 §2.1, written the way the RFC states it (recursive split), to check the iterative one. */
function mthByDefinition(d: Buffer[]): Buffer {
  if (d.length === 0) return sha();
  if (d.length === 1) return sha(Buffer.from([0]), d[0]!);
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return sha(Buffer.from([1]), mthByDefinition(d.slice(0, k)), mthByDefinition(d.slice(k)));
}

describe('RFC 6962 Merkle Tree Hash', () => {
  it('hashes the empty tree to SHA-256("")', () => {
    expect(merkleRoot([]).toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it.each(ROOTS.map((root, i) => [i + 1, root] as const))('matches the published root for %i leaves', (n, root) => {
    expect(merkleRoot(LEAVES.slice(0, n)).toString('hex')).toBe(root);
  });

  it('uses the 0x00 leaf prefix', () => {
    expect(leafHash(Buffer.alloc(0)).toString('hex')).toBe(ROOTS[0]);
  });

  it('equals the recursive definition for any number of 32-byte chunk digests', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), { maxLength: 70 }), (digests) => {
        const leaves = digests.map((d) => Buffer.from(d));
        expect(merkleRoot(leaves).equals(mthByDefinition(leaves))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
