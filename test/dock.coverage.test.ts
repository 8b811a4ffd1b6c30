/**
 * Whole-recording coverage on a running dock (DESIGN §5, second round; 1061.2 §5.1, §5.2(5)): a
 * live recording authorized by a grant that expires while it runs. Every part is real: the gateway
 * with its embedded broker, an enrolled dock agent, and a simulated camera on the far end of a socat
 * pty pair. At the grant's expiry the dock alerts the officer on the camera (the alert frame arrives
 * within a second of it), the camera records on, the gateway hears of it, and the decision after the
 * stop is UNAUTHORIZED with `coveredUntil` at the expiry.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { silentLogger } from '../gateway/api/http.js';
import { parseDockConfig, statePaths } from '../device/config.js';
import { DockAgent } from '../device/agent.js';
import { enrollDock } from '../device/enrollment.js';
import { PolicyStore } from '../device/policy/store.js';
import { signerFromSeed } from '../device/custody/keys.js';
import { CameraSim } from '../device/link/sim/camera.js';
import { parseScenario } from '../device/link/sim/scenario.js';
import { serialLinkPort } from '../device/link/transport.js';
import { trustPublicKey } from '../proto/ed25519.js';
import { grantFromSource, signPolicyObject } from '../proto/policy.js';
import type { DecisionJson } from '../proto/decision.js';
import { agencyTrust, OFFICER, type AgencyTrust } from './dock.fixtures.js';
import { ptyPair, tempDir, until } from './helpers.js';

const dir = tempDir('bwc-dock-coverage-');
const CAMERA = 'CAM-COV-1';
const fro = signerFromSeed(Buffer.alloc(32, 77));
let gw: RunningGateway;
let agency: AgencyTrust;

beforeAll(async () => {
  const gwData = join(dir, 'gateway');
  agency = agencyTrust(dir, gwData, {
    fleet: 'cov',
    gatewayId: 'gw-cov',
    issuers: [{ name: 'FRO Seattle', personId: 'U7', publicKey: fro.publicKeyHex, roles: ['FRO'] }],
  });
  gw = await startGateway({
    log: silentLogger,
    config: parseGatewayConfig({
      fleet: 'cov',
      gatewayId: 'gw-cov',
      dataDir: gwData,
      http: { port: 0 },
      mqtt: { embedded: { port: 0 } },
      trust: agency.trust,
      sweepIntervalMs: 1000,
    }),
  });
  await gw.fleet.assign(CAMERA, OFFICER, 'otto', 'operator', Date.now() - 3600_000);
  const { token } = await gw.fleet.createEnrollmentToken('dock-cov-1', 'otto');
  await enrollDock({
    stateDir: join(dir, 'dock'),
    gatewayUrl: `http://127.0.0.1:${gw.httpPort}`,
    deviceId: 'dock-cov-1',
    token,
    rootFingerprint: agency.root.keyId,
  });
}, 60_000);

afterAll(async () => {
  await gw?.stop();
});

describe('DESIGN §5 whole-recording coverage on a live recording', () => {
  it("alerts the officer on the camera within a second of the grant's expiry, reports it, and decides the stopped clip UNAUTHORIZED with coveredUntil", async () => {
    // An undercover investigation (excluded from the BWC triggers) authorized by an FRO's grant
    // (1061.2 §2.1(8)) that expires a few seconds into the recording.
    const expiresAt = Date.now() + 6000;
    const grant = signPolicyObject(
      'AuthorizationGrant',
      grantFromSource({
        id: 'G-COV',
        category: 'authorized_investigation',
        requester: OFFICER,
        approver: 'U7',
        approverRole: 'FRO',
        scope: { officers: [OFFICER] },
        methods: ['video'],
        notBefore: new Date(Date.now() - 60_000).toISOString(),
        expiresAt: new Date(expiresAt).toISOString(),
      }),
      fro,
    );
    const store = PolicyStore.open(statePaths({ stateDir: join(dir, 'dock') }).policyDb, { root: trustPublicKey(agency.root.publicKey) });
    try {
      expect(store.add('AuthorizationGrant', grant.bytes).added).toBe(true);
    } finally {
      store.close();
    }

    const pty = await ptyPair(dir, 'cov');
    const storage = join(dir, 'camera');
    const agent = DockAgent.open({
      config: parseDockConfig({
        stateDir: join(dir, 'dock'),
        link: { ports: [pty.dock] },
        storage: { mounts: { [CAMERA]: storage } },
        clock: { ntp: 'synced' },
        sync: { statusIntervalS: 2, ackTimeoutMs: 3000 },
        mqtt: { backoffMinMs: 100, backoffMaxMs: 1000 },
      }),
      log: silentLogger,
    });
    const alerts: { line: string; at: number }[] = [];
    await agent.start();
    try {
      const sim = new CameraSim({
        scenario: parseScenario({
          camera: { serial: CAMERA },
          steps: [
            { start: { clip: 'cov-1', activity: 'undercover_operation', preEventBufferS: 0 } },
            { wait: Math.max(0, expiresAt - Date.now()) + 2500 },
            { stop: { clip: 'cov-1' } },
            { ready: { clip: 'cov-1', size: 200_000 } },
          ],
        }),
        storageDir: storage,
        port: serialLinkPort(pty.cam),
        settleMs: 3000,
        untilReleasedMs: 60_000,
        log: (line) => {
          if (line.startsWith('alert ')) alerts.push({ line, at: Date.now() });
        },
      });
      const running = sim.run();
      const ended = await until("the alert at the grant's expiry", () => alerts.find((a) => /^alert ALERT_KIND_UNAUTHORIZED cov-1/.test(a.line)), 20_000);
      // Authorized at its start: no alert before the expiry; the alert comes within a second of it.
      expect(alerts.filter((a) => a.at < expiresAt - 20)).toEqual([]);
      expect(ended.at - expiresAt).toBeLessThan(1000);
      expect(ended.line).toMatch(/GRANT_EXPIRED_DURING_RECORDING/);

      const result = await running;
      expect(result.released).toEqual(['cov-1']); // the recording went on and was kept in full
      const row = agent.clips.get(CAMERA, 'cov-1')!;
      const final = (JSON.parse(row.facts) as { decision: DecisionJson }).decision;
      expect(final).toMatchObject({ decision: 'UNAUTHORIZED', coveredUntil: new Date(expiresAt).toISOString() });
      expect(final.reasons).toContain('GRANT_EXPIRED_DURING_RECORDING');
      expect(final.clauses).toContain('1061.2§5.2(5)');

      // The gateway heard of it at once, as an unauthorized recording (1061.2 §4).
      const alert = await until(
        'the supervisor alert at the gateway',
        async () => {
          const rows = await gw.db.all<{ kind: string; subject: string | null; message: string }>(
            "SELECT kind, subject, message FROM alerts WHERE kind = 'UNAUTHORIZED_RECORDING'",
          );
          return rows.find((r) => r.subject === 'cov-1');
        },
        20_000,
      );
      expect(alert.message).toMatch(/GRANT_EXPIRED_DURING_RECORDING/);
    } finally {
      await agent.stop();
    }
  }, 90_000);
});
