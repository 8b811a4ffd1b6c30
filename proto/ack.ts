/**
 * The gateway's signed acks (proto/README.md, "Acks"), and the one proof that lets a camera free a
 * clip: a VerifiedClip exists only for an Ack of kind VERIFIED, signed by the trusted gateway key,
 * naming this device, this manifest, this SHA-256 and this length. The camera link's ReleaseClip
 * takes a VerifiedClip, so "release only after VERIFIED" is enforced by the type, not by habit.
 */
import { pb, type bwc } from './wire.js';
import { WireError } from './errors.js';
import { assertEnvelopeSigned, openEnvelope } from './envelope.js';
import { bytesEqual, toHex } from './bytes.js';
import type { TrustedKey } from './ed25519.js';

export type Ack = bwc.v1.Ack;

/** Decodes and strictly verifies an Ack envelope signed by `gatewayKey`. Throws WireError. */
export function openAck(bytes: Uint8Array, gatewayKey: TrustedKey): Ack {
  const env = openEnvelope(bytes, { expectType: 'Ack' });
  assertEnvelopeSigned(env, gatewayKey);
  try {
    return pb.Ack.decode(env.body);
  } catch (e) {
    throw new WireError('UNDECODABLE', `Ack body cannot be decoded: ${(e as Error).message}`, { cause: e });
  }
}

export interface ExpectedClip {
  readonly deviceId: string;
  readonly clipId: string;
  readonly manifestHash: Uint8Array;
  readonly sha256: Uint8Array;
  readonly byteLength: number;
}

export class VerifiedClip {
  readonly clipId: string;
  readonly sha256: Buffer;
  readonly byteLength: number;
  readonly manifestHash: Buffer;
  /** The gateway's Ack envelope, exactly as received. */
  readonly ackEnvelope: Uint8Array;

  private constructor(clip: ExpectedClip, ackEnvelope: Uint8Array) {
    this.clipId = clip.clipId;
    this.sha256 = Buffer.from(clip.sha256);
    this.byteLength = clip.byteLength;
    this.manifestHash = Buffer.from(clip.manifestHash);
    this.ackEnvelope = ackEnvelope;
  }

  /**
   * Checks the gateway's ack against what the dock itself signed. Throws WireError naming the
   * first mismatch; only a VERIFIED ack for exactly these bytes yields a VerifiedClip.
   */
  static fromAck(ackEnvelope: Uint8Array, gatewayKey: TrustedKey, expected: ExpectedClip): VerifiedClip {
    const ack = openAck(ackEnvelope, gatewayKey);
    const fail = (what: string) => {
      throw new WireError('INCONSISTENT', `ack does not release clip ${expected.clipId}: ${what}`);
    };
    if (ack.kind !== pb.AckKind.ACK_KIND_VERIFIED) fail(`kind is ${pb.AckKind[ack.kind] ?? ack.kind}, not VERIFIED`);
    if (ack.deviceId !== expected.deviceId) fail(`it names device ${ack.deviceId}`);
    if (!bytesEqual(ack.manifestHash, expected.manifestHash)) fail(`it names manifest ${toHex(ack.manifestHash).slice(0, 16)}…`);
    if (!bytesEqual(ack.clipSha256, expected.sha256)) fail('the clip SHA-256 differs');
    if (ack.byteLength !== expected.byteLength) fail(`the length is ${ack.byteLength}, not ${expected.byteLength}`);
    return new VerifiedClip(expected, ackEnvelope);
  }
}
