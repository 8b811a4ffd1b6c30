/**
 * Enrolling a dock's state directory with a gateway (`bwc dock enroll`, and the demo's docks):
 * the device key is generated here and never leaves (mode 0600), the one-time token is redeemed
 * with a signed request, and the gateway's signed answer is checked against the pinned root
 * fingerprint before anything is kept: the root key and the policy bundle go to the policy store,
 * the gateway certificate and the camera assignments to the dock's state, the MQTT password and
 * the enrollment record to files of mode 0600.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { statePaths } from './config.js';
import { generateKeyDir, loadDeviceKey } from './custody/keys.js';
import { enroll, writePrivateFile, EnrollmentError } from './sync/enroll.js';
import { openDockDb } from './store/dock-db.js';
import { DockState } from './store/state.js';
import { PolicyStore } from './policy/store.js';
import { PRIVATE_KEY_FILE } from '../proto/keydir.js';

export interface DockEnrolled {
  deviceId: string;
  fleet: string;
  keyId: string;
  broker: string;
  gateway: string;
  policyBundle: boolean;
  stateDir: string;
}

/** Throws EnrollmentError (what to do) or KeyFileError (the key directory). */
export async function enrollDock(o: {
  stateDir: string;
  gatewayUrl: string;
  deviceId: string;
  token: string;
  rootFingerprint: string;
  hardware?: string;
  fetchImpl?: typeof fetch;
}): Promise<DockEnrolled> {
  const paths = statePaths({ stateDir: o.stateDir });
  if (existsSync(paths.enrollment))
    throw new EnrollmentError(`this state directory is already enrolled (${paths.enrollment}); use another state directory to enroll again`);
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  if (!existsSync(`${paths.keyDir}/${PRIVATE_KEY_FILE}`)) generateKeyDir(paths.keyDir);
  const signer = loadDeviceKey(paths.keyDir);
  // The key is kept even when enrollment fails: a retry is the same device, key and token.
  const r = await enroll({
    gatewayUrl: o.gatewayUrl,
    deviceId: o.deviceId,
    token: o.token,
    rootFingerprint: o.rootFingerprint,
    signer,
    ...(o.hardware ? { hardware: o.hardware } : {}),
    ...(o.fetchImpl ? { fetchImpl: o.fetchImpl } : {}),
  });
  const policy = PolicyStore.open(paths.policyDb, { root: r.root });
  try {
    if (r.bundle) policy.addBundle(r.bundle);
  } finally {
    policy.close();
  }
  const db = openDockDb(paths.db);
  try {
    const state = new DockState(db);
    state.setJson('gateway_certs', [r.record.gatewayCertificate]);
    if (r.assignments) {
      state.setJson(
        'assignments',
        r.assignments.assignments.map((a) => ({
          cameraSerial: a.cameraSerial,
          officerId: a.officerId,
          fromMs: Number(a.fromMs),
          toMs: Number(a.toMs),
        })),
      );
      state.set('assignments_at', String(Number(r.assignments.header?.createdAtMs ?? 0)));
    }
  } finally {
    db.close();
  }
  writePrivateFile(paths.mqttPassword, `${r.mqttPassword}\n`, 0o600);
  writePrivateFile(paths.enrollment, `${JSON.stringify(r.record, null, 2)}\n`, 0o600);
  return {
    deviceId: r.record.deviceId,
    fleet: r.record.fleet,
    keyId: signer.keyId,
    broker: r.record.brokerUrl,
    gateway: r.gateway.gatewayId,
    policyBundle: r.bundle !== null,
    stateDir: paths.dir,
  };
}
