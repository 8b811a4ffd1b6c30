/**
 * A streaming ustar (POSIX.1-1988) writer and reader, for BagIt packages over HTTP: regular files
 * and directories only, names up to 255 bytes (prefix + name), sizes beyond 8 GiB in GNU base-256.
 * The writer streams file contents from disk, so a clip of any size passes through in 64 KiB
 * blocks. The reader is for our own archives (`bwc records export`); GNU tar reads both.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';
import { Readable } from 'node:stream';

export interface TarEntry {
  /** A relative path with `/`; a directory ends with `/`. */
  path: string;
  /** Contents (in memory) or a file to stream; absent for a directory. */
  data?: Buffer;
  file?: string;
  size?: number;
  mtimeMs: number;
}

const BLOCK = 512;

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

function header(e: TarEntry, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  const dir = e.path.endsWith('/');
  let name = e.path;
  let prefix = '';
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', name.length - 2);
    prefix = name.slice(0, cut);
    name = name.slice(cut + 1);
    if (cut < 0 || Buffer.byteLength(name) > 100 || Buffer.byteLength(prefix) > 155) throw new RangeError(`tar: path too long: ${e.path}`);
  }
  h.write(name, 0, 100, 'utf8');
  h.write(octal(dir ? 0o755 : 0o644, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  if (size < 8 ** 11) h.write(octal(size, 12), 124, 'ascii');
  else {
    // GNU base-256: high bit of the first byte set, the size big-endian in the rest.
    h[124] = 0x80;
    let v = BigInt(size);
    for (let i = 135; i > 124; i--) { h[i] = Number(v & 0xffn); v >>= 8n; }
  }
  h.write(octal(Math.floor(e.mtimeMs / 1000), 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(dir ? '5' : '0', 156, 'ascii');
  h.write('ustar\x0000', 257, 'binary');
  h.write('root', 265, 'ascii');
  h.write('root', 297, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

/** The archive as a stream. Sizes must be known (`data`, or `size` for a `file`). */
export function tarStream(entries: readonly TarEntry[]): Readable {
  return Readable.from((async function* () {
    for (const e of entries) {
      const size = e.path.endsWith('/') ? 0 : e.data ? e.data.byteLength : e.size ?? 0;
      yield header(e, size);
      if (e.data) yield e.data;
      else if (e.file) {
        let sent = 0;
        for await (const chunk of createReadStream(e.file, { highWaterMark: 64 * 1024 })) {
          sent += (chunk as Buffer).byteLength;
          if (sent > size) throw new Error(`tar: ${e.file} grew beyond ${size} bytes while being sent`);
          yield chunk as Buffer;
        }
        if (sent !== size) throw new Error(`tar: ${e.file} is ${sent} bytes, not ${size}`);
      }
      const pad = (BLOCK - (size % BLOCK)) % BLOCK;
      if (pad) yield Buffer.alloc(pad);
    }
    yield Buffer.alloc(2 * BLOCK);
  })(), { objectMode: false });
}

function readSize(h: Buffer): number {
  if ((h[124]! & 0x80) !== 0) {
    let v = 0n;
    for (let i = 125; i < 136; i++) v = (v << 8n) | BigInt(h[i]!);
    return Number(v);
  }
  return parseInt(h.toString('ascii', 124, 136).replace(/\0.*$/s, '').trim() || '0', 8);
}

function cstring(h: Buffer, start: number, len: number): string {
  const end = h.indexOf(0, start);
  return h.toString('utf8', start, end < 0 || end > start + len ? start + len : end);
}

/**
 * Extracts a ustar stream into `dir`: regular files and directories only; a path that is absolute
 * or climbs out of `dir` is refused. Returns the paths written.
 */
export async function extractTar(input: AsyncIterable<Uint8Array>, dir: string): Promise<string[]> {
  const written: string[] = [];
  let buf = Buffer.alloc(0);
  let file: { fh: Awaited<ReturnType<typeof open>>; left: number; pad: number } | null = null;
  let skip = 0;
  const target = (p: string) => {
    const n = normalize(p);
    if (n.startsWith('..') || n.startsWith(sep) || n.includes(`${sep}..${sep}`)) throw new Error(`tar: refusing path ${p}`);
    return join(dir, n);
  };
  for await (const chunk of input) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : Buffer.from(chunk);
    for (;;) {
      if (file) {
        const n = Math.min(file.left, buf.length);
        if (n > 0) { await file.fh.write(buf.subarray(0, n)); buf = buf.subarray(n); file.left -= n; }
        if (file.left > 0) break;
        await file.fh.close();
        skip = file.pad;
        file = null;
      }
      if (skip > 0) {
        const n = Math.min(skip, buf.length);
        buf = buf.subarray(n);
        skip -= n;
        if (skip > 0) break;
      }
      if (buf.length < BLOCK) break;
      const h = buf.subarray(0, BLOCK);
      buf = buf.subarray(BLOCK);
      if (h.every((b) => b === 0)) continue;
      const prefix = cstring(h, 345, 155);
      const name = cstring(h, 0, 100);
      const path = prefix ? `${prefix}/${name}` : name;
      const type = String.fromCharCode(h[156]!);
      const size = readSize(h);
      if (type === '5') { await mkdir(target(path), { recursive: true }); continue; }
      if (type !== '0' && type !== '\0') throw new Error(`tar: ${path}: only files and directories are extracted (type ${type})`);
      const out = target(path);
      await mkdir(dirname(out), { recursive: true });
      file = { fh: await open(out, 'wx', 0o644), left: size, pad: (BLOCK - (size % BLOCK)) % BLOCK };
      written.push(path);
    }
  }
  if (file) { await file.fh.close(); throw new Error('tar: the archive ends inside a file'); }
  return written;
}
