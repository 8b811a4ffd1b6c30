/**
 * The embedded MQTT broker (aedes, MQTT 3.1.1) that `bwc gateway` starts when no `mqtt.url` is
 * configured, so one machine works with no setup. It enforces the ACL an external broker would
 * (DESIGN §8):
 *
 * - a device connects as username = its device id with the MQTT password it got at enrollment,
 *   and its client id must be its device id; only enrolled devices get in;
 * - a device publishes only under `bwc/v1/{fleet}/{itself}/` and only the dock → gateway kinds
 *   (birth, death, status, event, manifest, chunk, log), and subscribes only to its own `cmd` and
 *   `ack` topics and the gateways' presence;
 * - gateway clients authenticate with a secret that exists only in this process (and the
 *   replicas it is given to), and may publish and subscribe anywhere under `bwc/v1/{fleet}/`.
 *
 * The gateway verifies every message anyway: the ACL keeps noise out, the signatures decide.
 * aedes does not deliver `$share/…` subscriptions; `mqtt.shared` with the embedded broker is
 * refused in the configuration.
 */
import { createServer, type Server } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { Aedes, type Client } from 'aedes';
import type { Logger } from 'pino';
import { DOCK_KINDS, TOPIC_ROOT, isValidId } from '../proto/topics.js';

export interface EmbeddedBrokerOptions {
  fleet: string;
  host?: string;
  port?: number;
  /** The password gateway clients present (username `_gateway`). */
  gatewaySecret: string;
  checkDevice(deviceId: string, password: string): Promise<boolean>;
  /** The `broker` part of the gateway's logger (gateway/log.ts). */
  log?: Logger;
}

export interface EmbeddedBroker {
  readonly port: number;
  readonly url: string;
  /** Connection refusals and ACL denials, by reason. */
  readonly denied: Record<string, number>;
  /** Ends a device's session now (after decommission); false if it is not connected. */
  disconnect(deviceId: string): boolean;
  close(): Promise<void>;
  /**
   * A network outage: stops listening and drops every connection for `ms`, then listens again on
   * the same port. Sessions and queued QoS 1 messages stay in the broker, as across a real outage
   * of the link (the demo and chaos runs use it; nothing in production calls it).
   */
  interrupt(ms: number): Promise<void>;
}

type Role = { kind: 'gateway' } | { kind: 'device'; deviceId: string };

export const GATEWAY_MQTT_USER = '_gateway';
export const DEFAULT_MQTT_PORT = 1883;

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function startEmbeddedBroker(o: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const denied: Record<string, number> = {};
  const deny = (reason: string) => {
    denied[reason] = (denied[reason] ?? 0) + 1;
  };
  const prefix = `${TOPIC_ROOT}/${o.fleet}/`;
  // Rights belong to the connection (the aedes Client object), never to a client id: when a dock
  // reconnects while the broker still holds its half-open old connection, aedes takes the old one
  // over [MQTT-3.1.4-2] and its close must not touch the new connection's rights (DESIGN §8). A
  // closed connection's entry goes with the object.
  const roles = new WeakMap<Client, Role>();

  const aedes = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      const user = username ?? '';
      const pass = password?.toString('utf8') ?? '';
      if (user === GATEWAY_MQTT_USER) {
        if (safeEqual(pass, o.gatewaySecret)) {
          roles.set(client, { kind: 'gateway' });
          done(null, true);
        } else {
          deny('bad gateway secret');
          done(Object.assign(new Error('not authorized'), { returnCode: 5 }), false);
        }
        return;
      }
      if (!isValidId(user) || client.id !== user) {
        deny('client id is not the device id');
        done(Object.assign(new Error('client id must equal the device id'), { returnCode: 2 }), false);
        return;
      }
      o.checkDevice(user, pass).then(
        (ok) => {
          if (ok) {
            roles.set(client, { kind: 'device', deviceId: user });
            done(null, true);
          } else {
            deny('unknown device or wrong password');
            done(Object.assign(new Error('not authorized'), { returnCode: 5 }), false);
          }
        },
        () => {
          deny('credential check failed');
          done(Object.assign(new Error('server unavailable'), { returnCode: 3 }), false);
        },
      );
    },
    authorizePublish: (client, packet, callback) => {
      // client is null for messages the broker itself publishes (e.g. $SYS); those pass.
      if (!client) return callback(null);
      const role = roles.get(client);
      if (role?.kind === 'gateway' && packet.topic.startsWith(prefix)) return callback(null);
      if (role?.kind === 'device') {
        const rest = packet.topic.startsWith(prefix) ? packet.topic.slice(prefix.length).split('/') : [];
        if (rest.length === 2 && rest[0] === role.deviceId && (DOCK_KINDS as readonly string[]).includes(rest[1]!)) return callback(null);
      }
      deny('publish outside the allowed topics');
      callback(new Error(`publish to ${packet.topic} is not allowed`));
    },
    authorizeSubscribe: (client, sub, callback) => {
      const role = roles.get(client);
      const t = sub.topic;
      if (role?.kind === 'gateway' && (t.startsWith(prefix) || t.startsWith(`$share/`))) return callback(null, sub);
      if (role?.kind === 'device') {
        const own = `${prefix}${role.deviceId}/`;
        if (t === `${own}cmd` || t === `${own}ack` || t === `${prefix}_gateway/+/state`) return callback(null, sub);
      }
      deny('subscribe outside the allowed topics');
      callback(new Error(`subscription to ${t} is not allowed`));
    },
  });
  aedes.on('clientDisconnect', (client) => roles.delete(client));

  const server: Server = createServer(aedes.handle);
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const host = o.host ?? '127.0.0.1';
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port ?? DEFAULT_MQTT_PORT, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    // aedes keeps timers running: close it, or a gateway that cannot listen never exits.
    await new Promise<void>((r) => aedes.close(() => r()));
    throw new Error(`embedded MQTT broker cannot listen on ${host}:${o.port ?? DEFAULT_MQTT_PORT}: ${(e as Error).message}`);
  }
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : (o.port ?? DEFAULT_MQTT_PORT);
  o.log?.info(`embedded MQTT broker (MQTT 3.1.1) listening on ${host}:${port}`);
  return {
    port,
    url: `mqtt://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    denied,
    disconnect: (deviceId) => {
      const client = (aedes as unknown as { clients: Record<string, Client | undefined> }).clients[deviceId];
      if (!client || roles.get(client)?.kind !== 'device') return false;
      client.close();
      return true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        aedes.close(() => server.close(() => resolve()));
      }),
    interrupt: async (ms) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
      o.log?.warn(`embedded MQTT broker: outage for ${ms} ms (every connection dropped)`);
      await new Promise((r) => setTimeout(r, ms));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      o.log?.info(`embedded MQTT broker listening again on ${host}:${port}`);
    },
  };
}
