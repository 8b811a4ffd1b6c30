/**
 * Opening an enrolled dock's state directory for the agent: the enrollment record, the device key,
 * the dock database, the gateway keys the pinned root certified, the policy store and the MQTT
 * session settings (broker, credentials, TLS files). Each failure is a DockError that says what to
 * do; nothing here runs in the background.
 */
import { mkdirSync, accessSync, constants as fsc, existsSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { dockLogger } from './log.js';
import { trustPublicKey } from '../proto/ed25519.js';
import { loadDeviceKey, type DeviceKey } from './custody/keys.js';
import { PolicyStore } from './policy/store.js';
import { openDockDb, type Db } from './store/dock-db.js';
import { DockState } from './store/state.js';
import { GatewayTrust } from './sync/trust.js';
import { readEnrollment, type EnrollmentError } from './sync/enroll.js';
import type { SessionSettings } from './sync/sync.js';
import { statePaths, type DockConfig } from './config.js';

export class DockError extends Error {
  override name = 'DockError';
}

export interface OpenedDock {
  deviceId: string;
  fleet: string;
  signer: DeviceKey;
  db: Db;
  policy: PolicyStore;
  trust: GatewayTrust;
  paths: ReturnType<typeof statePaths>;
  session: SessionSettings;
}

/** The agent's log: JSON lines on stderr. */
export function defaultDockLogger(level = 'info'): Logger {
  return dockLogger({ level });
}

/** Opens the state directory of an enrolled dock. Throws DockError with what to do. */
export function openDock(c: DockConfig, log: Logger, now: number): OpenedDock {
  const paths = statePaths(c);
  try {
    mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
    accessSync(paths.dir, fsc.W_OK);
  } catch (e) {
    throw new DockError(`state directory ${paths.dir} is not writable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let enrollment;
  try {
    enrollment = readEnrollment(paths.enrollment);
  } catch (e) {
    throw new DockError((e as EnrollmentError).message);
  }
  if (!enrollment) throw new DockError(`this dock is not enrolled (no ${paths.enrollment}); run \`bwc dock enroll\` first`);
  if (c.deviceId && c.deviceId !== enrollment.deviceId)
    throw new DockError(`config deviceId ${c.deviceId} differs from the enrolled device ${enrollment.deviceId}`);
  if (c.fleet && c.fleet !== enrollment.fleet) throw new DockError(`config fleet ${c.fleet} differs from the enrolled fleet ${enrollment.fleet}`);
  let signer: DeviceKey;
  try {
    signer = loadDeviceKey(paths.keyDir);
  } catch (e) {
    throw new DockError(`device key: ${(e as Error).message}`);
  }
  let db: Db;
  try {
    db = openDockDb(paths.db);
  } catch (e) {
    throw new DockError(`cannot open the dock database ${paths.db}: ${(e as Error).message}`);
  }
  const state = new DockState(db);
  if (state.get('decommissioned')) {
    db.close();
    throw new DockError(`this dock was decommissioned on ${state.get('decommissioned')}; it no longer runs`);
  }
  const root = trustPublicKey(Buffer.from(enrollment.rootPublicKey, 'hex'), 'pinned root key');
  const trust = new GatewayTrust(root, enrollment.fleet);
  for (const cert of [enrollment.gatewayCertificate, ...(state.json<string[]>('gateway_certs') ?? [])]) {
    try {
      trust.addCertificate(Buffer.from(cert, 'base64'), now);
    } catch (e) {
      log.warn(`a stored gateway certificate is no longer accepted: ${(e as Error).message}`);
    }
  }
  const policy = PolicyStore.open(paths.policyDb, { root });
  const passwordFile = c.mqtt.passwordFile ?? paths.mqttPassword;
  const password = existsSync(passwordFile) ? readFileSync(passwordFile, 'utf8').trim() : undefined;
  const username = c.mqtt.username ?? (enrollment.mqttUsername || undefined);
  return {
    deviceId: enrollment.deviceId,
    fleet: enrollment.fleet,
    signer,
    db,
    policy,
    trust,
    paths,
    session: sessionSettings(c, {
      url: c.mqtt.url ?? enrollment.brokerUrl,
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
    }),
  };
}

/** The MQTT session settings: the broker and credentials, the configured timings, the TLS files read now. */
function sessionSettings(c: DockConfig, mqtt: { url: string; username?: string; password?: string }): SessionSettings {
  const tlsFile = (field: 'ca' | 'cert' | 'key'): { [k: string]: Buffer } => {
    const path = c.mqtt.tls?.[field];
    if (!path) return {};
    try {
      return { [field]: readFileSync(path) };
    } catch (e) {
      throw new DockError(`mqtt.tls.${field}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  const tls = c.mqtt.tls ? { rejectUnauthorized: c.mqtt.tls.rejectUnauthorized, ...tlsFile('ca'), ...tlsFile('cert'), ...tlsFile('key') } : undefined;
  return {
    url: mqtt.url,
    protocolVersion: c.mqtt.protocolVersion,
    keepaliveS: c.mqtt.keepaliveS,
    connectTimeoutMs: c.mqtt.connectTimeoutMs,
    backoffMinMs: c.mqtt.backoffMinMs,
    backoffMaxMs: c.mqtt.backoffMaxMs,
    watchdogMs: c.mqtt.watchdogMs,
    ...(mqtt.username !== undefined ? { username: mqtt.username } : {}),
    ...(mqtt.password !== undefined ? { password: mqtt.password } : {}),
    ...(tls ? { tls } : {}),
  };
}
