import { describe, expect, it } from 'vitest';
import { FakeClock } from '../device/link/clock.js';
import { LinkEndpoint, type OutgoingFrame } from '../device/link/endpoint.js';
import { FrameDecoder, type LinkFrame } from '../device/link/framing.js';

/** Two endpoints joined by a channel the test controls: it may drop, duplicate or hold bytes. */
function pair(options: {
  clock: FakeClock;
  filter?: (dir: 'ab' | 'ba', bytes: Buffer, n: number) => Buffer[];
  deliverB?: (f: LinkFrame) => void | Promise<void>;
}) {
  const got: LinkFrame[] = [];
  const downs: string[] = [];
  let n = 0;
  const decoders = { a: new FrameDecoder(), b: new FrameDecoder() };
  const a: LinkEndpoint = new LinkEndpoint({
    clock: options.clock,
    retransmitMs: 100,
    maxRetries: 5,
    window: 4,
    write: (bytes) => {
      for (const out of options.filter?.('ab', bytes, n++) ?? [bytes]) decoders.b.write(out);
    },
    deliver: () => {},
    onLinkDown: (r) => downs.push(r),
  });
  const b: LinkEndpoint = new LinkEndpoint({
    clock: options.clock,
    retransmitMs: 100,
    maxRetries: 5,
    window: 4,
    write: (bytes) => {
      for (const out of options.filter?.('ba', bytes, n++) ?? [bytes]) decoders.a.write(out);
    },
    deliver:
      options.deliverB ??
      ((f) => {
        got.push(f);
      }),
  });
  decoders.a.on('data', (f: LinkFrame) => a.receive(f));
  decoders.b.on('data', (f: LinkFrame) => b.receive(f));
  return { a, b, got, downs, decoders };
}

const event = (i: number): OutgoingFrame => ({ eventNo: i, muted: { clipId: `c${i}`, reason: 'r' } });
const flush = () => new Promise((r) => setImmediate(r));

describe('BWC-Link reliability: seq, ack, retransmit, dedupe', () => {
  it('delivers every frame once and in order on a clean line', async () => {
    const clock = new FakeClock();
    const { a, b, got } = pair({ clock });
    for (let i = 1; i <= 20; i++) a.send(event(i));
    for (let i = 0; i < 20; i++) {
      await flush();
      clock.advance(10);
    }
    expect(got.map((f) => f.eventNo)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(got.map((f) => f.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(a.pending).toBe(0);
    expect(a.counters.retransmits).toBe(0);
    expect(b.counters.acksSent).toBe(20);
  });

  it('retransmits a lost frame and still delivers in order, once', async () => {
    const clock = new FakeClock();
    const dropped = new Set<number>();
    const { a, b, got } = pair({
      clock,
      filter: (dir, bytes, n) => {
        if (dir !== 'ab' || (n !== 1 && n !== 4) || dropped.has(n)) return [bytes];
        dropped.add(n);
        return [];
      },
    });
    for (let i = 1; i <= 6; i++) a.send(event(i));
    for (let i = 0; i < 40; i++) {
      await flush();
      clock.advance(25);
    }
    expect(got.map((f) => f.eventNo)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(a.counters.retransmits).toBeGreaterThanOrEqual(2);
    expect(b.counters.outOfOrder).toBeGreaterThan(0);
    expect(a.pending).toBe(0);
  });

  it('delivers a duplicated frame once, and acks a late duplicate again', async () => {
    const clock = new FakeClock();
    const sent: Buffer[] = [];
    const { a, b, got, decoders } = pair({
      clock,
      filter: (dir, bytes) => {
        if (dir !== 'ab') return [bytes];
        sent.push(bytes);
        return [bytes, bytes, bytes];
      },
    });
    for (let i = 1; i <= 5; i++) a.send(event(i));
    for (let i = 0; i < 10; i++) {
      await flush();
      clock.advance(10);
    }
    expect(got).toHaveLength(5);
    expect(b.counters.duplicates).toBe(10);
    const acks = b.counters.acksSent;
    decoders.b.write(sent[0]!); // a retransmission that crossed its ack
    await flush();
    expect(got).toHaveLength(5);
    expect(b.counters.acksSent).toBe(acks + 1);
    expect(a.counters.staleAcks).toBe(1);
  });

  it('acks only after the handler has finished, so a crash before that loses nothing', async () => {
    const clock = new FakeClock();
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const { a, got } = pair({
      clock,
      deliverB: async (f) => {
        await gate;
        got.push(f);
      },
    });
    a.send(event(1));
    for (let i = 0; i < 3; i++) {
      await flush();
      clock.advance(50);
    }
    expect(a.pending).toBe(1); // still unacked while the handler works
    release();
    for (let i = 0; i < 3; i++) {
      await flush();
      clock.advance(10);
    }
    expect(got).toHaveLength(1);
    expect(a.pending).toBe(0);
  });

  it('retries a frame whose handler failed when the sender resends it', async () => {
    const clock = new FakeClock();
    let failures = 1;
    const got: number[] = [];
    const { a, b } = pair({
      clock,
      deliverB: (f) => {
        if (failures-- > 0) throw new Error('disk busy');
        got.push(f.eventNo);
      },
    });
    a.send(event(1));
    a.send(event(2));
    for (let i = 0; i < 20; i++) {
      await flush();
      clock.advance(30);
    }
    expect(got).toEqual([1, 2]);
    expect(b.counters.handlerErrors).toBe(1);
  });

  it('reports the link down after the retry bound and keeps the frames for the next session', async () => {
    const clock = new FakeClock();
    const { a, downs } = pair({ clock, filter: (dir, bytes) => (dir === 'ab' ? [] : [bytes]) });
    for (let i = 1; i <= 6; i++) a.send(event(i));
    for (let i = 0; i < 20; i++) {
      await flush();
      clock.advance(100);
    }
    expect(downs).toHaveLength(1);
    expect(a.counters.retransmits).toBe(5 * 4); // window 4, five retries each
    const pending = a.newSession(0);
    expect(pending.map((f) => f.eventNo)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(a.isDown).toBe(false);
  });

  it('ignores frames and acks of another session, so a lost Hello never turns seqs into false duplicates', async () => {
    const clock = new FakeClock();
    const { a, b, got } = pair({ clock });
    a.newSession(5);
    b.newSession(5);
    for (let i = 1; i <= 4; i++) a.send(event(i));
    for (let i = 0; i < 5; i++) {
      await flush();
      clock.advance(10);
    }
    expect(got).toHaveLength(4);
    // The sender starts session 6 (its Hello lost on the way): b, still in 5, must not ack seq 1..4 as duplicates.
    a.newSession(6);
    for (let i = 5; i <= 8; i++) a.send(event(i));
    for (let i = 0; i < 3; i++) {
      await flush();
      clock.advance(50);
    }
    expect(got).toHaveLength(4);
    expect(b.counters.wrongSession).toBeGreaterThan(0);
    expect(a.pending).toBe(4);
    b.newSession(6); // the Hello got through
    for (let i = 0; i < 10; i++) {
      await flush();
      clock.advance(50);
    }
    expect(got.map((f) => f.eventNo)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(a.pending).toBe(0);
  });

  it('bounds the frames in flight by the window', () => {
    const clock = new FakeClock();
    const writes: Buffer[] = [];
    const e = new LinkEndpoint({ clock, window: 3, write: (b) => writes.push(b), deliver: () => {} });
    for (let i = 1; i <= 10; i++) e.send(event(i));
    expect(writes).toHaveLength(3);
    expect(e.pending).toBe(10);
  });
});
