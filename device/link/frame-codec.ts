/**
 * BWC-Link v1 frame codec, pure (proto/README.md, "BWC-Link v1"):
 *
 *   wire frame = COBS(payload || CRC-32/IEEE(payload) little-endian) 0x00
 *   payload    = protobuf LinkFrame, at most 4096 bytes
 */
import { pb, type bwc } from '../../proto/wire.js';
import { crc32 } from './crc32.js';
import { cobsDecode, cobsEncode, cobsMaxEncodedLength } from './cobs.js';

export type LinkFrame = bwc.v1.LinkFrame;
export type LinkFrameInit = bwc.v1.LinkFrame.$Properties;

export const MAX_PAYLOAD = 4096;
/** The longest COBS block a valid frame can produce, without its delimiter. */
export const MAX_ENCODED_FRAME = cobsMaxEncodedLength(MAX_PAYLOAD + 4);

export class FrameTooLargeError extends Error {
  constructor(readonly size: number) {
    super(`LinkFrame payload is ${size} bytes, above the ${MAX_PAYLOAD}-byte limit`);
    this.name = 'FrameTooLargeError';
  }
}

/** Encodes a frame for the wire, delimiter included. Throws FrameTooLargeError. */
export function encodeFrame(frame: LinkFrameInit): Buffer {
  const payload = pb.LinkFrame.encode(frame).finish();
  if (payload.length > MAX_PAYLOAD) throw new FrameTooLargeError(payload.length);
  const block = Buffer.allocUnsafe(payload.length + 4);
  block.set(payload, 0);
  block.writeUInt32LE(crc32(payload), payload.length);
  return Buffer.concat([cobsEncode(block), Buffer.from([0])]);
}

export type FrameFault = 'BAD_COBS' | 'BAD_CRC' | 'OVERSIZE' | 'UNDECODABLE';

export type DecodedBlock = { readonly frame: LinkFrame } | { readonly fault: FrameFault; readonly detail: string };

/** Decodes one block between delimiters. Never throws. */
export function decodeBlock(block: Uint8Array): DecodedBlock {
  if (block.length > MAX_ENCODED_FRAME) return { fault: 'OVERSIZE', detail: `${block.length}-byte block` };
  const raw = cobsDecode(block);
  if (!raw || raw.length < 4) return { fault: 'BAD_COBS', detail: raw ? 'shorter than a CRC' : 'malformed COBS' };
  const payload = raw.subarray(0, raw.length - 4);
  if (payload.length > MAX_PAYLOAD) return { fault: 'OVERSIZE', detail: `${payload.length}-byte payload` };
  const want = raw.readUInt32LE(raw.length - 4);
  if (crc32(payload) !== want) return { fault: 'BAD_CRC', detail: 'CRC-32 mismatch' };
  try {
    return { frame: pb.LinkFrame.decode(payload) };
  } catch (e) {
    return { fault: 'UNDECODABLE', detail: (e as Error).message };
  }
}
