/**
 * Keyrings (DESIGN §4: `bwc verify --keyring`, "Who signs what"): every device key a gateway enrolled, with when
 * it was valid, signed by the gateway and carrying the gateway's root-signed certificate, so the
 * file stands alone. An auditor who holds only the agency root public key can check a clip's
 * signer years later, including keys revoked since:
 *
 *   Envelope(Keyring { header, keys: [KeyringEntry], gateway_certificate })
 *   KeyringEntry { device_id, key_id, public_key, valid_from_ms, revoked_at_ms (0: not revoked),
 *                  last_seq_before_revocation }
 *
 * Key verdicts against a keyring (`keyringKeys`), for the device the manifest's header names:
 * - OK: the manifest names one of the device's keys, not revoked, or revoked after this manifest;
 * - REVOKED_AT_RECORDING_TIME: the key was revoked, and the manifest's seq is above the last seq
 *   the gateway held before the revocation — whatever time the manifest claims — or it claims a
 *   time at or after the revocation;
 * - KEY_CHANGED: the keyring lists keys of that device, and the manifest is signed by none of them;
 * - UNKNOWN_KEY: the keyring lists no key of that device.
 */
import { pb } from './wire.js';
import { WireError } from './errors.js';
import { assertEnvelopeSigned, openEnvelope, sealEnvelope, type Signer } from './envelope.js';
import { keyIdOf, trustPublicKey, type TrustedKey } from './ed25519.js';
import { verifyGatewayCertificate, type GatewayCert } from './gateway-cert.js';
import { assertId } from './topics.js';
import type { KeySource } from './verify.js';

export interface KeyringEntry {
  deviceId: string;
  keyId: string;
  publicKey: Uint8Array;
  validFromMs: number;
  /** 0: not revoked. */
  revokedAtMs: number;
  /** The highest manifest seq the gateway held from the device when the key was revoked (0: none, or not revoked). */
  lastSeqBeforeRevocation: number;
}

export interface OpenedKeyring {
  /** The gateway that signed it, as its certificate (checked against the root) says. */
  readonly gateway: GatewayCert;
  readonly createdAtMs: number;
  readonly entries: readonly (KeyringEntry & { readonly key: TrustedKey })[];
}

/** Signs a keyring with the gateway key; `certificate` is the gateway's root-signed certificate envelope. */
export function sealKeyring(
  entries: readonly KeyringEntry[],
  certificate: Uint8Array,
  signer: Signer,
  o: { gatewayId: string; fleet: string; createdAtMs: number },
): Uint8Array {
  const body = pb.Keyring.encode({
    header: { issuer: o.gatewayId, fleet: o.fleet, seq: 0, createdAtMs: o.createdAtMs },
    keys: entries.map((e) => ({
      deviceId: e.deviceId,
      keyId: e.keyId,
      publicKey: e.publicKey,
      validFromMs: e.validFromMs,
      revokedAtMs: e.revokedAtMs,
      lastSeqBeforeRevocation: e.lastSeqBeforeRevocation,
    })),
    gatewayCertificate: certificate,
  }).finish();
  return sealEnvelope('Keyring', body, signer).bytes;
}

/**
 * Opens a keyring and checks it all the way to the root: the certificate it carries is signed by
 * `root` and was valid when the keyring was signed, the keyring is signed by the certified key,
 * and every listed key passes `trustPublicKey` and matches its key id. Throws a WireError naming
 * the first problem.
 */
export function openKeyring(bytes: Uint8Array, root: TrustedKey): OpenedKeyring {
  const env = openEnvelope(bytes, { expectType: 'Keyring' });
  if (!env.signed) throw new WireError('NOT_SIGNED', 'the keyring is not signed');
  let k: InstanceType<typeof pb.Keyring>;
  try {
    k = pb.Keyring.decode(env.body);
  } catch (e) {
    throw new WireError('UNDECODABLE', `keyring body cannot be decoded: ${(e as Error).message}`, { cause: e });
  }
  const createdAtMs = Number(k.header?.createdAtMs ?? 0);
  if (!k.gatewayCertificate?.byteLength) throw new WireError('INCONSISTENT', 'the keyring carries no gateway certificate, so nothing ties it to the root');
  const gateway = verifyGatewayCertificate(k.gatewayCertificate, root, { at: createdAtMs });
  if ((k.header?.issuer ?? '') !== gateway.gatewayId) {
    throw new WireError('INCONSISTENT', `the keyring names issuer "${k.header?.issuer ?? ''}", but carries the certificate of gateway ${gateway.gatewayId}`);
  }
  if (env.keyId !== gateway.key.keyId) {
    throw new WireError(
      'BAD_SIGNATURE',
      `the keyring is signed by key ${env.keyId.slice(0, 16)}…, not by gateway ${gateway.gatewayId}'s certified key ${gateway.key.keyId.slice(0, 16)}…`,
    );
  }
  assertEnvelopeSigned(env, gateway.key);
  const entries = k.keys.map((e, i) => {
    const deviceId = e.deviceId ?? '';
    assertId(deviceId, `keyring entry ${i + 1}'s device id`);
    const key = trustPublicKey(e.publicKey ?? new Uint8Array(0), `keyring entry ${i + 1} (${deviceId})`);
    if ((e.keyId ?? '') !== keyIdOf(key.raw))
      throw new WireError('INCONSISTENT', `keyring entry ${i + 1} (${deviceId}) names key id ${(e.keyId ?? '').slice(0, 16)}…, not its key's id`);
    return {
      deviceId,
      keyId: key.keyId,
      publicKey: key.raw,
      key,
      validFromMs: Number(e.validFromMs),
      revokedAtMs: Number(e.revokedAtMs),
      lastSeqBeforeRevocation: Number(e.lastSeqBeforeRevocation),
    };
  });
  return { gateway, createdAtMs, entries };
}

const short = (id: string) => `${id.slice(0, 16)}…`;
const iso = (ms: number) => new Date(ms).toISOString();

/** The key verdicts of a keyring (see the top of this file). */
export function keyringKeys(ring: OpenedKeyring): KeySource {
  return {
    judge(manifest, keyId) {
      const deviceId = manifest.header?.issuer ?? '';
      const own = ring.entries.filter((e) => e.deviceId === deviceId);
      const e = own.find((x) => x.keyId === keyId);
      if (!e) {
        if (own.length === 0)
          return {
            verdict: 'UNKNOWN_KEY',
            detail: `the keyring of gateway ${ring.gateway.gatewayId} lists no key of device ${deviceId || '(none)'}`,
          };
        return {
          verdict: 'KEY_CHANGED',
          detail: `signed by key ${short(keyId) || '(none)'}, which is not one of device ${deviceId}'s enrolled keys (${own.map((x) => short(x.keyId)).join(', ')})`,
        };
      }
      if (e.revokedAtMs > 0) {
        const seq = Number(manifest.header?.seq ?? 0);
        const claimed = Number(manifest.header?.createdAtMs ?? 0);
        if (seq > e.lastSeqBeforeRevocation) {
          return {
            verdict: 'REVOKED_AT_RECORDING_TIME',
            key: e.key,
            detail: `key ${short(keyId)} of ${deviceId} was revoked at ${iso(e.revokedAtMs)}, after seq ${e.lastSeqBeforeRevocation}; this manifest is seq ${seq}`,
          };
        }
        if (claimed >= e.revokedAtMs) {
          return {
            verdict: 'REVOKED_AT_RECORDING_TIME',
            key: e.key,
            detail: `key ${short(keyId)} of ${deviceId} was revoked at ${iso(e.revokedAtMs)}; this manifest claims ${iso(claimed)}`,
          };
        }
        return {
          verdict: 'OK',
          key: e.key,
          detail: `signed by ${deviceId}'s key ${short(keyId)}, revoked later (${iso(e.revokedAtMs)}, after seq ${e.lastSeqBeforeRevocation})`,
        };
      }
      return {
        verdict: 'OK',
        key: e.key,
        detail: `signed by ${deviceId}'s enrolled key ${short(keyId)} (keyring of gateway ${ring.gateway.gatewayId})`,
      };
    },
  };
}
