import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pb, IntegerRangeError } from '../proto/wire.js';
import {
  assertEnvelopeSigned,
  chunkEnvelopeFrame,
  encodeUnsignedEnvelope,
  envelopeSignatureValid,
  MAX_ENVELOPE_BYTES,
  openEnvelope,
  sealEnvelope,
  signedInput,
} from '../proto/envelope.js';
import { trustPublicKey } from '../proto/ed25519.js';
import { signerFromSeed } from '../device/custody/keys.js';

const signer = signerFromSeed(Buffer.alloc(32, 9));
const key = trustPublicKey(signer.publicKey);
const statusBody = () => pb.Status.encode({ header: { issuer: 'DOCK-1', fleet: 'f', seq: 3, createdAtMs: 1_700_000_000_000 }, outboxDepth: 2 }).finish();

describe('signed envelopes', () => {
  it('signs utf8("bwc/v1/" + type + "\\n") || body and names the key', () => {
    const body = statusBody();
    const sealed = sealEnvelope('Status', body, signer);
    const env = openEnvelope(sealed.bytes);
    expect(env.type).toBe('Status');
    expect(env.keyId).toBe(signer.keyId);
    expect(Buffer.from(env.body).equals(Buffer.from(body))).toBe(true);
    expect(env.signedInput.equals(Buffer.concat([Buffer.from('bwc/v1/Status\n'), body]))).toBe(true);
    expect(envelopeSignatureValid(env, key)).toBe(true);
  });

  it('identifies a message by the SHA-256 of its signed input, not of the envelope', () => {
    const body = statusBody();
    const sealed = sealEnvelope('Status', body, signer);
    const expected = createHash('sha256').update(signedInput('Status', body)).digest();
    expect(sealed.hash.equals(expected)).toBe(true);
    expect(openEnvelope(sealed.bytes).hash.equals(expected)).toBe(true);
    expect(sealed.hash.equals(createHash('sha256').update(sealed.bytes).digest())).toBe(false);
  });

  it('binds the type into the signature: the same body under another type does not verify', () => {
    const sealed = sealEnvelope('Status', statusBody(), signer);
    const env = pb.Envelope.decode(sealed.bytes);
    const retyped = pb.Envelope.encode({ ...env, type: 'Event' }).finish();
    expect(envelopeSignatureValid(openEnvelope(retyped), key)).toBe(false);
    expect(() => assertEnvelopeSigned(openEnvelope(retyped), key)).toThrow(/signature does not verify/);
  });

  it('verifies the bytes received: one changed body byte fails', () => {
    const sealed = sealEnvelope('Status', statusBody(), signer);
    const env = pb.Envelope.decode(sealed.bytes);
    const body = Buffer.from(env.body);
    body[body.length - 1]! ^= 0x01;
    expect(envelopeSignatureValid(openEnvelope(pb.Envelope.encode({ ...env, body }).finish()), key)).toBe(false);
  });

  it('refuses a signature by another key', () => {
    const other = signerFromSeed(Buffer.alloc(32, 10));
    const env = openEnvelope(sealEnvelope('Status', statusBody(), other).bytes);
    expect(envelopeSignatureValid(env, key)).toBe(false);
    expect(() => assertEnvelopeSigned(env, key)).toThrow(/signed by key/);
  });

  it('reports an unsigned envelope as not signed; a ClipChunk travels unsigned', () => {
    const chunk = encodeUnsignedEnvelope('ClipChunk', pb.ClipChunk.encode({ index: 1, data: Buffer.from('x') }).finish());
    const env = openEnvelope(chunk);
    expect(env.signed).toBe(false);
    expect(() => assertEnvelopeSigned(env, key)).toThrow(expect.objectContaining({ code: 'NOT_SIGNED' }));
  });

  it('lays out a ClipChunk envelope with room for its data: the same bytes protobufjs encodes', () => {
    const mh = Buffer.alloc(32, 7);
    for (const [index, length] of [
      [0, 1],
      [1, 127],
      [2, 128],
      [300, 1024 * 1024],
      [0xffffffff, 20_000],
    ] as const) {
      const frame = chunkEnvelopeFrame(mh, index, length);
      for (let i = 0; i < length; i++) frame.data[i] = (i * 31 + index) & 0xff;
      const expected = encodeUnsignedEnvelope('ClipChunk', pb.ClipChunk.encode({ manifestHash: mh, index, data: Buffer.from(frame.data) }).finish());
      expect(Buffer.compare(frame.bytes, Buffer.from(expected)), `index ${index}, ${length} bytes`).toBe(0);
      const back = pb.ClipChunk.decode(openEnvelope(frame.bytes).body);
      expect(back.index).toBe(index);
      expect(Buffer.from(back.data).equals(frame.data)).toBe(true);
    }
    expect(() => chunkEnvelopeFrame(mh, 0, 0)).toThrow(RangeError);
    expect(() => chunkEnvelopeFrame(mh, -1, 5)).toThrow(RangeError);
  });

  it.each([
    ['EMPTY', new Uint8Array(0)],
    ['UNDECODABLE', Buffer.from([0x0a, 0x50, 0x41])], // field 1, length 80, 1 byte present
    ['BAD_TYPE', pb.Envelope.encode({ type: 'Nonsense', body: Buffer.from('x') }).finish()],
    ['BAD_TYPE', pb.Envelope.encode({ body: Buffer.from('x') }).finish()],
    ['UNDECODABLE', pb.Envelope.encode({ type: 'Status', keyId: 'ABC', sig: Buffer.alloc(64) }).finish()],
  ])('refuses bad bytes with %s', (code, bytes) => {
    expect(() => openEnvelope(bytes)).toThrow(expect.objectContaining({ code }));
  });

  it('refuses an envelope with appended, repeated or unknown fields, though its signed input is intact', () => {
    const sealed = Buffer.from(sealEnvelope('Status', statusBody(), signer).bytes);
    const appendedUnknown = Buffer.concat([sealed, Buffer.from([0x2a, 0x01, 0x00])]); // field 5, 1 byte
    const repeatedType = Buffer.concat([sealed, Buffer.from([0x0a, 0x06]), Buffer.from('Status')]);
    for (const bytes of [appendedUnknown, repeatedType]) {
      expect(() => openEnvelope(bytes)).toThrow(expect.objectContaining({ code: 'NON_CANONICAL' }));
    }
    expect(openEnvelope(sealed).type).toBe('Status');
  });

  it('caps the size and checks the expected type', () => {
    expect(() => openEnvelope(new Uint8Array(MAX_ENVELOPE_BYTES + 1))).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }));
    expect(() => openEnvelope(new Uint8Array(100), { maxBytes: 99 })).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }));
    const sealed = sealEnvelope('Status', statusBody(), signer);
    expect(() => openEnvelope(sealed.bytes, { expectType: 'ClipManifest' })).toThrow(expect.objectContaining({ code: 'WRONG_TYPE' }));
  });
});

describe('64-bit integers are safe JavaScript numbers (proto/README.md)', () => {
  it('round-trips 2^53-1 exactly and times in milliseconds', () => {
    const bytes = pb.Header.encode({ seq: Number.MAX_SAFE_INTEGER, createdAtMs: -86_400_000 }).finish();
    const h = pb.Header.decode(bytes);
    expect(h.seq).toBe(Number.MAX_SAFE_INTEGER);
    expect(h.createdAtMs).toBe(-86_400_000);
    expect(typeof h.seq).toBe('number');
  });

  it('refuses to decode a value above 2^53-1 instead of rounding it', () => {
    // Header.seq (field 4, varint) = 2^53, hand-encoded.
    const varint: number[] = [];
    let v = 2n ** 53n;
    while (v >= 0x80n) {
      varint.push(Number((v & 0x7fn) | 0x80n));
      v >>= 7n;
    }
    varint.push(Number(v));
    const bytes = Buffer.from([0x20, ...varint]);
    expect(() => pb.Header.decode(bytes)).toThrow(IntegerRangeError);
  });
});

describe('unset 64-bit fields', () => {
  it('read as the number 0, not as a Long', () => {
    const h = pb.Header.decode(pb.Header.encode({ issuer: 'x' }).finish());
    expect(h.seq).toBe(0);
    expect(h.createdAtMs).toBe(0);
    const f = pb.LinkFrame.decode(pb.LinkFrame.encode({ seq: 1 }).finish());
    expect(f.eventNo).toBe(0);
    expect(new pb.ClipManifest().byteLength).toBe(0);
  });
});
