/**
 * Gateway certificates (DESIGN §4 "Who signs what"): the agency root, offline, certifies that a
 * gateway id of a fleet holds a public key for a validity window. A dock that pinned the root key
 * at enrollment trusts a gateway's acks and commands only through such a certificate.
 *
 *   GatewayCertificate { header, gateway_id, public_key, fleet, not_before_ms, not_after_ms }
 *   header: issuer = the root's key id, seq 0, created_at_ms = signing time
 *
 * The certificate is valid from `not_before_ms` to `not_after_ms`, both inclusive. Its identity
 * (`hash`) is the SHA-256 of its signed input, like every signed message.
 */
import { pb } from './wire.js';
import { WireError } from './errors.js';
import { openEnvelope, assertEnvelopeSigned, sealEnvelope, type Signer } from './envelope.js';
import { checkPublicKey, trustPublicKey, type TrustedKey } from './ed25519.js';
import { toHex } from './bytes.js';
import { assertId } from './topics.js';

/** A certificate that verified against the root key: its fields, its key ready for verifying, its bytes. */
export interface GatewayCert {
  readonly gatewayId: string;
  readonly fleet: string;
  /** The certified 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** The same key, checked by `trustPublicKey`. */
  readonly key: TrustedKey;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  /** Hex SHA-256 of the certificate's signed input. */
  readonly hash: string;
  /** The certificate envelope as given. */
  readonly bytes: Uint8Array;
}

export interface GatewayCertificateInput {
  gatewayId: string;
  fleet: string;
  publicKey: Uint8Array;
  notBeforeMs: number;
  notAfterMs: number;
}

export interface VerifyGatewayCertificateOptions {
  /** Refuse a certificate for another fleet. */
  fleet?: string;
  /** Refuse a certificate for another gateway id. */
  gatewayId?: string;
  /** The time the certificate must be valid at (default: now). */
  at?: number;
}

function checkWindow(notBeforeMs: number, notAfterMs: number): void {
  if (!Number.isSafeInteger(notBeforeMs) || !Number.isSafeInteger(notAfterMs) || notBeforeMs <= 0) {
    throw new WireError('INCONSISTENT', 'gateway certificate validity must be two times in milliseconds since the epoch');
  }
  if (notAfterMs <= notBeforeMs) {
    throw new WireError('INCONSISTENT', `gateway certificate ends (${iso(notAfterMs)}) before it begins (${iso(notBeforeMs)})`);
  }
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/**
 * Signs a gateway certificate with the agency root key (offline): an Envelope of
 * GatewayCertificate, header issuer = the root's key id, seq 0. Throws WireError BAD_ID, BAD_KEY,
 * WEAK_KEY or INCONSISTENT for input no verifier would accept.
 */
export function signGatewayCertificate(input: GatewayCertificateInput, root: Signer, createdAtMs = Date.now()): Uint8Array {
  assertId(input.gatewayId, 'gateway id');
  assertId(input.fleet, 'fleet');
  checkPublicKey(input.publicKey, `public key of gateway ${input.gatewayId}`);
  checkWindow(input.notBeforeMs, input.notAfterMs);
  const body = pb.GatewayCertificate.encode({
    header: { issuer: root.keyId, fleet: input.fleet, seq: 0, createdAtMs },
    gatewayId: input.gatewayId,
    publicKey: input.publicKey,
    fleet: input.fleet,
    notBeforeMs: input.notBeforeMs,
    notAfterMs: input.notAfterMs,
  }).finish();
  return sealEnvelope('GatewayCertificate', body, root).bytes;
}

/**
 * Verifies a gateway certificate against the pinned root key and returns its checked fields.
 * Throws WireError, in this order:
 * - EMPTY, TOO_LARGE, TRUNCATED, UNDECODABLE, NON_CANONICAL, BAD_TYPE, WRONG_TYPE: not a GatewayCertificate envelope;
 * - NOT_SIGNED, BAD_SIGNATURE: not signed by the root key;
 * - UNDECODABLE: a body that does not decode;
 * - INCONSISTENT: a header not issued by the root, a validity window that ends before it begins;
 * - BAD_ID: a gateway id or fleet outside the id grammar;
 * - BAD_KEY, WEAK_KEY: a certified key that fails `trustPublicKey`;
 * - INCONSISTENT: another fleet or gateway id than `opts` asks for;
 * - NOT_YET_VALID, EXPIRED: outside its validity at `opts.at` (default: now).
 */
export function verifyGatewayCertificate(bytes: Uint8Array, root: TrustedKey, opts: VerifyGatewayCertificateOptions = {}): GatewayCert {
  const env = openEnvelope(bytes, { expectType: 'GatewayCertificate' });
  if (!env.signed) throw new WireError('NOT_SIGNED', 'gateway certificate is not signed');
  if (env.keyId !== root.keyId) {
    throw new WireError('BAD_SIGNATURE', `gateway certificate is signed by key ${env.keyId.slice(0, 16)}…, not by the root key ${root.keyId.slice(0, 16)}…`);
  }
  assertEnvelopeSigned(env, root);
  let c: InstanceType<typeof pb.GatewayCertificate>;
  try {
    c = pb.GatewayCertificate.decode(env.body);
  } catch (e) {
    throw new WireError('UNDECODABLE', `gateway certificate body cannot be decoded: ${(e as Error).message}`, { cause: e });
  }
  if ((c.header?.issuer ?? '') !== root.keyId) {
    throw new WireError('INCONSISTENT', `gateway certificate header names issuer "${c.header?.issuer ?? ''}", not the root key id`);
  }
  const gatewayId = c.gatewayId ?? '';
  const fleet = c.fleet ?? '';
  assertId(gatewayId, 'certified gateway id');
  assertId(fleet, 'certified fleet');
  const key = trustPublicKey(c.publicKey ?? new Uint8Array(0), `certified public key of gateway ${gatewayId}`);
  const notBeforeMs = Number(c.notBeforeMs);
  const notAfterMs = Number(c.notAfterMs);
  checkWindow(notBeforeMs, notAfterMs);
  if (opts.fleet !== undefined && fleet !== opts.fleet) {
    throw new WireError('INCONSISTENT', `gateway certificate is for fleet ${fleet}, not ${opts.fleet}`);
  }
  if (opts.gatewayId !== undefined && gatewayId !== opts.gatewayId) {
    throw new WireError('INCONSISTENT', `gateway certificate is for gateway ${gatewayId}, not ${opts.gatewayId}`);
  }
  const at = opts.at ?? Date.now();
  if (at < notBeforeMs)
    throw new WireError('NOT_YET_VALID', `gateway certificate of ${gatewayId} is not valid until ${iso(notBeforeMs)} (checked at ${iso(at)})`);
  if (at > notAfterMs) throw new WireError('EXPIRED', `gateway certificate of ${gatewayId} expired at ${iso(notAfterMs)} (checked at ${iso(at)})`);
  return { gatewayId, fleet, publicKey: key.raw, key, notBeforeMs, notAfterMs, hash: toHex(env.hash), bytes };
}
