/**
 * The gateway's HTTP API on plain `node:http`: a small router with `:param` patterns, zod
 * validation of params, query and body, authentication and role checks before any handler runs,
 * JSON in and out, and one error shape for every failure:
 *
 *   { "error": { "code": "NOT_FOUND", "message": "no route for GET /api/v1/nope" } }
 *
 * Default deny: a route names who may call it (`public`, `authenticated`, or a list of roles).
 * A request authenticated by the session cookie must carry `x-csrf-token` on every method but
 * GET. Clients never see a stack trace: an unexpected exception is a 500 with a request id, and
 * the exception is logged under that id. Every request is timed into a histogram labelled by route
 * pattern (never the raw path), method and status.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { z } from 'zod';
import { HttpError, silentLogger, type AuthUser, type Authenticator, type Logger, type Problem, type RouteRoles } from './basics.js';
import type { Counter, Histogram, Metrics } from './metrics.js';
import { ProxyTrust } from './client-address.js';

export { HttpError, silentLogger, type AuthUser, type Authenticator, type Logger, type Problem, type RouteRoles } from './basics.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const METHODS: readonly string[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** Query parameters as sent: a repeated key becomes an array. */
export type QueryObject = Record<string, string | string[]>;

export interface RequestContext<P, Q, B, U> {
  /** The caller; null on public routes (which never authenticate). */
  user: U;
  params: P;
  query: Q;
  body: B;
  req: IncomingMessage;
  /** The client's address: the peer, or behind a trusted proxy the X-Forwarded-For hop it vouches for. */
  ip: string;
  requestId: string;
  log: Logger;
  /**
   * A HEAD request answered by this GET route (RFC 9110 §9.3.2): the server sends the headers and
   * no body. A handler whose GET has a side effect (an evidence read recorded in the audit log)
   * skips it, and need not open what it would stream.
   */
  head: boolean;
}

export interface HandlerResult {
  /** Default 200, or 204 when there is no body. */
  status?: number;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is, instead of `body`; give its content-type in `headers`. */
  raw?: string | Buffer;
  /** Streamed, instead of `body` (a large download); give its content-type in `headers`. */
  stream?: Readable;
  headers?: Readonly<Record<string, string | readonly string[]>>;
}

type UserFor<R> = R extends 'public' ? null : AuthUser;

export interface RouteDef<
  P extends z.ZodType = z.ZodType<Record<string, string>>,
  Q extends z.ZodType = z.ZodType<QueryObject>,
  B extends z.ZodType = z.ZodType<unknown>,
  R extends RouteRoles = RouteRoles,
> {
  method: HttpMethod;
  /** Segments separated by `/`; a segment `:name` captures one decoded segment as `params.name`. */
  path: string;
  roles: R;
  params?: P;
  query?: Q;
  body?: B;
  handle(ctx: RequestContext<z.output<P>, z.output<Q>, z.output<B>, UserFor<R>>): Promise<HandlerResult>;
}

export interface ApiServerOptions {
  auth: Authenticator;
  metrics: Metrics;
  log?: Logger;
  /** Largest request body accepted (default 1 MiB); larger is 413. */
  maxBodyBytes?: number;
  /** The gateway is reached over TLS (directly or through a TLS-terminating proxy): send HSTS. */
  behindTls?: boolean;
  /**
   * The reverse proxies in front (addresses or CIDRs, `http.trustProxy`): from them the client
   * address is read from X-Forwarded-For (client-address.ts); from anyone else the header is ignored.
   */
  trustProxy?: readonly string[];
  /**
   * Called for every request other than GET that matched a route — answered, refused
   * (401, 403, 400…) or failed — after the handler and before the answer is sent: the audit
   * log's record of API writes (who, what, when). A failure here is logged; the answer stands.
   */
  onWrite?: (w: ApiWrite) => Promise<void>;
}

/** What `onWrite` is told about a request (nothing from its body or query: they may hold secrets). */
export interface ApiWrite {
  method: HttpMethod;
  /** The route pattern, e.g. `/api/v1/records/holds/:id/release`. */
  route: string;
  params: Record<string, string>;
  status: number;
  /** The error code of a refusal. */
  code: string | null;
  /** Null when the request did not authenticate (or the route is public). */
  user: AuthUser | null;
  requestId: string;
  ip: string;
}

interface CompiledRoute {
  def: RouteDef<z.ZodType, z.ZodType, z.ZodType, RouteRoles>;
  segments: readonly string[];
}

/** Headers on every response; a handler may replace them (e.g. a page's own CSP). */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
};

export class ApiServer {
  readonly #o: Required<Omit<ApiServerOptions, 'log' | 'onWrite'>> & Pick<ApiServerOptions, 'onWrite'> & { log: Logger };
  readonly #routes: CompiledRoute[] = [];
  readonly #duration: Histogram;
  readonly #proxies: ProxyTrust;
  #warnedUntrusted = false;
  readonly #authFailures: Counter;
  #server: Server | null = null;

  constructor(options: ApiServerOptions) {
    this.#o = { maxBodyBytes: 1024 * 1024, behindTls: false, trustProxy: [], log: silentLogger, ...options };
    this.#proxies = new ProxyTrust(this.#o.trustProxy);
    this.#duration = options.metrics.histogram({
      name: 'bwc_http_request_duration_seconds',
      help: 'HTTP API requests by method, route pattern and status, with their duration in seconds.',
      labelNames: ['method', 'route', 'status'],
    });
    this.#authFailures = options.metrics.counter({
      name: 'bwc_http_auth_failures_total',
      help: 'Requests refused by authentication or authorization, by reason (unauthenticated, csrf, forbidden).',
      labelNames: ['reason'],
    });
  }

  /** Adds a route. Two routes with the same method and the same pattern shape are refused. */
  route<
    P extends z.ZodType = z.ZodType<Record<string, string>>,
    Q extends z.ZodType = z.ZodType<QueryObject>,
    B extends z.ZodType = z.ZodType<unknown>,
    const R extends RouteRoles = RouteRoles,
  >(def: RouteDef<P, Q, B, R>): this {
    if (!def.path.startsWith('/')) throw new Error(`route path must start with /: ${def.path}`);
    const segments = def.path.split('/').slice(1);
    const shape = (s: readonly string[]) => s.map((x) => (x.startsWith(':') ? ':' : x)).join('/');
    if (this.#routes.some((r) => r.def.method === def.method && shape(r.segments) === shape(segments))) {
      throw new Error(`route already defined: ${def.method} ${def.path}`);
    }
    if (Array.isArray(def.roles) && def.roles.length === 0) throw new Error(`route ${def.method} ${def.path}: an empty role list admits nobody`);
    this.#routes.push({ def: def as unknown as CompiledRoute['def'], segments });
    return this;
  }

  /** The request listener, for mounting on a server of one's own (e.g. an HTTPS server). */
  readonly handler = (req: IncomingMessage, res: ServerResponse): void => {
    void this.#handle(req, res);
  };

  async listen(port: number, host: string): Promise<{ port: number }> {
    if (this.#server) throw new Error('already listening');
    const server = createServer({ requestTimeout: 60_000, headersTimeout: 20_000, keepAliveTimeout: 5_000 }, this.handler);
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return { port: (server.address() as AddressInfo).port };
  }

  /** Stops accepting connections and closes the open ones once their requests are answered. */
  async close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const force = setTimeout(() => server.closeAllConnections(), 5_000);
    force.unref();
    await closed;
    clearTimeout(force);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const requestId = randomUUID();
    // HEAD is GET without the body (RFC 9110 §9.3.2): it takes the GET route, its checks and its
    // headers; node:http drops a body written to a HEAD response, and streams are not read.
    const head = req.method === 'HEAD';
    const method = head ? 'GET' : METHODS.includes(req.method ?? '') ? (req.method as HttpMethod) : 'other';
    const methodLabel = head ? 'HEAD' : method;
    let routeLabel = 'unmatched';
    let username: string | null = null;
    let write: Omit<ApiWrite, 'status' | 'code'> | null = null;
    const recordWrite = async (status: number, code: string | null) => {
      if (!write || !this.#o.onWrite) return;
      try {
        await this.#o.onWrite({ ...write, status, code });
      } catch (e) {
        this.#o.log.error({ requestId, route: routeLabel, err: e }, 'could not record the request in the audit log');
      }
    };
    res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // A client that went away before the answer was sent is counted apart from the answer it missed.
      const status = res.writableFinished ? res.statusCode : 'aborted';
      this.#duration.observe({ method: methodLabel, route: routeLabel, status }, seconds);
      // The path without its query string: nothing a client put in a query is logged.
      const path = truncate((req.url ?? '').split('?')[0]!);
      this.#o.log.info(
        {
          requestId,
          method: methodLabel,
          route: routeLabel,
          path,
          status,
          ms: Math.round(seconds * 1000),
          user: username,
          aborted: !res.writableFinished,
        },
        'request',
      );
    });
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    if (this.#o.behindTls) res.setHeader('strict-transport-security', 'max-age=31536000');
    res.setHeader('x-request-id', requestId);

    try {
      const [rawPath, rawQuery = ''] = (req.url ?? '').split(/\?(.*)/s, 2) as [string, string?];
      if (!rawPath.startsWith('/')) throw new HttpError(400, 'BAD_REQUEST', 'the request target must be a path');
      const match = this.#match(method, rawPath);
      if (match.kind === 'none') throw new HttpError(404, 'NOT_FOUND', `no route for ${methodLabel} ${truncate(rawPath)}`);
      if (match.kind === 'method') {
        throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${methodLabel} is not allowed here; allowed: ${match.allow.join(', ')}`, {
          allow: match.allow.join(', '),
        });
      }
      const { route, params: rawParams } = match;
      const def = route.def;
      routeLabel = def.path;
      if (method !== 'GET' && method !== 'other') write = { method, route: def.path, params: rawParams, user: null, requestId, ip: this.#ip(req) };

      let user: AuthUser | null = null;
      if (def.roles !== 'public') {
        user = await this.#o.auth.authenticate(req);
        if (write) write.user = user;
        if (!user) {
          this.#authFailures.inc({ reason: 'unauthenticated' });
          throw new HttpError(401, 'UNAUTHENTICATED', 'sign in, or send a valid API token', { 'www-authenticate': 'Bearer realm="bwc"' });
        }
        username = user.username;
        if (user.via === 'session' && method !== 'GET' && !this.#o.auth.checkCsrf(user, header(req, 'x-csrf-token'))) {
          this.#authFailures.inc({ reason: 'csrf' });
          throw new HttpError(403, 'CSRF_TOKEN_INVALID', "a request signed in by cookie must send its session's CSRF token in x-csrf-token");
        }
        if (def.roles !== 'authenticated' && !this.#o.auth.hasAnyRole(user, def.roles)) {
          this.#authFailures.inc({ reason: 'forbidden' });
          throw new HttpError(403, 'FORBIDDEN', `this needs one of the roles: ${def.roles.join(', ')}`);
        }
      }

      const rawBody = method === 'GET' ? undefined : await this.#readJson(req);
      const params = validate(def.params, rawParams, 'params');
      const query = validate(def.query, parseQuery(rawQuery), 'query');
      const body = validate(def.body, rawBody, 'body');

      const result = await def.handle({ user, params, query, body, req, ip: this.#ip(req), requestId, log: this.#o.log, head });
      const hasBody = result.raw !== undefined || result.body !== undefined || result.stream !== undefined;
      await recordWrite(result.status ?? (hasBody ? 200 : 204), null);
      if (result.stream && head) {
        result.stream.destroy();
        send(res, { ...result, stream: undefined, status: result.status ?? 200 });
      } else if (result.stream) await sendStream(res, result, this.#o.log, requestId);
      else send(res, result);
    } catch (err) {
      if (err instanceof HttpError) {
        await recordWrite(err.status, err.code);
        sendError(res, err.status, err.code, err.message, err.headers, err.found ? { problems: err.found } : {});
      } else {
        this.#o.log.error({ requestId, route: routeLabel, err }, 'handler failed');
        await recordWrite(500, 'INTERNAL');
        sendError(res, 500, 'INTERNAL', `internal error; request id ${requestId}`, {}, { requestId });
      }
    }
  }

  #match(
    method: string,
    path: string,
  ): { kind: 'route'; route: CompiledRoute; params: Record<string, string> } | { kind: 'method'; allow: string[] } | { kind: 'none' } {
    const parts = path.split('/').slice(1);
    const candidates: { route: CompiledRoute; params: Record<string, string>; score: string }[] = [];
    for (const route of this.#routes) {
      if (route.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let score = '';
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const seg = route.segments[i]!;
        const part = parts[i]!;
        if (seg.startsWith(':')) {
          if (part === '') ok = false;
          else {
            params[seg.slice(1)] = decodeSegment(part);
            score += '1';
          }
        } else if (seg === part) score += '0';
        else ok = false;
      }
      if (ok) candidates.push({ route, params, score });
    }
    if (candidates.length === 0) return { kind: 'none' };
    // Literal segments win over parameters, leftmost first.
    const sameMethod = candidates.filter((c) => c.route.def.method === method).sort((a, b) => a.score.localeCompare(b.score));
    const best = sameMethod[0];
    if (best) return { kind: 'route', route: best.route, params: best.params };
    const allowed = new Set<string>(candidates.map((c) => c.route.def.method));
    if (allowed.has('GET')) allowed.add('HEAD');
    return { kind: 'method', allow: [...allowed].sort() };
  }

  async #readJson(req: IncomingMessage): Promise<unknown> {
    const length = req.headers['content-length'];
    const chunked = req.headers['transfer-encoding'] !== undefined;
    if (!chunked && (length === undefined || length === '0')) return undefined;
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
    const max = this.#o.maxBodyBytes;
    if (length !== undefined && Number(length) > max) throw tooLarge(max);
    const chunks: Buffer[] = [];
    let size = 0;
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size <= max) {
          chunks.push(chunk);
          return;
        }
        // Stop reading; the answer carries `connection: close`, so the rest is never read.
        req.off('data', onData);
        req.pause();
        reject(tooLarge(max));
      };
      req.on('data', onData);
      req.once('end', () => resolve());
      req.once('error', reject);
      req.once('close', () => {
        if (!req.complete) reject(new HttpError(400, 'BAD_REQUEST', 'the request body ended early'));
      });
    });
    if (size === 0) return undefined;
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    } catch {
      throw new HttpError(400, 'INVALID_JSON', 'the body is not valid JSON');
    }
  }

  #ip(req: IncomingMessage): string {
    const peer = req.socket.remoteAddress ?? 'unknown';
    const forwarded = header(req, 'x-forwarded-for');
    if (forwarded && !this.#proxies.trusts(peer) && !this.#warnedUntrusted) {
      // Most likely a proxy the configuration does not name: every client then shares its address.
      this.#warnedUntrusted = true;
      this.#o.log.warn(
        { peer },
        'requests carry X-Forwarded-For from an address http.trustProxy does not name; it is ignored, and clients behind it share that address (sign-in limits included)',
      );
    }
    return this.#proxies.client(peer, forwarded);
  }
}

function tooLarge(max: number): HttpError {
  // The rest of the body is not read: close the connection after answering.
  return new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body is larger than ${max} bytes`, { connection: 'close' });
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', 'the path has a malformed percent-encoding');
  }
}

function parseQuery(raw: string): QueryObject {
  // A Map, then own properties: a key such as `__proto__` stays a plain key.
  const out = new Map<string, string | string[]>();
  for (const [k, v] of new URLSearchParams(raw)) {
    const prev = out.get(k);
    out.set(k, prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v]);
  }
  return Object.fromEntries(out);
}

function validate<S extends z.ZodType>(schema: S | undefined, value: unknown, source: 'params' | 'query' | 'body'): z.output<S> {
  if (!schema) return value as z.output<S>;
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw HttpError.invalid(
    'VALIDATION_FAILED',
    r.error.issues.map((issue) => ({ field: [source, ...issue.path.map(String)].join('.'), message: issue.message })),
  );
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function truncate(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

function send(res: ServerResponse, result: HandlerResult): void {
  // Serialized first: a body that cannot be sent is a 500 without the handler's headers.
  const json = result.raw === undefined && result.body !== undefined ? JSON.stringify(result.body) : undefined;
  const hasBody = result.raw !== undefined || json !== undefined;
  res.statusCode = result.status ?? (hasBody ? 200 : 204);
  for (const [k, v] of Object.entries(result.headers ?? {})) res.setHeader(k, v as string | string[]);
  if (result.raw !== undefined) {
    if (!res.hasHeader('content-type')) res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.setHeader('content-length', Buffer.byteLength(result.raw));
    res.end(result.raw);
  } else if (json !== undefined) {
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.setHeader('content-length', Buffer.byteLength(json)); // what a HEAD answer tells, too
    res.end(json);
  } else {
    res.end();
  }
}

async function sendStream(res: ServerResponse, result: HandlerResult, log: Logger, requestId: string): Promise<void> {
  res.statusCode = result.status ?? 200;
  for (const [k, v] of Object.entries(result.headers ?? {})) res.setHeader(k, v as string | string[]);
  if (!res.hasHeader('content-type')) res.setHeader('content-type', 'application/octet-stream');
  try {
    await pipeline(result.stream!, res);
  } catch (e) {
    // Headers are gone: the client sees a cut-off download (the length or the format tells it).
    // A client that went away (a closed tab, a cancelled download) is not a fault here.
    if ((e as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') log.warn({ requestId, err: e }, 'streamed answer failed');
    res.destroy();
  }
}

function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Readonly<Record<string, string>>,
  extra: Record<string, string | readonly Problem[]> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = status;
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify({ error: { code, message, ...extra } }));
}
