/**
 * `bwc gateway` as an operator runs it (the built dist/scripts/bwc.js): bootstrapping users and
 * devices on the gateway's data dir, then the gateway itself as a process — its one JSON line,
 * sign-in with the user the CLI made, the MQTT credentials the CLI printed, a token the CLI issued
 * redeemed over HTTP (with the root key and certificate `bwc authz` made, given in the environment),
 * and a clean stop on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { pb } from '../proto/wire.js';
import { assertEnvelopeSigned, openEnvelope, sealEnvelope } from '../proto/envelope.js';
import { loadPublicKeyFile } from '../proto/keyfile.js';
import { verifyGatewayCertificate } from '../proto/gateway-cert.js';
import { loadDeviceKey } from '../device/custody/keys.js';
import { BWC, runBwc, tempDir } from './helpers.js';

const PASSWORD = 'correct horse battery staple';

/** stderr as the lines a person reads (the gateway also logs JSON lines there). */
const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '');

function keygen(dir: string): { keyId: string; publicKeyHex: string } {
  const r = runBwc(['keygen', '--out', dir, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { keyId: string; publicKeyHex: string };
}

describe('bwc gateway user add', () => {
  it('creates a user with the password from stdin, and refuses a short password, an unknown role, no role and a second user of that name with one line and exit 2', async () => {
    const data = tempDir();
    const short = runBwc(['gateway', 'user', 'add', 'alice', '--role', 'admin', '--data-dir', data], { input: 'too short' });
    expect(short.code).toBe(2);
    expect(lines(short.stderr)).toEqual([expect.stringMatching(/^bwc gateway user add: .*at least 12 characters/)]);
    const role = runBwc(['gateway', 'user', 'add', 'alice', '--role', 'wizard', '--data-dir', data], { input: PASSWORD });
    expect(role.code).toBe(2);
    expect(lines(role.stderr)).toEqual([expect.stringMatching(/roles: unknown role "wizard"; roles are viewer, operator, .*admin$/)]);
    const none = runBwc(['gateway', 'user', 'add', 'alice', '--data-dir', data], { input: PASSWORD });
    expect(none.code).toBe(2);
    expect(lines(none.stderr)).toEqual([expect.stringMatching(/at least one role/)]);

    const ok = runBwc(['gateway', 'user', 'add', 'alice', '--role', 'admin', '--role', 'operator', '--data-dir', data], {
      input: `${PASSWORD}\n`,
    });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('user alice created with roles admin, operator\n');
    for (const r of [short, role, none, ok]) expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    const again = runBwc(['gateway', 'user', 'add', 'alice', '--role', 'viewer', '--data-dir', data], { input: PASSWORD });
    expect(again.code).toBe(2);
    expect(lines(again.stderr)).toEqual([expect.stringMatching(/alice already exists/)]);
  });
});

describe('bwc gateway device add and device token', () => {
  it('enrolls a device with its public.hex or public.pem, printing its key id and MQTT credentials once; refuses it a second time', () => {
    const data = tempDir();
    const keys = tempDir();
    const a = keygen(join(keys, 'a'));
    const r = runBwc(['gateway', 'device', 'add', '--device-id', 'dock-1', '--pubkey', join(keys, 'a', 'public.hex'), '--data-dir', data]);
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stdout)).toHaveLength(1);
    expect(JSON.parse(r.stdout)).toEqual({
      deviceId: 'dock-1',
      keyId: a.keyId,
      mqttUsername: 'dock-1',
      mqttPassword: expect.stringMatching(/^[A-Za-z0-9_-]{32,}$/),
    });

    const again = runBwc(['gateway', 'device', 'add', '--device-id', 'dock-1', '--pubkey', join(keys, 'a', 'public.hex'), '--data-dir', data]);
    expect(again.code).toBe(2);
    expect(again.stdout).toBe('');
    expect(lines(again.stderr)).toEqual([expect.stringMatching(/^bwc gateway device add: device dock-1 is already enrolled$/)]);
    const sameKey = runBwc(['gateway', 'device', 'add', '--device-id', 'dock-2', '--pubkey', join(keys, 'a', 'public.pem'), '--data-dir', data]);
    expect(sameKey.code).toBe(2);
    expect(sameKey.stderr).toMatch(/already enrolled for device dock-1/);

    const b = keygen(join(keys, 'b'));
    const pem = runBwc(['gateway', 'device', 'add', '--device-id', 'dock-2', '--pubkey', join(keys, 'b', 'public.pem'), '--data-dir', data]);
    expect(pem.code, pem.stderr).toBe(0);
    expect(JSON.parse(pem.stdout)).toMatchObject({ deviceId: 'dock-2', keyId: b.keyId });

    const c = keygen(join(keys, 'c'));
    for (const [args, message] of [
      [['--device-id', '_dock', '--pubkey', join(keys, 'c', 'public.hex')], /device id "_dock"/],
      [['--device-id', 'dock-3', '--pubkey', join(keys, 'missing.hex')], /missing\.hex/],
    ] as const) {
      const bad = runBwc(['gateway', 'device', 'add', ...args, '--data-dir', data]);
      expect(bad.code, args.join(' ')).toBe(2);
      expect(lines(bad.stderr)).toEqual([expect.stringMatching(message)]);
    }
    expect(c.keyId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('issues a one-time enrollment token bound to a device id, with its expiry', () => {
    const data = tempDir();
    const before = Date.now();
    const r = runBwc(['gateway', 'device', 'token', '--device-id', 'dock-9', '--hours', '2', '--data-dir', data]);
    expect(r.code, r.stderr).toBe(0);
    const t = JSON.parse(r.stdout) as { deviceId: string; token: string; expiresAt: string };
    expect(t).toMatchObject({ deviceId: 'dock-9', token: expect.stringMatching(/^bwcenroll_[A-Za-z0-9_-]{32}$/) });
    const expires = Date.parse(t.expiresAt);
    expect(expires).toBeGreaterThanOrEqual(before + 2 * 3600_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 2 * 3600_000);
    for (const args of [
      ['--device-id', '_dock'],
      ['--device-id', 'dock-9', '--hours', '0'],
      ['--device-id', 'dock-9', '--hours', 'soon'],
    ]) {
      const bad = runBwc(['gateway', 'device', 'token', ...args, '--data-dir', data]);
      expect(bad.code, args.join(' ')).toBe(2);
      expect(lines(bad.stderr), args.join(' ')).toHaveLength(1);
    }
  });
});

describe('bwc gateway with a bad configuration or option', () => {
  it('refuses an unknown setting with exit 2, naming the field and the file', () => {
    const dir = tempDir();
    const cases: [string, string, RegExp][] = [
      ['top.yaml', 'fleet: f1\nnope: 1\n', /top\.yaml.*"nope"/],
      ['nested.yaml', 'http:\n  port: 0\n  prot: 8080\n', /nested\.yaml: http.*"prot"/],
      ['type.yaml', 'http:\n  port: eighty\n', /type\.yaml: http\.port/],
    ];
    for (const [name, text, message] of cases) {
      writeFileSync(join(dir, name), text);
      const r = runBwc(['gateway', '--config', join(dir, name), '--data-dir', join(dir, 'data'), '--http-port', '0', '--mqtt-port', '0']);
      expect(r.code, name).toBe(2);
      expect(r.stdout, name).toBe('');
      expect(lines(r.stderr), name).toEqual([expect.stringMatching(message)]);
    }
  });

  it('refuses a port option that is not a port, naming the option, before starting anything', () => {
    const dir = tempDir();
    for (const [option, value] of [
      ['--http-port', 'abc'],
      ['--http-port', '-5'],
      ['--mqtt-port', '70000'],
      ['--mqtt-port', '1883x'],
    ]) {
      const r = runBwc(['gateway', '--data-dir', dir, '--http-port', '0', '--mqtt-port', '0', option!, value!]);
      expect(r.code, `${option} ${value}`).toBe(2);
      expect(lines(r.stderr), `${option} ${value}`).toEqual([`bwc gateway run: ${option} must be a port number from 0 to 65535, got "${value}"`]);
    }
  });
});

describe('bwc gateway as a running process', () => {
  const data = tempDir();
  const keys = tempDir();
  let proc: ChildProcess;
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  let started: { gatewayId: string; fleet: string; http: number; mqtt: string; keyId: string };
  let stdout = '';
  let device: { deviceId: string; keyId: string; mqttUsername: string; mqttPassword: string };
  let token: string;
  const base = () => `http://127.0.0.1:${started.http}`;

  beforeAll(async () => {
    expect(runBwc(['gateway', 'user', 'add', 'alice', '--role', 'operator', '--data-dir', data], { input: PASSWORD }).code).toBe(0);
    keygen(join(keys, 'dock'));
    const added = runBwc(['gateway', 'device', 'add', '--device-id', 'dock-1', '--pubkey', join(keys, 'dock', 'public.hex'), '--data-dir', data]);
    expect(added.code, added.stderr).toBe(0);
    device = JSON.parse(added.stdout) as typeof device;
    keygen(join(keys, 'new'));
    token = (JSON.parse(runBwc(['gateway', 'device', 'token', '--device-id', 'dock-2', '--data-dir', data]).stdout) as { token: string }).token;
    // The chain of trust, made before the first start: the gateway key where the gateway looks for
    // it, an agency root, and the root's certificate for that key.
    keygen(join(data, 'keys', 'gateway'));
    expect(runBwc(['authz', 'keygen', '--out', join(keys, 'root')]).code).toBe(0);
    const signed = runBwc([
      'authz',
      'sign-gateway-cert',
      '--key',
      join(keys, 'root'),
      '--gateway-key',
      join(data, 'keys', 'gateway', 'public.pem'),
      '--gateway-id',
      'gw-cli',
      '--fleet',
      'default',
      '--out',
      join(keys, 'gw-cli.cert'),
    ]);
    expect(signed.code, signed.stderr).toBe(0);
    writeFileSync(join(keys, 'gateway.yaml'), 'gatewayId: gw-cli\n');

    proc = spawn(process.execPath, [BWC, 'gateway', '--config', join(keys, 'gateway.yaml'), '--data-dir', data, '--http-port', '0', '--mqtt-port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BWC_GATEWAY_ROOT_PUBKEY: join(keys, 'root', 'public.hex'), BWC_GATEWAY_CERT: join(keys, 'gw-cli.cert') },
    });
    proc.stderr!.resume();
    // 'close': the process has exited and its stdout and stderr are drained.
    exited = new Promise((resolve) => proc.once('close', (code, signal) => resolve({ code, signal })));
    const firstLine = new Promise<string>((resolve, reject) => {
      proc.stdout!.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('\n')) resolve(stdout.slice(0, stdout.indexOf('\n')));
      });
      void exited.then(({ code }) => reject(new Error(`bwc gateway exited with ${code} before it started`)));
    });
    started = JSON.parse(await firstLine) as typeof started;
  });
  afterAll(async () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
  });

  it('prints one JSON line with its ports and key id', () => {
    expect(started).toEqual({
      gatewayId: 'gw-cli',
      fleet: 'default',
      http: expect.any(Number),
      mqtt: expect.stringMatching(/^mqtt:\/\/127\.0\.0\.1:\d+$/),
      keyId: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(started.http).toBeGreaterThan(0);
    expect(Number(new URL(started.mqtt).port)).toBeGreaterThan(0);
    expect(readFileSync(join(data, 'keys', 'gateway', 'public.hex'), 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('answers 401 to a caller who is not signed in, and signs in the user the CLI created', async () => {
    const anon = await fetch(`${base()}/api/v1/me`);
    expect(anon.status).toBe(401);
    expect(((await anon.json()) as { error: { code: string } }).error.code).toBe('UNAUTHENTICATED');
    const wrong = await fetch(`${base()}/api/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: `${PASSWORD}!` }),
    });
    expect(wrong.status).toBe(401);
    const login = await fetch(`${base()}/api/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: PASSWORD }),
    });
    expect(login.status).toBe(200);
    const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
    const me = await fetch(`${base()}/api/v1/me`, { headers: { cookie } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ user: { username: 'alice', roles: ['operator'] }, via: 'session' });
    const devices = (await (await fetch(`${base()}/api/v1/devices`, { headers: { cookie } })).json()) as {
      devices: { deviceId: string; status: string }[];
    };
    expect(devices.devices).toEqual([expect.objectContaining({ deviceId: 'dock-1', status: 'enrolled' })]);
  });

  it('lets a device in with the MQTT credentials `device add` printed, and not with others', async () => {
    await expect(
      mqtt.connectAsync(started.mqtt, { clientId: 'dock-1', username: 'dock-1', password: `${device.mqttPassword}x`, reconnectPeriod: 0 }),
    ).rejects.toThrow(/Not authorized/i);
    const client = await mqtt.connectAsync(started.mqtt, {
      clientId: 'dock-1',
      username: device.mqttUsername,
      password: device.mqttPassword,
      reconnectPeriod: 0,
    });
    const state = new Promise<{ online: boolean; keyId: string; certificate: string }>((resolve) =>
      client.on('message', (_t, p) => resolve(JSON.parse(p.toString()) as { online: boolean; keyId: string; certificate: string })),
    );
    await client.subscribeAsync(`bwc/v1/${started.fleet}/_gateway/+/state`, { qos: 1 });
    const presence = await state;
    expect(presence).toMatchObject({ online: true, keyId: started.keyId }); // retained
    const cert = verifyGatewayCertificate(Buffer.from(presence.certificate, 'base64'), loadPublicKeyFile(join(keys, 'root', 'public.hex')), {
      fleet: 'default',
      gatewayId: 'gw-cli',
    });
    expect(cert.key.keyId).toBe(started.keyId);
    await client.endAsync();
  });

  it('enrolls a device that redeems the token `device token` issued', async () => {
    const key = loadDeviceKey(join(keys, 'new'));
    const body = pb.EnrollmentRequest.encode({
      header: { issuer: 'dock-2', seq: 1, createdAtMs: Date.now() },
      deviceId: 'dock-2',
      publicKey: key.publicKey,
      token,
    }).finish();
    const request = Buffer.from(sealEnvelope('EnrollmentRequest', body, key).bytes).toString('base64');
    const post = () =>
      fetch(`${base()}/api/v1/enroll`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ request }),
      });
    const r = await post();
    expect(r.status).toBe(201);
    const json = (await r.json()) as { response: string };
    expect(json).toEqual({ deviceId: 'dock-2', keyId: key.keyId, fleet: 'default', response: expect.any(String) });
    const env = openEnvelope(Buffer.from(json.response, 'base64'), { expectType: 'EnrollmentResponse' });
    const response = pb.EnrollmentResponse.decode(env.body);
    const root = loadPublicKeyFile(join(keys, 'root', 'public.hex'));
    expect(Buffer.from(response.rootPublicKey).equals(root.raw)).toBe(true);
    assertEnvelopeSigned(env, verifyGatewayCertificate(response.gatewayCertificate, root, { fleet: 'default', gatewayId: 'gw-cli' }).key);
    expect(response).toMatchObject({ deviceId: 'dock-2', fleet: 'default', mqttUsername: 'dock-2', brokerUrl: started.mqtt });
    // The same request again (the answer was lost): the same credentials, until the first MQTT connection (DESIGN §8).
    const again = (await (await post()).json()) as { response: string };
    expect(pb.EnrollmentResponse.decode(openEnvelope(Buffer.from(again.response, 'base64')).body).mqttPassword).toBe(response.mqttPassword);
    const client = await mqtt.connectAsync(started.mqtt, {
      clientId: 'dock-2',
      username: 'dock-2',
      password: response.mqttPassword,
      reconnectPeriod: 0,
    });
    await client.endAsync();
    expect((await post()).status).toBe(403);
  });

  it('stops on SIGTERM with exit 0, announcing itself offline first', async () => {
    const client = await mqtt.connectAsync(started.mqtt, {
      clientId: 'dock-1',
      username: device.mqttUsername,
      password: device.mqttPassword,
      reconnectPeriod: 0,
    });
    const states: { online: boolean }[] = [];
    client.on('message', (_t, p) => states.push(JSON.parse(p.toString()) as { online: boolean }));
    client.on('error', () => {}); // the broker goes away with the gateway
    // Everything the broker sent arrives before the connection closes.
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await client.subscribeAsync(`bwc/v1/${started.fleet}/_gateway/+/state`, { qos: 1 });
    proc.kill('SIGTERM');
    expect(await exited).toEqual({ code: 0, signal: null });
    await closed;
    client.end(true);
    expect(lines(stdout)).toHaveLength(1);
    expect(states.map((s) => s.online)).toEqual([true, false]);
  });
});
