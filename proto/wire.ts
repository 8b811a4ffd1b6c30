/**
 * The generated protobuf code, configured for the one 64-bit representation of the contract:
 * every int64/uint64/sint64/fixed64 is a JavaScript `number`, and a value above 2^53-1 (or below
 * -(2^53-1)) is refused when decoding, so no time, length or seq is ever silently rounded
 * (proto/README.md, "64-bit integers").
 *
 * Import the messages from here, never from ./gen directly: this module installs the check.
 */
import $protobuf from 'protobufjs/minimal.js';
import { bwc } from './gen/bwc.js';

export class IntegerRangeError extends RangeError {
  constructor(value: number) {
    super(`64-bit integer ${value} is outside the range the contract allows (±(2^53-1))`);
    this.name = 'IntegerRangeError';
  }
}

interface LongBitsLike {
  toNumber(unsigned?: boolean): number;
}
const LongBits = ($protobuf as unknown as { util: { LongBits: { prototype: LongBitsLike & { toLong: unknown } } } }).util.LongBits;

// The generated decoders call reader.uint64() & co., which end in LongBits#toLong (protobufjs picks
// toLong whenever the `long` package is present, which it always is as its dependency). Returning
// a range-checked number here makes every 64-bit field a number.
LongBits.prototype.toLong = function toSafeNumber(this: LongBitsLike, unsigned?: boolean): number {
  const n = this.toNumber(unsigned);
  if (!Number.isSafeInteger(n)) throw new IntegerRangeError(n);
  return n;
};

// The generated classes put a Long zero on the prototype as the default of unset 64-bit fields
// (decoders delete zero-valued fields, so reads fall through to it). Make those defaults the
// number 0, so an unset field reads as a number like every other.
function isLongLike(v: unknown): boolean {
  return typeof v === 'object' && v !== null && 'low' in v && 'high' in v && 'unsigned' in v;
}
for (const ctor of Object.values(bwc.v1) as unknown[]) {
  if (typeof ctor !== 'function') continue;
  const proto = (ctor as { prototype: Record<string, unknown> }).prototype;
  for (const key of Object.keys(proto)) if (isLongLike(proto[key])) proto[key] = 0;
}

export const pb = bwc.v1;
export type { bwc };

/** Message names that may appear in Envelope.type. */
export const MESSAGE_TYPES = [
  'Birth',
  'Death',
  'Status',
  'Event',
  'ClipManifest',
  'ClipChunk',
  'Log',
  'EnrollmentRequest',
  'EnrollmentResponse',
  'Ack',
  'Command',
  'PolicyBundle',
  'AuthorizationGrant',
  'Revocation',
  'OperationPlan',
  'CameraAssignments',
  'GatewayCertificate',
  'AuditCheckpoint',
  'Keyring',
] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];
