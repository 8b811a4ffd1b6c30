/**
 * Fleet rules that must hold under concurrency and across the broker: a camera never has two open
 * assignments (concurrent operators on PostgreSQL, and the schema itself on both engines), and a
 * decommissioned device's MQTT session on the embedded broker ends at once.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { openGatewayDb } from '../gateway/store/open.js';
import { Alerts } from '../gateway/fleet/alerts.js';
import { Fleet } from '../gateway/fleet/registry.js';
import { parseGatewayConfig } from '../gateway/config.js';
import { startGateway } from '../gateway/gateway.js';
import { silentLogger } from '../gateway/api/http.js';
import { TestDock } from './gateway.fixtures.js';
import { startPostgres, type TestPostgres } from './pg.js';
import { tempDir } from './helpers.js';
import { engines } from './tiers.js';

let pg: TestPostgres;
beforeAll(async () => {
  if (engines().includes('postgres')) pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  await pg?.stop();
});

describe.each(engines())('camera assignments on %s', (engine) => {
  const open = async () => openGatewayDb(engine === 'postgres' ? await pg.newDatabase() : join(tempDir(), 'gw.db'));

  it('ends concurrent assignments of one camera with exactly one open, the others closed in order', async () => {
    const db = await open();
    const fleet = new Fleet({ db, alerts: new Alerts(db), fleet: 'f1' });
    await Promise.all(['O-1', 'O-2', 'O-3', 'O-4'].map((o) => fleet.assign('CAM-7', o, 'ops', 'operator')));
    const rows = await fleet.assignmentHistory('CAM-7');
    expect(rows).toHaveLength(4);
    expect(rows.filter((r) => r.to_at === null)).toHaveLength(1);
    for (let i = 0; i + 1 < rows.length; i++) expect(rows[i]!.to_at).not.toBeNull();
    await db.close();
  });

  it('refuses a second open assignment written behind the registry', async () => {
    const db = await open();
    const insert = (officer: string) =>
      db.run('INSERT INTO camera_assignments (camera_serial, officer_id, from_at, assigned_by, source) VALUES (?, ?, ?, ?, ?)', [
        'CAM-8',
        officer,
        1,
        'x',
        'operator',
      ]);
    await insert('O-1');
    await expect(insert('O-2')).rejects.toThrow(/unique|UNIQUE/);
    await db.close();
  });
});

describe('decommission on the embedded broker', () => {
  it("ends the device's MQTT session at once", async () => {
    const gw = await startGateway({
      config: parseGatewayConfig({ fleet: 'f1', gatewayId: 'gw1', dataDir: tempDir(), mqtt: { embedded: { port: 0 } }, http: { port: 0 } }),
      log: silentLogger,
    });
    try {
      const dock = new TestDock('dock-d', 'f1', 31);
      const creds = await gw.fleet.enroll(dock.deviceId, dock.key.publicKey, 'test');
      const client = await mqtt.connectAsync(gw.mqttUrl, {
        clientId: 'dock-d',
        username: creds.mqttUsername,
        password: creds.mqttPassword,
        reconnectPeriod: 0,
      });
      const closed = new Promise<void>((r) => client.once('close', () => r()));
      await gw.fleet.decommission('dock-d', 'ops');
      await closed;
      await expect(
        mqtt.connectAsync(gw.mqttUrl, {
          clientId: 'dock-d',
          username: creds.mqttUsername,
          password: creds.mqttPassword,
          reconnectPeriod: 0,
        }),
      ).rejects.toThrow(/Not authorized/i);
      client.end(true);
    } finally {
      await gw.stop();
    }
  }, 30_000);
});
