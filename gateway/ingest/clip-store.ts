/**
 * The gateway's clip store: content-addressed files under the data dir (DESIGN §7), shared by
 * replicas when the directory is on shared storage.
 *
 *   {root}/blobs/ab/cd/abcd…(64 hex)    a verified clip, named by its SHA-256, read-only
 *   {root}/staging/{manifestHash}/{n}    chunk n of a clip being uploaded, checked against its hash
 *   {root}/tmp/                          files being written; renamed into place when complete
 *
 * Every write goes to tmp/, is fsynced, renamed into place, and its directory fsynced: a file at
 * a final path is always complete. Nothing here decides what is valid; ingest checks hashes
 * before it writes and `assemble` checks the whole-file hash before the blob appears.
 */
import { createHash, randomBytes } from 'node:crypto';
import { hashClipFile } from '../../proto/clip-hash.js';
import { constants } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

const HEX64 = /^[0-9a-f]{64}$/;

export class ClipStoreError extends Error {
  override name = 'ClipStoreError';
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

export class ClipStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  async init(): Promise<this> {
    for (const d of ['blobs', 'staging', 'tmp']) await mkdir(join(this.root, d), { recursive: true, mode: 0o750 });
    return this;
  }

  blobPath(sha256: string): string {
    checkHex(sha256, 'clip SHA-256');
    return join(this.root, 'blobs', sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  #stagingDir(manifestHash: string): string {
    checkHex(manifestHash, 'manifest hash');
    return join(this.root, 'staging', manifestHash);
  }

  async hasBlob(sha256: string): Promise<number | null> {
    try {
      return (await stat(this.blobPath(sha256))).size;
    } catch {
      return null;
    }
  }

  /** Writes `data` to a file at `path` through tmp/ + fsync + rename + directory fsync. */
  async #writeAtomic(path: string, dir: string, data: Uint8Array): Promise<void> {
    const tmp = join(this.root, 'tmp', `${randomBytes(12).toString('hex')}.part`);
    const fd = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o640);
    try {
      await fd.writeFile(data);
      await fd.sync();
    } finally {
      await fd.close();
    }
    await mkdir(dir, { recursive: true });
    await rename(tmp, path);
    await fsyncDir(dir);
  }

  /** Stages one checked chunk. Writing the same chunk twice is harmless (same bytes, same name). */
  async stageChunk(manifestHash: string, index: number, data: Uint8Array): Promise<void> {
    if (!Number.isInteger(index) || index < 0) throw new ClipStoreError(`chunk index ${index} is not valid`);
    const dir = this.#stagingDir(manifestHash);
    await this.#writeAtomic(join(dir, String(index)), dir, data);
  }

  /** Indexes of the chunks staged for a manifest. */
  async stagedChunks(manifestHash: string): Promise<number[]> {
    try {
      return (await readdir(this.#stagingDir(manifestHash))).filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);
    } catch {
      return [];
    }
  }

  async readChunk(manifestHash: string, index: number): Promise<Buffer> {
    const fd = await open(join(this.#stagingDir(manifestHash), String(index)), constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      return await fd.readFile();
    } finally {
      await fd.close();
    }
  }

  /**
   * Concatenates chunks 0..count-1 into a blob, hashing as it goes; the blob appears only if the
   * whole-file SHA-256 and the length match. Throws ClipStoreError (the staged chunks stay) on a
   * missing chunk or a mismatch.
   */
  async assemble(manifestHash: string, count: number, expectSha256: string, expectLength: number): Promise<AssembleResult> {
    checkHex(expectSha256, 'clip SHA-256');
    const final = this.blobPath(expectSha256);
    const existing = await this.hasBlob(expectSha256);
    if (existing !== null) {
      if (existing !== expectLength) throw new ClipStoreError(`stored blob ${expectSha256.slice(0, 16)}… is ${existing} bytes, not ${expectLength}`);
      return { sha256: expectSha256, byteLength: existing, existed: true };
    }
    const tmp = join(this.root, 'tmp', `${randomBytes(12).toString('hex')}.blob`);
    const out = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o440);
    const hash = createHash('sha256');
    let length = 0;
    try {
      for (let i = 0; i < count; i++) {
        let chunk: Buffer;
        try {
          chunk = await this.readChunk(manifestHash, i);
        } catch {
          throw new ClipStoreError(`chunk ${i} of ${count} is not staged`);
        }
        hash.update(chunk);
        await out.write(chunk);
        length += chunk.byteLength;
      }
      await out.sync();
    } catch (e) {
      await out.close();
      await rm(tmp, { force: true });
      throw e;
    }
    await out.close();
    const sha = hash.digest('hex');
    if (sha !== expectSha256 || length !== expectLength) {
      await rm(tmp, { force: true });
      throw new ClipStoreError(`assembled clip is ${length} bytes with SHA-256 ${sha.slice(0, 16)}…, the manifest says ${expectLength} bytes, ${expectSha256.slice(0, 16)}…`);
    }
    const dir = join(final, '..');
    await mkdir(dir, { recursive: true });
    await rename(tmp, final);
    await fsyncDir(dir);
    return { sha256: sha, byteLength: length, existed: false };
  }

  /** Removes a manifest's staging directory (after its blob is committed). */
  async dropStaging(manifestHash: string): Promise<void> {
    await rm(this.#stagingDir(manifestHash), { recursive: true, force: true });
  }

  /** SHA-256 of each `chunkSize` piece of a stored blob (to check a manifest against stored content). */
  async chunkHashesOf(sha256: string, chunkSize: number): Promise<Buffer[]> {
    return (await hashClipFile(this.blobPath(sha256), { chunkSize })).chunks;
  }
}
