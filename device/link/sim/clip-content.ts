/**
 * What a simulated camera records: real, playable video by default (DESIGN §6, evidence is
 * watched). The footage is one short H.264-in-MP4 sample (`assets/sample-h264.mp4`: 4 s, 320×240,
 * a test pattern captioned "bwc-companion SIM CAMERA" with a running timecode), recorded once with
 * Debian's ffmpeg (the command is in device/link/README.md), so `npm start` needs no ffmpeg.
 *
 * Each clip is made unique, and sized as the scenario asks, with boxes a player skips after the
 * movie (ISO/IEC 14496-12 §4.2: boxes of unknown type are ignored; `moov` comes first in the
 * sample, so nothing after `mdat` moves an offset):
 * - a `uuid` box with the camera serial, the clip id, the recording's start and a random nonce, as
 *   JSON (so every clip's SHA-256 differs);
 * - a `free` box of random bytes up to the scenario's size (a large clip for the benchmarks and the
 *   chunked upload stays large, and still plays).
 * A size too small to hold the sample gives random bytes instead, as does `content: random`.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** The extended type of the metadata box: "bwc-sim-clip-met" in ASCII. */
export const CLIP_META_UUID = Buffer.from('bwc-sim-clip-met', 'ascii');

let sample: Buffer | null = null;

/** The sample footage, read once. */
export function sampleVideo(): Buffer {
  sample ??= readFileSync(new URL('./assets/sample-h264.mp4', import.meta.url));
  return sample;
}

export interface ClipMeta {
  readonly cameraSerial: string;
  readonly clipId: string;
  readonly startedAtMs: number;
}

/** A box header: 8 bytes, or 16 with a 64-bit size when the box is 4 GiB or more. */
function boxHeader(type: string, size: number): Buffer {
  if (size < 2 ** 32) {
    const h = Buffer.alloc(8);
    h.writeUInt32BE(size, 0);
    h.write(type, 4, 'ascii');
    return h;
  }
  const h = Buffer.alloc(16);
  h.writeUInt32BE(1, 0);
  h.write(type, 4, 'ascii');
  h.writeBigUInt64BE(BigInt(size), 8);
  return h;
}

/** The `uuid` box naming the clip. */
export function clipMetaBox(meta: ClipMeta): Buffer {
  const json = Buffer.from(
    JSON.stringify({
      camera: meta.cameraSerial,
      clip: meta.clipId,
      startedAt: new Date(meta.startedAtMs).toISOString(),
      nonce: randomBytes(16).toString('hex'),
    }),
  );
  return Buffer.concat([boxHeader('uuid', 8 + 16 + json.length), CLIP_META_UUID, json]);
}

/**
 * How to lay out a video clip of `size` bytes (undefined: as small as it comes): the bytes to write
 * first, then how many random bytes follow inside the `free` box (its header included in `head`).
 * Null when `size` cannot hold the sample: the caller writes random bytes.
 */
export function videoClipLayout(meta: ClipMeta, size: number | undefined): { head: Buffer; randomTail: number } | null {
  const movie = Buffer.concat([sampleVideo(), clipMetaBox(meta)]);
  if (size === undefined) return { head: movie, randomTail: 0 };
  const pad = size - movie.length;
  if (pad === 0) return { head: movie, randomTail: 0 };
  if (pad < 8) return null;
  const header = boxHeader('free', pad);
  if (header.length > pad) return null;
  return { head: Buffer.concat([movie, header]), randomTail: pad - header.length };
}
