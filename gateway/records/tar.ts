/**
 * A streaming ustar (POSIX.1-1988) writer and reader, for BagIt packages over HTTP: regular files
 * and directories only, names up to 255 bytes (prefix + name), sizes beyond 8 GiB in GNU base-256.
 * The writer streams file contents from disk, so a clip of any size passes through in 64 KiB
 * blocks; GNU tar and bagit.py read what it writes. The reader (`bwc records export`) is tar-stream
 * (a parser we should not own: it checks header checksums, which ours did not) with our path rules.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';

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
    for (let i = 135; i > 124; i--) {
      h[i] = Number(v & 0xffn);
      v >>= 8n;
    }
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
  return Readable.from(
    (async function* () {
      for (const e of entries) {
        const size = e.path.endsWith('/') ? 0 : e.data ? e.data.byteLength : (e.size ?? 0);
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
    })(),
    { objectMode: false },
  );
}

/** An archive that breaks our rules (a path, a type): refused, whatever the parser thinks of it. */
export class TarRefusal extends Error {
  override name = 'TarRefusal';
}

/**
 * Extracts a tar stream into `dir` with tar-stream's parser, which checks every header's checksum
 * and the ustar magic, reads GNU and pax extensions, and fails on an archive that ends early.
 * Our rules on top: regular files and directories only; a path that is absolute or climbs out of
 * `dir` is refused; an existing file is never overwritten. Returns the paths written. On a refusal
 * the files already written stay (the caller names the directory in its error).
 */
export async function extractTar(input: AsyncIterable<Uint8Array>, dir: string): Promise<string[]> {
  const written: string[] = [];
  const target = (p: string) => {
    const n = normalize(p);
    if (isAbsolute(p) || n === '..' || n.startsWith(`..${sep}`) || n.includes(`${sep}..${sep}`)) throw new TarRefusal(`tar: refusing path ${p}`);
    return join(dir, n);
  };
  const extract = tar.extract();
  // The parser's own error (a bad checksum, an early end) is the one to report: the entry being
  // read then fails only with "destroyed".
  let parseError: unknown = null;
  extract.once('error', (e) => {
    parseError ??= e;
  });
  const feeding = pipeline(Readable.from(input), extract);
  feeding.catch((e: unknown) => {
    if (!/PREMATURE_CLOSE|STREAM_DESTROYED/.test(String((e as NodeJS.ErrnoException).code))) parseError ??= e;
  });
  try {
    for await (const entry of extract) {
      const { name: path, type, size } = entry.header;
      if (type === 'directory') {
        await mkdir(target(path), { recursive: true });
        entry.resume();
        continue;
      }
      if (type !== 'file') throw new TarRefusal(`tar: ${path}: only files and directories are extracted (type ${type ?? 'unknown'})`);
      const out = target(path);
      await mkdir(dirname(out), { recursive: true });
      const fh = await open(out, 'wx', 0o644);
      try {
        let left = size ?? 0;
        for await (const chunk of entry as AsyncIterable<Buffer>) {
          left -= chunk.byteLength;
          await fh.write(chunk);
        }
        if (left !== 0) throw new TarRefusal(`tar: the archive ends inside ${path}`);
      } finally {
        await fh.close();
      }
      written.push(path);
    }
    await feeding;
  } catch (e) {
    extract.destroy();
    await feeding.catch(() => {});
    // Our own refusals and the file system's errors (EEXIST) say what happened; a parser failure
    // surfaces in the loop only as a destroyed stream.
    if (e instanceof TarRefusal || typeof (e as NodeJS.ErrnoException).syscall === 'string') throw e;
    throw tarError(parseError ?? e);
  }
  return written;
}

/** tar-stream's words for a damaged archive, said as what they mean here. */
function tarError(e: unknown): Error {
  const m = (e as Error).message ?? String(e);
  if (/^tar: /.test(m)) return e as Error;
  if (/Invalid tar header|checksum/i.test(m)) return new Error(`tar: a header is damaged (its checksum does not match, or it is not a tar header): ${m}`);
  if (/Unexpected end/i.test(m)) return new Error(`tar: the archive is truncated (${m})`);
  return new Error(`tar: ${m}`);
}
