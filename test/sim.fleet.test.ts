/**
 * `bwc sim fleet` against a real Mosquitto and a gateway connected to it (as several gateways
 * would be): hundreds of simulated docks on the dock's sync layer register through the API,
 * connect, are born, report Status and upload small clips until VERIFIED; at the end each says a
 * clean goodbye. The gateway sees every one online, ingests their statuses and verifies their
 * clips; nothing is refused. (The 10,000-dock run is a benchmark: scripts/bench/README.md.)
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMosquitto, type LocalMosquitto } from '../scripts/sim/mosquitto.js';
import { parseGatewayConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { silentLogger } from '../gateway/api/http.js';
import { trustFiles } from './gateway.fixtures.js';
import { runBwcAsync, tempDir, until } from './helpers.js';

const N = 300;
let mosquitto: LocalMosquitto;
let gw: RunningGateway;
let tokenFile: string;
let rootFile: string;

beforeAll(async () => {
  mosquitto = await startMosquitto();
  const dataDir = tempDir('bwc-fleet-gw-');
  const trust = trustFiles(dataDir, { gatewayId: 'gw-fleet', fleet: 'f1' });
  rootFile = trust.rootPublicKey;
  gw = await startGateway({
    log: silentLogger,
    config: parseGatewayConfig({
      fleet: 'f1',
      gatewayId: 'gw-fleet',
      dataDir,
      http: { port: 0 },
      mqtt: { url: mosquitto.url },
      sweepIntervalMs: 600_000,
      trust: { rootPublicKey: trust.rootPublicKey, certificate: trust.certificate },
    }),
  });
  await gw.auth.createUser({ username: 'otto', password: 'otto-password-long-enough', roles: ['operator'], offices: [], personId: null });
  tokenFile = join(dataDir, 'operator.token');
  writeFileSync(tokenFile, `${(await gw.auth.createApiToken('otto', 'fleet')).token}\n`, { mode: 0o600 });
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await mosquitto?.stop();
});

describe('bwc sim fleet through Mosquitto', () => {
  it(`brings ${N} docks online at the gateway, ingests their statuses and verifies their clips, then takes them offline cleanly`, async () => {
    const run = runBwcAsync([
      'sim',
      'fleet',
      '--devices',
      String(N),
      '--broker',
      mosquitto.url,
      '--gateway',
      `http://127.0.0.1:${gw.httpPort}`,
      '--root-pubkey',
      rootFile,
      '--token-file',
      tokenFile,
      '--fleet',
      'f1',
      '--status-interval',
      '2',
      '--clip-every',
      '20',
      '--clip-bytes',
      '150000',
      '--duration',
      '15',
      '--json',
    ]);
    const online = async () => Number((await gw.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM devices WHERE online = 1`))?.n);
    await until(`${N} docks online`, async () => (await online()) === N, 60_000);
    const r = await run;
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as {
      registered: number;
      connected: number;
      births: number;
      statuses: number;
      clips: number;
      verified: number;
      acksRefused: number;
    };
    expect(summary).toMatchObject({ registered: N, connected: N, acksRefused: 0 });
    expect(summary.births).toBeGreaterThanOrEqual(N);
    expect(summary.statuses).toBeGreaterThanOrEqual(N);
    expect(summary.clips).toBeGreaterThan(0);
    expect(summary.verified).toBeGreaterThan(0);
    await gw.idle();
    const statuses = Number((await gw.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM messages WHERE type = 'Status'`))?.n);
    expect(statuses).toBeGreaterThanOrEqual(N);
    const verified = Number((await gw.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM manifests WHERE state = 'VERIFIED'`))?.n);
    expect(verified).toBeGreaterThanOrEqual(summary.verified);
    // Every dock said a clean goodbye: offline, and no alert for it; nothing was refused.
    await until('every dock offline', async () => (await online()) === 0, 20_000);
    const alerts = await gw.alerts.list({});
    expect(alerts.map((a) => a.kind).filter((k) => k !== 'UPLOAD_OVERDUE')).toEqual([]);
    expect(Object.values(gw.ingest.counters.rejected).reduce((a, b) => a + b, 0)).toBe(0);
  }, 180_000);
});
