// Ed25519 and Merkle roots for the gateway's ingest, on a worker thread (gateway/ingest/crypto-pool.ts):
// strict verification (S < L, then node:crypto) of batches of messages against keys that the main
// thread has already checked (trustPublicKey), signing with the gateway key, and RFC 6962 roots
// (proto/merkle-core.mjs, the same code proto/merkle.ts uses). Plain
// JavaScript so it runs from source and from dist.
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { merkleRoot } from '../../proto/merkle-core.mjs';

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
// L = 2^252 + 27742317777372353535851937790883648493, little-endian.
const L = Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex');
const keys = new Map();
const signKey = workerData?.signKeyPkcs8 ? createPrivateKey({ key: Buffer.from(workerData.signKeyPkcs8), format: 'der', type: 'pkcs8' }) : null;

function canonicalS(sig) {
  if (sig.length !== 64) return false;
  for (let i = 63; i >= 32; i--) {
    const a = sig[i];
    const b = L[i - 32];
    if (a < b) return true;
    if (a > b) return false;
  }
  return false; // S == L
}

function keyObject(raw) {
  const id = Buffer.from(raw).toString('hex');
  let k = keys.get(id);
  if (!k) {
    if (keys.size > 100000) keys.clear();
    k = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
    keys.set(id, k);
  }
  return k;
}

// A batch arrives packed (crypto-pool.ts `pack`): offsets holds three numbers per item —
// verifications [start, message length, signature length], then messages to sign [start, length,
// 0], then Merkle checks [start, leaf count, well-formed] over root ‖ leaves.
parentPort.on('message', (m) => {
  const data = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
  const verified = new Uint8Array(m.nVerify);
  for (let i = 0; i < m.nVerify; i++) {
    const at = m.offsets[i * 3];
    const len = m.offsets[i * 3 + 1];
    const sigLen = m.offsets[i * 3 + 2];
    try {
      const sig = data.subarray(at + 32, at + 96);
      verified[i] = sigLen === 64 && canonicalS(sig) && verify(null, data.subarray(at + 96, at + 96 + len), keyObject(data.subarray(at, at + 32)), sig) ? 1 : 0;
    } catch {
      verified[i] = 0;
    }
  }
  const sigs = new Uint8Array(signKey ? m.nSign * 64 : 0);
  if (signKey) {
    for (let j = 0; j < m.nSign; j++) {
      const k = (m.nVerify + j) * 3;
      sigs.set(sign(null, data.subarray(m.offsets[k], m.offsets[k] + m.offsets[k + 1]), signKey), j * 64);
    }
  }
  const merkleOk = new Uint8Array(m.nMerkle);
  for (let j = 0; j < m.nMerkle; j++) {
    const k = (m.nVerify + m.nSign + j) * 3;
    const at = m.offsets[k];
    const count = m.offsets[k + 1];
    if (m.offsets[k + 2] !== 1) continue;
    const leaves = [];
    for (let i = 0; i < count; i++) leaves.push(data.subarray(at + 32 + 32 * i, at + 64 + 32 * i));
    merkleOk[j] = merkleRoot(leaves).equals(data.subarray(at, at + 32)) ? 1 : 0;
  }
  parentPort.postMessage({ id: m.id, verified, sigs, merkleOk }, [verified.buffer, sigs.buffer, merkleOk.buffer]);
});
