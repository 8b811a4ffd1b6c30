/**
 * The gateway's proof of itself before enrollment (DESIGN §8, second round): a dock asks
 * `GET /api/v1/enroll?nonce=HEX` and gets the gateway's root-signed certificate, the root public key
 * and the gateway key's Ed25519 signature over
 *
 *   utf8("bwc/v1/EnrollmentProof\n") ‖ nonce
 *
 * The dock checks the root against the fingerprint it was given out of band, the certificate
 * against the root, and the signature against the certified key, and only then sends its token.
 * (No protobuf message: like the disposition statement, this signed form is the contract.)
 */
import { verifyStrict, type TrustedKey } from './ed25519.js';

export const ENROLLMENT_PROOF_PREFIX = 'bwc/v1/EnrollmentProof\n';
/** A nonce is 16 to 64 random bytes, sent as hex. */
export const NONCE_HEX = /^(?:[0-9a-f]{2}){16,64}$/;

/** What `GET /api/v1/enroll` answers (JSON). */
export interface EnrollmentProof {
  gatewayId: string;
  fleet: string;
  /** Base64 of the root-signed GatewayCertificate envelope. */
  certificate: string;
  /** Hex of the root's raw 32-byte public key (its key id is the fingerprint). */
  rootPublicKey: string;
  /** Base64 of the gateway key's signature over `enrollmentProofInput(nonce)`. */
  nonceSignature: string;
}

export function enrollmentProofInput(nonce: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(ENROLLMENT_PROOF_PREFIX, 'utf8'), nonce]);
}

export function verifyEnrollmentProof(key: TrustedKey, nonce: Uint8Array, signature: Uint8Array): boolean {
  return verifyStrict(key, enrollmentProofInput(nonce), signature);
}
