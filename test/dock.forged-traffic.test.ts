/**
 * A dock under forged gateway traffic (DESIGN §8, second round), over a real MQTT broker (the
 * embedded aedes broker, the forger holding the gateway's broker password): cheap checks before
 * any signature, replays dropped, refusals counted and reported in aggregate — never one stored
 * row per forgery — and a genuine ack among the forgeries still acted on at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { pb } from '../proto/wire.js';
import { sealEnvelope, openEnvelope } from '../proto/envelope.js';
import { signGatewayCertificate } from '../proto/gateway-cert.js';
import { deviceTopic } from '../proto/topics.js';
import type { DeviceKey } from '../device/custody/keys.js';
import { fastSignerFromSeed as signerFromSeed } from './keys.js';
import { startEmbeddedBroker, GATEWAY_MQTT_USER, type EmbeddedBroker } from '../gateway/broker.js';
import { forgeries } from '../scripts/sim/forger.js';
import { dockSync, type TestDockSync } from './dock.sync.fixtures.js';
import { pseudoRandomBytes, until } from './helpers.js';

const SECRET = 'the-broker-password';
let broker: EmbeddedBroker;
let root: DeviceKey;
let gatewayKey: DeviceKey;
let certificate: Uint8Array;

beforeAll(async () => {
  broker = await startEmbeddedBroker({
    fleet: 'f1',
    port: 0,
    gatewaySecret: SECRET,
    checkDevice: async (id, pw) => id === 'dock-s' && pw === 'pw',
  });
  root = signerFromSeed(pseudoRandomBytes(32, 4242));
  gatewayKey = signerFromSeed(pseudoRandomBytes(32, 77));
  certificate = signGatewayCertificate(
    {
      gatewayId: 'gw1',
      fleet: 'f1',
      publicKey: gatewayKey.publicKey,
      notBeforeMs: Date.now() - 3600_000,
      notAfterMs: Date.now() + 86_400_000,
    },
    root,
  );
});
afterAll(async () => {
  await broker?.close();
});

/** An ack the real gateway would send: RECEIVED for `hash`, signed by the certified key. */
function genuineAck(hash: string, subject = 'dock-s'): Buffer {
  const body = pb.Ack.encode({
    header: { issuer: 'gw1', subjectDevice: subject, fleet: 'f1', seq: Math.floor(Math.random() * 1e9), createdAtMs: Date.now() },
    kind: pb.AckKind.ACK_KIND_RECEIVED,
    deviceId: 'dock-s',
    ackedHash: Buffer.from(hash, 'hex'),
    ackedType: 'Event',
    storedAtMs: Date.now(),
  }).finish();
  return Buffer.from(sealEnvelope('Ack', body, gatewayKey).bytes);
}

async function connectedDock(): Promise<TestDockSync> {
  const d = dockSync({
    brokerUrl: broker.url,
    root: root.publicKey,
    session: {
      url: broker.url,
      username: 'dock-s',
      password: 'pw',
      protocolVersion: 4,
      keepaliveS: 60,
      connectTimeoutMs: 5_000,
      backoffMinMs: 50,
      backoffMaxMs: 500,
      watchdogMs: 30_000,
    },
  });
  d.trust.addCertificate(certificate, Date.now());
  d.sync.start();
  await until('the dock connected', () => d.sync.connected);
  return d;
}

describe('a dock under forged acks and commands', () => {
  let forger: MqttClient;
  beforeAll(async () => {
    forger = await mqtt.connectAsync(broker.url, { clientId: 'forger', username: GATEWAY_MQTT_USER, password: SECRET, reconnectPeriod: 0 });
  });
  afterAll(async () => {
    await forger?.endAsync();
  });

  it('refuses each kind cheaply, stores one aggregated report, and acts on the genuine ack among them', async () => {
    const d = await connectedDock();
    const rowsBefore = d.outbox.depth().messages; // the Birth, waiting for its ack
    const pending = d.sync.send('event', 'Event', { kind: pb.EventKind.EVENT_KIND_CLOCK, occurredAtMs: Date.now() });
    const replayed = genuineAck(d.sync.send('event', 'Event', { kind: pb.EventKind.EVENT_KIND_CLOCK, occurredAtMs: Date.now() }));
    const forged = forgeries({ deviceId: 'dock-s', fleet: 'f1', gatewayKeyId: gatewayKey.keyId, genuineAck: replayed }, 1_600);
    const topic = (t: 'ack' | 'cmd') => deviceTopic('f1', 'dock-s', t);
    // The genuine ack of `replayed` first, so its copies are replays.
    await forger.publishAsync(topic('ack'), replayed, { qos: 1 });
    for (let i = 0; i < forged.length; i++) {
      if (i === forged.length / 2) {
        void forger.publishAsync(topic('ack'), genuineAck(pending), { qos: 1 });
      }
      void forger.publishAsync(topic(forged[i]!.topic), forged[i]!.payload, { qos: 1 });
    }
    // How soon it is acted on is a speed target, measured by `npm run bench -- forged` (limit 1 s).
    await until('the genuine ack acted on', () => d.outbox.get(pending) === undefined);
    await until(
      'every forgery refused or dropped',
      () => d.sync.counters.acksRefused + d.sync.counters.commandsRefused + d.sync.counters.replays >= forged.length,
    );
    const total = d.sync.refusals.total;
    expect(total).toMatchObject({
      'ack|malformed': 100,
      'cmd|malformed': 100,
      'ack|too large': 200,
      'ack|unknown key': 200,
      'ack|bad signature': 200,
      'ack|not for this dock': 200,
      'cmd|bad signature': 200,
      'cmd|unknown key': 200,
    });
    // Replays of the genuine ack are dropped after one hash, and not reported (a QoS 1 redelivery looks the same).
    expect(d.sync.counters.replays).toBe(200);
    expect(total).not.toHaveProperty('ack|replayed');
    // Signatures were checked only where the cheap checks could not decide: the claimed key id
    // with a bad signature (acks and commands), and the genuine acks.
    expect(d.sync.counters.signatureChecks).toBe(200 + 200 + 2);
    // One aggregated report, not one row per forgery.
    d.sync.flushRefusals();
    const rows = d.outbox.due(Date.now() + 60_000, 100).filter((r) => r.kind === 'event');
    const reports = rows.map((r) => pb.Event.decode(openEnvelope(r.envelope).body)).filter((e) => e.alert === pb.AlertKind.ALERT_KIND_SYNC_ERROR);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.detail).toMatch(/^1400 gateway message\(s\) refused .*ack: .*bad signature 200/);
    expect(d.outbox.depth().messages - rowsBefore).toBeLessThanOrEqual(2); // the report (and the second test event, acked or not)
    await d.sync.stop();
    d.close();
  }, 60_000);

  it('refuses a genuine gateway ack whose header names another dock (DESIGN §8)', async () => {
    const d = await connectedDock();
    const pending = d.sync.send('event', 'Event', { kind: pb.EventKind.EVENT_KIND_CLOCK, occurredAtMs: Date.now() });
    await forger.publishAsync(deviceTopic('f1', 'dock-s', 'ack'), genuineAck(pending, 'dock-other'), { qos: 1 });
    await until('refused', () => d.sync.counters.acksRefused === 1);
    expect(d.sync.refusals.total).toEqual({ 'ack|not for this dock': 1 });
    expect(d.outbox.get(pending)).toBeDefined();
    await d.sync.stop();
    d.close();
  });
});
