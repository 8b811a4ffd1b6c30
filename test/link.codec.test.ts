import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../device/link/crc32.js';
import { cobsDecode, cobsEncode } from '../device/link/cobs.js';
import { decodeBlock, encodeFrame, FrameTooLargeError, MAX_ENCODED_FRAME, type LinkFrameInit } from '../device/link/frame-codec.js';
import { FrameDecoder, type LinkFrame } from '../device/link/framing.js';
import { pb } from '../proto/wire.js';

const h = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function decodeAll(chunks: Buffer[]): { frames: LinkFrame[]; decoder: FrameDecoder } {
  const decoder = new FrameDecoder();
  const frames: LinkFrame[] = [];
  decoder.on('data', (f: LinkFrame) => frames.push(f));
  for (const c of chunks) decoder.write(c);
  return { frames, decoder };
}

// One frame of every message kind, camera -> dock and dock -> camera.
const EVERY_MESSAGE: LinkFrameInit[] = [
  {
    seq: 1,
    hello: {
      cameraSerial: 'CAM-0042',
      model: 'X2',
      firmware: '1.4.2',
      sessionId: 77,
      cameraTimeMs: 1_763_820_000_000,
      storageMode: pb.StorageMode.STORAGE_MODE_MASS_STORAGE,
      storageLabel: 'CAM0042',
      linkVersion: 1,
      pendingEvents: 3,
      lastEventNo: 41,
    },
  },
  {
    seq: 2,
    eventNo: 42,
    cameraTimeMs: 1,
    recordingStarted: {
      clipId: 'c1',
      startedAtMs: 5,
      trigger: pb.TriggerSource.TRIGGER_SOURCE_HOLSTER,
      activity: 'at_large_arrest',
      method: pb.RecordingMethod.RECORDING_METHOD_VIDEO,
      preEventBufferS: 30,
      purposes: ['x'],
    },
  },
  { seq: 3, eventNo: 43, activityTagged: { clipId: 'c1', activity: 'investigatory_detention' } },
  { seq: 4, eventNo: 44, muted: { clipId: 'c1', reason: 'privileged conversation' } },
  { seq: 5, eventNo: 45, unmuted: { clipId: 'c1' } },
  { seq: 6, eventNo: 46, recordingStopped: { clipId: 'c1', reason: pb.StopReason.STOP_REASON_BUTTON } },
  { seq: 7, eventNo: 47, clipReady: { clipId: 'c1', path: 'DCIM/c1.mp4', size: 123_456_789, mediaType: 'video/mp4' } },
  { seq: 8, eventNo: 48, status: { batteryPct: 81, storageFreeBytes: 9e9, storageTotalBytes: 3.2e10, temperatureDc: -52, docked: true } },
  { seq: 9, eventNo: 49, tamper: { kind: pb.TamperKind.TAMPER_KIND_CASE_OPENED, detail: 'case switch' } },
  { seq: 10, eventNo: 50, clipReleased: { clipId: 'c1', sha256: Buffer.alloc(32, 1), freed: true } },
  { seq: 11, eventNo: 51, replayComplete: { lastEventNo: 51 } },
  { ack: { ackedSeq: 11 } },
  {
    seq: 1,
    timeSync: { dockTimeMs: 1_763_820_000_120, echoCameraTimeMs: 1_763_820_000_000, dockClockSynced: true, measuredOffsetMs: 120 },
  },
  {
    seq: 2,
    alert: {
      kind: pb.AlertKind.ALERT_KIND_PROHIBITED,
      clipId: 'c1',
      vibrate: { onOffMs: [200, 100], repeat: 3 },
      message: 'FIRST_AMENDMENT_ONLY',
    },
  },
  { seq: 3, releaseClip: { clipId: 'c1', sha256: Buffer.alloc(32, 2), byteLength: 123_456_789 } },
  { seq: 4, requestStatus: {} },
];

describe('CRC-32/IEEE and COBS against published vectors', () => {
  it('CRC-32 check value of "123456789" is 0xCBF43926', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
  });

  it.each([
    ['00', '01 01'],
    ['00 00', '01 01 01'],
    ['00 11 00', '01 02 11 01'],
    ['11 22 00 33', '03 11 22 02 33'],
    ['11 22 33 44', '05 11 22 33 44'],
    ['11 00 00 00', '02 11 01 01 01'],
  ])('COBS encodes %s as %s (Wikipedia examples)', (raw, enc) => {
    expect(cobsEncode(h(raw)).toString('hex')).toBe(h(enc).toString('hex'));
    expect(cobsDecode(h(enc))!.toString('hex')).toBe(h(raw).toString('hex'));
  });

  it('COBS handles 254- and 255-byte runs without zeros', () => {
    const run254 = Buffer.alloc(254, 0x01);
    expect(cobsEncode(run254)).toEqual(Buffer.concat([Buffer.from([0xff]), run254, Buffer.from([0x01])]));
    const run255 = Buffer.alloc(255, 0x02);
    const enc = cobsEncode(run255);
    expect(enc).toEqual(Buffer.concat([Buffer.from([0xff]), run255.subarray(0, 254), Buffer.from([0x02, 0x02])]));
    expect(cobsDecode(enc)).toEqual(run255);
  });

  it('COBS round-trips any bytes and never emits a zero', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (data) => {
        const enc = cobsEncode(data);
        expect(enc.includes(0)).toBe(false);
        expect(cobsDecode(enc)).toEqual(Buffer.from(data));
      }),
    );
  });
});

describe('BWC-Link v1 frames', () => {
  it.each(EVERY_MESSAGE.map((f) => [Object.keys(f).find((k) => !['seq', 'eventNo', 'cameraTimeMs'].includes(k))!, f] as const))(
    'round-trips %s',
    (_kind, frame) => {
      const bytes = encodeFrame(frame);
      expect(bytes.at(-1)).toBe(0);
      expect(bytes.subarray(0, -1).includes(0)).toBe(false);
      const { frames, decoder } = decodeAll([bytes]);
      expect(frames).toHaveLength(1);
      expect(pb.LinkFrame.encode(frames[0]!).finish()).toEqual(pb.LinkFrame.encode(frame).finish());
      expect(decoder.counters.framesOk).toBe(1);
    },
  );

  it('decodes frames split at every byte boundary', () => {
    const stream = Buffer.concat(EVERY_MESSAGE.map(encodeFrame));
    for (const size of [1, 2, 3, 7, 64, 1000]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < stream.length; i += size) chunks.push(stream.subarray(i, i + size));
      expect(decodeAll(chunks).frames).toHaveLength(EVERY_MESSAGE.length);
    }
  });

  it('refuses to encode a payload above 4096 bytes', () => {
    expect(() => encodeFrame({ seq: 1, muted: { clipId: 'c', reason: 'x'.repeat(4100) } })).toThrow(FrameTooLargeError);
    expect(encodeFrame({ seq: 1, muted: { clipId: 'c', reason: 'x'.repeat(4000) } }).length).toBeLessThanOrEqual(MAX_ENCODED_FRAME + 1);
  });

  it('counts and skips a bad CRC, then resynchronizes at the next delimiter', () => {
    const good = encodeFrame(EVERY_MESSAGE[1]!);
    const bad = Buffer.from(good);
    bad[5]! ^= 0x20;
    if (bad[5] === 0) bad[5] = 0x7e;
    const { frames, decoder } = decodeAll([bad, good]);
    expect(frames).toHaveLength(1);
    expect(decoder.counters.badCrc + decoder.counters.badCobs).toBe(1);
    expect(decoder.counters.resyncs).toBe(1);
  });

  it('counts an oversize run and holds no more than one frame of it', () => {
    const decoder = new FrameDecoder();
    const frames: LinkFrame[] = [];
    decoder.on('data', (f: LinkFrame) => frames.push(f));
    for (let i = 0; i < 100; i++) {
      decoder.write(Buffer.alloc(1000, 0x55));
      expect(decoder.buffered).toBeLessThanOrEqual(MAX_ENCODED_FRAME);
    }
    decoder.write(Buffer.from([0]));
    decoder.write(encodeFrame(EVERY_MESSAGE[2]!));
    expect(decoder.counters.oversize).toBe(1);
    expect(decoder.counters.bytesDiscarded).toBe(100_000);
    expect(frames).toHaveLength(1);
  });

  it('counts a valid-CRC payload that is not a LinkFrame as undecodable', () => {
    const payload = Buffer.from([0x0a, 0xff]); // field 1 as length-delimited: wrong wire type and truncated
    const block = Buffer.concat([payload, Buffer.alloc(4)]);
    block.writeUInt32LE(crc32(payload), payload.length);
    expect(decodeBlock(cobsEncode(block))).toMatchObject({ fault: 'UNDECODABLE' });
  });

  it('never throws on arbitrary bytes and never holds more than one frame', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 10 }), (chunks) => {
        const decoder = new FrameDecoder();
        decoder.on('data', () => {});
        for (const c of chunks) {
          decoder.write(Buffer.from(c));
          expect(decoder.buffered).toBeLessThanOrEqual(MAX_ENCODED_FRAME);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('recovers every valid frame, in order, from a stream interleaved with garbage', () => {
    const garbage = fc.uint8Array({ maxLength: 300 }).map((g) => Buffer.concat([Buffer.from(g), Buffer.from([0])]));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(garbage, fc.integer({ min: 0, max: EVERY_MESSAGE.length - 1 })), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 97 }),
        (parts, split) => {
          const stream = Buffer.concat(parts.flatMap(([g, i]) => [g, encodeFrame({ ...EVERY_MESSAGE[i]!, seq: 0 }), encodeFrame(EVERY_MESSAGE[i]!)]));
          const chunks: Buffer[] = [];
          for (let i = 0; i < stream.length; i += split) chunks.push(stream.subarray(i, i + split));
          const seqs = decodeAll(chunks)
            .frames.filter((f) => f.seq > 0 || f.ack)
            .map((f) => JSON.stringify(pb.LinkFrame.encode(f).finish()));
          const want = parts.map(([, i]) => JSON.stringify(pb.LinkFrame.encode(EVERY_MESSAGE[i]!).finish()));
          // Garbage can by chance form a valid frame with seq > 0 (CRC-32 makes that ~2^-32); the
          // ones we sent must all be there, in order.
          let at = 0;
          for (const s of seqs) if (s === want[at]) at++;
          expect(at).toBe(want.length);
        },
      ),
      { numRuns: 150 },
    );
  });
});
