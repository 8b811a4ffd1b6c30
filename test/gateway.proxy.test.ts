/**
 * The gateway behind a reverse proxy (`http.trustProxy`): the client address comes from
 * X-Forwarded-For only when a listed proxy sends it, so sign-in limits hold per account and real
 * client — one attacker cannot lock a user out for everyone — and the audit log names the client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { silentLogger } from '../gateway/api/http.js';
import { ProxyTrust } from '../gateway/api/client-address.js';
import { tempDir, TEST_PASSWORD_COST } from './helpers.js';

const ATTACKER = '203.0.113.9';
const VICTIM = '198.51.100.7';

describe('http.trustProxy in the configuration', () => {
  it('takes addresses and CIDRs, and refuses anything else naming the field', () => {
    const c = parseGatewayConfig({ fleet: 'f1', dataDir: tempDir(), http: { trustProxy: ['127.0.0.1', '::1', '10.0.0.0/8', 'fd00::/8'] } });
    expect(c.http.trustProxy).toEqual(['127.0.0.1', '::1', '10.0.0.0/8', 'fd00::/8']);
    expect(parseGatewayConfig({ fleet: 'f1', dataDir: tempDir() }).http.trustProxy).toEqual([]);
    for (const bad of ['nginx', '10.0.0.0/33', '10.0.0.1/8/1', '']) {
      expect(() => parseGatewayConfig({ fleet: 'f1', dataDir: tempDir(), http: { trustProxy: [bad] } }), bad).toThrow(/http\.trustProxy/);
    }
  });
});

describe('the client address behind proxies', () => {
  const t = new ProxyTrust(['127.0.0.1', '10.0.0.0/8']);
  it.each([
    ['a peer that is no proxy: the header is ignored', '192.0.2.1', `${ATTACKER}`, '192.0.2.1'],
    ['a trusted proxy: the hop it saw', '127.0.0.1', `${VICTIM}`, VICTIM],
    ['a client forging hops before the proxy: the rightmost untrusted hop', '127.0.0.1', `1.2.3.4, ${ATTACKER}`, ATTACKER],
    ['two trusted proxies in a row', '127.0.0.1', `${VICTIM}, 10.1.2.3`, VICTIM],
    ['no header from a proxy: the proxy', '127.0.0.1', undefined, '127.0.0.1'],
    ['an IPv4-mapped peer', '::ffff:127.0.0.1', VICTIM, VICTIM],
    ['a malformed hop ends the walk', '127.0.0.1', `${VICTIM}, not-an-ip`, '127.0.0.1'],
  ])('%s', (_what, peer, xff, client) => {
    expect(t.client(peer, xff)).toBe(client);
  });
});

describe('a gateway behind a proxy on loopback', () => {
  let gw: RunningGateway;
  const login = (xff: string, password: string) =>
    fetch(`http://127.0.0.1:${gw.httpPort}/api/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': xff },
      body: JSON.stringify({ username: 'rita', password }),
    });
  beforeAll(async () => {
    gw = await startGateway({
      passwordCost: TEST_PASSWORD_COST,
      config: parseGatewayConfig({
        fleet: 'f1',
        gatewayId: 'gw1',
        dataDir: tempDir(),
        mqtt: { embedded: { port: 0 } },
        http: { port: 0, trustProxy: ['127.0.0.1', '::1'] },
      }),
      log: silentLogger,
    });
    await gw.auth.createUser({ username: 'rita', password: 'rita-password-long', roles: ['viewer'], offices: [], personId: null });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('blocks the attacker after five wrong guesses, and lets the user sign in from her own address', async () => {
    for (let i = 0; i < 5; i++) expect((await login(ATTACKER, `guess-${i}`)).status).toBe(401);
    expect((await login(ATTACKER, `guess-5`)).status).toBe(429);
    expect((await login(`${VICTIM}, ${ATTACKER}`, 'guess-6')).status).toBe(429); // forging a hop in front does not help
    expect((await login(VICTIM, 'rita-password-long')).status).toBe(200);
    // The audit log names the client, not the proxy.
    const ips = (await gw.db.all<{ detail_json: string }>(`SELECT detail_json FROM audit_log WHERE action = 'api.request'`)).map(
      (r) => JSON.parse(r.detail_json).ip as string,
    );
    expect(ips).toContain(ATTACKER);
    expect(ips).not.toContain('127.0.0.1');
  });
});
