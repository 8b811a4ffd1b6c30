/**
 * The simulated camera records playable video (DESIGN §6, evidence is watched): the H.264 sample,
 * a `uuid` box naming the clip, and a `free` box of random bytes up to the scenario's size. Every
 * top-level box is well formed (ISO/IEC 14496-12 §4.2), the movie comes first, and no two clips
 * share a SHA-256. That the result plays (it advances and seeks) is shown in Chromium, in
 * test/dashboard.browser.test.ts.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CLIP_META_UUID, sampleVideo, videoClipLayout } from '../device/link/sim/clip-content.js';

/** The top-level boxes of an MP4: type and size, reading 32- and 64-bit sizes. */
function boxes(file: Buffer): { type: string; size: number; at: number }[] {
  const out: { type: string; size: number; at: number }[] = [];
  for (let at = 0; at < file.length; ) {
    let size = file.readUInt32BE(at);
    const type = file.toString('ascii', at + 4, at + 8);
    if (size === 1) size = Number(file.readBigUInt64BE(at + 8));
    if (size < 8 || at + size > file.length) throw new Error(`box ${type} at ${at} has a bad size ${size}`);
    out.push({ type, size, at });
    at += size;
  }
  return out;
}

const meta = { cameraSerial: 'CAM-1', clipId: 'c1', startedAtMs: Date.UTC(2026, 11, 5, 9, 0, 0) };
const build = (size: number | undefined): Buffer | null => {
  const layout = videoClipLayout(meta, size);
  return layout ? Buffer.concat([layout.head, Buffer.alloc(layout.randomTail, 7)]) : null;
};

describe("the simulated camera's video clips", () => {
  it('starts with the H.264 sample (ftyp, then moov before mdat), then a uuid box naming the clip', () => {
    const file = build(undefined)!;
    const types = boxes(file).map((b) => b.type);
    expect(types.slice(0, 2)).toEqual(['ftyp', 'moov']);
    expect(types).toContain('mdat');
    expect(types.at(-1)).toBe('uuid');
    const uuid = boxes(file).at(-1)!;
    expect(file.subarray(uuid.at + 8, uuid.at + 24).equals(CLIP_META_UUID)).toBe(true);
    expect(JSON.parse(file.subarray(uuid.at + 24, uuid.at + uuid.size).toString())).toMatchObject({
      camera: 'CAM-1',
      clip: 'c1',
      startedAt: '2026-12-05T09:00:00.000Z',
    });
    expect(file.subarray(0, sampleVideo().length).equals(sampleVideo())).toBe(true);
  });

  it.each([200_000, 3 * 1024 * 1024, sampleVideo().length + 200])('is exactly %d bytes when the scenario asks, padded in a free box', (size) => {
    const file = build(size)!;
    expect(file.length).toBe(size);
    const types = boxes(file).map((b) => b.type);
    expect(types.slice(-2)).toEqual(['uuid', 'free']);
  });

  it('writes a 64-bit free box when the padding reaches 4 GiB (the header only; nothing that large is allocated)', () => {
    const layout = videoClipLayout(meta, 5 * 1024 ** 3)!;
    const header = layout.head.subarray(layout.head.length - 16);
    expect(header.readUInt32BE(0)).toBe(1);
    expect(header.toString('ascii', 4, 8)).toBe('free');
    expect(Number(header.readBigUInt64BE(8)) + layout.head.length - 16).toBe(5 * 1024 ** 3);
  });

  it('falls back to random bytes when the size cannot hold the sample', () => {
    expect(videoClipLayout(meta, 1000)).toBeNull();
  });

  it('never gives two clips the same SHA-256', () => {
    const a = createHash('sha256').update(build(undefined)!).digest('hex');
    const b = createHash('sha256').update(build(undefined)!).digest('hex');
    expect(a).not.toBe(b);
  });
});
