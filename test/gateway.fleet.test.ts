/**
 * The fleet (gateway/README.md "Fleet"): enrollment and its one-time tokens, decommission
 * (4007.1 §4.7), live state from Birth/Death/Status/Event through verified ingest, camera
 * assignments (DESIGN §5 "Camera assignment"), the sweep and alerts — on SQLite and PostgreSQL —
 * then the fleet HTTP routes and the signed assignment push on a running gateway.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { pb, type bwc } from '../proto/wire.js';
import { assertEnvelopeSigned, openEnvelope, sealEnvelope, type Signer } from '../proto/envelope.js';
import { trustPublicKey } from '../proto/ed25519.js';
import { sha256, toHex } from '../proto/bytes.js';
import { deviceTopic } from '../proto/topics.js';
import type { Db } from '../gateway/store/db.js';
import { openGatewayDb } from '../gateway/store/open.js';
import { ClipStore } from '../gateway/ingest/clip-store.js';
import { Ingest } from '../gateway/ingest/ingest.js';
import type { IngestResult } from '../gateway/ingest/types.js';
import { GatewayMessenger } from '../gateway/messenger.js';
import { loadOrCreateGatewayKey } from '../gateway/signer.js';
import { Fleet, FleetError, type AssignmentRow } from '../gateway/fleet/registry.js';
import { Alerts } from '../gateway/fleet/alerts.js';
import { parseGatewayConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { silentLogger } from '../gateway/api/http.js';
import { fastSignerFromSeed as signerFromSeed } from './keys.js';
import { TestDock, trustFiles, type TestClip, type TrustFiles } from './gateway.fixtures.js';
import { openKeyring } from '../proto/keyring.js';
import { startPostgres, type TestPostgres } from './pg.js';
import { pseudoRandomBytes, runBwcAsync, tempDir, until, HARNESS_DB, TEST_PASSWORD_COST } from './helpers.js';
import { engines, UNIT_TIER } from './tiers.js';

const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const GiB = 1024 ** 3;
const THRESHOLDS = { offlineAfterMs: MINUTE, clockDriftMs: 2_000, storageLowBytes: GiB, uploadOverdueMs: HOUR };

const hex = (s: string) => Buffer.from(s, 'hex');
// Keys no device may enroll with (test/proto.ed25519.test.ts has the full lists).
const WEAK_KEYS: [string, RegExp][] = [
  ['0100000000000000000000000000000000000000000000000000000000000000', /small-order/], // the identity
  ['ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', /small-order/], // order 2
  ['26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', /small-order/], // order 8
  ['edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', /canonical/], // y = p
  ['0100000000000000000000000000000000000000000000000000000000000080', /canonical/], // identity, "negative zero" x
  ['0200000000000000000000000000000000000000000000000000000000000000', /not a point/], // y = 2 is on no curve point
];

/** A device key nobody else in this file uses. */
const keyOf = (seed: number) => signerFromSeed(pseudoRandomBytes(32, seed));

/** The FleetError a call was refused with (fails the test if it was not refused with one). */
async function refusal(p: Promise<unknown>): Promise<FleetError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e, 'refused with a FleetError').toBeInstanceOf(FleetError);
  return e as FleetError;
}

function decision(verdict: 'AUTHORIZED' | 'UNAUTHORIZED' | 'PROHIBITED', reasons: string[], clauses: string[]): bwc.v1.IActivationDecision {
  return {
    decision: {
      AUTHORIZED: pb.Verdict.VERDICT_AUTHORIZED,
      UNAUTHORIZED: pb.Verdict.VERDICT_UNAUTHORIZED,
      PROHIBITED: pb.Verdict.VERDICT_PROHIBITED,
    }[verdict],
    reasons,
    clauses,
    policyVersion: 3,
    evaluatedAtMs: T0,
    decidedAtMs: T0,
  };
}

// ───────────────────────── Fleet and Alerts on a database, fed by verified ingest ─────────────────────────

interface Harness {
  db: Db;
  fleet: Fleet;
  alerts: Alerts;
  ingest: Ingest;
  /** The clock the fleet, the alerts and ingest read; tests move it. */
  clock: { now: number };
  /** dock-1, enrolled. */
  dock: TestDock;
  mqttPassword: string;
  /** How often the fleet asked to push the assignments to the docks. */
  pushes: { count: number };
  send(kind: Parameters<TestDock['topic']>[0], payload: Uint8Array, dock?: TestDock): Promise<IngestResult>;
  upload(clip: TestClip, dock?: TestDock): Promise<void>;
  close(): Promise<void>;
}

let pg: TestPostgres;
beforeAll(async () => {
  if (engines().includes('postgres')) pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  await pg?.stop();
});

async function harness(engine: 'sqlite' | 'postgres'): Promise<Harness> {
  const dir = tempDir();
  const db = await openGatewayDb(engine === 'sqlite' ? join(dir, 'gateway.db') : await pg.newDatabase(), HARNESS_DB);
  const clock = { now: T0 };
  const now = () => clock.now;
  const store = await new ClipStore(join(dir, 'clips')).init();
  const { signer } = loadOrCreateGatewayKey(join(dir, 'key'));
  const alerts = new Alerts(db, now);
  const fleet = new Fleet({ db, alerts, fleet: 'f1', now, thresholds: THRESHOLDS });
  // Ingest as gateway/compose/ingest.ts builds it; `accepted` is the fleet's share of compose/dispatch.ts (Birth, Death, Status, Event).
  const ingest = new Ingest({
    db,
    store,
    sealer: new GatewayMessenger({ db, signer, gatewayId: 'gw1', fleet: 'f1', now }),
    fleet: 'f1',
    now,
    gapSettleMs: 0,
    sink: {
      publish: async () => {},
      alert: async (a) => {
        await alerts.raise(a);
      },
      accepted: async (m) => {
        switch (m.type) {
          case 'Birth':
            await fleet.applyBirth(m.deviceId, m.body, m.receivedAt);
            break;
          case 'Death':
            await fleet.applyDeath(m.deviceId, m.body, m.receivedAt);
            break;
          case 'Status':
            await fleet.applyStatus(m.deviceId, m.body, m.receivedAt);
            break;
          case 'Event':
            await fleet.applyEvent(m.deviceId, m.body, m.receivedAt);
            break;
          default:
            break;
        }
      },
    },
  });
  fleet.onTrustChanged = (id) => ingest.keys.forget(id);
  const pushes = { count: 0 };
  fleet.onAssignmentsChanged = async () => {
    pushes.count++;
  };
  const dock = new TestDock('dock-1');
  const { mqttPassword } = await fleet.enroll(dock.deviceId, dock.key.publicKey, 'otto');
  const send = (kind: Parameters<TestDock['topic']>[0], payload: Uint8Array, d = dock) => ingest.handle(d.topic(kind), payload);
  return {
    db,
    fleet,
    alerts,
    ingest,
    clock,
    dock,
    mqttPassword,
    pushes,
    send,
    upload: async (clip, d = dock) => {
      for (let i = 0; i < clip.chunks.length; i++) expect((await send('chunk', d.chunk(clip, i), d)).status).not.toBe('rejected');
    },
    close: () => db.close(),
  };
}

describe.each(engines())('fleet on %s', (engine) => {
  describe('enrollment (2013 memo §1: only enrolled equipment)', () => {
    it('refuses ids that are not ids, and ids beginning with _ (reserved for gateways), writing nothing', async () => {
      const h = await harness(engine);
      const key = keyOf(501).publicKey;
      for (const id of ['', 'has space', '-lead', '.lead', 'a/b', 'a+b', 'x'.repeat(65), '_gateway', '_dock-2']) {
        expect((await refusal(h.fleet.enroll(id, key, 'otto'))).code, JSON.stringify(id)).toBe('BAD_INPUT');
      }
      expect((await h.fleet.devices()).map((d) => d.device_id)).toEqual(['dock-1']);
      // The key was not half-enrolled by a refused attempt.
      await expect(h.fleet.enroll('dock-2', key, 'otto')).resolves.toMatchObject({ deviceId: 'dock-2' });
      await h.close();
    });

    it('refuses weak, small-order, non-canonical and short keys, naming the problem', async () => {
      const h = await harness(engine);
      for (const [k, problem] of WEAK_KEYS) {
        const e = await refusal(h.fleet.enroll('dock-weak', hex(k), 'otto'));
        expect(e.code, k).toBe('BAD_INPUT');
        expect(e.message, k).toMatch(problem);
      }
      expect((await refusal(h.fleet.enroll('dock-weak', Buffer.alloc(31, 9), 'otto'))).message).toMatch(/32 bytes, got 31/);
      expect(await h.fleet.device('dock-weak')).toBeUndefined();
      await h.close();
    });

    it('refuses a second enrollment of an id, and one key for two ids', async () => {
      const h = await harness(engine);
      const again = await refusal(h.fleet.enroll('dock-1', keyOf(502).publicKey, 'otto'));
      expect(again.code).toBe('EXISTS');
      expect(again.message).toMatch(/dock-1 is already enrolled/);
      const shared = await refusal(h.fleet.enroll('dock-2', h.dock.key.publicKey, 'otto'));
      expect(shared.code).toBe('EXISTS');
      expect(shared.message).toMatch(/already enrolled for device dock-1/);
      expect(await h.fleet.device('dock-2')).toBeUndefined();
      expect(await h.fleet.keysOf('dock-1')).toHaveLength(1);
      await h.close();
    });

    it('returns the MQTT credentials once and stores only a hash of the password', async () => {
      const h = await harness(engine);
      const dock = new TestDock('dock-2', 'f1', 11);
      const creds = await h.fleet.enroll('dock-2', dock.key.publicKey, 'otto');
      expect(creds).toMatchObject({ deviceId: 'dock-2', keyId: dock.key.keyId, mqttUsername: 'dock-2' });
      expect(creds.mqttPassword).toMatch(/^[A-Za-z0-9_-]{32,}$/);
      const row = (await h.db.get<{ mqtt_secret_hash: string }>('SELECT mqtt_secret_hash FROM devices WHERE device_id = ?', ['dock-2']))!;
      expect(row.mqtt_secret_hash).toBe(toHex(sha256(Buffer.from(creds.mqttPassword))));
      for (const table of ['devices', 'device_keys']) {
        expect(JSON.stringify(await h.db.all(`SELECT * FROM ${table}`)), table).not.toContain(creds.mqttPassword);
      }
      expect(await h.fleet.keysOf('dock-2')).toMatchObject([{ key_id: dock.key.keyId, valid_from: T0, revoked_at: null }]);
      expect(await h.fleet.device('dock-2')).toMatchObject({
        status: 'enrolled',
        fleet: 'f1',
        enrolled_at: T0,
        enrolled_by: 'otto',
        online: 0,
      });
      await h.close();
    });

    it("checks MQTT passwords: the device's own only, and none once it is decommissioned", async () => {
      const h = await harness(engine);
      const other = await h.fleet.enroll('dock-2', keyOf(503).publicKey, 'otto');
      expect(await h.fleet.checkMqttPassword('dock-1', h.mqttPassword)).toBe(true);
      expect(await h.fleet.checkMqttPassword('dock-1', `${h.mqttPassword}x`)).toBe(false);
      expect(await h.fleet.checkMqttPassword('dock-1', '')).toBe(false);
      expect(await h.fleet.checkMqttPassword('dock-1', other.mqttPassword)).toBe(false);
      expect(await h.fleet.checkMqttPassword('dock-9', h.mqttPassword)).toBe(false);
      await h.fleet.decommission('dock-1', 'otto');
      expect(await h.fleet.checkMqttPassword('dock-1', h.mqttPassword)).toBe(false);
      expect(await h.fleet.checkMqttPassword('dock-2', other.mqttPassword)).toBe(true);
      await h.close();
    });
  });

  describe('enrollment tokens (DESIGN §8: single use, expiring, bound to a device id)', () => {
    it('redeems a token once, only for its device id, only before it expires; stores only its hash', async () => {
      const h = await harness(engine);
      const key = keyOf(510);
      const { token, expiresAt } = await h.fleet.createEnrollmentToken('dock-7', 'otto', HOUR);
      expect(token).toMatch(/^bwcenroll_[A-Za-z0-9_-]{32}$/);
      expect(expiresAt).toBe(T0 + HOUR);
      expect(JSON.stringify(await h.db.all('SELECT * FROM enrollment_tokens'))).not.toContain(token);
      expect((await refusal(h.fleet.redeemEnrollmentToken(token, 'dock-8', key.publicKey))).code).toBe('TOKEN_INVALID');
      expect((await refusal(h.fleet.redeemEnrollmentToken(`${token}x`, 'dock-7', key.publicKey))).code).toBe('TOKEN_INVALID');
      h.clock.now = T0 + HOUR;
      expect((await refusal(h.fleet.redeemEnrollmentToken(token, 'dock-7', key.publicKey))).code).toBe('TOKEN_INVALID');
      h.clock.now = T0 + HOUR - 1;
      const creds = await h.fleet.redeemEnrollmentToken(token, 'dock-7', key.publicKey);
      expect(creds).toMatchObject({ deviceId: 'dock-7', keyId: key.keyId, mqttUsername: 'dock-7' });
      expect(await h.fleet.checkMqttPassword('dock-7', creds.mqttPassword)).toBe(true);
      expect(await h.fleet.device('dock-7')).toMatchObject({ status: 'enrolled', enrolled_by: 'token:dock-7' });
      expect((await refusal(h.fleet.redeemEnrollmentToken(token, 'dock-7', keyOf(511).publicKey))).code).toBe('TOKEN_INVALID');
      expect(await h.fleet.keysOf('dock-7')).toHaveLength(1);
      expect((await refusal(h.fleet.createEnrollmentToken('_dock', 'otto'))).code).toBe('BAD_INPUT');
      await h.close();
    });

    it('keeps a token usable when its redemption is refused (a weak key, a key already enrolled)', async () => {
      const h = await harness(engine);
      const { token } = await h.fleet.createEnrollmentToken('dock-9', 'otto');
      expect((await refusal(h.fleet.redeemEnrollmentToken(token, 'dock-9', hex(WEAK_KEYS[0]![0])))).code).toBe('BAD_INPUT');
      expect((await refusal(h.fleet.redeemEnrollmentToken(token, 'dock-9', h.dock.key.publicKey))).code).toBe('EXISTS');
      const key = keyOf(512);
      await expect(h.fleet.redeemEnrollmentToken(token, 'dock-9', key.publicKey)).resolves.toMatchObject({
        deviceId: 'dock-9',
        keyId: key.keyId,
      });
      await h.close();
    });

    it('does not enroll into this fleet with a token issued for another fleet on the same database', async () => {
      const h = await harness(engine);
      const elsewhere = new Fleet({ db: h.db, alerts: h.alerts, fleet: 'f2', now: () => h.clock.now });
      const { token } = await elsewhere.createEnrollmentToken('dock-10', 'otto');
      expect((await refusal(h.fleet.redeemEnrollmentToken(token, 'dock-10', keyOf(513).publicKey))).code).toBe('TOKEN_INVALID');
      expect(await h.fleet.device('dock-10')).toBeUndefined();
      await expect(elsewhere.redeemEnrollmentToken(token, 'dock-10', keyOf(513).publicKey)).resolves.toMatchObject({ deviceId: 'dock-10' });
      expect(await h.fleet.device('dock-10')).toMatchObject({ fleet: 'f2' });
      await h.close();
    });
  });

  describe('decommission (4007.1 §4.7: records are not abandoned with the equipment)', () => {
    it('is refused while a manifest is not VERIFIED or the device reports clips it has not offloaded; then revokes the keys and ingest refuses the device', async () => {
      const h = await harness(engine);
      const clip = h.dock.clip(2 * 4096 + 10, { chunkSize: 4096 });
      expect((await h.send('manifest', clip.manifest)).status).toBe('accepted');
      const held = await refusal(h.fleet.decommission('dock-1', 'otto'));
      expect(held.code).toBe('CONFLICT');
      expect(held.message).toMatch(/1 known here/);
      await h.upload(clip);
      expect((await h.db.get<{ state: string }>('SELECT state FROM manifests WHERE manifest_hash = ?', [clip.hashHex]))?.state).toBe('VERIFIED');
      expect((await h.send('status', h.dock.status({ clipsUnverified: 2 }))).status).toBe('accepted');
      const onDevice = await refusal(h.fleet.decommission('dock-1', 'otto'));
      expect(onDevice.code).toBe('CONFLICT');
      expect(onDevice.message).toMatch(/2 reported by the device/);
      expect(await h.fleet.device('dock-1')).toMatchObject({ status: 'enrolled', decommissioned_at: null });
      expect(await h.fleet.checkMqttPassword('dock-1', h.mqttPassword)).toBe(true);

      expect((await h.send('status', h.dock.status({ clipsUnverified: 0 }))).status).toBe('accepted');
      h.clock.now = T0 + MINUTE;
      await h.fleet.decommission('dock-1', 'otto');
      expect(await h.fleet.device('dock-1')).toMatchObject({ status: 'decommissioned', decommissioned_at: T0 + MINUTE, online: 0 });
      expect((await h.fleet.keysOf('dock-1')).map((k) => k.revoked_at)).toEqual([T0 + MINUTE]);
      expect(await h.fleet.checkMqttPassword('dock-1', h.mqttPassword)).toBe(false);
      // Ingest had the device's keys cached; decommission made it forget them at once.
      const after = await h.send('status', h.dock.status());
      expect(after.status).toBe('rejected');
      expect(after.status === 'rejected' ? after.reason : '').toMatch(/^(KEY_MISMATCH|DECOMMISSIONED)$/);
      // Never deleted, never decommissioned twice, never re-enrolled under the same id.
      expect((await refusal(h.fleet.decommission('dock-1', 'otto'))).code).toBe('CONFLICT');
      expect((await refusal(h.fleet.enroll('dock-1', keyOf(520).publicKey, 'otto'))).code).toBe('EXISTS');
      expect((await refusal(h.fleet.decommission('dock-404', 'otto'))).code).toBe('NOT_FOUND');
      await h.close();
    });
  });

  describe('live state from Birth, Death and Status', () => {
    it('follows the bdSeq rule: a late Birth or an old Will changes nothing; the current unclean Death marks offline and alerts', async () => {
      const h = await harness(engine);
      const b1 = h.dock.birth();
      const b2 = h.dock.birth({ agentVersion: '0.2.0' });
      expect((await h.send('birth', b2)).status).toBe('accepted');
      expect(await h.fleet.device('dock-1')).toMatchObject({ online: 1, bd_seq: 2, agent_version: '0.2.0', last_seen: T0 });
      expect((await h.send('birth', b1)).status).toBe('accepted'); // stored, but older than the current Birth
      expect(await h.fleet.device('dock-1')).toMatchObject({ online: 1, bd_seq: 2, agent_version: '0.2.0' });
      expect((await h.send('death', h.dock.death(1))).status).toBe('accepted'); // the previous connection's Will, delivered late
      expect(await h.fleet.device('dock-1')).toMatchObject({ online: 1, bd_seq: 2 });
      expect(await h.alerts.list({ kind: 'DEVICE_OFFLINE' })).toHaveLength(0);
      h.clock.now = T0 + 5_000;
      expect((await h.send('death', h.dock.death(2, false))).status).toBe('accepted');
      expect(await h.fleet.device('dock-1')).toMatchObject({ online: 0, last_seen: T0 + 5_000 });
      const offline = await h.alerts.list({ kind: 'DEVICE_OFFLINE' });
      expect(offline).toMatchObject([{ device_id: 'dock-1', severity: 'warning', count: 1 }]);
      // Back online: the gateway clears the alert itself. A clean Death (a planned shutdown) marks offline without an alert.
      h.clock.now = T0 + 9_000;
      expect((await h.send('birth', h.dock.birth())).status).toBe('accepted');
      expect(await h.fleet.device('dock-1')).toMatchObject({ online: 1, bd_seq: 3 });
      expect(await h.alerts.list({ kind: 'DEVICE_OFFLINE' })).toMatchObject([{ resolved_at: T0 + 9_000, resolved_by: expect.stringMatching(/^gateway/) }]);
      expect(await h.alerts.openCount()).toBe(0);
      expect((await h.send('death', h.dock.death(3, true))).status).toBe('accepted');
      expect(await h.fleet.device('dock-1')).toMatchObject({ online: 0 });
      expect(await h.alerts.list({ kind: 'DEVICE_OFFLINE' })).toMatchObject([{ count: 1 }]);
      await h.close();
    });

    it('keeps the last Status: outbox, storage, clock, versions, and the cameras docked', async () => {
      const h = await harness(engine);
      const r = await h.send(
        'status',
        h.dock.status({
          outboxDepth: 7,
          outboxBytes: 4096,
          clipsUnverified: 3,
          diskFreeBytes: 40 * GiB,
          agentVersion: '0.2.1',
          policyVersion: 5,
          clock: { synced: true, offsetMs: 150 },
          uptimeS: 3600,
          cpuTemperatureDc: 512,
          cameras: [
            {
              cameraSerial: 'CAM-7',
              model: 'X1',
              firmware: '2.1.0',
              connected: true,
              status: { batteryPct: 81, storageFreeBytes: 5_000_000_000, temperatureDc: 312 },
            },
            { cameraSerial: 'not a serial!', model: 'X1' },
          ],
        }),
      );
      expect(r.status).toBe('accepted');
      const d = (await h.fleet.device('dock-1'))!;
      expect(d).toMatchObject({
        online: 1,
        last_seen: T0,
        outbox_depth: 7,
        storage_free: 40 * GiB,
        clock_synced: 1,
        clock_offset_ms: 150,
        agent_version: '0.2.1',
        policy_version: 5,
      });
      expect(JSON.parse(d.state_json!)).toMatchObject({
        clipsUnverified: 3,
        outboxBytes: 4096,
        uptimeS: 3600,
        cpuTemperatureC: 51.2,
        clock: { synced: true, offsetMs: 150 },
      });
      expect(await h.fleet.cameras()).toEqual([
        expect.objectContaining({
          camera_serial: 'CAM-7',
          model: 'X1',
          firmware: '2.1.0',
          battery_pct: 81,
          storage_free: 5_000_000_000,
          temperature_c: 31,
          last_dock: 'dock-1',
          last_seen: T0,
          first_seen: T0,
          officer_id: null,
          unverified: 0,
        }),
      ]);
      // The camera moves to another dock; what that dock does not report is kept.
      const dock2 = new TestDock('dock-2', 'f1', 21);
      await h.fleet.enroll('dock-2', dock2.key.publicKey, 'otto');
      h.clock.now = T0 + MINUTE;
      expect(
        (await h.send('status', dock2.status({ cameras: [{ cameraSerial: 'CAM-7', status: { batteryPct: 64, storageFreeBytes: 4_000_000_000 } }] }), dock2))
          .status,
      ).toBe('accepted');
      expect(await h.fleet.cameras()).toEqual([
        expect.objectContaining({
          camera_serial: 'CAM-7',
          model: 'X1',
          battery_pct: 64,
          last_dock: 'dock-2',
          last_seen: T0 + MINUTE,
          first_seen: T0,
        }),
      ]);
      expect(await h.alerts.list({})).toEqual([]);
      await h.close();
    });

    it('raises CLOCK_DRIFT for an unsynchronized clock or an offset beyond the threshold, as one open alert', async () => {
      const h = await harness(engine);
      await h.send('status', h.dock.status({ clock: { synced: true, offsetMs: 2_000 } })); // at the threshold: fine
      expect(await h.alerts.list({ kind: 'CLOCK_DRIFT' })).toHaveLength(0);
      await h.send('status', h.dock.status({ clock: { synced: false, offsetMs: 0 } }));
      const [unsynced] = await h.alerts.list({ kind: 'CLOCK_DRIFT' });
      expect(unsynced).toMatchObject({ device_id: 'dock-1', count: 1, severity: 'warning' });
      expect(unsynced!.message).toMatch(/not synchronized/);
      expect(await h.fleet.device('dock-1')).toMatchObject({ clock_synced: 0 });
      await h.send('status', h.dock.status({ clock: { synced: true, offsetMs: 2_001 } }));
      await h.send('status', h.dock.status({ clock: { synced: true, offsetMs: -45_000 } }));
      expect(await h.alerts.list({ kind: 'CLOCK_DRIFT' })).toMatchObject([{ id: unsynced!.id, count: 3 }]);
      // A Birth carries the clock too.
      await h.send('birth', h.dock.birth({ clock: { synced: false } }));
      expect(await h.alerts.list({ kind: 'CLOCK_DRIFT', open: true })).toMatchObject([{ id: unsynced!.id, count: 4 }]);
      await h.close();
    });

    it('raises STORAGE_LOW once while it stays open, counting repeats', async () => {
      const h = await harness(engine);
      await h.send('status', h.dock.status({ diskFreeBytes: GiB })); // at the threshold: fine
      expect(await h.alerts.list({ kind: 'STORAGE_LOW' })).toHaveLength(0);
      await h.send('status', h.dock.status({ diskFreeBytes: 300 * 1024 ** 2 }));
      h.clock.now = T0 + MINUTE;
      await h.send('status', h.dock.status({ diskFreeBytes: 200 * 1024 ** 2 }));
      const low = await h.alerts.list({ kind: 'STORAGE_LOW' });
      expect(low).toMatchObject([{ device_id: 'dock-1', count: 2, raised_at: T0, last_at: T0 + MINUTE, resolved_at: null }]);
      expect(low[0]!.message).toMatch(/GiB free/);
      expect(await h.alerts.openCount()).toBe(1);
      await h.close();
    });
  });

  describe('events', () => {
    it('raises UNAUTHORIZED_RECORDING and PROHIBITED_RECORDING (critical) naming the reasons and clauses (1061.2 §4)', async () => {
      const h = await harness(engine);
      const unauthorized = decision('UNAUTHORIZED', ['NO_BASIS', 'CAMERA_UNASSIGNED'], ['1061.2§4.1', 'BWC-2024§3']);
      const prohibited = decision('PROHIBITED', ['FIRST_AMENDMENT_ONLY'], ['1061.2§2.2']);
      const send = (d: bwc.v1.IActivationDecision, clipId: string) =>
        h.send(
          'event',
          h.dock.event({
            kind: pb.EventKind.EVENT_KIND_ACTIVATION_DECIDED,
            cameraSerial: 'CAM-1',
            clipId,
            officerId: 'O-17',
            decision: d,
          }),
        );
      expect((await send(decision('AUTHORIZED', [], ['1061.2§5.1']), 'clip-a')).status).toBe('accepted');
      expect(await h.alerts.list({})).toEqual([]);
      expect((await send(unauthorized, 'clip-b')).status).toBe('accepted');
      expect((await send(prohibited, 'clip-c')).status).toBe('accepted');
      const [u] = await h.alerts.list({ kind: 'UNAUTHORIZED_RECORDING' });
      expect(u).toMatchObject({ severity: 'warning', device_id: 'dock-1', camera_serial: 'CAM-1', subject: 'clip-b' });
      for (const s of ['NO_BASIS', 'CAMERA_UNASSIGNED', '1061.2§4.1', 'BWC-2024§3', 'O-17']) expect(u!.message).toContain(s);
      expect(JSON.parse(u!.detail_json!)).toMatchObject({
        officerId: 'O-17',
        decision: { decision: 'UNAUTHORIZED', reasons: ['NO_BASIS', 'CAMERA_UNASSIGNED'], clauses: ['1061.2§4.1', 'BWC-2024§3'] },
      });
      const [p] = await h.alerts.list({ kind: 'PROHIBITED_RECORDING' });
      expect(p).toMatchObject({ severity: 'critical', subject: 'clip-c' });
      for (const s of ['FIRST_AMENDMENT_ONLY', '1061.2§2.2']) expect(p!.message).toContain(s);
      // A late tag authorizes clip-b: its report is cleared by the gateway; the prohibited one stays.
      const later = (v: 'AUTHORIZED' | 'UNAUTHORIZED', ms: number) => ({
        ...decision(v, v === 'AUTHORIZED' ? ['TRIGGER_ACTIVITY'] : ['NO_BASIS'], ['1061.2§2.1(2)']),
        decidedAtMs: T0 + ms,
      });
      expect((await send(later('AUTHORIZED', 2000), 'clip-b')).status).toBe('accepted');
      expect((await h.alerts.list({ open: true })).map((a) => a.kind)).toEqual(['PROHIBITED_RECORDING']);
      expect(await h.alerts.get(u!.id)).toMatchObject({ resolved_by: expect.stringMatching(/^gateway/), resolved_at: expect.any(Number) });
      // An older decision about it delivered late (a resend after an outage) reports nothing again.
      expect((await send(later('UNAUTHORIZED', 1000), 'clip-b')).status).toBe('accepted');
      expect((await h.alerts.list({ open: true })).map((a) => a.kind)).toEqual(['PROHIBITED_RECORDING']);
      // A newer one does.
      expect((await send(later('UNAUTHORIZED', 3000), 'clip-b')).status).toBe('accepted');
      expect((await h.alerts.list({ open: true })).map((a) => a.kind).sort()).toEqual(['PROHIBITED_RECORDING', 'UNAUTHORIZED_RECORDING']);
      // Another camera's clip of the same id is another clip: its authorization clears nothing here.
      expect(
        (
          await h.send(
            'event',
            h.dock.event({
              kind: pb.EventKind.EVENT_KIND_ACTIVATION_DECIDED,
              cameraSerial: 'CAM-2',
              clipId: 'clip-b',
              officerId: 'O-18',
              decision: later('AUTHORIZED', 4000),
            }),
          )
        ).status,
      ).toBe('accepted');
      expect((await h.alerts.list({ open: true })).map((a) => `${a.kind} ${a.camera_serial}`).sort()).toEqual([
        'PROHIBITED_RECORDING CAM-1',
        'UNAUTHORIZED_RECORDING CAM-1',
      ]);
      await h.close();
    });

    it('holds a clip untagged at stop for the grace period: a late tag within it reports nothing; one still untagged is reported when it ends (DESIGN §5, 1061.2 §4.4)', async () => {
      const h = await harness(engine);
      const grace = 72 * HOUR; // the policy bundle format's default, with no bundle in force
      const untagged = (clipId: string, ms = 0) =>
        h.send(
          'event',
          h.dock.event({
            kind: pb.EventKind.EVENT_KIND_ACTIVATION_DECIDED,
            cameraSerial: 'CAM-1',
            clipId,
            officerId: 'O-17',
            decision: { ...decision('UNAUTHORIZED', ['NO_BASIS', 'UNCLASSIFIED'], ['1061.2§4.4']), decidedAtMs: T0 + ms },
          }),
        );
      const tagged = (clipId: string, ms: number) =>
        h.send(
          'event',
          h.dock.event({
            kind: pb.EventKind.EVENT_KIND_ACTIVITY_TAGGED,
            cameraSerial: 'CAM-1',
            clipId,
            officerId: 'O-17',
            decision: { ...decision('AUTHORIZED', ['TRIGGER_ACTIVITY'], ['1061.2§2.1(2)']), decidedAtMs: T0 + ms },
          }),
        );
      const reports = async () => (await h.alerts.list({ kind: 'UNAUTHORIZED_RECORDING' })).map((a) => a.subject).sort();
      expect((await untagged('clip-late-tag')).status).toBe('accepted');
      expect((await untagged('clip-never-tagged')).status).toBe('accepted');
      // Unauthorized for another reason: reported at once, as before.
      expect(
        (
          await h.send(
            'event',
            h.dock.event({
              kind: pb.EventKind.EVENT_KIND_ACTIVATION_DECIDED,
              cameraSerial: 'CAM-1',
              clipId: 'clip-unassigned',
              officerId: 'O-17',
              decision: decision('UNAUTHORIZED', ['NO_BASIS', 'CAMERA_UNASSIGNED'], ['1061.2§4.1']),
            }),
          )
        ).status,
      ).toBe('accepted');
      expect(await reports()).toEqual(['clip-unassigned']);

      h.clock.now = T0 + grace - 1;
      expect(await h.fleet.sweep()).toMatchObject({ unclassified: 0 });
      expect((await tagged('clip-late-tag', 5_000)).status).toBe('accepted'); // tagged at the dock within the grace period
      expect(await reports()).toEqual(['clip-unassigned']);

      h.clock.now = T0 + grace;
      expect(await h.fleet.sweep()).toMatchObject({ unclassified: 1 });
      expect(await reports()).toEqual(['clip-never-tagged', 'clip-unassigned']);
      const [late] = (await h.alerts.list({ kind: 'UNAUTHORIZED_RECORDING' })).filter((a) => a.subject === 'clip-never-tagged');
      expect(late).toMatchObject({ raised_at: T0 + grace, camera_serial: 'CAM-1', device_id: 'dock-1' });
      expect(late!.message).toMatch(/UNCLASSIFIED.*still untagged when its 72 h grace period ended/);
      expect(JSON.parse(late!.detail_json!)).toMatchObject({
        officerId: 'O-17',
        graceEndedAt: T0 + grace,
        decision: { decision: 'UNAUTHORIZED', reasons: ['NO_BASIS', 'UNCLASSIFIED'] },
      });
      // Reported once: later sweeps, and a resend of the same untagged decision, do not report it again.
      h.clock.now = T0 + 2 * grace;
      expect(await h.fleet.sweep()).toMatchObject({ unclassified: 0 });
      expect((await untagged('clip-late-tag')).status).toBe('accepted'); // older than the tag: ignored
      expect(await h.fleet.sweep()).toMatchObject({ unclassified: 0 });
      expect(await h.alerts.list({ kind: 'UNAUTHORIZED_RECORDING' })).toHaveLength(2);

      // The grace period is the policy's: the bundle in force names it (here 2 h).
      const underPolicy = new Fleet({ db: h.db, alerts: h.alerts, fleet: 'f1', now: () => h.clock.now, reviewGraceHours: () => 2 });
      const held = h.clock.now;
      await underPolicy.applyEvent(
        'dock-1',
        pb.Event.create({
          kind: pb.EventKind.EVENT_KIND_ACTIVATION_DECIDED,
          cameraSerial: 'CAM-2',
          clipId: 'clip-policy',
          officerId: 'O-9',
          decision: { ...decision('UNAUTHORIZED', ['NO_BASIS', 'UNCLASSIFIED'], ['1061.2§4.4']), decidedAtMs: held },
        }),
        held,
      );
      h.clock.now = held + 2 * HOUR - 1;
      expect(await underPolicy.sweep()).toMatchObject({ unclassified: 0 });
      h.clock.now = held + 2 * HOUR;
      expect(await underPolicy.sweep()).toMatchObject({ unclassified: 1 });
      const [byPolicy] = (await h.alerts.list({ kind: 'UNAUTHORIZED_RECORDING' })).filter((a) => a.subject === 'clip-policy');
      expect(byPolicy!.message).toMatch(/still untagged when its 2 h grace period ended/);
      await h.close();
    });

    it("sends an authorized recording decided on an unsynchronized clock to the supervisor's review, once (DESIGN §6)", async () => {
      const h = await harness(engine);
      const send = (clipId: string, reasons: string[], ms = 0) =>
        h.send(
          'event',
          h.dock.event({
            kind: pb.EventKind.EVENT_KIND_ACTIVATION_DECIDED,
            cameraSerial: 'CAM-1',
            clipId,
            officerId: 'O-17',
            decision: { ...decision('AUTHORIZED', reasons, ['1061.2§2.1(2)', '1061.2§6']), decidedAtMs: T0 + ms },
          }),
        );
      expect((await send('clip-synced', ['TRIGGER_ACTIVITY'])).status).toBe('accepted');
      expect(await h.alerts.list({ kind: 'CLOCK_FLAGGED_RECORDING' })).toEqual([]);
      expect((await send('clip-unsynced', ['TRIGGER_ACTIVITY', 'CLOCK_UNSYNCED'])).status).toBe('accepted');
      expect((await send('clip-unsynced', ['TRIGGER_ACTIVITY', 'CLOCK_UNSYNCED'], 1000)).status).toBe('accepted'); // decided again (at stop)
      const flagged = await h.alerts.list({ kind: 'CLOCK_FLAGGED_RECORDING' });
      expect(flagged).toMatchObject([{ severity: 'warning', device_id: 'dock-1', camera_serial: 'CAM-1', subject: 'clip-unsynced', count: 2 }]);
      expect(flagged[0]!.message).toMatch(/clip-unsynced .*O-17.*CLOCK_UNSYNCED.*unsynchronized clock.*1061\.2§6.*supervisor's review/);
      expect(await h.alerts.list({ kind: 'UNAUTHORIZED_RECORDING' })).toEqual([]);
      await h.close();
    });

    it('raises TAMPER (critical) naming the camera and what happened', async () => {
      const h = await harness(engine);
      const r = await h.send(
        'event',
        h.dock.event({
          kind: pb.EventKind.EVENT_KIND_TAMPER,
          cameraSerial: 'CAM-1',
          tamper: pb.TamperKind.TAMPER_KIND_CASE_OPENED,
          detail: 'seal broken',
        }),
      );
      expect(r.status).toBe('accepted');
      const [t] = await h.alerts.list({ kind: 'TAMPER' });
      expect(t).toMatchObject({ severity: 'critical', device_id: 'dock-1', camera_serial: 'CAM-1' });
      expect(t!.message).toMatch(/CAM-1.*CASE_OPENED.*seal broken/);
      await h.close();
    });

    it('assigns a camera on a self-checkout at a dock, closing the previous assignment', async () => {
      const h = await harness(engine);
      await h.fleet.assign('CAM-1', 'O-1', 'otto', 'operator');
      h.clock.now = T0 + HOUR;
      const r = await h.send(
        'event',
        h.dock.event({
          kind: pb.EventKind.EVENT_KIND_CAMERA_CHECKOUT,
          cameraSerial: 'CAM-1',
          officerId: 'O-2',
          occurredAtMs: T0 + 30 * MINUTE,
        }),
      );
      expect(r.status).toBe('accepted');
      expect(await h.fleet.assignmentHistory('CAM-1')).toMatchObject([
        { officer_id: 'O-1', from_at: T0, to_at: T0 + 30 * MINUTE, source: 'operator', assigned_by: 'otto' },
        { officer_id: 'O-2', from_at: T0 + 30 * MINUTE, to_at: null, source: 'self_checkout', assigned_by: 'device:dock-1' },
      ]);
      expect(h.pushes.count).toBe(2);
      expect((await h.fleet.cameras()).find((c) => c.camera_serial === 'CAM-1')).toMatchObject({ officer_id: 'O-2' });
      await h.close();
    });

    it("bounds a self-checkout's claimed time by what the gateway observed (DESIGN §8): never ahead of receipt, never before the camera's last change", async () => {
      const h = await harness(engine);
      const checkout = (officerId: string, occurredAtMs: number) =>
        h.send('event', h.dock.event({ kind: pb.EventKind.EVENT_KIND_CAMERA_CHECKOUT, cameraSerial: 'CAM-1', officerId, occurredAtMs }));
      await h.fleet.assign('CAM-1', 'O-1', 'otto', 'operator'); // T0
      h.clock.now = T0 + HOUR;
      // A dock whose clock is days ahead.
      expect((await checkout('O-2', T0 + 10 * 24 * HOUR)).status).toBe('accepted');
      // A Raspberry Pi with no RTC, before NTP: 1970.
      h.clock.now = T0 + 2 * HOUR;
      expect((await checkout('O-3', 86_400_000)).status).toBe('accepted');
      const history = await h.fleet.assignmentHistory('CAM-1');
      expect(history.map((a) => a.officer_id)).toEqual(['O-1', 'O-2', 'O-3']);
      for (const a of history) {
        expect(a.from_at, a.officer_id).toBeLessThanOrEqual(h.clock.now);
        if (a.to_at !== null) expect(a.to_at, a.officer_id).toBeGreaterThanOrEqual(a.from_at);
      }
      // One officer at a time: each assignment ends where the next begins.
      for (let i = 1; i < history.length; i++) expect(history[i - 1]!.to_at).toBe(history[i]!.from_at);
      expect(history[1]!.from_at).toBe(T0 + HOUR);
      expect(history[2]!.from_at).toBeGreaterThanOrEqual(T0 + HOUR);
      await h.close();
    });

    it('accepts a checkout naming an invalid officer id without assigning, and raises MALFORMED_MESSAGE', async () => {
      const h = await harness(engine);
      const r = await h.send('event', h.dock.event({ kind: pb.EventKind.EVENT_KIND_CAMERA_CHECKOUT, cameraSerial: 'CAM-1', officerId: 'Jane Doe' }));
      expect(r.status).toBe('accepted');
      expect(await h.fleet.assignmentHistory('CAM-1')).toEqual([]);
      expect(h.pushes.count).toBe(0);
      const [m] = await h.alerts.list({ kind: 'MALFORMED_MESSAGE' });
      expect(m).toMatchObject({ device_id: 'dock-1', camera_serial: 'CAM-1' });
      expect(m!.message).toMatch(/officer id/);
      await h.close();
    });
  });

  describe('camera assignments (DESIGN §5)', () => {
    it('keeps the history, treats re-assigning the same officer as a no-op, and unassigns', async () => {
      const h = await harness(engine);
      const first = await h.fleet.assign('CAM-5', 'O-1', 'otto', 'operator');
      expect(first).toMatchObject({
        camera_serial: 'CAM-5',
        officer_id: 'O-1',
        from_at: T0,
        to_at: null,
        assigned_by: 'otto',
        source: 'operator',
      });
      expect(h.pushes.count).toBe(1);
      h.clock.now = T0 + 10 * MINUTE;
      const same = await h.fleet.assign('CAM-5', 'O-1', 'ada', 'operator');
      expect(same).toMatchObject({ id: first.id, from_at: T0, assigned_by: 'otto' });
      expect(h.pushes.count).toBe(1); // nothing changed, nothing to push
      h.clock.now = T0 + 20 * MINUTE;
      await h.fleet.assign('CAM-5', 'O-2', 'ada', 'operator');
      h.clock.now = T0 + 30 * MINUTE;
      expect(await h.fleet.unassign('CAM-5')).toBe(true);
      expect(await h.fleet.unassign('CAM-5')).toBe(false);
      expect(h.pushes.count).toBe(3);
      const history: Partial<AssignmentRow>[] = [
        { officer_id: 'O-1', from_at: T0, to_at: T0 + 20 * MINUTE, assigned_by: 'otto' },
        { officer_id: 'O-2', from_at: T0 + 20 * MINUTE, to_at: T0 + 30 * MINUTE, assigned_by: 'ada' },
      ];
      expect(await h.fleet.assignmentHistory('CAM-5')).toMatchObject(history);
      expect((await h.fleet.cameras()).find((c) => c.camera_serial === 'CAM-5')).toMatchObject({ officer_id: null });
      expect(await h.fleet.assignmentsForDocks()).toEqual([
        { cameraSerial: 'CAM-5', officerId: 'O-1', fromMs: T0, toMs: T0 + 20 * MINUTE, assignedBy: 'otto' },
        { cameraSerial: 'CAM-5', officerId: 'O-2', fromMs: T0 + 20 * MINUTE, toMs: T0 + 30 * MINUTE, assignedBy: 'ada' },
      ]);
      expect((await refusal(h.fleet.assign('CAM 5', 'O-1', 'otto', 'operator'))).code).toBe('BAD_INPUT');
      expect((await refusal(h.fleet.assign('CAM-5', 'Jane Doe', 'otto', 'operator'))).message).toMatch(/never a name/);
      await h.close();
    });
  });

  describe('sweep', () => {
    it('marks a device not heard from for offlineAfterMs offline, with one DEVICE_OFFLINE alert', async () => {
      const h = await harness(engine);
      await h.send('status', h.dock.status());
      h.clock.now = T0 + MINUTE;
      expect(await h.fleet.sweep()).toMatchObject({ offline: 0 });
      expect(await h.fleet.device('dock-1')).toMatchObject({ online: 1 });
      h.clock.now = T0 + MINUTE + 1;
      expect(await h.fleet.sweep()).toMatchObject({ offline: 1 });
      expect(await h.fleet.device('dock-1')).toMatchObject({ online: 0, last_seen: T0 });
      const [a] = await h.alerts.list({ kind: 'DEVICE_OFFLINE' });
      expect(a!.message).toContain(new Date(T0).toISOString());
      expect(await h.fleet.sweep()).toMatchObject({ offline: 0 });
      expect(await h.alerts.list({ kind: 'DEVICE_OFFLINE' })).toMatchObject([{ count: 1 }]);
      await h.close();
    });

    it('raises UPLOAD_OVERDUE for manifests whose clips are not VERIFIED uploadOverdueMs after they arrived', async () => {
      const h = await harness(engine);
      const pending = h.dock.clip(3 * 4096, { chunkSize: 4096 });
      await h.send('manifest', pending.manifest);
      const done = h.dock.clip(100, { chunkSize: 4096, seed: 9 });
      await h.send('manifest', done.manifest);
      await h.upload(done);
      h.clock.now = T0 + HOUR;
      expect(await h.fleet.sweep()).toMatchObject({ overdue: 0 });
      h.clock.now = T0 + HOUR + 1;
      expect(await h.fleet.sweep()).toMatchObject({ overdue: 1 });
      const [a] = await h.alerts.list({ kind: 'UPLOAD_OVERDUE' });
      expect(a).toMatchObject({ device_id: 'dock-1' });
      expect(JSON.parse(a!.detail_json!)).toEqual({ clips: 1, oldestManifestAt: T0 });
      await h.close();
    });
  });

  describe('alerts', () => {
    it('acknowledges and resolves once; a repeat of a resolved alert raises a new one', async () => {
      const h = await harness(engine);
      const raise = () => h.alerts.raise({ kind: 'TAMPER', deviceId: 'dock-1', subject: 'CASE_OPENED', message: 'case opened' });
      const id = await raise();
      expect(await raise()).toBe(id);
      expect(await h.alerts.get(id)).toMatchObject({ count: 2, severity: 'critical' });
      expect(await h.alerts.acknowledge(id, 'otto')).toBe(true);
      expect(await h.alerts.acknowledge(id, 'sue')).toBe(false);
      h.clock.now = T0 + MINUTE;
      expect(await h.alerts.resolve(id, 'sue', 'case resealed')).toBe(true);
      expect(await h.alerts.resolve(id, 'otto', 'again')).toBe(false);
      expect(await h.alerts.get(id)).toMatchObject({
        acked_by: 'otto',
        acked_at: T0,
        resolved_by: 'sue',
        resolved_at: T0 + MINUTE,
        resolution_note: 'case resealed',
      });
      const next = await raise();
      expect(next).not.toBe(id);
      expect(await h.alerts.get(next)).toMatchObject({ count: 1, resolved_at: null, acked_at: null });
      expect((await h.alerts.list({ open: true })).map((a) => a.id)).toEqual([next]);
      expect((await h.alerts.list({ open: false })).map((a) => a.id)).toEqual([id]);
      expect(await h.alerts.openCount()).toBe(1);
      expect(await h.alerts.acknowledge(999_999, 'otto')).toBe(false);
      expect(await h.alerts.resolve(999_999, 'otto')).toBe(false);
      await h.close();
    });
  });
});

// ───────────────────────── the running gateway: HTTP routes and the assignment push ─────────────────────────

interface Reply {
  status: number;
  json: any;
}

describe('fleet over HTTP and MQTT on a running gateway', () => {
  let gw: RunningGateway;
  let trust: TrustFiles;
  const tokens: Record<string, string> = {};
  const PASSWORD = 'correct horse battery staple';

  beforeAll(async () => {
    const dataDir = tempDir();
    trust = trustFiles(dataDir, { gatewayId: 'gw1', fleet: 'f1' });
    gw = await startGateway({
      passwordCost: TEST_PASSWORD_COST,
      config: parseGatewayConfig({
        fleet: 'f1',
        gatewayId: 'gw1',
        dataDir,
        mqtt: { embedded: { port: 0 } },
        http: { port: 0 },
        sweepIntervalMs: 600_000,
        trust: { rootPublicKey: trust.rootPublicKey, certificate: trust.certificate },
      }),
      log: silentLogger,
    });
    for (const [username, roles] of [
      ['vera', ['viewer']],
      ['otto', ['operator']],
      ['sue', ['supervisor']],
      ['ada', ['admin']],
    ] as const) {
      await gw.auth.createUser({ username, password: PASSWORD, roles: [...roles], offices: [], personId: null });
      tokens[username] = (await gw.auth.createApiToken(username, 'test')).token;
    }
  });
  afterAll(async () => {
    await gw?.stop();
  });

  async function call(method: string, path: string, o: { as?: string; json?: unknown; cookie?: string; csrf?: string } = {}): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (o.as) headers.authorization = `Bearer ${tokens[o.as]}`;
    if (o.cookie) headers.cookie = o.cookie;
    if (o.csrf) headers['x-csrf-token'] = o.csrf;
    if (o.json !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`http://127.0.0.1:${gw.httpPort}${path}`, {
      method,
      headers,
      body: o.json === undefined ? undefined : JSON.stringify(o.json),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  }

  function enrollmentRequest(o: { deviceId: string; token: string; publicKey: Uint8Array; signer: Signer; issuer?: string }): string {
    const body = pb.EnrollmentRequest.encode({
      header: { issuer: o.issuer ?? o.deviceId, fleet: 'f1', seq: 1, createdAtMs: Date.now() },
      deviceId: o.deviceId,
      publicKey: o.publicKey,
      token: o.token,
      agentVersion: '0.1.0',
      hardware: 'rpi4',
    }).finish();
    return Buffer.from(sealEnvelope('EnrollmentRequest', body, o.signer).bytes).toString('base64');
  }

  it('lets only operators and admins change the fleet, and operators, supervisors and admins handle alerts; everyone else gets 403, nobody signed in 401', async () => {
    const key = keyOf(600);
    const alertId = await gw.alerts.raise({ kind: 'TAMPER', deviceId: 'dock-r', message: 'case opened', dedupeKey: null });
    const writes: [string, string, unknown?][] = [
      ['POST', '/api/v1/devices', { deviceId: 'dock-r', publicKey: toHex(key.publicKey) }],
      ['POST', '/api/v1/devices/dock-r/enrollment-token'],
      ['POST', '/api/v1/devices/dock-r/decommission'],
      ['PUT', '/api/v1/cameras/CAM-R/assignment', { officerId: 'O-1' }],
      ['DELETE', '/api/v1/cameras/CAM-R/assignment'],
      ['POST', `/api/v1/alerts/${alertId}/ack`],
      ['POST', `/api/v1/alerts/${alertId}/resolve`],
    ];
    for (const [method, path, json] of writes) {
      const anon = await call(method, path, { json });
      expect(anon.status, `${method} ${path} unauthenticated`).toBe(401);
      expect(anon.json.error.code).toBe('UNAUTHENTICATED');
      const viewer = await call(method, path, { as: 'vera', json });
      expect(viewer.status, `${method} ${path} as viewer`).toBe(403);
      expect(viewer.json.error.code).toBe('FORBIDDEN');
    }
    for (const path of [
      '/api/v1/devices',
      '/api/v1/devices/dock-r',
      '/api/v1/cameras',
      '/api/v1/cameras/CAM-R/assignments',
      '/api/v1/clips',
      `/api/v1/clips/${'0'.repeat(64)}`,
      '/api/v1/alerts',
    ]) {
      expect((await call('GET', path)).status, path).toBe(401);
    }
    // A supervisor responds to alerts but does not run the fleet.
    expect((await call('POST', '/api/v1/devices', { as: 'sue', json: writes[0]![2] })).status).toBe(403);
    expect((await call('PUT', '/api/v1/cameras/CAM-R/assignment', { as: 'sue', json: { officerId: 'O-1' } })).status).toBe(403);
    // Nothing was written by the refused calls.
    expect(await gw.fleet.device('dock-r')).toBeUndefined();
    expect(await gw.fleet.assignmentHistory('CAM-R')).toEqual([]);
    expect(await gw.alerts.get(alertId)).toMatchObject({ acked_at: null, resolved_at: null });

    // The operator can do each of them, in order.
    const enrolled = await call('POST', '/api/v1/devices', { as: 'otto', json: writes[0]![2] });
    expect(enrolled.status).toBe(201);
    expect(enrolled.json).toMatchObject({ deviceId: 'dock-r', keyId: key.keyId, mqttUsername: 'dock-r', mqttPassword: expect.any(String) });
    const shown = await call('GET', '/api/v1/devices/dock-r', { as: 'vera' });
    expect(shown.status).toBe(200);
    expect(shown.json).toMatchObject({
      device: { deviceId: 'dock-r', status: 'enrolled', enrolledBy: 'otto' },
      keys: [{ keyId: key.keyId, publicKey: toHex(key.publicKey), revokedAt: null }],
    });
    expect(JSON.stringify(shown.json)).not.toContain(enrolled.json.mqttPassword);
    expect(JSON.stringify((await call('GET', '/api/v1/devices', { as: 'vera' })).json)).not.toContain(enrolled.json.mqttPassword);
    const token = await call('POST', '/api/v1/devices/dock-r2/enrollment-token', { as: 'otto' });
    expect(token.status).toBe(201);
    expect(token.json).toMatchObject({ deviceId: 'dock-r2', token: expect.stringMatching(/^bwcenroll_/) });
    expect(await call('POST', '/api/v1/devices/dock-r/decommission', { as: 'otto' })).toMatchObject({
      status: 200,
      json: { deviceId: 'dock-r', status: 'decommissioned' },
    });
    expect(await call('PUT', '/api/v1/cameras/CAM-R/assignment', { as: 'otto', json: { officerId: 'O-1' } })).toMatchObject({
      status: 200,
      json: { cameraSerial: 'CAM-R', officerId: 'O-1' },
    });
    expect((await call('DELETE', '/api/v1/cameras/CAM-R/assignment', { as: 'otto' })).status).toBe(204);
    expect((await call('DELETE', '/api/v1/cameras/CAM-R/assignment', { as: 'otto' })).status).toBe(404);
    expect(await call('POST', `/api/v1/alerts/${alertId}/ack`, { as: 'otto' })).toMatchObject({
      status: 200,
      json: { id: alertId, ackedBy: 'otto' },
    });
    expect((await call('POST', `/api/v1/alerts/${alertId}/ack`, { as: 'sue' })).status).toBe(409);
    expect(await call('POST', `/api/v1/alerts/${alertId}/resolve`, { as: 'sue', json: { note: 'case resealed at the dock' } })).toMatchObject({
      status: 200,
      json: { id: alertId, resolvedBy: 'sue' },
    });
    expect((await call('POST', `/api/v1/alerts/${alertId}/resolve`, { as: 'otto' })).status).toBe(409);
    expect((await call('POST', '/api/v1/alerts/999999/resolve', { as: 'otto' })).status).toBe(404);
    // An admin may run the fleet too.
    expect((await call('PUT', '/api/v1/cameras/CAM-R/assignment', { as: 'ada', json: { officerId: 'O-2' } })).status).toBe(200);
    const history = await call('GET', '/api/v1/cameras/CAM-R/assignments', { as: 'vera' });
    expect(history.json.assignments).toMatchObject([
      { officerId: 'O-1', assignedBy: 'otto', source: 'operator', to: expect.any(Number) },
      { officerId: 'O-2', assignedBy: 'ada', source: 'operator', to: null },
    ]);
  });

  it('refuses to resolve a critical alert without a resolution note (400, naming the need), keeps the note and shows it; a warning resolves without one', async () => {
    const critical = await gw.alerts.raise({
      kind: 'TAMPER',
      deviceId: 'dock-n',
      subject: 'TAMPER_KIND_CASE_OPENED',
      message: 'case opened',
      dedupeKey: null,
    });
    for (const json of [undefined, {}, { note: '' }, { note: '   ' }]) {
      const refused = await call('POST', `/api/v1/alerts/${critical}/resolve`, { as: 'otto', json });
      expect(refused.status, JSON.stringify(json)).toBe(400);
      expect(refused.json.error).toMatchObject({
        code: 'NOTE_REQUIRED',
        message: expect.stringMatching(/critical: resolving it needs a note/),
      });
    }
    expect(await gw.alerts.get(critical)).toMatchObject({ resolved_at: null, resolution_note: null });
    const tooLong = await call('POST', `/api/v1/alerts/${critical}/resolve`, { as: 'otto', json: { note: 'x'.repeat(4001) } });
    expect([tooLong.status, tooLong.json.error.code]).toEqual([400, 'VALIDATION_FAILED']);
    const done = await call('POST', `/api/v1/alerts/${critical}/resolve`, {
      as: 'otto',
      json: { note: '  Case checked at the dock: seal intact, camera swapped.  ' },
    });
    expect(done).toMatchObject({
      status: 200,
      json: { id: critical, resolvedBy: 'otto', resolutionNote: 'Case checked at the dock: seal intact, camera swapped.' },
    });
    const shown = (await call('GET', '/api/v1/alerts?open=false', { as: 'vera' })).json.alerts.find((a: { id: number }) => a.id === critical);
    expect(shown).toMatchObject({ resolvedBy: 'otto', resolutionNote: 'Case checked at the dock: seal intact, camera swapped.' });
    const audited = await gw.db.get<{ detail: string }>(`SELECT detail_json AS detail FROM audit_log WHERE action = 'alert.resolved' AND subject = ?`, [
      `alert:${critical}`,
    ]);
    expect(JSON.parse(audited!.detail)).toEqual({ note: 'Case checked at the dock: seal intact, camera swapped.' });
    // Already resolved: 409 whether or not a note is given.
    expect((await call('POST', `/api/v1/alerts/${critical}/resolve`, { as: 'otto' })).status).toBe(409);

    const warning = await gw.alerts.raise({ kind: 'STORAGE_LOW', deviceId: 'dock-n', message: 'low', dedupeKey: null });
    expect(await call('POST', `/api/v1/alerts/${warning}/resolve`, { as: 'otto' })).toMatchObject({
      status: 200,
      json: { resolvedBy: 'otto', resolutionNote: null },
    });
  });

  it('asks a cookie-signed-in operator for the CSRF token on writes', async () => {
    const login = await fetch(`http://127.0.0.1:${gw.httpPort}/api/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'otto', password: PASSWORD }),
    });
    expect(login.status).toBe(200);
    const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    const without = await call('PUT', '/api/v1/cameras/CAM-S/assignment', { cookie, json: { officerId: 'O-3' } });
    expect(without).toMatchObject({ status: 403, json: { error: { code: 'CSRF_TOKEN_INVALID' } } });
    expect(await gw.fleet.assignmentHistory('CAM-S')).toEqual([]);
    expect((await call('PUT', '/api/v1/cameras/CAM-S/assignment', { cookie, csrf: csrfToken, json: { officerId: 'O-3' } })).status).toBe(200);
    expect((await call('GET', '/api/v1/cameras', { cookie })).json.cameras).toContainEqual(
      expect.objectContaining({ cameraSerial: 'CAM-S', officerId: 'O-3' }),
    );
  });

  it('names the field in validation errors, and refuses weak keys and duplicates', async () => {
    const good = toHex(keyOf(610).publicKey);
    const cases: [string, string, unknown, RegExp][] = [
      ['POST', '/api/v1/devices', { deviceId: '_dock', publicKey: good }, /^body\.deviceId: /],
      ['POST', '/api/v1/devices', { deviceId: 'dock v', publicKey: good }, /^body\.deviceId: /],
      ['POST', '/api/v1/devices', { deviceId: 'dock-v', publicKey: 'zz'.repeat(32) }, /^body\.publicKey: /],
      ['POST', '/api/v1/devices', { deviceId: 'dock-v', publicKey: good.slice(2) }, /^body\.publicKey: /],
      ['POST', '/api/v1/devices', { deviceId: 'dock-v' }, /^body\.publicKey: /],
      ['POST', '/api/v1/devices', { deviceId: 'dock-v', publicKey: good, role: 'dock' }, /^body: .*role/],
      ['POST', '/api/v1/devices/dock%20v/decommission', undefined, /^params\.id: /],
      ['PUT', '/api/v1/cameras/CAM-V/assignment', { officerId: 'Jane Doe' }, /^body\.officerId: /],
      ['POST', '/api/v1/alerts/abc/ack', undefined, /^params\.id: /],
      ['GET', '/api/v1/clips/ABC', undefined, /^params\.hash: /],
      ['GET', '/api/v1/alerts?kind=NOPE', undefined, /^query\.kind: /],
    ];
    for (const [method, path, json, message] of cases) {
      const r = await call(method, path, { as: 'otto', json });
      expect(r.status, `${method} ${path} ${JSON.stringify(json)}`).toBe(400);
      expect(r.json.error.code).toBe('VALIDATION_FAILED');
      expect(r.json.error.message).toMatch(message);
    }
    for (const [k, problem] of WEAK_KEYS) {
      const r = await call('POST', '/api/v1/devices', { as: 'otto', json: { deviceId: 'dock-v', publicKey: k } });
      expect(r.status, k).toBe(400);
      expect(r.json.error).toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(problem) });
    }
    expect((await call('POST', '/api/v1/devices', { as: 'otto', json: { deviceId: 'dock-v', publicKey: good.toUpperCase() } })).status).toBe(201);
    expect(await call('POST', '/api/v1/devices', { as: 'otto', json: { deviceId: 'dock-v', publicKey: good } })).toMatchObject({
      status: 409,
      json: { error: { code: 'EXISTS' } },
    });
    expect(await call('POST', '/api/v1/devices/dock-404/decommission', { as: 'otto' })).toMatchObject({
      status: 404,
      json: { error: { code: 'NOT_FOUND' } },
    });
    expect((await call('GET', '/api/v1/devices/dock-404', { as: 'vera' })).status).toBe(404);
  });

  it('enrolls a device that redeems its token with an EnrollmentRequest signed by the key it carries', async () => {
    const key = keyOf(620);
    const { token } = (await call('POST', '/api/v1/devices/dock-e1/enrollment-token', { as: 'otto', json: { ttlHours: 1 } })).json as {
      token: string;
    };
    const enroll = (request: string) => call('POST', '/api/v1/enroll', { json: { request } });

    const forged = await enroll(enrollmentRequest({ deviceId: 'dock-e1', token, publicKey: key.publicKey, signer: keyOf(621) }));
    expect(forged.status).toBe(400);
    expect(forged.json.error.message).toMatch(/signed by key/);
    const otherIssuer = await enroll(enrollmentRequest({ deviceId: 'dock-e1', token, publicKey: key.publicKey, signer: key, issuer: 'dock-e9' }));
    expect(otherIssuer.status).toBe(400);
    expect(otherIssuer.json.error.message).toMatch(/device id/);
    expect((await enroll(Buffer.from('not an envelope').toString('base64'))).status).toBe(400);
    const weak = await enroll(enrollmentRequest({ deviceId: 'dock-e1', token, publicKey: hex(WEAK_KEYS[0]![0]), signer: key }));
    expect(weak.status).toBe(400);
    expect(await gw.fleet.device('dock-e1')).toBeUndefined();

    const request = enrollmentRequest({ deviceId: 'dock-e1', token, publicKey: key.publicKey, signer: key });
    const ok = await enroll(request);
    expect(ok.status).toBe(201);
    expect(ok.json).toEqual({ deviceId: 'dock-e1', keyId: key.keyId, fleet: 'f1', response: expect.any(String) });
    // The credentials travel only inside the EnrollmentResponse signed by the gateway (test/gateway.trust.test.ts checks the rest).
    const env = openEnvelope(Buffer.from(ok.json.response, 'base64'), { expectType: 'EnrollmentResponse' });
    assertEnvelopeSigned(env, trustPublicKey(gw.signer.publicKey));
    const response = pb.EnrollmentResponse.decode(env.body);
    expect(response).toMatchObject({
      deviceId: 'dock-e1',
      fleet: 'f1',
      mqttUsername: 'dock-e1',
      mqttPassword: expect.stringMatching(/^[A-Za-z0-9_-]{32,}$/),
      brokerUrl: gw.mqttUrl,
    });
    expect(await gw.fleet.device('dock-e1')).toMatchObject({ status: 'enrolled', enrolled_by: 'token:dock-e1' });
    // The credentials open the broker.
    const client = await mqtt.connectAsync(response.brokerUrl, {
      clientId: 'dock-e1',
      username: response.mqttUsername,
      password: response.mqttPassword,
      reconnectPeriod: 0,
    });
    await client.endAsync();
    // Replayed: the token is spent.
    expect(await enroll(request)).toMatchObject({ status: 403, json: { error: { code: 'TOKEN_INVALID' } } });
    // A token is bound to its device id.
    const { token: t2 } = (await call('POST', '/api/v1/devices/dock-e2/enrollment-token', { as: 'otto' })).json as { token: string };
    const key3 = keyOf(622);
    expect((await enroll(enrollmentRequest({ deviceId: 'dock-e3', token: t2, publicKey: key3.publicKey, signer: key3 }))).status).toBe(403);
    expect(await gw.fleet.device('dock-e3')).toBeUndefined();
  });

  it('refuses to decommission a dock whose clip is not VERIFIED (409), allows it after, and then refuses the dock everywhere', async () => {
    const dock = new TestDock('dock-d', 'f1', 630);
    const creds = await gw.fleet.enroll(dock.deviceId, dock.key.publicKey, 'otto');
    const clip = dock.clip(2 * 4096, { chunkSize: 4096 });
    expect((await gw.ingest.handle(dock.topic('manifest'), clip.manifest)).status).toBe('accepted');
    const refused = await call('POST', '/api/v1/devices/dock-d/decommission', { as: 'otto' });
    expect(refused).toMatchObject({ status: 409, json: { error: { code: 'CONFLICT', message: expect.stringMatching(/not verified/) } } });
    for (let i = 0; i < clip.chunks.length; i++) await gw.ingest.handle(dock.topic('chunk'), dock.chunk(clip, i));
    expect((await gw.ingest.handle(dock.topic('status'), dock.status({ clipsUnverified: 1 }))).status).toBe('accepted');
    expect((await call('POST', '/api/v1/devices/dock-d/decommission', { as: 'otto' })).status).toBe(409);
    expect((await gw.ingest.handle(dock.topic('status'), dock.status({ clipsUnverified: 0 }))).status).toBe('accepted');
    expect((await call('POST', '/api/v1/devices/dock-d/decommission', { as: 'otto' })).status).toBe(200);
    expect((await call('POST', '/api/v1/devices/dock-d/decommission', { as: 'otto' })).status).toBe(409);
    const shown = (await call('GET', '/api/v1/devices/dock-d', { as: 'vera' })).json;
    expect(shown.device).toMatchObject({ status: 'decommissioned', online: false });
    expect(shown.keys).toMatchObject([{ keyId: dock.key.keyId, revokedAt: expect.any(Number) }]);
    expect((await gw.ingest.handle(dock.topic('status'), dock.status())).status).toBe('rejected');
    await expect(mqtt.connectAsync(gw.mqttUrl, { clientId: 'dock-d', username: 'dock-d', password: creds.mqttPassword, reconnectPeriod: 0 })).rejects.toThrow(
      /Not authorized/i,
    );
  });

  it('serves the clips ingest stored, and the cameras with their officer and clips not yet verified', async () => {
    const dock = new TestDock('dock-c', 'f1', 640);
    await gw.fleet.enroll(dock.deviceId, dock.key.publicKey, 'otto');
    const clip = dock.clip(3 * 4096 + 5, { chunkSize: 4096, facts: { cameraSerial: 'CAM-C', officerId: 'O-44' } });
    expect(
      (await gw.ingest.handle(dock.topic('status'), dock.status({ cameras: [{ cameraSerial: 'CAM-C', model: 'X1', status: { batteryPct: 55 } }] }))).status,
    ).toBe('accepted');
    expect((await gw.ingest.handle(dock.topic('manifest'), clip.manifest)).status).toBe('accepted');
    await gw.ingest.handle(dock.topic('chunk'), dock.chunk(clip, 1));

    const list = await call('GET', '/api/v1/clips?device=dock-c', { as: 'vera' });
    expect(list.status).toBe(200);
    expect(list.json.clips).toEqual([
      expect.objectContaining({
        manifestHash: clip.hashHex,
        deviceId: 'dock-c',
        seq: 1,
        cameraSerial: 'CAM-C',
        clipId: clip.clipId,
        officerId: 'O-44',
        sha256: toHex(sha256(clip.bytes)),
        byteLength: clip.bytes.byteLength,
        state: 'RECEIVED',
        verifiedAt: null,
      }),
    ]);
    const one = await call('GET', `/api/v1/clips/${clip.hashHex}`, { as: 'vera' });
    expect(one.status).toBe(200);
    expect(one.json.clip).toMatchObject({
      manifestHash: clip.hashHex,
      chunkCount: 4,
      chunkSize: 4096,
      keyId: dock.key.keyId,
      missingChunks: [
        { start: 0, end: 1 },
        { start: 2, end: 4 },
      ],
    });
    expect(Buffer.from(one.json.clip.manifestEnvelope, 'base64')).toEqual(Buffer.from(clip.manifest));
    let cams = (await call('GET', '/api/v1/cameras', { as: 'vera' })).json.cameras;
    expect(cams).toContainEqual(
      expect.objectContaining({
        cameraSerial: 'CAM-C',
        model: 'X1',
        batteryPct: 55,
        lastDock: 'dock-c',
        officerId: null,
        clipsNotVerified: 1,
      }),
    );

    expect((await call('PUT', '/api/v1/cameras/CAM-C/assignment', { as: 'otto', json: { officerId: 'O-44' } })).status).toBe(200);
    for (const i of [0, 2, 3]) await gw.ingest.handle(dock.topic('chunk'), dock.chunk(clip, i));
    cams = (await call('GET', '/api/v1/cameras', { as: 'vera' })).json.cameras;
    expect(cams).toContainEqual(expect.objectContaining({ cameraSerial: 'CAM-C', officerId: 'O-44', clipsNotVerified: 0 }));
    const verified = (await call('GET', `/api/v1/clips/${clip.hashHex}`, { as: 'vera' })).json.clip;
    expect(verified).toMatchObject({ state: 'VERIFIED', missingChunks: [], verifiedAt: expect.any(Number) });
    expect(
      (await call('GET', '/api/v1/clips?camera=CAM-C&state=VERIFIED', { as: 'vera' })).json.clips.map((c: { manifestHash: string }) => c.manifestHash),
    ).toEqual([clip.hashHex]);
    expect((await call('GET', '/api/v1/clips?camera=CAM-C&state=RECEIVED', { as: 'vera' })).json.clips).toEqual([]);
    expect(await call('GET', `/api/v1/clips/${'ab'.repeat(32)}`, { as: 'vera' })).toMatchObject({
      status: 404,
      json: { error: { code: 'NOT_FOUND' } },
    });
  });

  it.skipIf(UNIT_TIER)(
    'exports a keyring of every device key, signed by the gateway, that opens through the root key; a decommission records the last seq before the revocation',
    async () => {
      const dock = new TestDock('dock-k1', 'f1', 680);
      await gw.fleet.enroll(dock.deviceId, dock.key.publicKey, 'otto');
      const signedBefore: TestClip[] = [];
      for (const seq of [1, 2]) {
        const clip = dock.clip(5_000, { chunkSize: 4096, seq });
        signedBefore.push(clip);
        expect((await gw.ingest.handle(dock.topic('manifest'), clip.manifest)).status).toBe('accepted');
        for (let i = 0; i < clip.chunks.length; i++) expect((await gw.ingest.handle(dock.topic('chunk'), dock.chunk(clip, i))).status).not.toBe('rejected');
      }
      const fetchRing = async () => {
        const r = await call('GET', '/api/v1/keyring', { as: 'vera' });
        expect(r.status).toBe(200);
        return openKeyring(Buffer.from(r.json.keyring, 'base64'), trust.rootKey);
      };
      const before = (await fetchRing()).entries.find((e) => e.deviceId === 'dock-k1');
      expect(before).toMatchObject({ keyId: dock.key.keyId, revokedAtMs: 0, lastSeqBeforeRevocation: 0 });
      expect((await call('POST', '/api/v1/devices/dock-k1/decommission', { as: 'otto' })).status).toBe(200);
      const after = await fetchRing();
      expect(after.gateway.gatewayId).toBe('gw1');
      expect(after.entries.find((e) => e.deviceId === 'dock-k1')).toMatchObject({
        revokedAtMs: expect.any(Number),
        lastSeqBeforeRevocation: 2,
      });
      expect(after.entries.find((e) => e.deviceId === 'dock-k1')!.revokedAtMs).toBeGreaterThan(0);
      expect((await call('GET', '/api/v1/keyring')).status).toBe(401);

      // The auditor's round: export the keyring with bwc, then check clips with it and the root key alone.
      const dir = tempDir();
      const tokenFile = join(dir, 'token');
      writeFileSync(tokenFile, tokens.vera!);
      const ring = join(dir, 'fleet.keyring');
      const exported = await runBwcAsync(['records', 'keyring', '--out', ring, '--gateway', `http://127.0.0.1:${gw.httpPort}`, '--token-file', tokenFile]);
      expect(exported.code, exported.stderr).toBe(0);
      expect(exported.stdout).toMatch(/device key\(s\), signed by gateway gw1/);
      expect(
        (await runBwcAsync(['records', 'keyring', '--out', ring, '--gateway', `http://127.0.0.1:${gw.httpPort}`, '--token-file', tokenFile])).stderr,
      ).toMatch(/already exists/);
      const check = async (clip: TestClip) => {
        writeFileSync(join(dir, 'clip'), clip.bytes);
        writeFileSync(join(dir, 'manifest'), clip.manifest);
        const r = await runBwcAsync(['verify', join(dir, 'clip'), join(dir, 'manifest'), '--keyring', ring, '--root-pubkey', trust.rootPublicKey, '--json']);
        return { code: r.code, key: (JSON.parse(r.stdout) as { key: string }).key };
      };
      expect(await check(signedBefore[1]!)).toEqual({ code: 0, key: 'OK' }); // seq 2, signed before the decommission
      expect(await check(dock.clip(3_000, { chunkSize: 4096, seq: 3 }))).toEqual({ code: 4, key: 'REVOKED_AT_RECORDING_TIME' }); // signed with the revoked key
    },
  );

  it('tells the docks of a litigation hold placed or released with a signed HoldNotice: the dock named, the dock of the clip named, or every dock', async () => {
    const gatewayKey = trustPublicKey(gw.signer.publicKey);
    const docks = ['dock-h1', 'dock-h2'].map((id, i) => new TestDock(id, 'f1', 670 + i));
    const received = new Map<string, bwc.v1.IHoldNotice[]>();
    const clients: MqttClient[] = [];
    for (const d of docks) {
      const creds = await gw.fleet.enroll(d.deviceId, d.key.publicKey, 'otto');
      const client = await mqtt.connectAsync(gw.mqttUrl, {
        clientId: d.deviceId,
        username: creds.mqttUsername,
        password: creds.mqttPassword,
        reconnectPeriod: 0,
      });
      received.set(d.deviceId, []);
      client.on('message', (topic, payload) => {
        if (topic !== deviceTopic('f1', d.deviceId, 'cmd')) return;
        const env = openEnvelope(payload, { expectType: 'Command' });
        assertEnvelopeSigned(env, gatewayKey);
        const cmd = pb.Command.decode(env.body);
        expect(cmd.header).toMatchObject({ issuer: 'gw1', subjectDevice: d.deviceId, fleet: 'f1' });
        if (cmd.holdNotice) received.get(d.deviceId)!.push(cmd.holdNotice);
      });
      await client.subscribeAsync(d.topic('cmd'), { qos: 1 });
      clients.push(client);
    }
    const notices = (id: string) => received.get(id)!.map((h) => `${h.holdId}${h.released ? ' released' : ''}`);
    const clip = docks[1]!.clip(5000, { chunkSize: 4096 });
    expect((await gw.ingest.handle(docks[1]!.topic('manifest'), clip.manifest)).status).toBe('accepted');

    await gw.records.placeHold({ holdId: 'hold-dock', reason: 'matter 1', deviceId: 'dock-h1' }, 'rhea');
    await gw.records.placeHold({ holdId: 'hold-clip', reason: 'matter 2', manifestHash: clip.hashHex }, 'rhea');
    await gw.records.placeHold({ holdId: 'hold-officer', reason: 'matter 3', officerId: 'O-7', fromAt: T0, toAt: T0 + HOUR }, 'rhea');
    await gw.records.releaseHold('hold-dock', 'matter 1 closed', 'rhea');
    await until('the notices', () => notices('dock-h1').length === 3 && notices('dock-h2').length === 2);
    // One publisher, one topic per dock: the broker keeps their order.
    expect(notices('dock-h1')).toEqual(['hold-dock', 'hold-officer', 'hold-dock released']);
    expect(notices('dock-h2')).toEqual(['hold-clip', 'hold-officer']);
    expect(received.get('dock-h1')![0]).toMatchObject({ reason: 'matter 1', scope: { devices: ['dock-h1'] } });
    expect(received.get('dock-h2')![0]).toMatchObject({ reason: 'matter 2', scope: { devices: ['dock-h2'] } });
    const officer = received.get('dock-h2')![1]!;
    expect(officer).toMatchObject({ reason: 'matter 3', scope: { officers: ['O-7'], devices: [] }, released: false });
    expect([Number(officer.fromMs), Number(officer.toMs)]).toEqual([T0, T0 + HOUR]);
    for (const c of clients) await c.endAsync();
  });

  it('pushes every assignment change to every enrolled dock as a Command signed by the gateway key, and nothing for a no-op', async () => {
    const gatewayKey = trustPublicKey(gw.signer.publicKey);
    const docks = ['dock-p1', 'dock-p2'].map((id, i) => new TestDock(id, 'f1', 650 + i));
    const received = new Map<string, Buffer[]>();
    const clients: MqttClient[] = [];
    for (const d of docks) {
      const creds = await gw.fleet.enroll(d.deviceId, d.key.publicKey, 'otto');
      const client = await mqtt.connectAsync(gw.mqttUrl, {
        clientId: d.deviceId,
        username: creds.mqttUsername,
        password: creds.mqttPassword,
        reconnectPeriod: 0,
      });
      received.set(d.deviceId, []);
      client.on('message', (topic, payload) => {
        if (topic === deviceTopic('f1', d.deviceId, 'cmd')) received.get(d.deviceId)!.push(payload);
      });
      await client.subscribeAsync(d.topic('cmd'), { qos: 1 });
      clients.push(client);
    }
    const open = (payload: Buffer) => {
      const env = openEnvelope(payload, { expectType: 'Command' });
      assertEnvelopeSigned(env, gatewayKey);
      return pb.Command.decode(env.body);
    };
    const pushed = (c: bwc.v1.Command) => (c.cameraAssignments?.assignments ?? []).filter((a) => a.cameraSerial === 'CAM-P');
    const current = (c: bwc.v1.Command) =>
      pushed(c)
        .filter((a) => Number(a.toMs) === 0)
        .map((a) => a.officerId);

    expect((await call('PUT', '/api/v1/cameras/CAM-P/assignment', { as: 'otto', json: { officerId: 'O-1' } })).status).toBe(200);
    expect((await call('PUT', '/api/v1/cameras/CAM-P/assignment', { as: 'otto', json: { officerId: 'O-1' } })).status).toBe(200); // a no-op
    expect((await call('PUT', '/api/v1/cameras/CAM-P/assignment', { as: 'otto', json: { officerId: 'O-2' } })).status).toBe(200);
    for (const d of docks) {
      const msgs = await until(`two commands for ${d.deviceId}`, () => {
        const m = received.get(d.deviceId)!;
        return m.length >= 2 && current(open(m[m.length - 1]!)).includes('O-2') ? m : undefined;
      });
      // The broker keeps order: a push for the no-op would have come between the two.
      expect(msgs, d.deviceId).toHaveLength(2);
      const [first, second] = msgs.map(open);
      expect(current(first!)).toEqual(['O-1']);
      expect(current(second!)).toEqual(['O-2']);
      for (const c of [first!, second!]) {
        expect(c.header).toMatchObject({ issuer: 'gw1', subjectDevice: d.deviceId, fleet: 'f1' });
        expect(c.cameraAssignments!.header).toMatchObject({ issuer: 'gw1', subjectDevice: d.deviceId });
      }
      expect(pushed(second!)).toMatchObject([
        { officerId: 'O-1', assignedBy: 'otto' },
        { officerId: 'O-2', assignedBy: 'otto', toMs: 0 },
      ]);
      expect(Number(second!.header!.seq)).toBeGreaterThan(Number(first!.header!.seq));
    }
    // Unassigning is a change too.
    expect((await call('DELETE', '/api/v1/cameras/CAM-P/assignment', { as: 'otto' })).status).toBe(204);
    for (const d of docks) {
      const last = await until(`the unassignment for ${d.deviceId}`, () => {
        const m = received.get(d.deviceId)!;
        return m.length === 3 ? m[2] : undefined;
      });
      expect(current(open(last))).toEqual([]);
    }
    for (const c of clients) await c.endAsync();
  });
});
