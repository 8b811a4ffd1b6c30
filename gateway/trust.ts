/**
 * The gateway's place in the chain of trust (DESIGN §4 "Who signs what", §8): the agency root
 * public key, this gateway's root-signed certificate and the current root-signed policy bundle,
 * read from the files `trust.*` names and checked at startup. A certificate must name this gateway
 * id, this fleet and this gateway's own key, and be valid now; a bundle must be signed by the root.
 * Any failure stops startup with one error naming the file.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TrustedKey } from '../proto/ed25519.js';
import { loadPublicKeyFile } from '../proto/keyfile.js';
import { verifyGatewayCertificate, type GatewayCert } from '../proto/gateway-cert.js';
import { verifyBundle, type Bundle } from '../proto/policy.js';
import { isWireError } from '../proto/errors.js';
import { ConfigError, type GatewayConfig } from './config.js';

/** What enrollment hands a dock, and what the gateway pushes to docks. */
export interface GatewayTrust {
  readonly root: TrustedKey;
  /** This gateway's certificate envelope, as signed by the root. */
  readonly certificate: Uint8Array;
  /** The root-signed policy bundle envelope, or null when none is configured. */
  readonly bundle: Uint8Array | null;
}

export interface LoadedTrust {
  readonly trust: GatewayTrust;
  readonly cert: GatewayCert;
  readonly bundle: Bundle | null;
}

const MAX_FILE_BYTES = 8 * 1024 * 1024;

function readSigned(setting: string, path: string): Uint8Array {
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new ConfigError(`${setting} ${path} is a directory, not a file`);
    if (st.size > MAX_FILE_BYTES) throw new ConfigError(`${setting} ${path} is ${st.size} bytes, above the ${MAX_FILE_BYTES}-byte limit`);
    return readFileSync(path);
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(code === 'ENOENT' ? `${setting} ${path} does not exist` : `${setting} ${path} cannot be read: ${(e as Error).message}`);
  }
}

/**
 * Loads and checks `config.trust`; null when no root key is configured. `gatewayKeyId` is the key
 * id of this gateway's own signing key. Throws ConfigError naming the setting and the file.
 */
export function loadGatewayTrust(c: Pick<GatewayConfig, 'trust' | 'fleet' | 'gatewayId'>, gatewayKeyId: string, now: number): LoadedTrust | null {
  const t = c.trust;
  if (!t.rootPublicKey) {
    if (t.certificate) throw new ConfigError('trust.certificate: a certificate needs trust.rootPublicKey, the agency root key that signed it');
    if (t.bundle) throw new ConfigError('trust.bundle: a bundle needs trust.rootPublicKey, the agency root key that signed it');
    return null;
  }
  if (!t.certificate)
    throw new ConfigError(
      "trust.certificate is required with trust.rootPublicKey: this gateway's certificate signed by that root (bwc authz sign-gateway-cert)",
    );
  const rootPath = resolve(t.rootPublicKey);
  let root: TrustedKey;
  try {
    root = loadPublicKeyFile(rootPath);
  } catch (e) {
    throw new ConfigError(`trust.rootPublicKey: ${(e as Error).message}`);
  }
  const certPath = resolve(t.certificate);
  const certificate = readSigned('trust.certificate', certPath);
  let cert: GatewayCert;
  try {
    cert = verifyGatewayCertificate(certificate, root, { fleet: c.fleet, gatewayId: c.gatewayId, at: now });
  } catch (e) {
    if (isWireError(e)) throw new ConfigError(`trust.certificate ${certPath}: ${e.message}`);
    throw e;
  }
  if (cert.key.keyId !== gatewayKeyId) {
    throw new ConfigError(
      `trust.certificate ${certPath} certifies key ${cert.key.keyId.slice(0, 16)}…, not this gateway's key ${gatewayKeyId.slice(0, 16)}… ` +
        '(sign a certificate for the public.hex in {dataDir}/keys/gateway with bwc authz sign-gateway-cert)',
    );
  }
  let bundleBytes: Uint8Array | null = null;
  let bundle: Bundle | null = null;
  if (t.bundle) {
    const bundlePath = resolve(t.bundle);
    bundleBytes = readSigned('trust.bundle', bundlePath);
    try {
      bundle = verifyBundle(bundleBytes, root);
    } catch (e) {
      if (isWireError(e)) throw new ConfigError(`trust.bundle ${bundlePath}: ${e.message}`);
      throw e;
    }
  }
  return { trust: { root, certificate, bundle: bundleBytes }, cert, bundle };
}
