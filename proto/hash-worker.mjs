// One SHA-256 pass over a clip file, run in a worker thread by proto/clip-hash.ts.
// mode "whole": the SHA-256 of the first `length` bytes. mode "chunks": the SHA-256 of every
// `chunkSize` slice. Reads are positional (pread) in `readSize` blocks into one reused buffer, so
// memory stays flat whatever the clip size. Plain JavaScript so it runs from source and from dist.
import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

const { fd, length, chunkSize, mode, readSize, progressEvery } = workerData;

try {
  const buf = Buffer.allocUnsafe(readSize);
  const whole = mode === 'whole' ? createHash('sha256') : null;
  const digests = [];
  let chunk = mode === 'chunks' ? createHash('sha256') : null;
  let inChunk = 0;
  let pos = 0;
  let nextProgress = progressEvery;
  while (pos < length) {
    let want = Math.min(readSize, length - pos);
    if (chunk) want = Math.min(want, chunkSize - inChunk);
    const n = readSync(fd, buf, 0, want, pos);
    if (n === 0) break; // the file is shorter than announced: report what was there
    const view = n === buf.length ? buf : buf.subarray(0, n);
    pos += n;
    if (whole) {
      whole.update(view);
    } else {
      chunk.update(view);
      inChunk += n;
      if (inChunk === chunkSize) {
        digests.push(chunk.digest());
        chunk = createHash('sha256');
        inChunk = 0;
      }
    }
    if (pos >= nextProgress) {
      parentPort.postMessage({ type: 'progress', bytes: pos });
      nextProgress = pos + progressEvery;
    }
  }
  if (chunk && inChunk > 0) digests.push(chunk.digest());
  const out = whole ? whole.digest() : Buffer.concat(digests);
  const copy = new Uint8Array(out); // own ArrayBuffer, safe to transfer
  parentPort.postMessage({ type: 'done', bytes: pos, digest: copy }, [copy.buffer]);
} catch (e) {
  parentPort.postMessage({ type: 'error', code: e?.code, message: String(e?.message ? e.message : e) });
}
