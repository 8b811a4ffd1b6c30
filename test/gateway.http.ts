/**
 * A running gateway on SQLite and ports chosen by the system, and the HTTP calls tests make to it:
 * signing in with a password (a cookie and a CSRF token, as the dashboard does) or calling with an
 * API token.
 */
import { parseGatewayConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { silentLogger } from '../gateway/api/http.js';
import { tempDir, TEST_PASSWORD_COST } from './helpers.js';

export async function startTestGateway(prefix: string): Promise<{ gw: RunningGateway; base: string }> {
  const gw = await startGateway({
    passwordCost: TEST_PASSWORD_COST,
    log: silentLogger,
    config: parseGatewayConfig({
      fleet: 'f1',
      gatewayId: 'gw1',
      dataDir: tempDir(prefix),
      mqtt: { embedded: { port: 0 } },
      http: { port: 0 },
      sweepIntervalMs: 600_000,
    }),
  });
  return { gw, base: `http://127.0.0.1:${gw.httpPort}` };
}

export interface Reply {
  status: number;
  json: Record<string, any>;
  headers: Headers;
}

export type Caller = { cookie: string; csrf: string } | { token: string } | null;

export async function call(base: string, who: Caller, method: string, path: string, body?: unknown): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (who && 'token' in who) headers.authorization = `Bearer ${who.token}`;
  if (who && 'cookie' in who) {
    headers.cookie = who.cookie;
    headers['x-csrf-token'] = who.csrf;
  }
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await r.text();
  let json: Record<string, any> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, any>) : {};
  } catch {
    json = { text };
  }
  return { status: r.status, json, headers: r.headers };
}

/** Signs in with a password, as the dashboard does: the session cookie and its CSRF token. */
export async function signIn(base: string, username: string, password: string): Promise<{ cookie: string; csrf: string }> {
  const r = await fetch(`${base}/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (r.status !== 200) throw new Error(`sign-in of ${username}: ${r.status} ${await r.text()}`);
  const body = (await r.json()) as { csrfToken: string };
  const cookie = (r.headers.get('set-cookie') ?? '').split(';')[0]!;
  return { cookie, csrf: body.csrfToken };
}
