/**
 * Enrollment (DESIGN §8): not trust-on-first-use. The device key is generated here, on the dock,
 * and never leaves it. The token leaves the dock only to a gateway that has proved itself, over
 * TLS (plain http:// only to a loopback address): `GET /api/v1/enroll?nonce=…` must answer with a
 * root whose key id is the fingerprint given out of band, a certificate that root signed, and the
 * certified key's signature over the dock's fresh nonce (proto/enrollment-proof.ts). Then the dock
 * POSTs a signed EnrollmentRequest with the operator's one-time token to `/api/v1/enroll`, and
 * trusts the answer only if:
 *
 *   1. the root public key in it has the fingerprint (key id) given out of band;
 *   2. the gateway certificate in it is signed by that root, for this fleet, valid now;
 *   3. the EnrollmentResponse itself is signed by the certified gateway key and names this device;
 *   4. the policy bundle in it (if any) is signed by the root.
 *
 * Only then is anything written: the enrollment record (device id, fleet, broker URL, MQTT user,
 * root key, gateway certificate) and the MQTT password (mode 0600, never logged). A lost answer
 * does not burn the token: the same device id, key and token may ask again, and get the same
 * answer, until the device first connects to the broker.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync, renameSync, existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { pb, type bwc } from '../../proto/wire.js';
import { sealEnvelope, openEnvelope, assertEnvelopeSigned } from '../../proto/envelope.js';
import { keyIdOf, trustPublicKey, type TrustedKey } from '../../proto/ed25519.js';
import { verifyGatewayCertificate, type GatewayCert } from '../../proto/gateway-cert.js';
import { verifyBundle } from '../../proto/policy.js';
import { isWireError } from '../../proto/errors.js';
import { verifyEnrollmentProof, type EnrollmentProof } from '../../proto/enrollment-proof.js';
import { assertId } from '../../proto/topics.js';
import { SOFTWARE_VERSION } from '../../proto/version.js';
import type { Signer } from '../../proto/envelope.js';

export class EnrollmentError extends Error {
  override name = 'EnrollmentError';
}

/** What enrollment leaves in the state directory (enrollment.json). */
export interface EnrollmentRecord {
  deviceId: string;
  fleet: string;
  brokerUrl: string;
  mqttUsername: string;
  /** Hex of the agency root public key (32 bytes). */
  rootPublicKey: string;
  /** Base64 of the root-signed gateway certificate envelope. */
  gatewayCertificate: string;
  gatewayUrl: string;
  enrolledAt: string;
}

export interface EnrollmentResult {
  record: EnrollmentRecord;
  mqttPassword: string;
  gateway: GatewayCert;
  root: TrustedKey;
  /** Root-signed bundle envelope, if the gateway sent one. */
  bundle: Uint8Array | null;
  /** The CameraAssignments envelope signed by the gateway, if any. */
  assignments: bwc.v1.CameraAssignments | null;
}

export function buildEnrollmentRequest(o: {
  deviceId: string;
  token: string;
  signer: Signer & { publicKey: Uint8Array };
  hardware?: string;
  now?: number;
}): Uint8Array {
  assertId(o.deviceId, 'device id');
  const body = pb.EnrollmentRequest.encode({
    header: { issuer: o.deviceId, subjectDevice: o.deviceId, seq: 0, createdAtMs: o.now ?? Date.now() },
    deviceId: o.deviceId,
    publicKey: o.signer.publicKey,
    token: o.token,
    agentVersion: SOFTWARE_VERSION,
    hardware: o.hardware ?? '',
  }).finish();
  return sealEnvelope('EnrollmentRequest', body, o.signer).bytes;
}

/** Checks a gateway's EnrollmentResponse against the fingerprint given out of band. */
export function checkEnrollmentResponse(
  bytes: Uint8Array,
  o: { deviceId: string; rootFingerprint: string; now: number },
): Omit<EnrollmentResult, 'record'> & { response: bwc.v1.EnrollmentResponse } {
  const fail = (m: string): never => {
    throw new EnrollmentError(`enrollment response refused: ${m}`);
  };
  try {
    const env = openEnvelope(bytes, { expectType: 'EnrollmentResponse' });
    const r = pb.EnrollmentResponse.decode(env.body);
    if (r.rootPublicKey.byteLength !== 32) fail('it carries no root public key');
    const fingerprint = keyIdOf(r.rootPublicKey);
    if (fingerprint !== o.rootFingerprint.toLowerCase())
      fail(`the root key's fingerprint is ${fingerprint}, not the ${o.rootFingerprint} given with --root-fingerprint`);
    const root = trustPublicKey(r.rootPublicKey, 'root public key');
    const gateway = verifyGatewayCertificate(r.gatewayCertificate, root, { fleet: r.fleet, at: o.now });
    if (env.keyId !== gateway.key.keyId) fail(`it is signed by key ${env.keyId.slice(0, 16)}…, not by the certified gateway ${gateway.gatewayId}`);
    assertEnvelopeSigned(env, gateway.key);
    if (r.deviceId !== o.deviceId) fail(`it enrolls ${r.deviceId}, not ${o.deviceId}`);
    if (r.header?.subjectDevice !== o.deviceId) fail('its header names another device');
    assertId(r.fleet, 'fleet');
    if (!r.brokerUrl) fail('it names no broker');
    const bundle = r.policyBundle.byteLength > 0 ? r.policyBundle : null;
    if (bundle) verifyBundle(bundle, root);
    let assignments: bwc.v1.CameraAssignments | null = null;
    if (r.cameraAssignments.byteLength > 0) {
      const a = openEnvelope(r.cameraAssignments, { expectType: 'CameraAssignments' });
      assertEnvelopeSigned(a, gateway.key);
      assignments = pb.CameraAssignments.decode(a.body);
    }
    return { response: r, root, gateway, bundle: bundle ? Uint8Array.from(bundle) : null, assignments, mqttPassword: r.mqttPassword };
  } catch (e) {
    if (e instanceof EnrollmentError) throw e;
    if (isWireError(e)) throw new EnrollmentError(`enrollment response refused: ${e.message}`);
    throw e;
  }
}

/** Loopback addresses, the only ones plain http:// may carry a token to. */
function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** The gateway URL, if a token may travel to it: https://, or http:// to a loopback address. */
export function checkGatewayUrl(gatewayUrl: string): URL {
  let u: URL;
  try {
    u = new URL(gatewayUrl);
  } catch {
    throw new EnrollmentError(`--gateway ${gatewayUrl} is not a URL (https://HOST:PORT)`);
  }
  if (u.protocol === 'https:') return u;
  if (u.protocol === 'http:' && isLoopback(u.hostname)) return u;
  if (u.protocol === 'http:') {
    throw new EnrollmentError(
      `refusing to send the enrollment token over plain http:// to ${u.hostname}: anyone on the way could read it and the MQTT password. ` +
        'Use https:// (the gateway behind a TLS proxy, scripts/deploy/README.md); plain http:// only to a loopback address (127.0.0.1, ::1, localhost)',
    );
  }
  throw new EnrollmentError(`--gateway must be an https:// URL (or http:// to a loopback address), not ${u.protocol}//`);
}

const reason = (e: unknown) => ((e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message);

/**
 * Asks the gateway to prove itself (GET /api/v1/enroll with a fresh nonce) and checks the proof
 * against the pinned root fingerprint. Nothing secret is sent.
 */
export async function checkGatewayProof(
  base: URL,
  rootFingerprint: string,
  o: { now: number; fetchImpl?: typeof fetch },
): Promise<{ root: TrustedKey; gateway: GatewayCert }> {
  const nonce = randomBytes(32);
  const url = new URL(`/api/v1/enroll?nonce=${nonce.toString('hex')}`, base).toString();
  let res: Response;
  try {
    res = await (o.fetchImpl ?? fetch)(url, { method: 'GET', signal: AbortSignal.timeout(30_000) });
  } catch (e) {
    throw new EnrollmentError(`cannot reach the gateway at ${base.origin}: ${reason(e)}`);
  }
  const text = await res.text();
  let j: Partial<EnrollmentProof> & { error?: { message?: string } } = {};
  try {
    j = JSON.parse(text) as typeof j;
  } catch {
    // reported below
  }
  if (!res.ok)
    throw new EnrollmentError(`the gateway cannot enroll devices (HTTP ${res.status}): ${j.error?.message ?? text.slice(0, 200)}; the token was not sent`);
  const fail = (m: string): never => {
    throw new EnrollmentError(`the gateway at ${base.origin} did not prove itself, so the token was not sent: ${m}`);
  };
  if (typeof j.rootPublicKey !== 'string' || typeof j.certificate !== 'string' || typeof j.nonceSignature !== 'string')
    fail('its answer lacks the root key, the certificate or the signature');
  const rootRaw = Buffer.from(j.rootPublicKey!, 'hex');
  if (rootRaw.byteLength !== 32) fail('the root public key is not 32 bytes');
  const fingerprint = keyIdOf(rootRaw);
  if (fingerprint !== rootFingerprint.toLowerCase())
    fail(`the root key's fingerprint is ${fingerprint}, not the ${rootFingerprint} given with --root-fingerprint`);
  try {
    const root = trustPublicKey(rootRaw, 'root public key');
    const gateway = verifyGatewayCertificate(Buffer.from(j.certificate!, 'base64'), root, { at: o.now });
    if (!verifyEnrollmentProof(gateway.key, nonce, Buffer.from(j.nonceSignature!, 'base64')))
      fail(`gateway ${gateway.gatewayId} did not sign this dock's nonce with its certified key`);
    return { root, gateway };
  } catch (e) {
    if (e instanceof EnrollmentError) throw e;
    if (isWireError(e)) fail(e.message);
    throw e;
  }
}

/**
 * Enrolls: the gateway's proof first (checkGatewayProof), then the token in a signed request to
 * `{gatewayUrl}/api/v1/enroll`, then the answer checked.
 */
export async function enroll(o: {
  gatewayUrl: string;
  deviceId: string;
  token: string;
  rootFingerprint: string;
  signer: Signer & { publicKey: Uint8Array };
  hardware?: string;
  now?: () => number;
  fetchImpl?: typeof fetch;
}): Promise<EnrollmentResult> {
  if (!/^[0-9a-f]{64}$/i.test(o.rootFingerprint))
    throw new EnrollmentError('--root-fingerprint must be the root key id: 64 hex digits (bwc authz keygen prints it)');
  const base = checkGatewayUrl(o.gatewayUrl);
  const now = o.now ?? Date.now;
  await checkGatewayProof(base, o.rootFingerprint, { now: now(), ...(o.fetchImpl ? { fetchImpl: o.fetchImpl } : {}) });
  const request = buildEnrollmentRequest({
    deviceId: o.deviceId,
    token: o.token,
    signer: o.signer,
    ...(o.hardware ? { hardware: o.hardware } : {}),
    now: now(),
  });
  const url = new URL('/api/v1/enroll', base).toString();
  let res: Response;
  try {
    res = await (o.fetchImpl ?? fetch)(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ request: Buffer.from(request).toString('base64') }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (e) {
    throw new EnrollmentError(
      `no answer from the gateway at ${url}: ${reason(e)}. The token is not spent by a lost answer: run the same command again (same state directory, same token)`,
    );
  }
  const text = await res.text();
  let json: { response?: string; error?: { message?: string }; message?: string } = {};
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    // reported below
  }
  if (!res.ok)
    throw new EnrollmentError(`the gateway refused the enrollment (HTTP ${res.status}): ${json.error?.message ?? json.message ?? text.slice(0, 200)}`);
  if (!json.response) throw new EnrollmentError(`the gateway's answer carries no signed response (HTTP ${res.status})`);
  const checked = checkEnrollmentResponse(Buffer.from(json.response, 'base64'), {
    deviceId: o.deviceId,
    rootFingerprint: o.rootFingerprint,
    now: now(),
  });
  const r = checked.response;
  const record: EnrollmentRecord = {
    deviceId: o.deviceId,
    fleet: r.fleet,
    brokerUrl: r.brokerUrl,
    mqttUsername: r.mqttUsername,
    rootPublicKey: Buffer.from(r.rootPublicKey).toString('hex'),
    gatewayCertificate: Buffer.from(r.gatewayCertificate).toString('base64'),
    gatewayUrl: o.gatewayUrl,
    enrolledAt: new Date(now()).toISOString(),
  };
  return {
    record,
    mqttPassword: checked.mqttPassword,
    gateway: checked.gateway,
    root: checked.root,
    bundle: checked.bundle,
    assignments: checked.assignments,
  };
}

/** Writes a file atomically with `mode` (temp file, then rename). */
export function writePrivateFile(path: string, text: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode, flag: 'wx' });
  renameSync(tmp, path);
}

export function readEnrollment(path: string): EnrollmentRecord | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as EnrollmentRecord;
  } catch (e) {
    throw new EnrollmentError(`${path} cannot be read: ${(e as Error).message}`);
  }
}
