/**
 * Fixtures for dock tests: the agency root, a gateway key certified by it and a root-signed policy
 * bundle (as an agency would prepare them), child processes of `bwc` with their output kept, and
 * the Mosquitto ACL that confines each device to its own prefix (device/README.md).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { signGatewayCertificate } from '../proto/gateway-cert.js';
import { bundleFromSource, signPolicyObject } from '../proto/policy.js';
import { loadOrCreateGatewayKey } from '../gateway/signer.js';
import { signerFromSeed, type DeviceKey } from '../device/custody/keys.js';
import { BWC, pseudoRandomBytes } from './helpers.js';

export const OFFICER = 'O-17';

export interface AgencyTrust {
  root: DeviceKey;
  /** Files for the gateway's `trust` settings. */
  trust: { rootPublicKey: string; certificate: string; bundle: string };
}

/** Root key, the gateway key in `{gwData}/keys/gateway` certified for `gatewayId`, and a bundle. */
export function agencyTrust(dir: string, gwData: string, o: { fleet: string; gatewayId: string; seed?: number }): AgencyTrust {
  const now = Date.now();
  const root = signerFromSeed(pseudoRandomBytes(32, o.seed ?? 4242));
  const { signer: gwKey } = loadOrCreateGatewayKey(join(gwData, 'keys', 'gateway'));
  const trust = { rootPublicKey: join(dir, 'root.hex'), certificate: join(dir, `${o.gatewayId}.cert`), bundle: join(dir, 'policy.bundle') };
  writeFileSync(trust.rootPublicKey, `${root.publicKeyHex}\n`);
  writeFileSync(trust.certificate, signGatewayCertificate({ gatewayId: o.gatewayId, fleet: o.fleet, publicKey: gwKey.publicKey, notBeforeMs: now - 3600_000, notAfterMs: now + 365 * 86_400_000 }, root));
  writeFileSync(trust.bundle, signPolicyObject('PolicyBundle', bundleFromSource({
    version: 3, issuedAt: new Date(now - 86_400_000).toISOString(), expiresAt: new Date(now + 30 * 86_400_000).toISOString(),
    triggers: ['at_large_arrest', 'search_warrant', 'public_interaction'], excludedActivities: ['undercover_operation'],
    prohibitedPurposes: ['first_amendment_activity'], officersIssued: [OFFICER],
  }), root).bytes);
  return { root, trust };
}

export type BwcProcess = ChildProcess & { output(): string; stdoutText(): string };

const running: ChildProcess[] = [];

/** `bwc …` as a child process; its output is kept for failure messages. */
export function spawnBwc(args: string[], name: string): BwcProcess {
  const p = spawn(process.execPath, [BWC, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stdout = '';
  p.stdout!.on('data', (d: Buffer) => { out += d.toString(); stdout += d.toString(); });
  p.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  running.push(p);
  return Object.assign(p, { output: () => `--- ${name} ---\n${out.slice(-20_000)}`, stdoutText: () => stdout });
}

export function killAll(): void {
  for (const p of running) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

export async function exited(p: ChildProcess, timeoutMs = 60_000): Promise<number | null> {
  if (p.exitCode !== null) return p.exitCode;
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(null), timeoutMs);
    p.once('exit', (code) => { clearTimeout(t); resolve(code); });
  });
}

/** The Mosquitto ACL of device/README.md: each device its own prefix and direction; the gateway all. */
export function mosquittoAcl(fleet: string, gatewayUser: string): string {
  const up = ['birth', 'death', 'status', 'event', 'manifest', 'chunk', 'log'];
  return [
    `pattern read bwc/v1/${fleet}/_gateway/+/state`,
    ...up.map((k) => `pattern write bwc/v1/${fleet}/%u/${k}`),
    `pattern read bwc/v1/${fleet}/%u/cmd`,
    `pattern read bwc/v1/${fleet}/%u/ack`,
    `user ${gatewayUser}`,
    `topic readwrite bwc/v1/${fleet}/#`,
    '',
  ].join('\n');
}
