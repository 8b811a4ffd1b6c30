/**
 * The BagIt transport (gateway/records/tar.ts): our ustar writer against the reader that
 * `bwc records export` extracts with. The reader checks every header's checksum and the path
 * rules, and refuses anything else with a clear error, writing nothing outside the target.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { extractTar, tarStream, type TarEntry } from '../gateway/records/tar.js';
import { run, tempDir } from './helpers.js';

const T = Date.UTC(2026, 10, 22);

async function archive(entries: TarEntry[]): Promise<Buffer> {
  return buffer(tarStream(entries));
}

/** Sets a header field and writes the header's checksum again, as a careful forger would. */
function patchHeader(tar: Buffer, headerAt: number, offset: number, value: Buffer | string): Buffer {
  const out = Buffer.from(tar);
  const v = typeof value === 'string' ? Buffer.from(value, 'binary') : value;
  v.copy(out, headerAt + offset);
  out.fill(0x20, headerAt + 148, headerAt + 156);
  let sum = 0;
  for (let i = headerAt; i < headerAt + 512; i++) sum += out[i]!;
  out.write(`${sum.toString(8).padStart(6, '0')}\0 `, headerAt + 148, 'ascii');
  return out;
}

const extract = (tar: Buffer, dir: string) => extractTar(Readable.from([tar]), dir);

describe('tar: what the export writes, the reader reads back', () => {
  it('round-trips directories, small and empty files, and files streamed from disk', async () => {
    const src = tempDir();
    const big = Buffer.alloc(200_000, 7);
    writeFileSync(join(src, 'big.bin'), big);
    const tar = await archive([
      { path: 'bag/', mtimeMs: T },
      { path: 'bag/a.txt', data: Buffer.from('hello'), mtimeMs: T },
      { path: 'bag/empty', data: Buffer.alloc(0), mtimeMs: T },
      { path: `bag/${'d'.repeat(120)}/big.bin`, file: join(src, 'big.bin'), size: big.byteLength, mtimeMs: T },
    ]);
    const out = tempDir();
    expect(await extract(tar, out)).toEqual(['bag/a.txt', 'bag/empty', `bag/${'d'.repeat(120)}/big.bin`]);
    expect(readFileSync(join(out, 'bag/a.txt'), 'utf8')).toBe('hello');
    expect(readFileSync(join(out, `bag/${'d'.repeat(120)}/big.bin`)).equals(big)).toBe(true);
    // GNU tar agrees.
    const gnu = tempDir();
    writeFileSync(join(gnu, 'x.tar'), tar);
    expect(
      run('tar', ['-tf', join(gnu, 'x.tar')])
        .stdout.split('\n')
        .filter(Boolean),
    ).toHaveLength(4);
  });
});

describe('tar: refusals', () => {
  it('refuses a header whose checksum does not match (a flipped bit turned bag/a.txt into bag/a/txt)', async () => {
    const tar = await archive([{ path: 'bag/a.txt', data: Buffer.from('hello'), mtimeMs: T }]);
    const flipped = Buffer.from(tar);
    flipped[5] = flipped[5]! ^ 0x01; // '.' (0x2e) → '/' (0x2f)
    expect(flipped.toString('latin1', 0, 9)).toBe('bag/a/txt');
    const out = tempDir();
    await expect(extract(flipped, out)).rejects.toThrow(/checksum|corrupt|Invalid tar header/i);
    expect(existsSync(join(out, 'bag/a/txt'))).toBe(false);
    expect(existsSync(join(out, 'bag/a.txt'))).toBe(false);
    // A flipped bit in the size is caught the same way.
    const size = Buffer.from(tar);
    size[124 + 10] = size[124 + 10]! ^ 0x01;
    await expect(extract(size, tempDir())).rejects.toThrow(/checksum|corrupt|Invalid tar header/i);
  });

  it.each([
    ['an absolute path', '/etc/bwc-owned'],
    ['a path climbing out', '../outside.txt'],
    ['a path climbing out from inside', 'bag/../../outside.txt'],
  ])('refuses %s (with a valid checksum), writing nothing outside', async (_what, path) => {
    const tar = await archive([{ path: 'x'.repeat(path.length), data: Buffer.from('evil'), mtimeMs: T }]);
    const forged = patchHeader(tar, 0, 0, path);
    const parent = tempDir();
    const out = join(parent, 'out');
    await expect(extract(forged, out)).rejects.toThrow(/refusing path/);
    expect(readdirSync(parent)).not.toContain('outside.txt');
    expect(existsSync('/etc/bwc-owned')).toBe(false);
  });

  it.each([
    ['a symbolic link', '2'],
    ['a hard link', '1'],
    ['a device', '3'],
    ['a FIFO', '6'],
  ])('refuses %s: only files and directories are extracted', async (_what, type) => {
    const tar = await archive([{ path: 'bag/link', data: Buffer.alloc(0), mtimeMs: T }]);
    const forged = patchHeader(patchHeader(tar, 0, 156, type), 0, 157, '/etc/passwd');
    const out = tempDir();
    await expect(extract(forged, out)).rejects.toThrow(/only files and directories/);
    expect(existsSync(join(out, 'bag/link'))).toBe(false);
  });

  it('refuses an archive that ends inside a file, and one that ends inside a header', async () => {
    const tar = await archive([{ path: 'bag/a.txt', data: Buffer.alloc(3000, 1), mtimeMs: T }]);
    await expect(extract(tar.subarray(0, 512 + 1000), tempDir())).rejects.toThrow(/end|truncated/i);
    await expect(extract(tar.subarray(0, 300), tempDir())).rejects.toThrow(/end|truncated/i);
  });

  it('never overwrites a file that is there already', async () => {
    const tar = await archive([{ path: 'a.txt', data: Buffer.from('new'), mtimeMs: T }]);
    const out = tempDir();
    writeFileSync(join(out, 'a.txt'), 'old');
    await expect(extract(tar, out)).rejects.toThrow(/EEXIST|exists/);
    expect(readFileSync(join(out, 'a.txt'), 'utf8')).toBe('old');
  });

  it('refuses what is not a tar at all', async () => {
    await expect(extract(Buffer.alloc(1024, 0x41), tempDir())).rejects.toThrow();
  });
});
