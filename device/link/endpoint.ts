/**
 * BWC-Link v1 reliability, one end of a link (proto/README.md, "BWC-Link v1"). Both the dock and
 * a camera use it.
 *
 * Sending: every frame but a LinkAck gets the next `seq` of the session (from 1); up to `window`
 * frames are in flight; an unacked frame is resent, byte for byte, every `retransmitMs`, at most
 * `maxRetries` times; after that the link is reported down (`onLinkDown`) and the frames stay
 * pending for the next session: nothing is dropped.
 *
 * Receiving: frames are handed over in seq order, exactly once. A frame is acked only after the
 * handler has finished with it (its promise resolved), so an ack means "durably taken"; frames
 * after a gap wait (at most `window` of them) and are acked when their turn comes. Duplicates
 * (an already handled seq) are acked again and not delivered.
 *
 * A session is the seq space between two Hellos (dedupe key: session id, seq). Every frame carries
 * the session id; frames of any other session are ignored. `newSession(id)` resets both directions
 * and returns the frames never acked, for the caller to send again. Before the first session the
 * id is 0 and only frames of session 0 are taken.
 */
import { encodeFrame, type LinkFrame, type LinkFrameInit } from './frame-codec.js';
import { systemClock, type LinkClock } from './clock.js';

export interface EndpointCounters {
  /** Frames (and acks) of another session than the current one, ignored. */
  wrongSession: number;
  framesSent: number;
  retransmits: number;
  acksSent: number;
  acksReceived: number;
  duplicates: number;
  outOfOrder: number;
  staleAcks: number;
  handlerErrors: number;
  linkDowns: number;
}

export function newEndpointCounters(): EndpointCounters {
  return {
    wrongSession: 0,
    framesSent: 0,
    retransmits: 0,
    acksSent: 0,
    acksReceived: 0,
    duplicates: 0,
    outOfOrder: 0,
    staleAcks: 0,
    handlerErrors: 0,
    linkDowns: 0,
  };
}

/** A frame to send: everything but the seq, which the endpoint assigns. */
export type OutgoingFrame = Omit<LinkFrameInit, 'seq' | 'ack' | 'sessionId'>;

export interface EndpointOptions {
  /** Writes encoded bytes to the transport. */
  write(bytes: Buffer): void;
  /** Takes a delivered frame; the frame is acked when this returns or its promise resolves. */
  deliver(frame: LinkFrame): void | Promise<void>;
  onLinkDown?(reason: string): void;
  onHandlerError?(error: unknown, frame: LinkFrame): void;
  clock?: LinkClock;
  retransmitMs?: number;
  maxRetries?: number;
  window?: number;
  counters?: EndpointCounters;
}

interface InFlight {
  readonly seq: number;
  readonly frame: OutgoingFrame;
  readonly bytes: Buffer;
  sentAt: number;
  retries: number;
}

export class LinkEndpoint {
  readonly counters: EndpointCounters;
  readonly #o: Required<Pick<EndpointOptions, 'retransmitMs' | 'maxRetries' | 'window'>> & EndpointOptions;
  readonly #clock: LinkClock;
  #sessionId = 0;
  #nextSeq = 1;
  #inFlight = new Map<number, InFlight>();
  #queue: OutgoingFrame[] = [];
  #timer: unknown = null;
  #down = false;
  // receive side
  #nextExpected = 1;
  #handledUpTo = 0;
  #waiting = new Map<number, LinkFrame>();
  #busy = false;
  #closed = false;

  constructor(options: EndpointOptions) {
    this.#o = { retransmitMs: 250, maxRetries: 8, window: 8, ...options };
    this.#clock = options.clock ?? systemClock;
    this.counters = options.counters ?? newEndpointCounters();
  }

  /** Frames sent and not yet acked, plus those waiting for window space. */
  get pending(): number {
    return this.#inFlight.size + this.#queue.length;
  }

  get isDown(): boolean {
    return this.#down;
  }

  /** Queues a frame; returns at once. Throws FrameTooLargeError for a frame over 4096 bytes. */
  send(frame: OutgoingFrame): void {
    if (this.#closed) throw new Error('link endpoint is closed');
    encodeFrame({ ...frame, seq: 0xffffffff, sessionId: Number.MAX_SAFE_INTEGER }); // size check now, at the largest encoding
    this.#queue.push(frame);
    this.#pump();
  }

  #pump(): void {
    if (this.#down) return;
    while (this.#queue.length > 0 && this.#inFlight.size < this.#o.window) {
      const frame = this.#queue.shift()!;
      const seq = this.#nextSeq++;
      const bytes = encodeFrame({ ...frame, seq, sessionId: this.#sessionId });
      const f: InFlight = { seq, frame, bytes, sentAt: this.#clock.now(), retries: 0 };
      this.#inFlight.set(seq, f);
      this.counters.framesSent++;
      this.#o.write(bytes);
    }
    this.#arm();
  }

  #arm(): void {
    if (this.#timer !== null || this.#inFlight.size === 0 || this.#closed) return;
    this.#timer = this.#clock.setTimeout(() => this.#onTimer(), this.#o.retransmitMs);
  }

  #onTimer(): void {
    this.#timer = null;
    if (this.#down || this.#closed) return;
    const now = this.#clock.now();
    for (const f of this.#inFlight.values()) {
      if (now - f.sentAt < this.#o.retransmitMs) continue;
      if (f.retries >= this.#o.maxRetries) {
        this.#down = true;
        this.counters.linkDowns++;
        this.#o.onLinkDown?.(`frame seq ${f.seq} unacked after ${f.retries} retransmissions`);
        return;
      }
      f.retries++;
      f.sentAt = now;
      this.counters.retransmits++;
      this.#o.write(f.bytes);
    }
    this.#arm();
  }

  /** Takes a frame from the decoder. */
  receive(frame: LinkFrame): void {
    if (this.#closed) return;
    if (frame.sessionId !== this.#sessionId) {
      this.counters.wrongSession++;
      return;
    }
    if (frame.ack) {
      const f = this.#inFlight.get(frame.ack.ackedSeq ?? 0);
      if (!f) {
        this.counters.staleAcks++;
        return;
      }
      this.counters.acksReceived++;
      this.#inFlight.delete(f.seq);
      if (this.#inFlight.size === 0 && this.#timer !== null) {
        this.#clock.clearTimeout(this.#timer);
        this.#timer = null;
      }
      this.#pump();
      return;
    }
    const seq = frame.seq;
    if (!seq) return; // a sequenced frame without seq is malformed; the decoder side counts those
    if (seq <= this.#handledUpTo) {
      this.counters.duplicates++;
      this.#ack(seq);
      return;
    }
    if (this.#waiting.has(seq) || seq < this.#nextExpected) {
      this.counters.duplicates++; // being handled or already waiting; acked when done
      void this.#drain(); // a handler that failed gets its retry with the resent frame
      return;
    }
    if (seq >= this.#nextExpected + this.#o.window) return; // beyond the window: the sender resends
    if (seq !== this.#nextExpected) this.counters.outOfOrder++;
    this.#waiting.set(seq, frame);
    void this.#drain();
  }

  async #drain(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      for (;;) {
        const frame = this.#waiting.get(this.#nextExpected);
        if (!frame || this.#closed) break;
        const session = this.#session;
        try {
          await this.#o.deliver(frame);
        } catch (e) {
          this.counters.handlerErrors++;
          this.#o.onHandlerError?.(e, frame);
          break; // not acked: the sender resends and the handler gets another chance
        }
        if (session !== this.#session) break; // a new session began meanwhile
        this.#waiting.delete(this.#nextExpected);
        this.#handledUpTo = this.#nextExpected;
        this.#nextExpected++;
        this.#ack(frame.seq);
      }
    } finally {
      this.#busy = false;
    }
  }

  #session = 0;

  #ack(seq: number): void {
    this.counters.acksSent++;
    this.#o.write(encodeFrame({ ack: { ackedSeq: seq }, sessionId: this.#sessionId }));
  }

  /**
   * Starts a new session in both directions (after a Hello, or a reconnect): seq spaces restart at
   * 1, and every frame never acked is returned, in order, for the caller to send again.
   */
  newSession(sessionId: number): OutgoingFrame[] {
    const unacked = [...this.#inFlight.values()].sort((a, b) => a.seq - b.seq).map((f) => f.frame);
    const pending = [...unacked, ...this.#queue];
    this.#inFlight.clear();
    this.#queue = [];
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#sessionId = sessionId;
    this.#nextSeq = 1;
    this.#down = false;
    this.#nextExpected = 1;
    this.#handledUpTo = 0;
    this.#waiting.clear();
    this.#session++;
    return pending;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
  }
}
