import { closeSync, ftruncateSync, mkdirSync, openSync, symlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClipHasher, hashClipFile } from '../proto/clip-hash.js';
import { merkleRoot } from '../proto/merkle.js';
import { pseudoRandomBytes, run, tempDir, writeClip } from './helpers.js';

const dir = tempDir();
const MiB = 1024 * 1024;

describe('clip hasher: whole-file SHA-256, chunk SHA-256s and Merkle root', () => {
  it('gives the same digest however the bytes are split', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40_000 }), fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 8 }), (length, cuts) => {
        const data = pseudoRandomBytes(length, length + 1);
        const whole = new ClipHasher(4096).update(data).digest();
        const split = new ClipHasher(4096);
        let off = 0;
        for (let i = 0; off < length; i++) {
          const n = cuts[i % cuts.length]!;
          split.update(data.subarray(off, off + n));
          off += n;
        }
        const d = split.digest();
        expect(d.sha256.equals(whole.sha256)).toBe(true);
        expect(d.chunks.map((c) => c.toString('hex'))).toEqual(whole.chunks.map((c) => c.toString('hex')));
        expect(d.chunks.length).toBe(Math.ceil(length / 4096));
        expect(d.merkleRoot.equals(merkleRoot(d.chunks))).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it.each([0, 1, MiB - 1, MiB, MiB + 1, 9 * MiB + 123, 16 * MiB])(
    'hashes a %i-byte file on worker threads exactly as the stream hasher does',
    async (length) => {
      const path = writeClip(dir, `clip-${length}.bin`, length, length + 7);
      const streamed = new ClipHasher().update(pseudoRandomBytes(length, length + 7)).digest();
      const progress: number[] = [];
      const file = await hashClipFile(path, { onProgress: (done) => progress.push(done) });
      expect(file.byteLength).toBe(length);
      expect(file.sha256.toString('hex')).toBe(streamed.sha256.toString('hex'));
      expect(file.chunks.map((c) => c.toString('hex'))).toEqual(streamed.chunks.map((c) => c.toString('hex')));
      expect(file.merkleRoot.equals(streamed.merkleRoot)).toBe(true);
      expect(progress.at(-1)).toBe(length);
    },
  );

  it('agrees with sha256sum', async () => {
    const path = writeClip(dir, 'coreutils.bin', 20 * MiB + 5, 42);
    const out = run('sha256sum', [path]);
    expect(out.code).toBe(0);
    const digest = await hashClipFile(path);
    expect(digest.sha256.toString('hex')).toBe(out.stdout.split(' ')[0]);
  });

  it('hashes a 4 GiB clip without growing memory', async () => {
    const path = join(dir, 'sparse-4g.bin');
    const fd = openSync(path, 'w');
    ftruncateSync(fd, 4 * 1024 * MiB);
    writeSync(fd, Buffer.from('tail'), 0, 4, 4 * 1024 * MiB - 4);
    closeSync(fd);
    const before = process.memoryUsage();
    let peakRss = before.rss;
    let peakHeap = before.heapUsed;
    const timer = setInterval(() => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
    }, 50);
    const digest = await hashClipFile(path).finally(() => clearInterval(timer));
    expect(digest.byteLength).toBe(4 * 1024 * MiB);
    expect(digest.chunks.length).toBe(4096);
    // Two 64 KiB read buffers, two worker heaps and 32 bytes per chunk: far below the clip size.
    expect(peakRss - before.rss).toBeLessThan(128 * MiB);
    expect(peakHeap - before.heapUsed).toBeLessThan(32 * MiB);
  }, 180_000);

  it('reads at most the announced size', async () => {
    const path = writeClip(dir, 'longer.bin', 3 * MiB, 5);
    const d = await hashClipFile(path, { maxBytes: MiB + 10 });
    expect(d.byteLength).toBe(MiB + 10);
    expect(d.chunks.length).toBe(2);
    expect(d.sha256.equals(new ClipHasher().update(pseudoRandomBytes(3 * MiB, 5).subarray(0, MiB + 10)).digest().sha256)).toBe(true);
  });

  it('refuses a symbolic link, a directory and a missing file with a clear error', async () => {
    const target = writeClip(dir, 'target.bin', 100);
    const link = join(dir, 'link.bin');
    symlinkSync(target, link);
    mkdirSync(join(dir, 'adir'));
    await expect(hashClipFile(link)).rejects.toMatchObject({ code: 'SYMLINK' });
    await expect(hashClipFile(join(dir, 'adir'))).rejects.toMatchObject({ code: 'NOT_A_FILE' });
    await expect(hashClipFile(join(dir, 'nope.bin'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses chunk sizes outside 4 KiB..64 MiB', async () => {
    expect(() => new ClipHasher(100)).toThrow(/chunk size 100/);
    await expect(hashClipFile(writeClip(dir, 'c.bin', 10), { chunkSize: 128 * MiB })).rejects.toThrow(/chunk size/);
  });
});
