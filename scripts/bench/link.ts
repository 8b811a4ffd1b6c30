/**
 * `npm run bench -- link`: the camera link.
 *
 * 1. Event latency over a real pty pair (socat): from the camera's send() to the dock's onEvent,
 *    one event at a time, 2,000 events; p50 and p99 against the 5 ms limit, and beside the raw pty
 *    (the same frame bytes written on one end, read on the other, no codec, no acks), in the notes.
 * 2. Decoding throughput: FrameDecoder (COBS, CRC-32, protobuf, counters) on a buffer of frames,
 *    against bare LinkFrame.decode of the same payloads.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { pb } from '../../proto/wire.js';
import { CameraLink } from '../../device/link/camera-link.js';
import { LinkEndpoint } from '../../device/link/endpoint.js';
import { FrameDecoder, type LinkFrame } from '../../device/link/framing.js';
import { encodeFrame } from '../../device/link/frame-codec.js';
import { closeTransport, serialLinkPort } from '../../device/link/transport.js';
import { BenchCheckError, calibrate, interleave, limitRow, now, quantile, row, timeLoop, type Benchmark } from './harness.js';

const EVENTS = 2000;
const LIMIT_MS = 5;

async function ptyPair(dir: string): Promise<{ cam: string; dock: string; proc: ChildProcess }> {
  const cam = join(dir, 'cam');
  const dock = join(dir, 'dock');
  const proc = spawn('socat', [`pty,rawer,link=${cam}`, `pty,rawer,link=${dock}`], { stdio: 'ignore' });
  proc.on('error', () => {});
  for (let i = 0; i < 200 && !(existsSync(cam) && existsSync(dock)); i++) await new Promise((r) => setTimeout(r, 10));
  if (!existsSync(cam) || !existsSync(dock)) throw new BenchCheckError('socat did not create a pty pair (is socat installed?)');
  return { cam, dock, proc };
}

const statusFrame = (i: number) => ({
  eventNo: i,
  cameraTimeMs: Date.now(),
  status: { batteryPct: i % 100, storageFreeBytes: 9e9, docked: true },
});

async function latency(cam: Duplex, dock: Duplex): Promise<{ ours: number[]; raw: number[] }> {
  // Ours: camera endpoint -> pty -> dock CameraLink -> onEvent (acked back over the pty).
  let resolveEvent: (() => void) | null = null;
  const link = new CameraLink({
    transport: dock,
    onEvent: () => {
      resolveEvent?.();
    },
  }).start();
  const camDecoder = new FrameDecoder();
  const camera = new LinkEndpoint({ write: (b) => cam.write(b), deliver: () => {} });
  cam.on('data', (c: Buffer) => camDecoder.write(c));
  camDecoder.on('data', (f: LinkFrame) => camera.receive(f));
  camera.newSession(42);
  const connected = new Promise<void>((r) => link.once('connected', () => r()));
  camera.send({ hello: { cameraSerial: 'BENCH', sessionId: 42, cameraTimeMs: Date.now(), linkVersion: 1 } });
  await connected;
  const ours: number[] = [];
  for (let i = 1; i <= EVENTS; i++) {
    const arrived = new Promise<void>((r) => {
      resolveEvent = r;
    });
    const t0 = now();
    camera.send(statusFrame(i));
    await arrived;
    ours.push(now() - t0);
  }
  await new Promise((r) => setImmediate(r)); // the link counts an event after its handler returns
  if (link.counters.eventsDelivered !== EVENTS) throw new BenchCheckError(`${link.counters.eventsDelivered} of ${EVENTS} events delivered`);
  camera.close();
  cam.removeAllListeners('data');
  dock.removeAllListeners('data');
  dock.on('error', () => {});

  // Raw: the same frame bytes across the pty, whole frame received, nothing else.
  const raw: number[] = [];
  const bytes = encodeFrame({ ...statusFrame(1), seq: 1, sessionId: 42 });
  let got = 0;
  let done: (() => void) | null = null;
  dock.on('data', (c: Buffer) => {
    got += c.length;
    if (got >= bytes.length) done?.();
  });
  for (let i = 0; i < EVENTS; i++) {
    got = 0;
    const arrived = new Promise<void>((r) => {
      done = r;
    });
    const t0 = now();
    cam.write(bytes);
    await arrived;
    raw.push(now() - t0);
  }
  return { ours, raw };
}

export const link: Benchmark = {
  name: 'link',
  summary: 'camera event latency over a pty (p99 < 5 ms) beside the raw pty, and frame decoding throughput',
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), 'bwc-bench-link-'));
    const pty = await ptyPair(dir);
    let lat;
    try {
      const cam = await serialLinkPort(pty.cam).open();
      const dock = await serialLinkPort(pty.dock).open();
      cam.on('error', () => {});
      dock.on('error', () => {});
      ctx.progress(`link: ${EVENTS} events one at a time over a socat pty pair, then the same bytes raw…`);
      lat = await latency(cam, dock);
      await closeTransport(cam);
      await closeTransport(dock);
    } finally {
      pty.proc.kill();
      rmSync(dir, { recursive: true, force: true });
    }

    ctx.progress('link: decoding throughput…');
    const frames = Array.from({ length: 1000 }, (_, i) => encodeFrame({ ...statusFrame(i + 1), seq: i + 1, sessionId: 42 }));
    const stream = Buffer.concat(frames);
    const payloads = Array.from({ length: 1000 }, (_, i) => pb.LinkFrame.encode({ ...statusFrame(i + 1), seq: i + 1, sessionId: 42 }).finish());
    let decoded = 0;
    const ours = () => {
      const d = new FrameDecoder();
      d.on('data', () => {
        decoded++;
      });
      d.write(stream);
    };
    const bare = () => {
      for (const p of payloads) if (pb.LinkFrame.decode(p).seq) decoded++;
    };
    ours();
    if (decoded !== 1000) throw new BenchCheckError(`the decoder recovered ${decoded} of 1000 frames`);
    const iterations = calibrate(bare, 300);
    const result = await interleave(
      [
        { name: 'ours', round: () => timeLoop(iterations, ours) },
        { name: 'bare', round: () => timeLoop(iterations, bare) },
      ],
      5,
    );
    const perSec = (ms: number) => (iterations * 1000) / (ms / 1000);
    const p = (xs: number[], q: number) => quantile(xs, q);
    return {
      rows: [
        limitRow('event latency p99 over a pty (camera send → dock event)', p(lat.ours, 0.99), LIMIT_MS, 'ms'),
        row('decode frames (COBS+CRC+protobuf) vs bare LinkFrame.decode', perSec(result.best.ours!), perSec(result.best.bare!), 'frames/s', null),
      ],
      notes: [
        `${EVENTS} events; ours p50 ${p(lat.ours, 0.5).toFixed(3)} ms, p99 ${p(lat.ours, 0.99).toFixed(3)} ms, max ${Math.max(...lat.ours).toFixed(3)} ms; raw pty p50 ${p(lat.raw, 0.5).toFixed(3)} ms, p99 ${p(lat.raw, 0.99).toFixed(3)} ms`,
        'the latency row is lower-is-better: its ratio is limit / p99, so ≥ 1.00× is within the 5 ms limit',
      ],
      details: { events: EVENTS, oursMs: lat.ours, rawMs: lat.raw, decodeRoundsMs: result.times },
    };
  },
};
