/**
 * Clip hashing: the SHA-256 of the whole clip, the SHA-256 of every chunk, and the RFC 6962 Merkle
 * root over the chunk digests (proto/README.md, "Clip manifest").
 *
 * Two implementations with one result:
 * - `ClipHasher`: incremental, one thread, for bytes that arrive as a stream.
 * - `hashClipFile`: for a file. The whole-file hash and the chunk hashes are two SHA-256 passes over
 *   the same bytes, so it runs them on two worker threads, each reading the file itself in 64 KiB
 *   positional reads (measured at the pace of `openssl dgst -sha256`; a single thread doing both
 *   passes reaches only about half). The calling thread stays free: a decision never waits behind
 *   a 2 GiB hash. Memory is flat: two 64 KiB buffers and 32 bytes per chunk.
 */
import { createHash, type Hash } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { merkleRoot } from './merkle.js';

export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
export const MIN_CHUNK_SIZE = 4 * 1024;
export const MAX_CHUNK_SIZE = 64 * 1024 * 1024;
const READ_SIZE = 64 * 1024;
/** Files below this are hashed on the calling thread: starting workers would cost more. */
const INLINE_LIMIT = 8 * 1024 * 1024;

export interface ClipDigest {
  readonly byteLength: number;
  readonly sha256: Buffer;
  readonly chunkSize: number;
  readonly chunks: Buffer[];
  readonly merkleRoot: Buffer;
}

export function checkChunkSize(chunkSize: number): void {
  if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new RangeError(`chunk size ${chunkSize} must be an integer from ${MIN_CHUNK_SIZE} to ${MAX_CHUNK_SIZE} bytes`);
  }
}

/** Incremental hasher: feed bytes in any split, then digest once. */
export class ClipHasher {
  readonly #chunkSize: number;
  readonly #whole: Hash = createHash('sha256');
  #chunk: Hash = createHash('sha256');
  #inChunk = 0;
  #length = 0;
  readonly #chunks: Buffer[] = [];

  constructor(chunkSize = DEFAULT_CHUNK_SIZE) {
    checkChunkSize(chunkSize);
    this.#chunkSize = chunkSize;
  }

  get byteLength(): number {
    return this.#length;
  }

  update(data: Uint8Array): this {
    this.#whole.update(data);
    this.#length += data.byteLength;
    let off = 0;
    while (off < data.byteLength) {
      const take = Math.min(this.#chunkSize - this.#inChunk, data.byteLength - off);
      this.#chunk.update(data.subarray(off, off + take));
      this.#inChunk += take;
      off += take;
      if (this.#inChunk === this.#chunkSize) {
        this.#chunks.push(this.#chunk.digest());
        this.#chunk = createHash('sha256');
        this.#inChunk = 0;
      }
    }
    return this;
  }

  digest(): ClipDigest {
    if (this.#inChunk > 0) this.#chunks.push(this.#chunk.digest());
    this.#inChunk = 0;
    return {
      byteLength: this.#length,
      sha256: this.#whole.digest(),
      chunkSize: this.#chunkSize,
      chunks: this.#chunks,
      merkleRoot: merkleRoot(this.#chunks),
    };
  }
}

export interface HashFileOptions {
  chunkSize?: number;
  /** Read at most this many bytes (the size the camera announced). */
  maxBytes?: number;
  /** Called with the bytes hashed so far (the slower pass) and the total. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Thrown for a path that must not be hashed: not a regular file, or a symbolic link. */
export class ClipFileError extends Error {
  readonly code: 'NOT_FOUND' | 'NOT_A_FILE' | 'SYMLINK' | 'UNREADABLE' | 'CHANGED';
  constructor(code: ClipFileError['code'], message: string) {
    super(message);
    this.name = 'ClipFileError';
    this.code = code;
  }
}

/**
 * Hashes a clip file. Opens it with O_NOFOLLOW and refuses anything but a regular file; reads at
 * most `maxBytes`. A file shorter than `maxBytes` is hashed as it is (the digest's byteLength says
 * how much was there).
 */
export async function hashClipFile(path: string, options: HashFileOptions = {}): Promise<ClipDigest> {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  checkChunkSize(chunkSize);
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ClipFileError('NOT_FOUND', `clip ${path} does not exist`);
    if (code === 'ELOOP') throw new ClipFileError('SYMLINK', `clip ${path} is a symbolic link; refusing to follow it`);
    if (code === 'EISDIR') throw new ClipFileError('NOT_A_FILE', `clip ${path} is a directory, not a file`);
    throw new ClipFileError('UNREADABLE', `clip ${path} cannot be opened: ${(e as Error).message}`);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new ClipFileError('NOT_A_FILE', `clip ${path} is not a regular file`);
    const length = Math.min(st.size, options.maxBytes ?? Number.MAX_SAFE_INTEGER);
    if (length < INLINE_LIMIT) return await hashInline(handle, length, chunkSize, options);
    return await hashWithWorkers(handle.fd, length, chunkSize, options);
  } finally {
    await handle.close();
  }
}

async function hashInline(handle: fsp.FileHandle, length: number, chunkSize: number, options: HashFileOptions): Promise<ClipDigest> {
  const hasher = new ClipHasher(chunkSize);
  const buf = Buffer.allocUnsafe(READ_SIZE);
  let pos = 0;
  while (pos < length) {
    options.signal?.throwIfAborted();
    const { bytesRead } = await handle.read(buf, 0, Math.min(READ_SIZE, length - pos), pos);
    if (bytesRead === 0) break;
    hasher.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  options.onProgress?.(pos, length);
  return hasher.digest();
}

interface PassResult {
  bytes: number;
  digest: Buffer;
}

function runPass(
  mode: 'whole' | 'chunks',
  fd: number,
  length: number,
  chunkSize: number,
  onProgress: (bytes: number) => void,
  signal: AbortSignal | undefined,
): Promise<PassResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./hash-worker.mjs', import.meta.url), {
      workerData: { fd, length, chunkSize, mode, readSize: READ_SIZE, progressEvery: 32 * 1024 * 1024 },
    });
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = () => {
      void worker.terminate();
      finish(() => reject(signal!.reason ?? new Error('aborted')));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (m: { type: string; bytes?: number; digest?: Uint8Array; message?: string }) => {
      if (m.type === 'progress') onProgress(m.bytes!);
      else if (m.type === 'done') {
        finish(() => resolve({ bytes: m.bytes!, digest: Buffer.from(m.digest!.buffer, m.digest!.byteOffset, m.digest!.byteLength) }));
        void worker.terminate();
      } else if (m.type === 'error') {
        finish(() => reject(new ClipFileError('UNREADABLE', `reading the clip failed: ${m.message}`)));
      }
    });
    worker.on('error', (e) => finish(() => reject(e)));
    worker.on('exit', (code) => finish(() => reject(new Error(`hash worker exited with code ${code}`))));
  });
}

async function hashWithWorkers(fd: number, length: number, chunkSize: number, options: HashFileOptions): Promise<ClipDigest> {
  options.signal?.throwIfAborted();
  const progress = { whole: 0, chunks: 0 };
  const report = () => options.onProgress?.(Math.min(progress.whole, progress.chunks), length);
  const [whole, chunks] = await Promise.all([
    runPass(
      'whole',
      fd,
      length,
      chunkSize,
      (b) => {
        progress.whole = b;
        report();
      },
      options.signal,
    ),
    runPass(
      'chunks',
      fd,
      length,
      chunkSize,
      (b) => {
        progress.chunks = b;
        report();
      },
      options.signal,
    ),
  ]);
  if (whole.bytes !== chunks.bytes) {
    throw new ClipFileError('CHANGED', `clip changed while it was hashed (${whole.bytes} vs ${chunks.bytes} bytes read)`);
  }
  options.onProgress?.(whole.bytes, length);
  const list: Buffer[] = [];
  for (let i = 0; i < chunks.digest.byteLength; i += 32) list.push(chunks.digest.subarray(i, i + 32));
  return { byteLength: whole.bytes, sha256: whole.digest, chunkSize, chunks: list, merkleRoot: merkleRoot(list) };
}
