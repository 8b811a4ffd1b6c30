/**
 * Enrollment, second round (DESIGN §8): the gateway proves itself (its root-signed certificate and
 * a signature over the dock's nonce, checked against the pinned root fingerprint) before the
 * token leaves the dock; plain http:// only to a loopback address; a wrong fingerprint or a lost
 * answer never burns the token, and the same request gets the same answer until the device's first
 * authenticated MQTT connection.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { silentLogger } from '../gateway/api/http.js';
import { enroll, EnrollmentError } from '../device/sync/enroll.js';
import { enrollDock } from '../device/enrollment.js';
import { signerFromSeed } from '../device/custody/keys.js';
import { trustFiles, type TrustFiles } from './gateway.fixtures.js';
import { pseudoRandomBytes, runBwc, tempDir } from './helpers.js';

let gw: RunningGateway;
let t: TrustFiles;
let url: string;

beforeAll(async () => {
  const dataDir = tempDir();
  t = trustFiles(dataDir, { gatewayId: 'gw1', fleet: 'f1', bundle: true });
  gw = await startGateway({
    config: parseGatewayConfig({
      fleet: 'f1',
      gatewayId: 'gw1',
      dataDir,
      mqtt: { embedded: { port: 0 } },
      http: { port: 0 },
      trust: { rootPublicKey: t.rootPublicKey, certificate: t.certificate, bundle: t.bundle },
    }),
    log: silentLogger,
  });
  url = `http://127.0.0.1:${gw.httpPort}`;
});
afterAll(async () => {
  await gw?.stop();
});

/** fetch, recording what was asked, with a way to lose the answer to the POST. */
function spyFetch(o: { losePostAnswer?: boolean } = {}) {
  const calls: { method: string; url: string; body: string }[] = [];
  const impl = (async (input: string | URL | Request, init?: RequestInit) => {
    calls.push({ method: init?.method ?? 'GET', url: String(input), body: String(init?.body ?? '') });
    const res = await fetch(input, init);
    if (o.losePostAnswer && init?.method === 'POST') {
      await res.arrayBuffer(); // the gateway answered; the dock never hears it (Wi-Fi drop)
      throw new TypeError('fetch failed', { cause: new Error('socket hang up') });
    }
    return res;
  }) as typeof fetch;
  return { calls, impl };
}

const signer = (seed: number) => signerFromSeed(pseudoRandomBytes(32, seed));

describe('the gateway proves itself before the token leaves the dock', () => {
  it('answers GET /api/v1/enroll with its certificate, the root key and its signature over the nonce', async () => {
    const res = await fetch(`${url}/api/v1/enroll?nonce=${'ab'.repeat(32)}`);
    expect(res.status).toBe(200);
    const j = (await res.json()) as Record<string, string>;
    expect(j).toMatchObject({
      gatewayId: 'gw1',
      fleet: 'f1',
      rootPublicKey: t.root.publicKeyHex,
      certificate: expect.any(String),
      nonceSignature: expect.any(String),
    });
    expect((await fetch(`${url}/api/v1/enroll?nonce=xyz`)).status).toBe(400);
  });

  it('refuses a wrong root fingerprint without sending the token, which stays usable', async () => {
    const { token } = await gw.fleet.createEnrollmentToken('dock-fp', 'otto');
    const spy = spyFetch();
    const key = signer(501);
    await expect(enroll({ gatewayUrl: url, deviceId: 'dock-fp', token, rootFingerprint: 'ab'.repeat(32), signer: key, fetchImpl: spy.impl })).rejects.toThrow(
      /fingerprint/,
    );
    expect(spy.calls.map((c) => c.method)).toEqual(['GET']);
    expect(spy.calls.some((c) => c.body.includes(token) || c.url.includes(token))).toBe(false);
    expect(await gw.fleet.device('dock-fp')).toBeUndefined();
    const ok = await enroll({ gatewayUrl: url, deviceId: 'dock-fp', token, rootFingerprint: t.root.keyId, signer: key });
    expect(ok.record.deviceId).toBe('dock-fp');
  });

  it('refuses plain http:// to a host that is not loopback, with a clear message and no request at all', async () => {
    const spy = spyFetch();
    for (const u of ['http://gw.example.org:8080', 'http://10.0.0.5:8080', 'ftp://127.0.0.1/']) {
      const e = await enroll({
        gatewayUrl: u,
        deviceId: 'dock-h',
        token: 'bwc_enr_x',
        rootFingerprint: t.root.keyId,
        signer: signer(502),
        fetchImpl: spy.impl,
      }).catch((x: unknown) => x);
      expect(e, u).toBeInstanceOf(EnrollmentError);
      expect((e as Error).message, u).toMatch(/https:\/\/.*loopback/);
    }
    expect(spy.calls).toHaveLength(0);
    const cli = runBwc([
      'dock',
      'enroll',
      '--state-dir',
      tempDir(),
      '--gateway',
      'http://gw.example.org:8080',
      '--token',
      'bwc_enr_x',
      '--device-id',
      'dock-h',
      '--root-fingerprint',
      t.root.keyId,
    ]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toMatch(/plain http:\/\/ .*gw\.example\.org.*https:\/\//);
  });
});

describe('a lost answer never burns the token', () => {
  it('gives the same answer to the same request again, until the first MQTT connection; then refuses', async () => {
    const { token } = await gw.fleet.createEnrollmentToken('dock-lost', 'otto');
    const stateDir = join(tempDir(), 'dock');
    // The first answer is lost on the way back: the gateway enrolled the device, the dock never knew.
    const lossy = spyFetch({ losePostAnswer: true });
    await expect(enrollDock({ stateDir, gatewayUrl: url, deviceId: 'dock-lost', token, rootFingerprint: t.root.keyId, fetchImpl: lossy.impl })).rejects.toThrow(
      /run the same command again/,
    );
    expect(await gw.fleet.device('dock-lost')).toMatchObject({ status: 'enrolled' });
    expect(existsSync(join(stateDir, 'enrollment.json'))).toBe(false);
    // The same command again: the same key (kept in the state directory), the same token.
    const again = await enrollDock({ stateDir, gatewayUrl: url, deviceId: 'dock-lost', token, rootFingerprint: t.root.keyId });
    expect(again.deviceId).toBe('dock-lost');
    const password = (await import('node:fs')).readFileSync(join(stateDir, 'mqtt-password'), 'utf8').trim();

    // Same request (same key, same token), same answer: the same credentials.
    const key = (await import('../device/custody/keys.js')).loadDeviceKey(join(stateDir, 'keys', 'device'));
    const third = await enroll({ gatewayUrl: url, deviceId: 'dock-lost', token, rootFingerprint: t.root.keyId, signer: key });
    expect(third.mqttPassword).toBe(password);
    expect(third.record).toMatchObject({ deviceId: 'dock-lost', mqttUsername: 'dock-lost', fleet: 'f1' });
    // Another key with the stolen token gets nothing.
    await expect(enroll({ gatewayUrl: url, deviceId: 'dock-lost', token, rootFingerprint: t.root.keyId, signer: signer(503) })).rejects.toThrow(/HTTP 40\d/);

    // The dock connects with its credentials: from now on the token is spent for good.
    const client = await mqtt.connectAsync(gw.mqttUrl, { clientId: 'dock-lost', username: 'dock-lost', password, reconnectPeriod: 0 });
    await client.endAsync();
    const late = await enroll({ gatewayUrl: url, deviceId: 'dock-lost', token, rootFingerprint: t.root.keyId, signer: key }).catch((e: unknown) => e as Error);
    expect(late).toBeInstanceOf(EnrollmentError);
    expect((late as Error).message).toMatch(/HTTP 40\d.*token/);
  });
});
