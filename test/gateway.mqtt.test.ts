/**
 * The gateway over real MQTT: the embedded aedes broker with its ACL, Mosquitto as an external
 * broker carrying every kind of bad input, and two gateway processes sharing the load through
 * Mosquitto's shared subscriptions and one PostgreSQL database.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { pb } from '../proto/wire.js';
import { openAck, VerifiedClip } from '../proto/ack.js';
import { trustPublicKey } from '../proto/ed25519.js';
import { sha256 } from '../proto/bytes.js';
import { parseGatewayConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { silentLogger } from '../gateway/api/http.js';
import { TestDock, type TestClip } from './gateway.fixtures.js';
import { startMosquitto, type TestMosquitto } from './mosquitto.js';
import { startPostgres, type TestPostgres } from './pg.js';
import { tempDir, until } from './helpers.js';

/** A dock's MQTT side for tests: publishes signed messages and collects the gateway's acks. */
class MqttDock {
  readonly acks: { topic: string; payload: Buffer }[] = [];
  constructor(
    readonly dock: TestDock,
    readonly client: MqttClient,
  ) {
    client.on('message', (topic, payload) => this.acks.push({ topic, payload }));
  }

  static async connect(url: string, dock: TestDock, auth?: { username: string; password: string }): Promise<MqttDock> {
    const client = await mqtt.connectAsync(url, { clientId: dock.deviceId, protocolVersion: 4, clean: false, reconnectPeriod: 0, ...auth });
    await client.subscribeAsync(dock.topic('ack'), { qos: 1 });
    return new MqttDock(dock, client);
  }

  publish(kind: Parameters<TestDock['topic']>[0], payload: Uint8Array): Promise<unknown> {
    return this.client.publishAsync(this.dock.topic(kind), Buffer.from(payload), { qos: 1 });
  }

  decoded(key: ReturnType<typeof trustPublicKey>[]): { ack: ReturnType<typeof openAck>; bytes: Buffer }[] {
    return this.acks.map((a) => {
      for (const k of key) {
        try {
          return { ack: openAck(a.payload, k), bytes: a.payload };
        } catch {
          // signed by another replica
        }
      }
      throw new Error('an ack signed by no known gateway');
    });
  }

  /** What a dock does: the manifest, its MANIFEST_RECEIVED ack, then the chunks. */
  async offload(clip: TestClip, keys: ReturnType<typeof trustPublicKey>[]): Promise<void> {
    await this.publish('manifest', clip.manifest);
    await until(`manifest ack for ${clip.clipId}`, () => this.decoded(keys).some((a) => Buffer.from(a.ack.manifestHash).equals(clip.hash)));
    for (let i = 0; i < clip.chunks.length; i++) await this.publish('chunk', this.dock.chunk(clip, i));
  }

  verifiedAcks(clip: TestClip, keys: ReturnType<typeof trustPublicKey>[]) {
    return this.decoded(keys).filter((a) => a.ack.kind === pb.AckKind.ACK_KIND_VERIFIED && Buffer.from(a.ack.manifestHash).equals(clip.hash));
  }
}

function config(dataDir: string, extra: Record<string, unknown> = {}) {
  return parseGatewayConfig({
    fleet: 'f1',
    gatewayId: 'gw1',
    dataDir,
    mqtt: { embedded: { port: 0 } },
    http: { port: 0 },
    sweepIntervalMs: 200,
    ...extra,
  });
}

describe('gateway on its embedded broker', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway({ config: config(tempDir()), log: silentLogger });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('takes an enrolled dock from birth to a VERIFIED clip the dock can release', async () => {
    const dock = new TestDock('dock-1');
    const creds = await gw.fleet.enroll(dock.deviceId, dock.key.publicKey, 'test');
    const d = await MqttDock.connect(gw.mqttUrl, dock, { username: creds.mqttUsername, password: creds.mqttPassword });
    const key = trustPublicKey(gw.signer.publicKey);
    await d.publish('birth', dock.birth());
    await until('dock online', async () => (await gw.fleet.device('dock-1'))?.online === 1);
    const clip = dock.clip(200_000, { chunkSize: 64 * 1024 });
    await d.offload(clip, [key]);
    const [verified] = await until('VERIFIED ack', () => {
      const v = d.verifiedAcks(clip, [key]);
      return v.length ? v : undefined;
    });
    const released = VerifiedClip.fromAck(verified!.bytes, key, {
      deviceId: 'dock-1',
      clipId: clip.clipId,
      manifestHash: clip.hash,
      sha256: sha256(clip.bytes),
      byteLength: clip.bytes.byteLength,
    });
    expect(released.clipId).toBe(clip.clipId);
    await d.client.endAsync();
  });

  it('keeps out unknown devices and wrong passwords, and a device publishing under another device', async () => {
    const stranger = new TestDock('dock-x', 'f1', 3);
    await expect(mqtt.connectAsync(gw.mqttUrl, { clientId: 'dock-x', username: 'dock-x', password: 'guess', reconnectPeriod: 0 })).rejects.toThrow(
      /Not authorized|Bad username/i,
    );
    const dock = new TestDock('dock-2', 'f1', 11);
    const creds = await gw.fleet.enroll(dock.deviceId, dock.key.publicKey, 'test');
    await expect(
      mqtt.connectAsync(gw.mqttUrl, { clientId: 'dock-2', username: 'dock-2', password: `${creds.mqttPassword}x`, reconnectPeriod: 0 }),
    ).rejects.toThrow(/Not authorized/i);
    const c = await mqtt.connectAsync(gw.mqttUrl, {
      clientId: 'dock-2',
      username: 'dock-2',
      password: creds.mqttPassword,
      reconnectPeriod: 0,
    });
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    c.publish(stranger.topic('status'), Buffer.from(stranger.status()), { qos: 1 });
    await closed; // MQTT 3.1.1 has no negative PUBACK: the broker drops the client
    expect(gw.broker!.denied['publish outside the allowed topics']).toBe(1);
    expect(await gw.db.all(`SELECT hash FROM messages WHERE device_id = 'dock-x'`)).toHaveLength(0);
    c.end(true);
  });
});

describe('gateway behind Mosquitto', () => {
  let mosq: TestMosquitto;
  let gw: RunningGateway;
  beforeAll(async () => {
    mosq = await startMosquitto();
    gw = await startGateway({ config: config(tempDir(), { mqtt: { url: mosq.url } }), log: silentLogger });
  }, 30_000);
  afterAll(async () => {
    await gw?.stop();
    await mosq?.stop();
  });

  it('refuses every bad input arriving over the broker, counts it by reason, raises alerts, and keeps serving', async () => {
    const dock = new TestDock('dock-1');
    await gw.fleet.enroll(dock.deviceId, dock.key.publicKey, 'test');
    const d = await MqttDock.connect(mosq.url, dock);
    const stranger = new TestDock('dock-9', 'f1', 99);
    const s = await MqttDock.connect(mosq.url, stranger);
    const good = dock.status();
    const forged = Buffer.from(good);
    forged[forged.length - 135] = forged[forged.length - 135]! ^ 1;
    await d.publish('status', Buffer.from('\x08\x96\x01 garbage'));
    await d.publish('status', forged);
    await s.publish('status', stranger.status());
    await d.publish('status', new TestDock('dock-2', 'f1', 7).status()); // envelope names dock-2 on dock-1's topic
    const clip = dock.clip(5000, { chunkSize: 4096 });
    await d.publish('chunk', dock.chunk(clip, 0)); // chunk for a manifest the gateway never got
    await d.publish('status', good);
    await d.publish('status', good); // replay
    await d.publish('status', Buffer.alloc(9 * 1024 * 1024, 7)); // above the gateway's 8 MiB cap, within the broker's
    // A manifest, a chunk that does not match it, and a fork of the same seq.
    await d.publish('manifest', clip.manifest);
    await until('manifest stored', () => (gw.ingest.counters.accepted.ClipManifest ?? 0) === 1);
    const bad = Buffer.from(clip.chunks[0]!);
    bad[0] = bad[0]! ^ 0xff;
    await d.publish('chunk', dock.chunk(clip, 0, bad));
    await d.publish('manifest', dock.clip(7000, { chunkSize: 4096, seq: 1, prev: null }).manifest);
    const res = await until('all counted', () => {
      const k = gw.ingest.counters;
      return (k.accepted.Status ?? 0) === 1 && (k.duplicates.Status ?? 0) === 1 && Object.values(k.rejected).reduce((a, b) => a + (b ?? 0), 0) >= 8
        ? k
        : undefined;
    });
    expect(res.rejected).toMatchObject({
      UNDECODABLE: 1,
      BAD_SIGNATURE: 1,
      UNKNOWN_DEVICE: 1,
      ID_MISMATCH: 1,
      CHUNK_UNKNOWN_MANIFEST: 1,
      TOO_LARGE: 1,
      CHUNK_HASH_MISMATCH: 1,
      CHAIN_FORK: 1,
    });
    // Operators see it through the API: alerts and Prometheus counters.
    await gw.auth.createUser({ username: 'ops', password: 'correct horse battery', roles: ['operator'], offices: [], personId: null });
    const { token } = await gw.auth.createApiToken('ops', 'test');
    const get = (p: string) => fetch(`http://127.0.0.1:${gw.httpPort}${p}`, { headers: { authorization: `Bearer ${token}` } });
    const alerts = (await (await get('/api/v1/alerts?open=true')).json()) as { alerts: { kind: string }[] };
    expect(new Set(alerts.alerts.map((a) => a.kind))).toEqual(
      new Set(['MALFORMED_MESSAGE', 'BAD_SIGNATURE', 'UNKNOWN_DEVICE', 'ID_MISMATCH', 'CHUNK_REJECTED', 'CHAIN_FORK']),
    );
    const metrics = await (await get('/metrics')).text();
    expect(metrics).toMatch(/bwc_ingest_rejected_total\{reason="BAD_SIGNATURE"\} 1/);
    expect(metrics).toMatch(/bwc_ingest_messages_total\{type="Status",outcome="duplicates"\} 1/);
    expect(await gw.db.all(`SELECT state FROM manifests WHERE state = 'VERIFIED'`)).toHaveLength(0);
    await d.client.endAsync();
    await s.client.endAsync();
  });
});

describe('gateway speaking MQTT 5 to Mosquitto', () => {
  it('verifies a clip from a dock that speaks MQTT 3.1.1 while the gateway speaks MQTT 5', async () => {
    const mosq = await startMosquitto();
    const gw = await startGateway({ config: config(tempDir(), { mqtt: { url: mosq.url, protocolVersion: 5 } }), log: silentLogger });
    try {
      const dock = new TestDock('dock-5', 'f1', 55);
      await gw.fleet.enroll(dock.deviceId, dock.key.publicKey, 'test');
      const d = await MqttDock.connect(mosq.url, dock);
      const key = trustPublicKey(gw.signer.publicKey);
      const clip = dock.clip(20_000, { chunkSize: 4096 });
      await d.offload(clip, [key]);
      await until('VERIFIED ack', () => d.verifiedAcks(clip, [key]).length === 1);
      expect(gw.ingest.counters.verified).toBe(1);
      await d.client.endAsync();
    } finally {
      await gw.stop();
      await mosq.stop();
    }
  }, 30_000);
});

describe('two gateways, one Mosquitto with shared subscriptions, one PostgreSQL', () => {
  let mosq: TestMosquitto;
  let pg: TestPostgres;
  const gws: RunningGateway[] = [];
  beforeAll(async () => {
    [mosq, pg] = await Promise.all([startMosquitto(), startPostgres()]);
    const dbUrl = await pg.newDatabase();
    const clipsDir = join(tempDir(), 'shared-clips');
    for (const id of ['gw-a', 'gw-b']) {
      gws.push(
        await startGateway({
          config: config(tempDir(), { gatewayId: id, clipsDir, db: { url: dbUrl }, mqtt: { url: mosq.url, shared: true } }),
          log: silentLogger,
        }),
      );
    }
  }, 60_000);
  afterAll(async () => {
    for (const g of gws) await g.stop();
    await mosq?.stop();
    await pg?.stop();
  });

  it('stores and verifies every clip of a burst from several docks exactly once', async () => {
    const keys = gws.map((g) => trustPublicKey(g.signer.publicKey));
    const docks: MqttDock[] = [];
    for (let i = 0; i < 3; i++) {
      const dock = new TestDock(`dock-${i}`, 'f1', 100 + i);
      await gws[0]!.fleet.enroll(dock.deviceId, dock.key.publicKey, 'test');
      docks.push(await MqttDock.connect(mosq.url, dock));
    }
    const clips = docks.map((d, i) => Array.from({ length: 8 }, (_, j) => d.dock.clip(3 * 4096 + j * 100, { chunkSize: 4096, seed: 100 * i + j + 1 })));
    await Promise.all(
      docks.map(async (d, i) => {
        for (const c of clips[i]!) await d.offload(c, keys);
      }),
    );
    for (let i = 0; i < docks.length; i++) {
      for (const c of clips[i]!) await until(`VERIFIED ${c.clipId}`, () => docks[i]!.verifiedAcks(c, keys).length > 0);
    }
    // Every message taken is handled, and every ack the replicas sent has reached its dock: a second
    // VERIFIED would be among them.
    await until('every ack sent delivered', async () => {
      await Promise.all(gws.map((g) => g.idle()));
      const sent = gws.reduce((n, g) => n + g.ingest.counters.acksSent, 0);
      return docks.reduce((n, d) => n + d.acks.length, 0) >= sent;
    });
    for (let i = 0; i < docks.length; i++) {
      for (const c of clips[i]!) expect(docks[i]!.verifiedAcks(c, keys), c.clipId).toHaveLength(1);
    }
    const rows = await gws[0]!.db.all<{ state: string; n: number }>('SELECT state, COUNT(*) AS n FROM manifests GROUP BY state');
    expect(rows).toEqual([{ state: 'VERIFIED', n: 24 }]);
    expect(gws.reduce((n, g) => n + g.ingest.counters.verified, 0)).toBe(24);
    // Both replicas took part.
    for (const g of gws) expect(Object.values(g.ingest.counters.received).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    for (const d of docks) await d.client.endAsync();
  }, 60_000);
});
