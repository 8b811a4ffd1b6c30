/**
 * The dock's MQTT connection, supervised by us rather than by mqtt.js. mqtt.js reconnects on a
 * fixed period and has known stuck states (mqtt.js #1825, #1778; zigbee2mqtt #33150), and its
 * in-memory stores lose QoS 1 messages on a crash (#398, #607, #2015). So:
 *
 * - mqtt.js never reconnects by itself (reconnectPeriod 0). A lost connection is ended and a new
 *   client made after an exponential delay with full jitter (backoffMinMs · 2^n, at most
 *   backoffMaxMs); the delay returns to the minimum once a connection has lasted a minute.
 * - A watchdog tears the client down when a publish has waited longer than `watchdogMs` for its
 *   PUBACK, or a connection attempt outlives its timeout: the next client starts clean.
 * - Nothing here is the queue. Publishes that were in flight when a connection died are simply
 *   failed; the outbox (SQLite) resends them on the next connection.
 * - The Will is asked for anew before every connection (a Death signed with the new bdSeq).
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';

export interface MqttSessionOptions {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  protocolVersion: 4 | 5;
  keepaliveS: number;
  connectTimeoutMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  watchdogMs: number;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean };
  subscriptions: string[];
  /** The Will for the next connection (called before each). */
  will(): { topic: string; payload: Buffer };
  /** will() failed (its Death could not be sealed): the attempt is retried after the backoff. */
  onWillError?(error: unknown): void;
  /** Called once the connection is up and subscribed. */
  onConnected(): void;
  onDisconnected(reason: string): void;
  onMessage(topic: string, payload: Buffer): void;
  /** The `session` part of the dock's logger (device/log.ts). */
  log: Logger;
  random?: () => number;
  now?: () => number;
}

export interface SessionCounters {
  connects: number;
  connectFailures: number;
  disconnects: number;
  watchdogResets: number;
  published: number;
  publishFailures: number;
}

interface Outstanding {
  since: number;
  reject(e: Error): void;
}

const STABLE_MS = 60_000;
const WATCHDOG_TICK_MS = 1000;

export class NotConnectedError extends Error {
  override name = 'NotConnectedError';
}

export class MqttSession {
  readonly counters: SessionCounters = {
    connects: 0,
    connectFailures: 0,
    disconnects: 0,
    watchdogResets: 0,
    published: 0,
    publishFailures: 0,
  };
  readonly #o: MqttSessionOptions;
  readonly #random: () => number;
  readonly #now: () => number;
  #client: MqttClient | null = null;
  #connected = false;
  #connectStarted = 0;
  #connectedAt = 0;
  #attempt = 0;
  #retryTimer: NodeJS.Timeout | null = null;
  #watchdog: NodeJS.Timeout | null = null;
  #stopped = true;
  #outstanding = new Set<Outstanding>();
  #lastError = '';

  constructor(options: MqttSessionOptions) {
    this.#o = options;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
  }

  get connected(): boolean {
    return this.#connected;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#watchdog = setInterval(() => this.#checkWatchdog(), WATCHDOG_TICK_MS);
    this.#watchdog.unref();
    this.#connect();
  }

  /** The delay before connection attempt n (n ≥ 1): full jitter over an exponential ceiling. */
  static backoffDelay(n: number, minMs: number, maxMs: number, random: () => number): number {
    const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(30, Math.max(0, n - 1)));
    return Math.round(minMs / 2 + random() * (ceiling - minMs / 2));
  }

  #connect(): void {
    if (this.#stopped) return;
    const o = this.#o;
    let will: { topic: string; payload: Buffer };
    try {
      will = o.will();
    } catch (e) {
      o.onWillError?.(e);
      this.#fail(`cannot prepare the connection: ${(e as Error).message}`);
      return;
    }
    const options: IClientOptions = {
      clientId: o.clientId,
      clean: false,
      protocolVersion: o.protocolVersion,
      keepalive: o.keepaliveS,
      connectTimeout: o.connectTimeoutMs,
      reconnectPeriod: 0,
      resubscribe: false,
      // mqtt-packet otherwise builds a Buffer for each of the 65,536 packet ids (6 MB of heap) to
      // save an allocation per packet: a third of the dock's idle memory budget.
      writeCache: false,
      will: { topic: will.topic, payload: will.payload, qos: 1, retain: false },
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      ...(o.tls ? { ca: o.tls.ca, cert: o.tls.cert, key: o.tls.key, rejectUnauthorized: o.tls.rejectUnauthorized } : {}),
    };
    this.#connectStarted = this.#now();
    let client: MqttClient;
    try {
      client = mqtt.connect(o.url, options);
    } catch (e) {
      this.#fail(`cannot connect to ${o.url}: ${(e as Error).message}`);
      return;
    }
    storeWithoutCopy(client);
    this.#client = client;
    client.on('connect', () => {
      if (this.#client !== client) return;
      client.subscribe(o.subscriptions, { qos: 1 }, (err, granted) => {
        if (this.#client !== client) return;
        const refused = granted?.find((g) => g.qos === 128);
        if (err || refused) {
          this.#lost(client, `subscription refused: ${err?.message ?? refused!.topic}`);
          return;
        }
        this.#connected = true;
        this.#connectedAt = this.#now();
        this.counters.connects++;
        this.#lastError = '';
        o.log.info(`mqtt: connected to ${o.url} as ${o.clientId}`);
        o.onConnected();
      });
    });
    client.on('message', (topic, payload) => {
      if (this.#client === client) o.onMessage(topic, payload);
    });
    client.on('error', (e) => {
      if (this.#client !== client) return;
      this.#lost(client, e.message);
    });
    client.on('close', () => {
      if (this.#client === client) this.#lost(client, 'connection closed');
    });
    client.on('offline', () => {
      if (this.#client === client) this.#lost(client, 'offline');
    });
  }

  #fail(reason: string): void {
    this.counters.connectFailures++;
    this.#scheduleRetry(reason);
  }

  #lost(client: MqttClient, reason: string): void {
    if (this.#client !== client) return;
    this.#client = null;
    const wasConnected = this.#connected;
    this.#connected = false;
    client.removeAllListeners('connect');
    client.removeAllListeners('message');
    client.on('error', () => {}); // a late error from a client we gave up on must not be unhandled
    client.end(true);
    for (const p of this.#outstanding) p.reject(new NotConnectedError(`connection lost: ${reason}`));
    this.#outstanding.clear();
    if (wasConnected) {
      this.counters.disconnects++;
      if (this.#now() - this.#connectedAt >= STABLE_MS) this.#attempt = 0;
      this.#o.onDisconnected(reason);
    } else {
      this.counters.connectFailures++;
    }
    if (this.#stopped) return;
    this.#scheduleRetry(reason);
  }

  #scheduleRetry(reason: string): void {
    if (this.#stopped || this.#retryTimer) return;
    this.#attempt++;
    const delay = MqttSession.backoffDelay(this.#attempt, this.#o.backoffMinMs, this.#o.backoffMaxMs, this.#random);
    // One line per kind of failure, not one per retry.
    if (reason !== this.#lastError) this.#o.log.warn(`mqtt: ${reason}; reconnecting with backoff (next in ${delay} ms)`);
    else this.#o.log.debug(`mqtt: ${reason}; next attempt in ${delay} ms`);
    this.#lastError = reason;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#connect();
    }, delay);
  }

  #checkWatchdog(): void {
    const client = this.#client;
    if (!client) return;
    const now = this.#now();
    if (!this.#connected && now - this.#connectStarted > this.#o.connectTimeoutMs + 5000) {
      this.counters.watchdogResets++;
      this.#lost(client, `no connection after ${now - this.#connectStarted} ms (watchdog)`);
      return;
    }
    let oldest = Infinity;
    for (const p of this.#outstanding) oldest = Math.min(oldest, p.since);
    if (this.#connected && now - oldest > this.#o.watchdogMs) {
      this.counters.watchdogResets++;
      this.#lost(client, `a publish waited ${now - oldest} ms for its PUBACK (watchdog)`);
    }
  }

  /** Publishes at QoS 1; resolves on the broker's PUBACK. Fails at once when not connected. */
  publish(topic: string, payload: Uint8Array): Promise<void> {
    const client = this.#client;
    if (!client || !this.#connected) return Promise.reject(new NotConnectedError('not connected to the broker'));
    return new Promise<void>((resolve, reject) => {
      const p: Outstanding = { since: this.#now(), reject };
      this.#outstanding.add(p);
      const buf = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
      client.publish(topic, buf, { qos: 1 }, (err) => {
        if (!this.#outstanding.delete(p)) return; // already failed by a lost connection
        if (err) {
          this.counters.publishFailures++;
          reject(err);
        } else {
          this.counters.published++;
          resolve();
        }
      });
    });
  }

  /** Publishes, then disconnects cleanly (no Will). Waits at most `timeoutMs` for the PUBACK. */
  async stop(last?: { topic: string; payload: Uint8Array }, timeoutMs = 2000): Promise<void> {
    if (this.#stopped) return;
    if (last && this.#connected) {
      await Promise.race([this.publish(last.topic, last.payload).catch(() => {}), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    }
    this.#stopped = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#retryTimer = null;
    this.#watchdog = null;
    const client = this.#client;
    this.#client = null;
    this.#connected = false;
    for (const p of this.#outstanding) p.reject(new NotConnectedError('session stopped'));
    this.#outstanding.clear();
    if (client) {
      client.removeAllListeners();
      client.on('error', () => {});
      // A clean DISCONNECT; a connection too far gone to flush it is ended by force.
      const ended = await Promise.race([
        new Promise<boolean>((r) => client.end(false, {}, () => r(true))),
        new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs).unref()),
      ]);
      if (!ended) client.end(true);
    }
  }

  /** Ends the current connection abruptly (tests and the watchdog's manual trigger). */
  drop(reason = 'dropped'): void {
    if (this.#client) this.#lost(this.#client, reason);
  }
}

/**
 * mqtt.js deep-copies every QoS 1 PUBLISH, its payload included (rfdc in `_storeAndSend`), into
 * its outgoing store before writing it: a 1 MiB copy and allocation per clip chunk. That store
 * only serves mqtt.js's own resend after a reconnect, which this session never uses (a new client
 * per connection; the outbox resends). So the client stores the packet itself. Payloads are not
 * changed before their PUBACK (the uploader reuses a buffer only after it). Topic aliases, the
 * one thing the copy is for, are not used. Another mqtt.js without that method is left alone.
 */
function storeWithoutCopy(client: MqttClient): void {
  type Cb = (err?: Error) => void;
  const c = client as unknown as {
    _storeAndSend?: (packet: { cmd: string }, cb: Cb | undefined, cbStorePut: () => void) => void;
    _writePacket?: (packet: unknown, cb: Cb | undefined) => void;
    outgoingStore: { put(packet: unknown, cb: (err?: Error) => void): unknown };
  };
  if (typeof c._storeAndSend !== 'function' || typeof c._writePacket !== 'function') return;
  c._storeAndSend = function storeAndSend(packet, cb, cbStorePut) {
    c.outgoingStore.put(packet, (err) => {
      if (err) return cb?.(err);
      cbStorePut();
      c._writePacket!(packet, cb);
    });
  };
}
