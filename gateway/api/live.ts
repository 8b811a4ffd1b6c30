/**
 * Live updates for the dashboard: `GET /api/v1/live`, a server-sent event stream (text/event-stream)
 * per signed-in tab. Events and their JSON are `LiveEvents` in types.ts:
 *
 * - `devices`: the rows of devices that changed (Birth, Death, Status, Event, manifest, enrollment),
 *   coalesced and sent at most once per `flushMs`, so a fleet of 10,000 docks reporting every few
 *   seconds costs one query and one message a second, not one per report;
 * - `alert`: an alert raised, repeated, acknowledged or resolved;
 * - `clip`: a manifest received, a clip verified (alerts and clips are read at the next flush
 *   too: a change announced inside a transaction is visible only once it commits);
 * - `authz`: a request filed or decided (its id and state only, and only to those who may read
 *   requests: the page fetches the request, and the server decides what it may see).
 *
 * Every `keepAliveMs` a comment line keeps proxies from closing the stream, and the session is
 * checked again without counting as activity: a stream ends when its session does (logout, idle
 * timeout, a disabled user), with an `event: signedout`. A client that reads too slowly is cut off
 * rather than buffered without bound; EventSource reconnects by itself and the page refetches.
 */
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import type { Db } from '../store/db.js';
import type { AlertRow } from '../fleet/alerts.js';
import type { AuthUser } from './auth.js';
import type { ApiServer, Logger } from './http.js';
import { hasAnyRole, type Role } from './roles.js';
import { alertJson, CLIP_COLUMNS, clipJson, deviceViews } from './views.js';
import type { LiveEventName, LiveEvents, RequestState } from './types.js';

/** Who hears of authorization requests: those who may read some. */
const AUTHZ_LISTENERS: readonly Role[] = ['requester', 'approver_fro', 'approver_hro', 'director', 'records_officer', 'auditor', 'supervisor'];

/** A client further behind than this is cut off (it reconnects and refetches). */
const MAX_BUFFERED = 4 * 1024 * 1024;

interface Client {
  readonly stream: PassThrough;
  readonly req: IncomingMessage;
  user: AuthUser;
}

export interface LiveFeedOptions {
  db: Db;
  /** Checks a stream's session again (without touching it). */
  authenticate(req: IncomingMessage): Promise<AuthUser | null>;
  log: Logger;
  flushMs?: number;
  keepAliveMs?: number;
}

export class LiveFeed {
  readonly #o: Required<LiveFeedOptions>;
  readonly #clients = new Set<Client>();
  readonly #devices = new Set<string>();
  readonly #alerts = new Set<number>();
  readonly #clips = new Set<string>();
  #flushing: Promise<void> | null = null;
  readonly #flushTimer: NodeJS.Timeout;
  readonly #keepAliveTimer: NodeJS.Timeout;
  #closed = false;

  constructor(options: LiveFeedOptions) {
    this.#o = { flushMs: 1000, keepAliveMs: 15_000, ...options };
    this.#flushTimer = setInterval(() => void this.flush(), this.#o.flushMs);
    this.#flushTimer.unref();
    this.#keepAliveTimer = setInterval(() => void this.#keepAlive(), this.#o.keepAliveMs);
    this.#keepAliveTimer.unref();
  }

  get clients(): number {
    return this.#clients.size;
  }

  register(server: ApiServer): void {
    server.route({
      method: 'GET',
      path: '/api/v1/live',
      roles: 'authenticated',
      handle: async ({ req, user }) => {
        if (this.#closed) return { status: 503, body: { error: { code: 'SHUTTING_DOWN', message: 'the gateway is stopping' } } };
        const stream = new PassThrough();
        const client: Client = { stream, req, user };
        this.#clients.add(client);
        // The socket, not the request: a request's 'close' fires once it has been read.
        const socket = req.socket;
        const drop = () => {
          this.#clients.delete(client);
          stream.end();
        };
        socket.once('close', drop);
        stream.once('close', () => socket.off('close', drop));
        stream.once('error', drop);
        // Reconnect after 3 s if the stream breaks; then the hello.
        stream.write('retry: 3000\n\n');
        this.#send(client, 'hello', { at: Date.now(), username: user.username });
        return {
          stream,
          headers: {
            'content-type': 'text/event-stream; charset=utf-8',
            'cache-control': 'no-store',
            'x-accel-buffering': 'no',
            connection: 'keep-alive',
          },
        };
      },
    });
  }

  // ── what changed ──

  deviceChanged(deviceId: string): void {
    if (this.#clients.size > 0) this.#devices.add(deviceId);
  }

  /** Read at the next flush: the change may still be inside a transaction now. */
  alertChanged(id: number): void {
    if (this.#clients.size > 0) this.#alerts.add(id);
  }

  clipChanged(manifestHash: string): void {
    if (this.#clients.size > 0) this.#clips.add(manifestHash);
  }

  authzChanged(id: string, state: RequestState): void {
    this.#broadcast('authz', { id, state }, (u) => hasAnyRole(u, AUTHZ_LISTENERS));
  }

  /** Sends what changed since the last flush (also runs every `flushMs`). */
  async flush(): Promise<void> {
    this.#flushing ??= (async () => {
      try {
        const alerts = [...this.#alerts];
        this.#alerts.clear();
        for (const id of alerts) {
          const row = await this.#o.db.get<AlertRow>('SELECT * FROM alerts WHERE id = ?', [id]);
          if (!row) continue;
          this.#broadcast('alert', { alert: alertJson(row) });
          if (row.device_id) this.#devices.add(row.device_id); // its open alert count
        }
        const clips = [...this.#clips];
        this.#clips.clear();
        for (const hash of clips) {
          const row = await this.#o.db.get<Record<string, unknown>>(`SELECT ${CLIP_COLUMNS} FROM manifests WHERE manifest_hash = ?`, [hash]);
          if (row) this.#broadcast('clip', { clip: clipJson(row) });
        }
        while (this.#devices.size > 0 && this.#clients.size > 0) {
          const ids = [...this.#devices].slice(0, 500);
          for (const id of ids) this.#devices.delete(id);
          const devices = await deviceViews(this.#o.db, ids);
          if (devices.length) this.#broadcast('devices', { devices });
        }
        if (this.#clients.size === 0) {
          this.#devices.clear();
          this.#alerts.clear();
          this.#clips.clear();
        }
      } catch (e) {
        this.#o.log.warn({ err: e }, `live: could not send device updates: ${(e as Error).message}`);
      }
    })().finally(() => {
      this.#flushing = null;
    });
    await this.#flushing;
  }

  /** Ends every stream (the gateway is stopping). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#flushTimer);
    clearInterval(this.#keepAliveTimer);
    await this.#flushing;
    for (const c of this.#clients) c.stream.end();
    this.#clients.clear();
  }

  // ── sending ──

  #broadcast<E extends LiveEventName>(event: E, data: LiveEvents[E], to: (u: AuthUser) => boolean = () => true): void {
    if (this.#clients.size === 0) return;
    const text = frame(event, data);
    for (const c of this.#clients) if (to(c.user)) this.#write(c, text);
  }

  #send<E extends LiveEventName>(c: Client, event: E, data: LiveEvents[E]): void {
    this.#write(c, frame(event, data));
  }

  #write(c: Client, frame: string): void {
    if (c.stream.writableLength > MAX_BUFFERED) {
      this.#o.log.warn({ user: c.user.username }, 'live: a dashboard reads too slowly; its stream was cut (it reconnects)');
      this.#clients.delete(c);
      c.stream.end();
      c.req.socket.destroy();
      return;
    }
    c.stream.write(frame);
  }

  async #keepAlive(): Promise<void> {
    for (const c of [...this.#clients]) {
      const user = await this.#o.authenticate(c.req).catch(() => null);
      if (!user) {
        this.#send(c, 'signedout', {});
        this.#clients.delete(c);
        c.stream.end();
        continue;
      }
      c.user = user; // roles may have changed
      this.#write(c, ': keep-alive\n\n');
    }
  }
}

/** One server-sent event: its name and its JSON data. */
function frame<E extends LiveEventName>(event: E, data: LiveEvents[E]): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
