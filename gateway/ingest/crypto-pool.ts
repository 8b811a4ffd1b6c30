/**
 * Ed25519 and Merkle roots on worker threads for the gateway: ingest's strict verifications, the
 * manifests' Merkle-root checks and the gateway's ack signatures are the CPU every manifest costs,
 * so they run beside the main thread (which decodes, checks and writes). Requests made in one turn of the event loop travel together, one
 * message per worker per batch, so the hand-off costs little per signature.
 *
 * The main thread still decides whom to trust: keys reach the pool only after `trustPublicKey`
 * (canonical, on the curve, not of small order). The worker applies the same strict rule as
 * `verifyStrict` (S < L, then node:crypto); a test holds the two to the same answers.
 */
import { Worker } from 'node:worker_threads';
import type { KeyObject } from 'node:crypto';
import type { TrustedKey } from '../../proto/ed25519.js';

interface Pending {
  verify: { key: Buffer; msg: Uint8Array; sig: Uint8Array; resolve: (ok: boolean) => void; reject: (e: Error) => void }[];
  sign: { msg: Uint8Array; resolve: (sig: Buffer) => void; reject: (e: Error) => void }[];
  merkle: { leaves: readonly Uint8Array[]; root: Uint8Array; resolve: (ok: boolean) => void; reject: (e: Error) => void }[];
}

const empty = (): Pending => ({ verify: [], sign: [], merkle: [] });

interface Reply {
  id: number;
  verified: Uint8Array;
  /** 64 bytes per signature, in request order. */
  sigs: Uint8Array;
  merkleOk: Uint8Array;
}

/**
 * Packs a batch: for each verification key (32) ‖ sig (64, zero-padded if short) ‖ message, then
 * each message to sign, then each Merkle check's root (32) ‖ leaves (32 each). `offsets` holds
 * three numbers per item (crypto-worker.mjs reads them): a verification's start, message length
 * and signature length (≠ 64: the worker refuses it); a message to sign's start, length and 0; a
 * Merkle check's start, leaf count and 1 when the root and every leaf are 32 bytes.
 */
function pack(batch: Pending): { data: Uint8Array; offsets: Uint32Array; nVerify: number; nSign: number; nMerkle: number } {
  let size = 0;
  for (const v of batch.verify) size += 96 + v.msg.byteLength;
  for (const s of batch.sign) size += s.msg.byteLength;
  for (const m of batch.merkle) size += 32 + 32 * m.leaves.length;
  const data = new Uint8Array(size);
  const offsets = new Uint32Array((batch.verify.length + batch.sign.length + batch.merkle.length) * 3);
  let at = 0;
  let o = 0;
  for (const v of batch.verify) {
    offsets[o++] = at;
    offsets[o++] = v.msg.byteLength;
    offsets[o++] = v.sig.byteLength;
    data.set(v.key, at);
    if (v.sig.byteLength === 64) data.set(v.sig, at + 32);
    data.set(v.msg, at + 96);
    at += 96 + v.msg.byteLength;
  }
  for (const s of batch.sign) {
    offsets[o++] = at;
    offsets[o++] = s.msg.byteLength;
    offsets[o++] = 0;
    data.set(s.msg, at);
    at += s.msg.byteLength;
  }
  for (const m of batch.merkle) {
    // A leaf or root that is not 32 bytes cannot match: mark it so the worker answers false.
    const wellFormed = m.root.byteLength === 32 && m.leaves.every((l) => l.byteLength === 32);
    offsets[o++] = at;
    offsets[o++] = m.leaves.length;
    offsets[o++] = wellFormed ? 1 : 0;
    if (wellFormed) {
      data.set(m.root, at);
      m.leaves.forEach((l, i) => {
        data.set(l, at + 32 + 32 * i);
      });
    }
    at += 32 + 32 * m.leaves.length;
  }
  return { data, offsets, nVerify: batch.verify.length, nSign: batch.sign.length, nMerkle: batch.merkle.length };
}

const MAX_BATCH = 32;

export class CryptoPool {
  readonly #workers: { w: Worker; inflight: Map<number, Pending> }[] = [];
  #next = 0;
  #id = 0;
  #pending: Pending = empty();
  #scheduled = false;
  #closed = false;

  /** `threads` workers; `signKey` is the gateway's private key (for `sign`). */
  constructor(threads: number, signKey?: KeyObject) {
    const pkcs8 = signKey ? signKey.export({ format: 'der', type: 'pkcs8' }) : undefined;
    for (let i = 0; i < Math.max(1, threads); i++) {
      const w = new Worker(new URL('./crypto-worker.mjs', import.meta.url), { workerData: { signKeyPkcs8: pkcs8 } });
      const entry = { w, inflight: new Map<number, Pending>() };
      w.on('message', (r: Reply) => this.#settle(entry.inflight, r));
      w.on('error', (e) => this.#fail(entry.inflight, e));
      w.unref();
      this.#workers.push(entry);
    }
  }

  /** Strict verification of `sig` over `msg` by a trusted key. Resolves false, never rejects, for a bad signature. */
  verify(key: TrustedKey, msg: Uint8Array, sig: Uint8Array): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#pending.verify.push({ key: key.raw, msg, sig, resolve, reject });
      this.#schedule();
    });
  }

  /** True when `root` is the RFC 6962 Merkle Tree Hash of `leaves` (a manifest's chunk hashes). */
  merkleMatches(leaves: readonly Uint8Array[], root: Uint8Array): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#pending.merkle.push({ leaves, root, resolve, reject });
      this.#schedule();
    });
  }

  /** The gateway's signature over `msg`. */
  sign(msg: Uint8Array): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#pending.sign.push({ msg, resolve, reject });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    if (this.#closed) {
      this.#fail(new Map([[0, this.#pending]]), new Error('crypto pool is closed'));
      this.#pending = empty();
      return;
    }
    const p = this.#pending;
    while (p.verify.length > 0 || p.sign.length > 0 || p.merkle.length > 0) {
      const batch: Pending = {
        verify: p.verify.splice(0, MAX_BATCH),
        sign: p.sign.splice(0, MAX_BATCH),
        merkle: p.merkle.splice(0, MAX_BATCH),
      };
      const entry = this.#workers[this.#next++ % this.#workers.length]!;
      const id = ++this.#id;
      entry.inflight.set(id, batch);
      entry.w.ref();
      // One packed, transferred buffer per batch: posting the Buffers themselves would copy each
      // one's whole backing store (often an 8 KiB pool slab) through the structured clone.
      const packed = pack(batch);
      entry.w.postMessage({ id, ...packed }, [packed.data.buffer as ArrayBuffer, packed.offsets.buffer as ArrayBuffer]);
    }
  }

  #settle(inflight: Map<number, Pending>, r: Reply): void {
    const batch = inflight.get(r.id);
    if (!batch) return;
    inflight.delete(r.id);
    batch.verify.forEach((v, i) => {
      v.resolve(r.verified[i] === 1);
    });
    batch.merkle.forEach((m, i) => {
      m.resolve(r.merkleOk[i] === 1);
    });
    const sigs = Buffer.from(r.sigs.buffer, r.sigs.byteOffset, r.sigs.byteLength);
    batch.sign.forEach((s, i) => {
      if (sigs.byteLength >= (i + 1) * 64) s.resolve(sigs.subarray(i * 64, (i + 1) * 64));
      else s.reject(new Error('the crypto pool has no signing key'));
    });
    if (inflight.size === 0) for (const e of this.#workers) if (e.inflight === inflight) e.w.unref();
  }

  #fail(inflight: Map<number, Pending>, e: Error): void {
    for (const batch of inflight.values()) {
      for (const p of [...batch.verify, ...batch.sign, ...batch.merkle]) p.reject(e);
    }
    inflight.clear();
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#workers.map((e) => e.w.terminate()));
  }
}
