/**
 * Forged gateway traffic, as a holder of the broker password can send it to a dock (DESIGN §8):
 * garbage, oversize payloads, acks and commands signed by a key no root certified, acks and
 * commands that claim a certified gateway's key id with a signature that does not verify, acks
 * addressed to another dock, and replays of a genuine ack. For the dock's forged-traffic test and
 * `npm run bench -- forged`.
 */
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { pb } from '../../proto/wire.js';
import { sealEnvelope, signedInput, type Signer } from '../../proto/envelope.js';

export interface ForgeryTarget {
  deviceId: string;
  fleet: string;
  /** The key id of a certified gateway (what a forger can read off any genuine ack). */
  gatewayKeyId: string;
  /** A genuine ack the forger captured, to replay. */
  genuineAck?: Uint8Array;
}

export type ForgeryKind =
  | 'garbage'
  | 'oversize'
  | 'unknown-key'
  | 'bad-signature'
  | 'other-device'
  | 'command-bad-signature'
  | 'command-unknown-key'
  | 'replay';
export const FORGERY_KINDS: readonly ForgeryKind[] = [
  'garbage',
  'oversize',
  'unknown-key',
  'bad-signature',
  'other-device',
  'command-bad-signature',
  'command-unknown-key',
  'replay',
];

export interface Forgery {
  kind: ForgeryKind;
  /** `ack` or `cmd`: the dock's topic it is published on. */
  topic: 'ack' | 'cmd';
  payload: Buffer;
}

/** `n` forgeries, the kinds in turn (replays only when a genuine ack is given). */
export function forgeries(target: ForgeryTarget, n: number, forger: Signer = throwawaySigner()): Forgery[] {
  const kinds = FORGERY_KINDS.filter((k) => k !== 'replay' || target.genuineAck);
  const header = (subject: string, seq: number) => ({
    issuer: 'gw-forged',
    subjectDevice: subject,
    fleet: target.fleet,
    seq,
    createdAtMs: Date.now(),
  });
  const ack = (device: string, seq: number) =>
    pb.Ack.encode({
      header: header(device, seq),
      kind: pb.AckKind.ACK_KIND_VERIFIED,
      deviceId: device,
      ackedHash: randomBytes(32),
      manifestHash: randomBytes(32),
      clipSha256: randomBytes(32),
      byteLength: 1_000_000,
      storedAtMs: Date.now(),
    }).finish();
  const command = (seq: number) => pb.Command.encode({ header: header(target.deviceId, seq), commandId: `forged-${seq}`, decommission: {} }).finish();
  /** Claims the gateway's key id; the signature is the forger's. */
  const claimed = (type: 'Ack' | 'Command', body: Uint8Array) =>
    Buffer.from(
      pb.Envelope.encode({
        type,
        body,
        keyId: target.gatewayKeyId,
        sig: forger.sign(signedInput(type, body)),
      }).finish(),
    );
  const out: Forgery[] = [];
  for (let i = 0; i < n; i++) {
    const kind = kinds[i % kinds.length]!;
    const seq = i + 1;
    switch (kind) {
      case 'garbage':
        out.push({ kind, topic: Math.floor(i / kinds.length) % 2 ? 'cmd' : 'ack', payload: randomBytes(200) });
        break;
      case 'oversize':
        out.push({ kind, topic: 'ack', payload: Buffer.alloc(100 * 1024, 0x0a) });
        break;
      case 'unknown-key':
        out.push({ kind, topic: 'ack', payload: Buffer.from(sealEnvelope('Ack', ack(target.deviceId, seq), forger).bytes) });
        break;
      case 'bad-signature':
        out.push({ kind, topic: 'ack', payload: claimed('Ack', ack(target.deviceId, seq)) });
        break;
      case 'other-device':
        out.push({ kind, topic: 'ack', payload: claimed('Ack', ack(`${target.deviceId}-x`, seq)) });
        break;
      case 'command-bad-signature':
        out.push({ kind, topic: 'cmd', payload: claimed('Command', command(seq)) });
        break;
      case 'command-unknown-key':
        out.push({ kind, topic: 'cmd', payload: Buffer.from(sealEnvelope('Command', command(seq), forger).bytes) });
        break;
      case 'replay':
        out.push({ kind, topic: 'ack', payload: Buffer.from(target.genuineAck!) });
        break;
    }
  }
  return out;
}

/** A signer whose key nobody certified (node:crypto, so forging is cheap for the forger). */
export function throwawaySigner(): Signer {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from((publicKey.export({ format: 'jwk' }) as { x: string }).x, 'base64url');
  return { keyId: createHash('sha256').update(raw).digest('hex'), publicKey: raw, sign: (m: Uint8Array) => sign(null, m, privateKey) };
}
