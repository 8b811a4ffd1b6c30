/**
 * The gateway's crypto worker pool gives the same answers as strict verification on the main
 * thread (proto/ed25519.ts verifyStrict) for good, altered, malleated (S + L) and misattributed
 * signatures, and its signatures verify under the gateway's public key.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ED25519_ORDER, trustPublicKey, verifyStrict } from '../proto/ed25519.js';
import { CryptoPool } from '../gateway/ingest/crypto-pool.js';
import { merkleRoot } from '../proto/merkle.js';
import { pseudoRandomBytes } from './helpers.js';

function keyPair() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  return { privateKey, trusted: trustPublicKey(raw) };
}

/** S + L: the same signature in a non-canonical form that lax verifiers accept. */
function malleate(sig: Buffer): Buffer {
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]!);
  s += ED25519_ORDER;
  const out = Buffer.from(sig);
  for (let i = 32; i < 64; i++) {
    out[i] = Number(s & 0xffn);
    s >>= 8n;
  }
  return out;
}

describe('crypto worker pool', () => {
  const a = keyPair();
  const b = keyPair();
  const pool = new CryptoPool(2, a.privateKey);
  afterAll(() => pool.close());

  it('agrees with verifyStrict on every kind of signature, in one batch', async () => {
    const cases: { key: ReturnType<typeof trustPublicKey>; msg: Buffer; sig: Buffer }[] = [];
    for (let i = 0; i < 50; i++) {
      const msg = Buffer.from(`message ${i}`);
      const sig = sign(null, msg, a.privateKey);
      cases.push({ key: a.trusted, msg, sig });
      cases.push({ key: a.trusted, msg: Buffer.from(`message ${i}!`), sig });
      cases.push({ key: b.trusted, msg, sig });
      cases.push({ key: a.trusted, msg, sig: malleate(sig) });
      cases.push({ key: a.trusted, msg, sig: sig.subarray(0, 63) });
    }
    const answers = await Promise.all(cases.map((c) => pool.verify(c.key, c.msg, c.sig)));
    expect(answers).toEqual(cases.map((c) => verifyStrict(c.key, c.msg, c.sig)));
    expect(answers.filter(Boolean)).toHaveLength(50);
  });

  it('signs with the key it was given', async () => {
    const msgs = Array.from({ length: 20 }, (_, i) => Buffer.from(`ack ${i}`));
    const sigs = await Promise.all(msgs.map((m) => pool.sign(m)));
    sigs.forEach((s, i) => {
      expect(verifyStrict(a.trusted, msgs[i]!, s)).toBe(true);
      expect(verifyStrict(b.trusted, msgs[i]!, s)).toBe(false);
    });
  });

  it('checks Merkle roots exactly as proto/merkle.ts computes them', async () => {
    const cases = Array.from({ length: 41 }, (_, n) => {
      const leaves = Array.from({ length: n }, (_, i) => pseudoRandomBytes(32, n * 100 + i + 1));
      return { leaves, root: merkleRoot(leaves) };
    });
    expect(await Promise.all(cases.map((c) => pool.merkleMatches(c.leaves, c.root)))).toEqual(cases.map(() => true));
    const wrong = cases.map((c) => {
      const r = Buffer.from(c.root);
      r[5] = r[5]! ^ 1;
      return pool.merkleMatches(c.leaves, r);
    });
    expect(await Promise.all(wrong)).toEqual(cases.map(() => false));
    const swapped = cases[7]!.leaves.slice().reverse();
    expect(await pool.merkleMatches(swapped, cases[7]!.root)).toBe(false);
    expect(await pool.merkleMatches([Buffer.alloc(31)], merkleRoot([Buffer.alloc(31)]))).toBe(false);
  });

  it('refuses to sign without a key, and refuses work once closed', async () => {
    const verifyOnly = new CryptoPool(1);
    await expect(verifyOnly.sign(Buffer.from('x'))).rejects.toThrow(/no signing key/);
    await verifyOnly.close();
    await expect(verifyOnly.verify(a.trusted, Buffer.from('x'), Buffer.alloc(64))).rejects.toThrow(/closed/);
  });
});
