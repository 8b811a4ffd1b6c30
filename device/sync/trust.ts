/**
 * What the dock trusts from the gateway side (DESIGN §4 "Who signs what", §8): the agency root key
 * pinned at enrollment, and the gateway keys the root certified. Acks and commands are accepted
 * only when signed by a certified gateway key of this fleet, checked strictly (node:crypto).
 * Gateway replicas publish their certificates in their retained presence; each is checked against
 * the root before its key is trusted.
 */
import { openEnvelope, assertEnvelopeSigned, type OpenedEnvelope } from '../../proto/envelope.js';
import type { TrustedKey } from '../../proto/ed25519.js';
import { verifyGatewayCertificate, type GatewayCert } from '../../proto/gateway-cert.js';
import { WireError } from '../../proto/errors.js';
import type { MessageType } from '../../proto/wire.js';

export interface SignedByGateway {
  readonly env: OpenedEnvelope;
  readonly gateway: GatewayCert;
}

export class GatewayTrust {
  readonly root: TrustedKey;
  readonly fleet: string;
  readonly #byKeyId = new Map<string, GatewayCert>();

  constructor(root: TrustedKey, fleet: string) {
    this.root = root;
    this.fleet = fleet;
  }

  /** Checks a gateway certificate against the root and trusts its key. Throws WireError. */
  addCertificate(bytes: Uint8Array, at: number): GatewayCert {
    const cert = verifyGatewayCertificate(bytes, this.root, { fleet: this.fleet, at });
    this.#byKeyId.set(cert.key.keyId, cert);
    return cert;
  }

  get certificates(): GatewayCert[] {
    return [...this.#byKeyId.values()];
  }

  keyFor(keyId: string): GatewayCert | undefined {
    return this.#byKeyId.get(keyId);
  }

  /** Opens an envelope of `type` signed by a certified gateway key valid at `at`. Throws WireError. */
  open(bytes: Uint8Array, type: MessageType, at: number): SignedByGateway {
    const prepared = this.prepare(bytes, type, at);
    assertEnvelopeSigned(prepared.env, prepared.gateway.key);
    return prepared;
  }

  /**
   * The cheap checks of `open`, without the signature: the envelope and its type, signed, by a
   * certified gateway key valid at `at`. Call `verify` before trusting anything in it.
   */
  prepare(bytes: Uint8Array, type: MessageType, at: number, maxBytes?: number): SignedByGateway {
    const env = openEnvelope(bytes, { expectType: type, ...(maxBytes ? { maxBytes } : {}) });
    if (!env.signed) throw new WireError('NOT_SIGNED', `${type} is not signed`);
    const gateway = this.#byKeyId.get(env.keyId);
    if (!gateway)
      throw new WireError('BAD_KEY', `${type} signed by key ${env.keyId.slice(0, 16)}…, which no root-certified gateway of fleet ${this.fleet} holds`);
    if (at < gateway.notBeforeMs || at > gateway.notAfterMs)
      throw new WireError('BAD_KEY', `${type} signed by gateway ${gateway.gatewayId}, whose certificate is not valid now`);
    return { env, gateway };
  }

  /** The signature check of a prepared envelope. Throws WireError BAD_SIGNATURE. */
  verify(prepared: SignedByGateway): void {
    assertEnvelopeSigned(prepared.env, prepared.gateway.key);
  }

  /** Whether this exact certificate envelope is already trusted (no need to check it again). */
  knows(certificate: Uint8Array): boolean {
    for (const c of this.#byKeyId.values()) if (Buffer.compare(Buffer.from(c.bytes), Buffer.from(certificate)) === 0) return true;
    return false;
  }
}
