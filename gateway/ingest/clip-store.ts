/**
 * The gateway's clip store: content-addressed files under the data dir (DESIGN §7), shared by
 * replicas when the directory is on shared storage.
 *
 *   {root}/blobs/ab/cd/abcd…(64 hex)    a verified clip, named by its SHA-256, read-only
 *   {root}/staging/{manifestHash}.part   a clip being uploaded: each checked chunk written in place
 *
 * A chunk is written at its own offset of the staging file and is durable (fdatasync) before
 * `stageChunk` resolves, so the database records only chunks that survive a crash. The syncs of
 * chunks written at the same time are one fdatasync (group sync). Replicas write disjoint ranges
 * of the same staging file; writing a chunk twice writes the same bytes at the same place.
 *
 * `finish` checks length and whole-file SHA-256 and renames the staging file into blobs/: no copy.
 * The SHA-256 is computed as chunks arrive in order (a chunk that arrives early is read back from
 * the staging file when the gap closes); when this process did not see every chunk (a restart, a
 * replica) the file is hashed again. Nothing here decides what is valid: ingest checks each chunk
 * against the signed manifest before it writes, and a blob appears only when its SHA-256 matches.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, constants } from 'node:fs';
import { chmod, mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { hashClipFile } from '../../proto/clip-hash.js';

const HEX64 = /^[0-9a-f]{64}$/;
/** Staging files kept open at once; beyond it the least recently used idle one is closed. */
const MAX_OPEN = 64;
/** Bytes of chunks that arrived ahead of the in-order hash, kept in memory across all clips. */
const EARLY_BYTES = 32 * 1024 * 1024;

export class ClipStoreError extends Error {
  override name = 'ClipStoreError';
}

/** Staged chunks were lost or damaged on the gateway: they must be sent again (nothing is wrong with the clip). */
export class StagingIncompleteError extends ClipStoreError {
  override name = 'StagingIncompleteError';
  constructor(
    message: string,
    readonly chunks: number[],
  ) {
    super(message);
  }
}

function checkHex(h: string, what: string): void {
  if (!HEX64.test(h)) throw new ClipStoreError(`${what} must be 64 lowercase hex characters`);
}

async function fsyncDir(dir: string): Promise<void> {
  const fd = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fd.sync();
  } finally {
    await fd.close();
  }
}

export interface AssembleResult {
  sha256: string;
  byteLength: number;
  /** The blob was already in the store (the same content from another manifest). */
  existed: boolean;
}

/**
 * fdatasync shared by concurrent writers: `sync()` resolves after an fdatasync that began after
 * the call, so every write completed before the call is durable; calls that arrive while one runs
 * share the next one.
 */
class GroupSync {
  #running: Promise<void> | null = null;
  #next: Promise<void> | null = null;

  constructor(private readonly fh: FileHandle) {}

  sync(): Promise<void> {
    if (!this.#running) return this.#start();
    this.#next ??= this.#running.then(
      () => {
        this.#next = null;
        return this.#start();
      },
      () => {
        this.#next = null;
        return this.#start();
      },
    );
    return this.#next;
  }

  #start(): Promise<void> {
    const p = this.fh.datasync().finally(() => {
      if (this.#running === p) this.#running = null;
    });
    this.#running = p;
    return p;
  }
}

/** One open staging file and the in-order SHA-256 of its first `next` chunks. */
interface Staging {
  fh: FileHandle;
  sync: GroupSync;
  chunkSize: number;
  hash: Hash;
  /** Chunks 0..next-1 are in `hash`. */
  next: number;
  /** Chunks written by this process, not yet in `hash`: their length. */
  ahead: Map<number, number>;
  /** Bytes of some of those chunks, kept (within EARLY_BYTES) so they need not be read back. */
  early: Map<number, Uint8Array>;
  /** Serializes hashing (and reads back of early chunks). */
  hashing: Promise<void>;
  busy: number;
  /** The hash state is unusable (a read back failed): `finish` hashes the file again. */
  broken: boolean;
}

export class ClipStore {
  readonly root: string;
  readonly #open_ = new Map<string, Staging>();
  readonly #opening = new Map<string, Promise<Staging>>();
  #earlyBytes = 0;

  constructor(root: string) {
    this.root = root;
  }

  async init(): Promise<this> {
    for (const d of ['blobs', 'staging']) await mkdir(join(this.root, d), { recursive: true, mode: 0o750 });
    return this;
  }

  blobPath(sha256: string): string {
    checkHex(sha256, 'clip SHA-256');
    return join(this.root, 'blobs', sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  async hasBlob(sha256: string): Promise<number | null> {
    try {
      return (await stat(this.blobPath(sha256))).size;
    } catch {
      return null;
    }
  }

  #staging(manifestHash: string): string {
    checkHex(manifestHash, 'manifest hash');
    return join(this.root, 'staging', `${manifestHash}.part`);
  }

  /** Size of a clip's staging file, or null when nothing of it is staged. */
  async stagingSize(manifestHash: string): Promise<number | null> {
    try {
      return (await stat(this.#staging(manifestHash))).size;
    } catch {
      return null;
    }
  }

  /** The open staging file of a clip, counted busy until the caller calls `#release`. */
  async #acquire(manifestHash: string, chunkSize: number): Promise<Staging> {
    const have = this.#open_.get(manifestHash);
    if (have) {
      have.busy++;
      this.#open_.delete(manifestHash); // re-inserted: most recently used last
      this.#open_.set(manifestHash, have);
      return have;
    }
    let pending = this.#opening.get(manifestHash);
    if (!pending) {
      pending = (async () => {
        const fh = await open(this.#staging(manifestHash), constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o640);
        const st: Staging = {
          fh,
          sync: new GroupSync(fh),
          chunkSize,
          hash: createHash('sha256'),
          next: 0,
          ahead: new Map(),
          early: new Map(),
          hashing: Promise.resolve(),
          busy: 0,
          broken: false,
        };
        // A staging file that already has bytes was started before (a restart, a replica): its
        // in-order hash cannot be known here.
        if ((await fh.stat()).size > 0) st.broken = true;
        this.#open_.set(manifestHash, st);
        return st;
      })().finally(() => this.#opening.delete(manifestHash));
      this.#opening.set(manifestHash, pending);
    }
    const st = await pending;
    st.busy++;
    void this.#evict();
    return st;
  }

  async #evict(): Promise<void> {
    for (const [h, st] of this.#open_) {
      if (this.#open_.size <= MAX_OPEN) return;
      if (st.busy > 0) continue;
      this.#open_.delete(h);
      st.broken = true;
      await st.hashing;
      this.#dropEarly(st);
      await st.fh.close().catch(() => {});
    }
  }

  /**
   * Writes one checked chunk at its offset and makes it durable. Writing the same chunk twice is
   * harmless (same bytes, same place).
   */
  async stageChunk(manifestHash: string, index: number, data: Uint8Array, chunkSize: number): Promise<void> {
    if (!Number.isInteger(index) || index < 0) throw new ClipStoreError(`chunk index ${index} is not valid`);
    if (!Number.isInteger(chunkSize) || chunkSize <= 0) throw new ClipStoreError(`chunk size ${chunkSize} is not valid`);
    const st = await this.#acquire(manifestHash, chunkSize);
    try {
      let done = 0;
      while (done < data.byteLength) {
        const { bytesWritten } = await st.fh.write(data, done, data.byteLength - done, index * chunkSize + done);
        done += bytesWritten;
      }
      await st.sync.sync();
      if (st.chunkSize !== chunkSize) st.broken = true;
      if (!st.broken && index >= st.next && !st.ahead.has(index)) {
        st.ahead.set(index, data.byteLength);
        if (index > st.next && this.#earlyBytes + data.byteLength <= EARLY_BYTES) {
          st.early.set(index, data);
          this.#earlyBytes += data.byteLength;
        }
        st.hashing = st.hashing
          .then(async () => {
            // Hash every chunk from `next` on that is on disk; one that came early is read back.
            while (!st.broken && st.ahead.has(st.next)) {
              const i = st.next;
              const len = st.ahead.get(i)!;
              let buf: Uint8Array | undefined = i === index ? data : st.early.get(i);
              if (st.early.delete(i)) this.#earlyBytes -= len;
              if (!buf) {
                const back = Buffer.allocUnsafe(len);
                const { bytesRead } = await st.fh.read(back, 0, len, i * chunkSize);
                if (bytesRead !== len) {
                  st.broken = true;
                  break;
                }
                buf = back;
              }
              st.hash.update(buf);
              st.ahead.delete(i);
              st.next = i + 1;
            }
          })
          .catch(() => {
            st.broken = true;
          });
      }
    } finally {
      st.busy--;
    }
  }

  /** SHA-256 and length of a staging file, from the in-order hash when it covers every chunk. */
  async #digest(manifestHash: string, count: number): Promise<string> {
    const st = this.#open_.get(manifestHash);
    if (st) {
      await st.hashing;
      if (!st.broken && st.next === count && st.ahead.size === 0) {
        st.broken = true; // a Hash digests once: a second finish hashes the file
        return st.hash.digest('hex');
      }
    }
    const h = createHash('sha256');
    for await (const block of createReadStream(this.#staging(manifestHash), { highWaterMark: 64 * 1024 })) h.update(block as Buffer);
    return h.digest('hex');
  }

  #dropEarly(st: Staging): void {
    for (const b of st.early.values()) this.#earlyBytes -= b.byteLength;
    st.early.clear();
  }

  async #closeStaging(manifestHash: string): Promise<void> {
    const st = this.#open_.get(manifestHash);
    if (!st) return;
    this.#open_.delete(manifestHash);
    await st.hashing;
    this.#dropEarly(st);
    await st.fh.close().catch(() => {});
  }

  /**
   * Makes the staged clip a blob: checks its length and whole-file SHA-256, then renames the
   * staging file into blobs/ (read-only). When the content is already stored, only the staging
   * file goes.
   *
   * A mismatch is told apart by checking every staged chunk against the manifest's chunk hashes:
   * a chunk that no longer matches (or is missing) means the staged bytes were lost or damaged on
   * this side — StagingIncompleteError names those chunks, to be asked for again. When every
   * chunk matches and the whole file still does not, the manifest contradicts itself:
   * ClipStoreError (the clip is refused; the staging file stays for a look).
   */
  async finish(
    manifestHash: string,
    clip: { chunkSize: number; chunkHashes: readonly Uint8Array[]; sha256: string; byteLength: number },
  ): Promise<AssembleResult> {
    const { chunkSize, chunkHashes, sha256: expectSha256, byteLength: expectLength } = clip;
    checkHex(expectSha256, 'clip SHA-256');
    const part = this.#staging(manifestHash);
    const final = this.blobPath(expectSha256);
    const existing = await this.hasBlob(expectSha256);
    if (existing !== null) {
      if (existing !== expectLength) throw new ClipStoreError(`stored blob ${expectSha256.slice(0, 16)}… is ${existing} bytes, not ${expectLength}`);
      await this.dropStaging(manifestHash);
      return { sha256: expectSha256, byteLength: existing, existed: true };
    }
    if (expectLength === 0 && (await this.stagingSize(manifestHash)) === null) {
      const fh = await open(part, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o640);
      await fh.close();
    }
    const size = await this.stagingSize(manifestHash);
    if (size === null)
      throw new StagingIncompleteError(
        `nothing of clip ${expectSha256.slice(0, 16)}… is staged`,
        chunkHashes.map((_, i) => i),
      );
    const sha = size === expectLength ? await this.#digest(manifestHash, chunkHashes.length) : null;
    if (sha !== expectSha256) {
      const damaged = await this.#damagedChunks(manifestHash, chunkSize, chunkHashes, expectLength);
      if (damaged.length > 0) {
        throw new StagingIncompleteError(`${damaged.length} staged chunk(s) of clip ${expectSha256.slice(0, 16)}… are missing or damaged`, damaged);
      }
      throw new ClipStoreError(
        `every chunk matches the manifest, but the clip's SHA-256 is ${sha?.slice(0, 16) ?? '?'}…, not ${expectSha256.slice(0, 16)}… (${size} bytes, ${expectLength} in the manifest)`,
      );
    }
    const st = this.#open_.get(manifestHash);
    if (st) await st.sync.sync();
    else {
      const fh = await open(part, constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        await fh.datasync();
      } finally {
        await fh.close();
      }
    }
    await this.#closeStaging(manifestHash);
    await chmod(part, 0o440);
    const dir = join(final, '..');
    await mkdir(dir, { recursive: true });
    await rename(part, final);
    await fsyncDir(dir);
    await fsyncDir(join(this.root, 'staging'));
    return { sha256: sha, byteLength: expectLength, existed: false };
  }

  /** Indexes of the staged chunks that are missing or do not match their hash. */
  async #damagedChunks(manifestHash: string, chunkSize: number, chunkHashes: readonly Uint8Array[], byteLength: number): Promise<number[]> {
    const damaged: number[] = [];
    let fh: FileHandle;
    try {
      fh = await open(this.#staging(manifestHash), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return chunkHashes.map((_, i) => i);
    }
    try {
      const buf = Buffer.allocUnsafe(chunkSize);
      for (let i = 0; i < chunkHashes.length; i++) {
        const len = Math.min(chunkSize, byteLength - i * chunkSize);
        const { bytesRead } = await fh.read(buf, 0, len, i * chunkSize);
        const h = createHash('sha256').update(buf.subarray(0, bytesRead)).digest();
        if (bytesRead !== len || !h.equals(chunkHashes[i]!)) damaged.push(i);
      }
    } finally {
      await fh.close();
    }
    return damaged;
  }

  /** Removes a clip's staging file (content already stored, or the clip was refused). */
  async dropStaging(manifestHash: string): Promise<void> {
    await this.#closeStaging(manifestHash);
    await rm(this.#staging(manifestHash), { force: true });
  }

  /** Closes the open staging files (the files stay). */
  async close(): Promise<void> {
    for (const h of [...this.#open_.keys()]) await this.#closeStaging(h);
  }

  /** SHA-256 of each `chunkSize` piece of a stored blob (to check a manifest against stored content). */
  async chunkHashesOf(sha256: string, chunkSize: number): Promise<Buffer[]> {
    return (await hashClipFile(this.blobPath(sha256), { chunkSize })).chunks;
  }
}
