/**
 * Clip upload (DESIGN §4): the chunks the gateway says it still needs, read from the clip and sent
 * as unsigned ClipChunk envelopes at QoS 1, at most `window` awaiting their PUBACK. A chunk is read
 * from the clip straight into its message (`chunkEnvelopeFrame`), into buffers reused once their
 * PUBACK is in: no copy, and no 1 MiB allocation per chunk.
 *
 * The gateway checks every chunk against the signed manifest, so the hot path does not hash again
 * (on a Pi without SHA extensions a second pass would halve the upload). When the gateway refuses
 * a chunk and asks for it again (`check: true`), each chunk of that request is checked here
 * before it leaves: bytes that changed on the camera since hashing are not sent again, and the
 * clip is reported instead (ChunkChangedError).
 *
 * Chunks travel only while `canSend()` says the outbox has nothing waiting, so manifests, events
 * and alerts overtake bulk data. A lost connection puts the chunks in flight back in the queue;
 * after a restart the gateway's answer to the resent manifest (its list of missing chunks) is the
 * resume point. When every requested chunk of a clip has its PUBACK, `onSent` fires; the clip is
 * VERIFIED only by the gateway's signed ack, never here.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';
import { chunkEnvelopeFrame } from '../../proto/envelope.js';
import { bytesEqual, sha256 } from '../../proto/bytes.js';

export interface UploadSource {
  /** Hex SHA-256 of the manifest's signed input. */
  readonly manifestHash: string;
  readonly path: string;
  readonly byteLength: number;
  readonly chunkSize: number;
  readonly chunkHashes: readonly Uint8Array[];
}

export interface UploaderOptions {
  publish(payload: Uint8Array): Promise<void>;
  window: number;
  canSend(): boolean;
  onProgress?(manifestHash: string, sentBytes: number, totalBytes: number): void;
  onSent(manifestHash: string): void;
  onError(manifestHash: string, error: Error): void;
}

interface Job {
  source: UploadSource;
  pending: number[];
  inFlight: Set<number>;
  requested: number;
  sentBytes: number;
  totalBytes: number;
  fh: FileHandle | null;
  failed: boolean;
  /** Check each chunk against the manifest before it leaves (the gateway refused one). */
  check: boolean;
}

export class ChunkChangedError extends Error {
  override name = 'ChunkChangedError';
}

export class Uploader {
  readonly #o: UploaderOptions;
  readonly #jobs = new Map<string, Job>();
  #inFlight = 0;
  /** Message buffers whose PUBACK is in, for the next chunks. */
  #free: Buffer[] = [];
  #pumping = false;
  #again = false;
  chunksSent = 0;
  bytesSent = 0;

  constructor(options: UploaderOptions) {
    this.#o = options;
  }

  get active(): number {
    return this.#jobs.size;
  }

  /** Progress of every clip being uploaded. */
  progress(): { manifestHash: string; sentBytes: number; totalBytes: number }[] {
    return [...this.#jobs.values()].map((j) => ({ manifestHash: j.source.manifestHash, sentBytes: j.sentBytes, totalBytes: j.totalBytes }));
  }

  /**
   * The gateway needs these chunks ([start, end) ranges): queue them (replacing an earlier
   * request). `check`: the gateway refused a chunk; check each one before it leaves.
   */
  request(source: UploadSource, ranges: readonly { start: number; end: number }[], options: { check?: boolean } = {}): void {
    const count = source.chunkHashes.length;
    const wanted: number[] = [];
    for (const r of ranges) for (let i = Math.max(0, r.start); i < Math.min(count, r.end); i++) wanted.push(i);
    let job = this.#jobs.get(source.manifestHash);
    if (!job) {
      job = { source, pending: [], inFlight: new Set(), requested: 0, sentBytes: 0, totalBytes: 0, fh: null, failed: false, check: false };
      this.#jobs.set(source.manifestHash, job);
    }
    if (options.check) job.check = true;
    const unique = [...new Set(wanted)].filter((i) => !job.inFlight.has(i)).sort((a, b) => a - b);
    job.pending = unique;
    job.requested = unique.length + job.inFlight.size;
    job.totalBytes = [...unique, ...job.inFlight].reduce((n, i) => n + this.#chunkLength(source, i), 0);
    job.sentBytes = 0;
    if (job.requested === 0) this.#finish(job);
    else this.pump();
  }

  cancel(manifestHash: string): void {
    const job = this.#jobs.get(manifestHash);
    if (!job) return;
    job.failed = true;
    this.#close(job);
  }

  /** The connection was lost: chunks in flight go back to the queue. */
  reset(): void {
    for (const job of this.#jobs.values()) {
      job.pending = [...new Set([...job.inFlight, ...job.pending])].sort((a, b) => a - b);
      job.inFlight.clear();
    }
    this.#inFlight = 0;
  }

  #chunkLength(s: UploadSource, i: number): number {
    return Math.max(0, Math.min(s.chunkSize, s.byteLength - i * s.chunkSize));
  }

  /** Sends what the window allows. Safe to call at any time. */
  pump(): void {
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    void this.#pumpLoop().finally(() => {
      this.#pumping = false;
      if (this.#again) {
        this.#again = false;
        this.pump();
      }
    });
  }

  async #pumpLoop(): Promise<void> {
    while (this.#inFlight < this.#o.window && this.#o.canSend()) {
      const job = [...this.#jobs.values()].find((j) => !j.failed && j.pending.length > 0);
      if (!job) return;
      const index = job.pending.shift()!;
      // In flight from here: a PUBACK of another chunk that lands while this one is read must not
      // see the job as done.
      job.inFlight.add(index);
      this.#inFlight++;
      let payload: Buffer;
      try {
        payload = await this.#read(job, index);
      } catch (e) {
        job.inFlight.delete(index);
        this.#inFlight--;
        job.failed = true;
        this.#close(job);
        this.#o.onError(job.source.manifestHash, e as Error);
        continue;
      }
      if (!job.inFlight.has(index)) continue; // the connection was lost meanwhile: back in the queue
      if (job.failed) {
        // cancelled meanwhile
        job.inFlight.delete(index);
        this.#inFlight--;
        continue;
      }
      this.#o.publish(payload).then(
        () => {
          this.#recycle(payload);
          if (!job.inFlight.delete(index)) return; // reset by a lost connection meanwhile
          this.#inFlight--;
          const len = this.#chunkLength(job.source, index);
          job.sentBytes += len;
          this.chunksSent++;
          this.bytesSent += len;
          this.#o.onProgress?.(job.source.manifestHash, job.sentBytes, job.totalBytes);
          if (job.pending.length === 0 && job.inFlight.size === 0) this.#finish(job);
          this.pump();
        },
        () => {
          if (!job.inFlight.delete(index)) return;
          this.#inFlight--;
          job.pending.unshift(index); // sent again on the next connection
        },
      );
    }
  }

  /** A message buffer back from the broker (its PUBACK is in): kept for the next chunk. */
  #recycle(payload: Buffer): void {
    if (this.#free.length < this.#o.window) this.#free.push(Buffer.from(payload.buffer)); // frames own their ArrayBuffer
  }

  async #read(job: Job, index: number): Promise<Buffer> {
    const s = job.source;
    job.fh ??= await open(s.path, constants.O_RDONLY | constants.O_NOFOLLOW);
    const length = this.#chunkLength(s, index);
    const frame = chunkEnvelopeFrame(Buffer.from(s.manifestHash, 'hex'), index, length, this.#free.pop());
    const data = frame.data;
    let got = 0;
    while (got < length) {
      const { bytesRead } = await job.fh.read(data, got, length - got, index * s.chunkSize + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got !== length || (job.check && !bytesEqual(sha256(data), s.chunkHashes[index]!))) {
      throw new ChunkChangedError(`chunk ${index} of ${s.path} no longer matches the signed manifest (${got} of ${length} bytes read); not sent`);
    }
    return frame.bytes;
  }

  #finish(job: Job): void {
    this.#close(job);
    this.#o.onSent(job.source.manifestHash);
  }

  #close(job: Job): void {
    this.#jobs.delete(job.source.manifestHash);
    const fh = job.fh;
    job.fh = null;
    void fh?.close().catch(() => {});
  }

  async close(): Promise<void> {
    for (const job of [...this.#jobs.values()]) this.#close(job);
  }
}
