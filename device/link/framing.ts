/**
 * BWC-Link v1 framing as streams: FrameDecoder turns bytes into LinkFrames, FrameEncoder turns
 * LinkFrames into bytes. The decoder holds at most one maximum-size frame, counts and skips
 * every bad block (bad COBS, bad CRC, oversize, undecodable), resynchronizes at the next 0x00 and
 * never throws.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { decodeBlock, encodeFrame, FrameTooLargeError, MAX_ENCODED_FRAME, type FrameFault, type LinkFrame, type LinkFrameInit } from './frame-codec.js';

export interface DecoderCounters {
  framesOk: number;
  badCobs: number;
  badCrc: number;
  oversize: number;
  undecodable: number;
  /** Times the decoder skipped to the next delimiter after a bad block. */
  resyncs: number;
  bytesDiscarded: number;
}

export function newDecoderCounters(): DecoderCounters {
  return { framesOk: 0, badCobs: 0, badCrc: 0, oversize: 0, undecodable: 0, resyncs: 0, bytesDiscarded: 0 };
}

export interface FaultInfo {
  readonly fault: FrameFault;
  readonly detail: string;
  readonly bytes: number;
}

const COUNTER: Record<FrameFault, keyof DecoderCounters> = {
  BAD_COBS: 'badCobs',
  BAD_CRC: 'badCrc',
  OVERSIZE: 'oversize',
  UNDECODABLE: 'undecodable',
};

export class FrameDecoder extends Transform {
  readonly counters: DecoderCounters;
  readonly #buf = Buffer.allocUnsafe(MAX_ENCODED_FRAME);
  #len = 0;
  #overflow = 0;
  readonly #onFault: ((f: FaultInfo) => void) | undefined;

  constructor(options: { counters?: DecoderCounters; onFault?: (f: FaultInfo) => void } = {}) {
    super({ readableObjectMode: true });
    this.counters = options.counters ?? newDecoderCounters();
    this.#onFault = options.onFault;
  }

  /** Bytes held while waiting for a delimiter; never more than one maximum-size frame. */
  get buffered(): number {
    return this.#len;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let start = 0;
    while (start < chunk.length) {
      const zero = chunk.indexOf(0, start);
      const end = zero === -1 ? chunk.length : zero;
      this.#collect(chunk, start, end);
      if (zero === -1) break;
      this.#endBlock();
      start = zero + 1;
    }
    done();
  }

  #collect(chunk: Buffer, start: number, end: number): void {
    const n = end - start;
    if (n === 0) return;
    if (this.#overflow > 0 || this.#len + n > this.#buf.length) {
      this.#overflow += this.#len + n;
      this.#len = 0;
      return;
    }
    chunk.copy(this.#buf, this.#len, start, end);
    this.#len += n;
  }

  #endBlock(): void {
    if (this.#overflow > 0) {
      this.#fault({ fault: 'OVERSIZE', detail: `block longer than ${MAX_ENCODED_FRAME} bytes`, bytes: this.#overflow });
      this.#overflow = 0;
      return;
    }
    if (this.#len === 0) return; // back-to-back delimiters: idle filler, not an error
    const decoded = decodeBlock(this.#buf.subarray(0, this.#len));
    const bytes = this.#len;
    this.#len = 0;
    if ('fault' in decoded) {
      this.#fault({ ...decoded, bytes });
      return;
    }
    this.counters.framesOk++;
    this.push(decoded.frame);
  }

  #fault(info: FaultInfo): void {
    this.counters[COUNTER[info.fault]]++;
    this.counters.resyncs++;
    this.counters.bytesDiscarded += info.bytes;
    this.#onFault?.(info);
  }

  override _flush(done: TransformCallback): void {
    if (this.#len > 0 || this.#overflow > 0) {
      this.#fault({ fault: 'BAD_COBS', detail: 'stream ended inside a frame', bytes: this.#len + this.#overflow });
      this.#len = 0;
      this.#overflow = 0;
    }
    done();
  }
}

export class FrameEncoder extends Transform {
  /** Frames refused because their payload exceeds 4096 bytes. */
  refused = 0;

  constructor() {
    super({ writableObjectMode: true });
  }

  override _transform(frame: LinkFrameInit, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      done(null, encodeFrame(frame));
    } catch (e) {
      if (e instanceof FrameTooLargeError) {
        this.refused++;
        this.emit('refused', e);
        done();
      } else done(e as Error);
    }
  }
}

export type { LinkFrame, LinkFrameInit };
