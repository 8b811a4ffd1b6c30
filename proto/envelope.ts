/**
 * Signed envelopes (proto/README.md, "Envelope").
 *
 *   signed input = utf8("bwc/v1/" + type + "\n") || body
 *   sig          = Ed25519(signed input)
 *   message hash = SHA-256(signed input)   (never of the envelope: signatures are malleable)
 *
 * The verifier checks the bytes it received; nothing is re-encoded before verifying.
 */
import protobuf from 'protobufjs/minimal.js';
import { pb, MESSAGE_TYPES, type MessageType } from './wire.js';
import { WireError } from './errors.js';
import { bytesEqual, sha256, toHex } from './bytes.js';
import { verifyStrict, type TrustedKey } from './ed25519.js';

/** Anything that can sign: the dock's tweetnacl key, the gateway's key, an offline signer. */
export interface Signer {
  readonly keyId: string;
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

/** Default cap on an envelope read from the network or a file. Manifests of very long clips fit. */
export const MAX_ENVELOPE_BYTES = 8 * 1024 * 1024;

const TYPE_RE = /^[A-Z][A-Za-z0-9]{0,63}$/;
const KEY_ID_RE = /^[0-9a-f]{64}$/;

export function signedInput(type: string, body: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`bwc/v1/${type}\n`, 'utf8'), body]);
}

export interface SealedEnvelope {
  /** The encoded Envelope: what goes on the wire or into a file. */
  readonly bytes: Uint8Array;
  /** SHA-256 of the signed input. */
  readonly hash: Buffer;
}

/** Signs `body` (an encoded inner message of `type`) and encodes the Envelope. */
export function sealEnvelope(type: MessageType, body: Uint8Array, signer: Signer): SealedEnvelope {
  const input = signedInput(type, body);
  const sig = signer.sign(input);
  const bytes = pb.Envelope.encode({ type, body, keyId: signer.keyId, sig }).finish();
  let hash: Buffer | null = null;
  // Computed on first use: a gateway signing thousands of acks a second never reads it.
  return {
    bytes,
    get hash() {
      return (hash ??= sha256(input));
    },
  };
}

/** A ClipChunk travels unsigned: empty key_id and sig. */
export function encodeUnsignedEnvelope(type: 'ClipChunk', body: Uint8Array): Uint8Array {
  return pb.Envelope.encode({ type, body }).finish();
}

/** Bytes of a protobuf varint. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/**
 * A ClipChunk envelope with room for its data, so a chunk can be read from the clip straight into
 * the message: `bytes` is exactly `encodeUnsignedEnvelope('ClipChunk', ClipChunk.encode({ manifestHash,
 * index, data }))` once `data` (a view of the tail of `bytes`) is filled. Saves two 1 MiB copies a
 * chunk on the dock. `dataLength` must be above 0 (an empty clip has no chunks). `reuse`: a buffer
 * of an earlier frame that may be overwritten; used when it is large enough.
 */
export function chunkEnvelopeFrame(manifestHash: Uint8Array, index: number, dataLength: number, reuse?: Buffer): { bytes: Buffer; data: Buffer } {
  if (!(Number.isInteger(dataLength) && dataLength > 0)) throw new RangeError('a chunk has at least one byte');
  if (!(Number.isInteger(index) && index >= 0 && index <= 0xffffffff)) throw new RangeError(`chunk index ${index} is not a uint32`);
  const type = Buffer.from('ClipChunk', 'utf8');
  // ClipChunk: 1 manifest_hash, 2 index (omitted when 0, as protobufjs does), 3 data.
  const head = [
    ...(manifestHash.length ? [0x0a, ...varint(manifestHash.length), ...manifestHash] : []),
    ...(index !== 0 ? [0x10, ...varint(index)] : []),
    0x1a,
    ...varint(dataLength),
  ];
  const bodyLength = head.length + dataLength;
  // Envelope: 1 type, 2 body; key_id and sig empty.
  const prefix = Buffer.from([0x0a, ...varint(type.length), ...type, 0x12, ...varint(bodyLength), ...head]);
  const size = prefix.length + dataLength;
  const bytes = reuse && reuse.byteOffset === 0 && reuse.buffer.byteLength >= size ? Buffer.from(reuse.buffer, 0, size) : Buffer.allocUnsafeSlow(size); // never a slice of Node's shared pool, so it can be reused
  prefix.copy(bytes, 0);
  return { bytes, data: bytes.subarray(prefix.length) };
}

export interface OpenedEnvelope {
  readonly type: string;
  readonly body: Uint8Array;
  readonly keyId: string;
  readonly sig: Uint8Array;
  readonly signedInput: Buffer;
  /** SHA-256 of the signed input, the message's identity everywhere. */
  readonly hash: Buffer;
  readonly signed: boolean;
}

export interface OpenOptions {
  maxBytes?: number;
  /** Refuse any other type. */
  expectType?: MessageType;
}

/**
 * Decodes an Envelope without trusting it. Throws WireError (EMPTY, TOO_LARGE, TRUNCATED, UNDECODABLE,
 * NON_CANONICAL, BAD_TYPE, WRONG_TYPE) and nothing else.
 */
export function openEnvelope(bytes: Uint8Array, options: OpenOptions = {}): OpenedEnvelope {
  const max = options.maxBytes ?? MAX_ENVELOPE_BYTES;
  if (bytes.byteLength === 0) throw new WireError('EMPTY', 'envelope is empty (0 bytes)');
  if (bytes.byteLength > max) {
    throw new WireError('TOO_LARGE', `envelope is ${bytes.byteLength} bytes, above the ${max}-byte limit`);
  }
  let env: InstanceType<typeof pb.Envelope>;
  try {
    env = pb.Envelope.decode(bytes);
  } catch (e) {
    if (startsLikeEnvelope(bytes)) throw new WireError('TRUNCATED', 'envelope is truncated: it ends inside a field', { cause: e });
    throw new WireError('UNDECODABLE', `not a bwc envelope: ${(e as Error).message}`, { cause: e });
  }
  const type = env.type ?? '';
  if (!TYPE_RE.test(type) || !(MESSAGE_TYPES as readonly string[]).includes(type)) {
    throw new WireError('BAD_TYPE', type ? `unknown envelope type "${printable(type)}"` : 'envelope has no type');
  }
  if (options.expectType && type !== options.expectType) {
    throw new WireError('WRONG_TYPE', `envelope holds a ${type}, not a ${options.expectType}`);
  }
  const body = env.body ?? new Uint8Array(0);
  const keyId = env.keyId ?? '';
  const sig = env.sig ?? new Uint8Array(0);
  if (keyId !== '' && !KEY_ID_RE.test(keyId)) {
    throw new WireError('UNDECODABLE', `envelope key_id is not 64 lowercase hex characters`);
  }
  // Only the signed input is trusted, but the envelope around it must still be exactly the four
  // fields in canonical form: no appended, repeated or unknown fields that would let two files
  // carry one signed message with different bytes.
  if (!isCanonical(bytes, type, body, keyId, sig)) {
    throw new WireError('NON_CANONICAL', 'envelope is not in canonical form: it has appended, repeated or unknown fields');
  }
  let input: Buffer | null = null;
  let hash: Buffer | null = null;
  return {
    type,
    body,
    keyId,
    sig,
    signed: keyId !== '' || sig.byteLength > 0,
    // Both computed on first use: an unsigned ClipChunk needs neither, and copying and hashing a
    // 1 MiB chunk for nothing costs the gateway a third of its offload speed.
    get signedInput() {
      return (input ??= signedInput(type, body));
    },
    get hash() {
      return (hash ??= sha256(this.signedInput));
    },
  };
}

/** Strictly verifies an opened envelope against a trusted key. Never throws. */
export function envelopeSignatureValid(env: OpenedEnvelope, key: TrustedKey): boolean {
  return env.keyId === key.keyId && verifyStrict(key, env.signedInput, env.sig);
}

/** Verifies or throws WireError NOT_SIGNED / BAD_SIGNATURE. */
export function assertEnvelopeSigned(env: OpenedEnvelope, key: TrustedKey): void {
  if (!env.signed) throw new WireError('NOT_SIGNED', `${env.type} envelope is not signed`);
  if (env.keyId !== key.keyId) {
    throw new WireError('BAD_SIGNATURE', `${env.type} is signed by key ${env.keyId.slice(0, 16)}…, not ${key.keyId.slice(0, 16)}…`);
  }
  if (!verifyStrict(key, env.signedInput, env.sig)) {
    throw new WireError('BAD_SIGNATURE', `${env.type} signature does not verify`);
  }
}

export function hashHex(env: { hash: Uint8Array }): string {
  return toHex(env.hash);
}

/**
 * True when `bytes` is exactly the canonical encoding of the four fields, checked without copying
 * the body: the head (type, body tag and length) and the tail (key id, signature) are re-encoded and
 * compared, and the body must fill what lies between.
 */
function isCanonical(bytes: Uint8Array, type: string, body: Uint8Array, keyId: string, sig: Uint8Array): boolean {
  const head = pb.Envelope.encode({ type }).finish();
  const bodyTag = new protobuf.Writer();
  if (body.byteLength > 0) bodyTag.uint32(0x12).uint32(body.byteLength);
  const tag = bodyTag.finish();
  const tail = pb.Envelope.encode({ keyId, sig }).finish();
  if (bytes.byteLength !== head.byteLength + tag.byteLength + body.byteLength + tail.byteLength) return false;
  const at = (offset: number, part: Uint8Array) => bytesEqual(bytes.subarray(offset, offset + part.byteLength), part);
  const bodyAt = head.byteLength + tag.byteLength;
  // The decoder hands back the body as a view of `bytes`: then it is those bytes, nothing to compare.
  const bodyIsView = body.buffer === bytes.buffer && body.byteOffset === bytes.byteOffset + bodyAt;
  return at(0, head) && at(head.byteLength, tag) && (bodyIsView || at(bodyAt, body)) && at(bodyAt + body.byteLength, tail);
}

/** True when the bytes begin the way every envelope does: field 1 holding a known type name. */
function startsLikeEnvelope(bytes: Uint8Array): boolean {
  const len = bytes[1] ?? 0;
  if (bytes[0] !== 0x0a || len === 0 || len > 64 || bytes.byteLength < 2 + len) return false;
  const type = Buffer.from(bytes.buffer, bytes.byteOffset + 2, len).toString('latin1');
  return (MESSAGE_TYPES as readonly string[]).includes(type);
}

function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 64);
}
