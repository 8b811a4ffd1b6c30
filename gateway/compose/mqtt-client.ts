/**
 * The gateway's MQTT side: the embedded broker (unless one is configured), the gateway's client
 * with its retained presence and Will, publishing, and the flow control of incoming messages.
 *
 * Flow control: messages are handled concurrently (their writes share group commits) and
 * acknowledged to the broker as they are taken, up to MAX_IN_FLIGHT messages and
 * MAX_IN_FLIGHT_BYTES bytes; beyond that the PUBACK waits, which pushes back on the broker (and,
 * through it, on the docks' chunk windows). The byte bound keeps clip chunks (1 MiB each) from
 * piling up in memory faster than they are written. Delivery is guaranteed end to end by the
 * dock's outbox, which resends every message until the gateway's signed ack for it arrives.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { fleetFilter, gatewayStateTopic, DOCK_KINDS } from '../../proto/topics.js';
import { SOFTWARE_VERSION } from '../../proto/version.js';
import type { Logger } from '../api/http.js';
import { startEmbeddedBroker, GATEWAY_MQTT_USER, type EmbeddedBroker } from '../broker.js';
import type { GatewayConfig } from '../config.js';
import type { GatewaySigner } from '../signer.js';
import type { Shutdown } from './shutdown.js';

const MAX_IN_FLIGHT = 512;
const MAX_IN_FLIGHT_BYTES = 32 * 1024 * 1024;

export interface GatewayMqtt {
  readonly broker: EmbeddedBroker | null;
  readonly url: string;
  /** QoS 1, not awaited: mqtt.js reads no packet (not even our PUBACKs) until handleMessage calls back. */
  publish(topic: string, payload: Uint8Array): Promise<void>;
  /** Subscribes to the docks' topics and hands each message to `handle`, within the flow-control bounds; then announces the gateway online. */
  consume(handle: (topic: string, payload: Buffer) => Promise<void>): Promise<void>;
  /** Resolves when every message taken so far has been handled. */
  idle(): Promise<void>;
}

export async function startGatewayMqtt(o: {
  config: GatewayConfig;
  signer: GatewaySigner;
  certificate: Uint8Array | null;
  gatewaySecret: string;
  now: () => number;
  log: Logger;
  shutdown: Shutdown;
  checkDevice: (deviceId: string, password: string) => Promise<boolean>;
}): Promise<GatewayMqtt> {
  const c = o.config;
  // The gateway's logger: the client logs through its `mqtt` child, the embedded broker through its `broker` child.
  const log = o.log.child({ part: 'mqtt' });
  const { now, signer } = o;
  let broker: EmbeddedBroker | null = null;
  let url = c.mqtt.url;
  if (!url) {
    broker = await startEmbeddedBroker({
      fleet: c.fleet,
      host: c.mqtt.embedded.host,
      port: c.mqtt.embedded.port,
      gatewaySecret: o.gatewaySecret,
      checkDevice: o.checkDevice,
      log: o.log.child({ part: 'broker' }),
    });
    const b = broker;
    o.shutdown.add(() => b.close());
    url = broker.url;
  }
  const presence = gatewayStateTopic(c.fleet, c.gatewayId);
  const certificate = o.certificate ? Buffer.from(o.certificate).toString('base64') : null;
  const state = (online: boolean) =>
    JSON.stringify({
      gatewayId: c.gatewayId,
      online,
      version: SOFTWARE_VERSION,
      keyId: signer.keyId,
      publicKey: signer.publicKeyHex,
      ...(certificate ? { certificate } : {}),
      at: now(),
    });
  const client: MqttClient = await mqtt.connectAsync(url, {
    clientId: `bwc-gw-${c.gatewayId}`,
    clean: false,
    protocolVersion: c.mqtt.protocolVersion,
    username: broker ? GATEWAY_MQTT_USER : c.mqtt.username,
    password: broker ? o.gatewaySecret : c.mqtt.password,
    reconnectPeriod: 1000,
    will: { topic: presence, payload: Buffer.from(state(false)), qos: 1, retain: true },
  });
  o.shutdown.add(async () => {
    await client.publishAsync(presence, state(false), { qos: 1, retain: true }).catch(() => {});
    await client.endAsync();
  });

  let inFlight = 0;
  let inFlightBytes = 0;
  let idleWaiters: (() => void)[] = [];
  let slotWaiters: (() => void)[] = [];
  const room = () => inFlight < MAX_IN_FLIGHT && (inFlightBytes < MAX_IN_FLIGHT_BYTES || inFlight === 1);
  const idle = () => new Promise<void>((r) => (inFlight === 0 ? r() : idleWaiters.push(r)));

  return {
    broker,
    url,
    publish: async (topic, payload) => {
      client.publish(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: 1 }, (e) => {
        if (e) log.warn({ err: e }, `mqtt publish to ${topic}: ${e.message}`);
      });
    },
    consume: async (handle) => {
      client.handleMessage = (packet, done) => {
        const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
        inFlight++;
        inFlightBytes += payload.byteLength;
        handle(packet.topic, payload).finally(() => {
          inFlight--;
          inFlightBytes -= payload.byteLength;
          if (room() && slotWaiters.length) {
            const w = slotWaiters;
            slotWaiters = [];
            for (const f of w) f();
          }
          if (inFlight === 0) {
            const w = idleWaiters;
            idleWaiters = [];
            for (const f of w) f();
          }
        });
        if (room()) done();
        else slotWaiters.push(() => done());
      };
      const filters = DOCK_KINDS.map((k) => fleetFilter(c.fleet, k, c.mqtt.shared ? c.mqtt.shareGroup : undefined));
      await client.subscribeAsync(filters, { qos: 1 });
      await client.publishAsync(presence, state(true), { qos: 1, retain: true });
      client.on('error', (e) => log.warn({ err: e }, `mqtt: ${e.message}`));
    },
    idle,
  };
}
