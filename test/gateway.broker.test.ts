/**
 * The embedded broker's ACL (gateway/broker.ts) against real MQTT clients: rights belong to a
 * connection, not to a client id (DESIGN §8, second round).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { startEmbeddedBroker, GATEWAY_MQTT_USER, type EmbeddedBroker } from '../gateway/broker.js';

const SECRET = 'gateway-secret';

function connect(url: string, clientId: string, username: string, password: string): Promise<MqttClient> {
  return mqtt.connectAsync(url, { clientId, username, password, protocolVersion: 4, clean: false, reconnectPeriod: 0 });
}

describe('embedded broker: rights belong to the connection', () => {
  let broker: EmbeddedBroker;
  beforeAll(async () => {
    broker = await startEmbeddedBroker({
      fleet: 'f1',
      port: 0,
      gatewaySecret: SECRET,
      checkDevice: async (id, pw) => id === 'dock-1' && pw === 'pw-1',
    });
  });
  afterAll(async () => {
    await broker?.close();
  });

  it("keeps a reconnecting dock's rights when it takes over its half-open old connection", async () => {
    const gateway = await connect(broker.url, 'bwc-gw-gw1', GATEWAY_MQTT_USER, SECRET);
    await gateway.subscribeAsync('bwc/v1/f1/+/status', { qos: 1 });
    const statuses: string[] = [];
    gateway.on('message', (_t, p) => statuses.push(p.toString()));

    // The first connection never closes on the dock's side (a Wi-Fi drop leaves it half open).
    const old = await connect(broker.url, 'dock-1', 'dock-1', 'pw-1');
    const oldClosed = new Promise<void>((r) => old.once('close', () => r()));
    const fresh = await connect(broker.url, 'dock-1', 'dock-1', 'pw-1');
    await oldClosed; // [MQTT-3.1.4-2]: the broker takes the old connection over

    const granted = await fresh.subscribeAsync('bwc/v1/f1/dock-1/ack', { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1]);
    const delivered = new Promise<void>((r) => gateway.on('message', () => r()));
    await fresh.publishAsync('bwc/v1/f1/dock-1/status', Buffer.from('after takeover'), { qos: 1 });
    await delivered;
    expect(statuses).toEqual(['after takeover']);
    expect(fresh.connected).toBe(true);
    expect(broker.denied).toEqual({});

    // The gateway may still end the dock's (new) session.
    const freshClosed = new Promise<void>((r) => fresh.once('close', () => r()));
    expect(broker.disconnect('dock-1')).toBe(true);
    await freshClosed;
    old.end(true);
    await gateway.endAsync();
  });

  it("keeps a reconnecting gateway client's rights the same way", async () => {
    const old = await connect(broker.url, 'bwc-gw-gw2', GATEWAY_MQTT_USER, SECRET);
    const oldClosed = new Promise<void>((r) => old.once('close', () => r()));
    const fresh = await connect(broker.url, 'bwc-gw-gw2', GATEWAY_MQTT_USER, SECRET);
    await oldClosed;
    const granted = await fresh.subscribeAsync('bwc/v1/f1/+/manifest', { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1]);
    await fresh.publishAsync('bwc/v1/f1/dock-1/cmd', Buffer.from('x'), { qos: 1 });
    expect(fresh.connected).toBe(true);
    old.end(true);
    await fresh.endAsync();
  });
});
