/**
 * The Mosquitto deployment files (scripts/deploy/mosquitto/) on a real Mosquitto: `bwc.conf` as
 * shipped, included from a main config the way Debian's /etc/mosquitto/mosquitto.conf includes
 * conf.d/ (only its file paths and ports are rewritten to a temp dir and free loopback ports, and
 * each rewrite must find its text), the `acl` with the fleet filled in, the password file written by
 * `bwc-mqtt-user`, and a CA and server certificate made by `bwc-mqtt-pki` (openssl). Docks connect
 * over TLS pinning that CA, the gateway user on the loopback listener, all with mqtt.js.
 *
 * DESIGN §8: a device may publish only under its own topic prefix and only the kinds of its
 * direction, and read only its own commands and acks; anonymous clients are refused.
 *
 * Last, the site setup of scripts/deploy/README.md end to end with the built `bwc` CLI and the
 * example configurations (paths and ports rewritten): agency root, gateway key and certificate,
 * policy bundle, the gateway on the broker's loopback listener, a one-time token, `bwc dock enroll`,
 * the dock's password registered with `bwc-mqtt-user`, and the dock online over TLS; then both
 * programs stop on SIGTERM within the TimeoutStopSec of their systemd units.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { DOCK_KINDS } from '../proto/topics.js';
import { freePort } from './mosquitto.js';
import { BWC, ROOT, runBwc, tempDir, until } from './helpers.js';

const DEPLOY = join(ROOT, 'scripts', 'deploy', 'mosquitto');
const FLEET = 'sea';
const GW_USER = 'bwc-gateway';
const PASSWORDS: Record<string, string> = {
  'dock-a': 'password-of-dock-a',
  'dock-b': 'password-of-dock-b',
  [GW_USER]: 'password-of-the-gateway',
};
const topic = (device: string, kind: string) => `bwc/v1/${FLEET}/${device}/${kind}`;

/** `text` with `from` replaced by `to` everywhere; fails when `from` is not there (the shipped file changed). */
function rewrite(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`the shipped file no longer contains "${from}"`);
  return text.split(from).join(to);
}

function runTool(tool: string, args: string[], input?: string): string {
  const r = spawnSync(join(DEPLOY, tool), args, { encoding: 'utf8', input: input ?? '' });
  if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}

async function waitForPort(port: number, proc: ChildProcess, log: () => string): Promise<void> {
  try {
    await until(
      `mosquitto listening on ${port}`,
      async () => {
        if (proc.exitCode !== null) throw new Error(`mosquitto exited (${proc.exitCode}): ${log()}`);
        return new Promise<boolean>((r) => {
          const c = createConnection({ port, host: '127.0.0.1' }, () => {
            c.end();
            r(true);
          });
          c.once('error', () => r(false));
        });
      },
      10_000,
    );
  } catch (e) {
    throw new Error(`${(e as Error).message}: ${log()}`);
  }
}

interface Broker {
  tlsUrl: string;
  tlsPort: number;
  plainUrl: string;
  ca: Buffer;
  pki: string;
  etc: string;
  log(): string;
  reload(): Promise<void>;
  stop(): Promise<void>;
}

const brokers: Broker[] = [];

/** Mosquitto with the shipped bwc.conf and acl; `clientCerts` uncomments the certificate lines. */
async function startBroker(clientCerts: boolean): Promise<Broker> {
  const dir = tempDir('bwc-deploy-mosq-');
  const etc = join(dir, 'etc');
  const confd = join(dir, 'conf.d');
  const pki = join(dir, 'pki');
  mkdirSync(etc);
  mkdirSync(confd);
  runTool('bwc-mqtt-pki', ['ca', pki]);
  runTool('bwc-mqtt-pki', ['server', pki, 'localhost', '127.0.0.1']);
  for (const f of ['ca.crt', 'server.crt', 'server.key']) copyFileSync(join(pki, f), join(etc, f));
  const tlsPort = await freePort();
  let plainPort = await freePort();
  while (plainPort === tlsPort) plainPort = await freePort();

  let conf = readFileSync(join(DEPLOY, 'bwc.conf'), 'utf8');
  conf = rewrite(conf, '/etc/mosquitto/bwc/', `${etc}/`);
  conf = rewrite(conf, '\nlistener 8883\n', `\nlistener ${tlsPort} 127.0.0.1\n`);
  conf = rewrite(conf, '\nlistener 1883 127.0.0.1\n', `\nlistener ${plainPort} 127.0.0.1\n`);
  if (clientCerts) {
    conf = rewrite(conf, '\n#require_certificate true\n', '\nrequire_certificate true\n');
    conf = rewrite(conf, '\n#use_identity_as_username true\n', '\nuse_identity_as_username true\n');
  }
  writeFileSync(join(confd, 'bwc.conf'), conf);
  const acl = rewrite(readFileSync(join(DEPLOY, 'acl'), 'utf8'), '@FLEET@', FLEET);
  writeFileSync(join(etc, 'acl'), acl);
  for (const [user, password] of Object.entries(PASSWORDS)) {
    runTool('bwc-mqtt-user', ['add', user, '--file', join(etc, 'passwd'), '--no-reload'], `${password}\n`);
  }
  // What Debian's /etc/mosquitto/mosquitto.conf holds, with the log on stderr. As root, Mosquitto
  // would drop to the `mosquitto` user, which cannot read this temp dir (DESIGN §9).
  const main = join(dir, 'mosquitto.conf');
  writeFileSync(
    main,
    [
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      'connection_messages true',
      `include_dir ${confd}`,
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      '',
    ].join('\n'),
  );
  const proc = spawn('mosquitto', ['-c', main], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-1_000_000);
  });
  proc.once('error', (e) => {
    log += `${e.message}\n`;
  });
  await waitForPort(tlsPort, proc, () => log);
  await waitForPort(plainPort, proc, () => log);
  const broker: Broker = {
    tlsUrl: `mqtts://127.0.0.1:${tlsPort}`,
    tlsPort,
    plainUrl: `mqtt://127.0.0.1:${plainPort}`,
    ca: readFileSync(join(pki, 'ca.crt')),
    pki,
    etc,
    log: () => log,
    reload: async () => {
      const before = log.length;
      proc.kill('SIGHUP');
      await until('mosquitto to reload its config', () => log.slice(before).includes('Reloading config'), 5000);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
  brokers.push(broker);
  return broker;
}

const clients: MqttClient[] = [];

/** A connected client, or the connection error (a refused CONNACK, a failed TLS handshake). */
async function connect(url: string, o: IClientOptions): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...o });
  clients.push(c);
  return c;
}

async function refused(url: string, o: IClientOptions): Promise<string> {
  try {
    const c = await connect(url, o);
    await c.endAsync();
    return 'connected';
  } catch (e) {
    return (e as Error).message;
  }
}

/** Every message a client receives, by topic. */
function collect(c: MqttClient): { topics: string[]; payloads: Map<string, string[]> } {
  const seen = { topics: [] as string[], payloads: new Map<string, string[]>() };
  c.on('message', (t, p) => {
    seen.topics.push(t);
    seen.payloads.set(t, [...(seen.payloads.get(t) ?? []), p.toString()]);
  });
  return seen;
}

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
  await Promise.all(brokers.map((b) => b.stop()));
});

describe('Mosquitto with bwc.conf and the per-device ACL (passwords)', () => {
  let broker: Broker;
  let gateway: MqttClient;
  let atGateway: ReturnType<typeof collect>;
  const dock = (id: string, extra: IClientOptions = {}) =>
    connect(broker.tlsUrl, { ca: broker.ca, username: id, password: PASSWORDS[id]!, clientId: id, ...extra });

  beforeAll(async () => {
    broker = await startBroker(false);
    gateway = await connect(broker.plainUrl, { username: GW_USER, password: PASSWORDS[GW_USER]!, clientId: 'bwc-gw-gw-sea-1' });
    atGateway = collect(gateway);
    const granted = await gateway.subscribeAsync(
      [
        ...DOCK_KINDS.map((k) => `$share/bwc-gateway/bwc/v1/${FLEET}/+/${k}`),
        `bwc/v1/${FLEET}/+/cmd`,
        `bwc/v1/${FLEET}/+/ack`,
        `bwc/v1/${FLEET}/_gateway/+/state`,
      ],
      { qos: 1 },
    );
    // The gateway may read every dock's messages (through a shared subscription too); the watch on
    // cmd, ack and presence is the ACL's: the gateway itself never subscribes there.
    expect(granted.slice(0, DOCK_KINDS.length).map((g) => g.qos)).toEqual(DOCK_KINDS.map(() => 1));
  });

  it('a dock publishes its own status over TLS and the gateway receives it through its shared subscription', async () => {
    const a = await dock('dock-a');
    for (const kind of DOCK_KINDS) await a.publishAsync(topic('dock-a', kind), `own ${kind}`, { qos: 1 });
    await until('every dock → gateway kind delivered', () => DOCK_KINDS.every((k) => atGateway.topics.includes(topic('dock-a', k))), 5000);
    expect(atGateway.payloads.get(topic('dock-a', 'status'))).toEqual(['own status']);
    await a.endAsync();
  });

  it("a dock's publish under another device's prefix is not delivered", async () => {
    const a = await dock('dock-a');
    await a.publishAsync(topic('dock-b', 'status'), 'forged status', { qos: 1 });
    await a.publishAsync(topic('dock-b', 'manifest'), 'forged manifest', { qos: 1 });
    // Messages from one connection reach a subscriber in order: once this one is in, the forged
    // ones would have been too.
    await a.publishAsync(topic('dock-a', 'log'), 'sentinel after forgeries', { qos: 1 });
    await until('the sentinel', () => atGateway.payloads.get(topic('dock-a', 'log'))?.includes('sentinel after forgeries'), 5000);
    expect(atGateway.topics).not.toContain(topic('dock-b', 'status'));
    expect(atGateway.topics).not.toContain(topic('dock-b', 'manifest'));
    await a.endAsync();
  });

  it('a dock cannot write the gateway direction: its own acks and commands, or a gateway presence', async () => {
    const a = await dock('dock-a');
    const atA = collect(a);
    // dock-a may read its own cmd and ack: a self-made one would come straight back to it.
    await a.subscribeAsync([topic('dock-a', 'cmd'), topic('dock-a', 'ack')], { qos: 1 });
    await a.publishAsync(topic('dock-a', 'ack'), 'self-made ack', { qos: 1 });
    await a.publishAsync(topic('dock-a', 'cmd'), 'self-made command', { qos: 1 });
    await a.publishAsync(`bwc/v1/${FLEET}/_gateway/gw-evil/state`, 'fake gateway', { qos: 1, retain: true });
    await a.publishAsync(topic('dock-a', 'log'), 'sentinel after gateway-direction', { qos: 1 });
    await gateway.publishAsync(topic('dock-a', 'ack'), 'real ack', { qos: 1 });
    await until('the sentinel', () => atGateway.payloads.get(topic('dock-a', 'log'))?.includes('sentinel after gateway-direction'), 5000);
    await until("the gateway's ack", () => atA.payloads.get(topic('dock-a', 'ack'))?.includes('real ack'), 5000);
    expect(atA.payloads.get(topic('dock-a', 'ack'))).toEqual(['real ack']);
    expect(atA.topics).not.toContain(topic('dock-a', 'cmd'));
    expect(atGateway.topics).not.toContain(`bwc/v1/${FLEET}/_gateway/gw-evil/state`);
    await a.endAsync();
  });

  it("a dock cannot subscribe to another dock's commands or acks, not even by wildcard", async () => {
    const a = await dock('dock-a');
    const atA = collect(a);
    // Mosquitto 2.0 grants these subscriptions (SUBACK 1) and checks the ACL on every delivery:
    // what dock-a may not read never reaches it.
    await a.subscribeAsync([topic('dock-b', 'cmd'), topic('dock-b', 'ack'), `bwc/v1/${FLEET}/+/cmd`, `bwc/v1/${FLEET}/#`], { qos: 1 });
    await gateway.publishAsync(topic('dock-b', 'cmd'), 'for dock-b only', { qos: 1 });
    await gateway.publishAsync(topic('dock-b', 'ack'), 'for dock-b only', { qos: 1 });
    await a.subscribeAsync(topic('dock-a', 'cmd'), { qos: 1 });
    await gateway.publishAsync(topic('dock-a', 'cmd'), 'for dock-a', { qos: 1 });
    await until("dock-a's own command", () => atA.topics.includes(topic('dock-a', 'cmd')), 5000);
    expect(atA.topics).not.toContain(topic('dock-b', 'cmd'));
    expect(atA.topics).not.toContain(topic('dock-b', 'ack'));
    await a.endAsync();
  });

  it("grants the dock agent's own subscriptions and Will, and delivers the gateway's retained presence and its acks", async () => {
    await gateway.publishAsync(`bwc/v1/${FLEET}/_gateway/gw-sea-1/state`, '{"online":true}', { qos: 1, retain: true });
    // What device/sync/sync.ts subscribes to; the agent treats any refusal as a failed connection.
    const a = await dock('dock-a', {
      clean: false,
      will: { topic: topic('dock-a', 'death'), payload: Buffer.from('will of dock-a'), qos: 1, retain: false },
    });
    const atA = collect(a);
    const granted = await a.subscribeAsync([topic('dock-a', 'cmd'), topic('dock-a', 'ack'), `bwc/v1/${FLEET}/_gateway/+/state`], {
      qos: 1,
    });
    expect(granted.map((g) => g.qos)).toEqual([1, 1, 1]);
    await until('the retained presence', () => atA.topics.includes(`bwc/v1/${FLEET}/_gateway/gw-sea-1/state`), 5000);
    await gateway.publishAsync(topic('dock-a', 'ack'), 'an ack', { qos: 1 });
    await until('the ack', () => atA.topics.includes(topic('dock-a', 'ack')), 5000);
    // The Will is the dock's own Death: allowed, and delivered when the connection dies uncleanly.
    a.stream.destroy();
    await until('the Will', () => atGateway.payloads.get(topic('dock-a', 'death'))?.includes('will of dock-a'), 10_000);
  });

  it('refuses anonymous clients and wrong passwords on both listeners', async () => {
    expect(await refused(broker.tlsUrl, { ca: broker.ca, clientId: 'anon-tls' })).toMatch(/Not authorized|Bad username or password/i);
    expect(await refused(broker.plainUrl, { clientId: 'anon-plain' })).toMatch(/Not authorized|Bad username or password/i);
    expect(await refused(broker.tlsUrl, { ca: broker.ca, username: 'dock-a', password: 'not-the-password', clientId: 'dock-a' })).toMatch(
      /Not authorized|Bad username or password/i,
    );
    expect(await refused(broker.tlsUrl, { ca: broker.ca, username: 'dock-z', password: PASSWORDS['dock-a']!, clientId: 'dock-z' })).toMatch(
      /Not authorized|Bad username or password/i,
    );
  });

  it("a dock that claims another dock's client id does not take over its session (use_username_as_clientid)", async () => {
    const b = await dock('dock-b');
    const first = await dock('dock-a');
    let firstClosed = false;
    first.once('close', () => {
      firstClosed = true;
    });
    // Mosquitto renames this connection "dock-a" (its username): it replaces dock-a's own older
    // connection, and dock-b's stays up.
    const second = await dock('dock-a', { clientId: 'dock-b' });
    await until("dock-a's older connection to be replaced", () => firstClosed, 5000);
    const atB = collect(b);
    await b.subscribeAsync(topic('dock-b', 'cmd'), { qos: 1 });
    await gateway.publishAsync(topic('dock-b', 'cmd'), 'still connected', { qos: 1 });
    await until('dock-b still receiving', () => atB.topics.includes(topic('dock-b', 'cmd')), 5000);
    expect(b.connected).toBe(true);
    expect(second.connected).toBe(true);
    await Promise.all([b.endAsync(), second.endAsync()]);
  });

  it("a replica's own broker user, added by scale-out.md's commands, has the gateway's rights on the TLS listener", async () => {
    const guide = readFileSync(join(ROOT, 'scripts', 'deploy', 'scale-out.md'), 'utf8');
    const line = guide.split('\n').find((l) => l.startsWith('{ echo "user bwc-gw-sea-2"'));
    expect(line, 'the ACL copy command in scale-out.md').toBeDefined();
    const acl = join(broker.etc, 'acl');
    const r = spawnSync('bash', ['-c', line!.replace('| sudo tee -a /etc/mosquitto/bwc/acl', `| tee -a ${acl}`).split('/etc/mosquitto/bwc/acl').join(acl)], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    runTool('bwc-mqtt-user', ['add', 'bwc-gw-sea-2', '--file', join(broker.etc, 'passwd'), '--no-reload'], 'password-of-replica-2\n');
    await broker.reload();
    const replica = await connect(broker.tlsUrl, {
      ca: broker.ca,
      username: 'bwc-gw-sea-2',
      password: 'password-of-replica-2',
      clientId: 'bwc-gw-gw-sea-2',
    });
    const atReplica = collect(replica);
    await replica.subscribeAsync(`$share/bwc-gateway/bwc/v1/${FLEET}/+/event`, { qos: 1 });
    await replica.publishAsync(`bwc/v1/${FLEET}/_gateway/gw-sea-2/state`, '{"online":true}', { qos: 1, retain: true });
    const a = await dock('dock-a');
    const atA = collect(a);
    await a.subscribeAsync([topic('dock-a', 'ack'), `bwc/v1/${FLEET}/_gateway/+/state`], { qos: 1 });
    await until("the replica's presence at the dock", () => atA.payloads.get(`bwc/v1/${FLEET}/_gateway/gw-sea-2/state`)?.length, 5000);
    // The share group now has two members: publish until the replica has had one.
    let sent = 0;
    await until(
      'an event at the replica',
      async () => {
        if (atReplica.topics.includes(topic('dock-a', 'event'))) return true;
        await a.publishAsync(topic('dock-a', 'event'), `event ${sent++}`, { qos: 1 });
        return false;
      },
      5000,
    );
    await replica.publishAsync(topic('dock-a', 'ack'), 'ack from replica 2', { qos: 1 });
    await until("the replica's ack at the dock", () => atA.payloads.get(topic('dock-a', 'ack'))?.includes('ack from replica 2'), 5000);
    await Promise.all([a.endAsync(), replica.endAsync()]);
  });

  it('bwc-mqtt-user delete, then a reload: the dock can no longer connect', async () => {
    runTool('bwc-mqtt-user', ['add', 'dock-c', '--file', join(broker.etc, 'passwd'), '--no-reload'], 'password-of-dock-c\n');
    await broker.reload();
    const c = await connect(broker.tlsUrl, { ca: broker.ca, username: 'dock-c', password: 'password-of-dock-c', clientId: 'dock-c' });
    await c.endAsync();
    runTool('bwc-mqtt-user', ['delete', 'dock-c', '--file', join(broker.etc, 'passwd'), '--no-reload']);
    await broker.reload();
    expect(await refused(broker.tlsUrl, { ca: broker.ca, username: 'dock-c', password: 'password-of-dock-c', clientId: 'dock-c' })).toMatch(
      /Not authorized|Bad username or password/i,
    );
  });
});

describe('Mosquitto with client certificates (require_certificate, use_identity_as_username)', () => {
  let broker: Broker;
  let gateway: MqttClient;
  let atGateway: ReturnType<typeof collect>;
  let certOf: (id: string) => { cert: Buffer; key: Buffer };

  beforeAll(async () => {
    broker = await startBroker(true);
    // As on a dock: the key and request made there, the request signed by the broker's CA.
    certOf = (id) => {
      const dir = tempDir('bwc-deploy-client-');
      const r = spawnSync(
        'openssl',
        [
          'req',
          '-new',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-keyout',
          join(dir, 'mqtt-client.key'),
          '-subj',
          `/CN=${id}`,
          '-out',
          join(dir, `${id}.csr`),
        ],
        { encoding: 'utf8' },
      );
      if (r.status !== 0) throw new Error(r.stderr);
      runTool('bwc-mqtt-pki', ['client', broker.pki, join(dir, `${id}.csr`)]);
      return { cert: readFileSync(join(broker.pki, `${id}.crt`)), key: readFileSync(join(dir, 'mqtt-client.key')) };
    };
    gateway = await connect(broker.plainUrl, { username: GW_USER, password: PASSWORDS[GW_USER]!, clientId: 'bwc-gw-gw-sea-1' });
    atGateway = collect(gateway);
    await gateway.subscribeAsync(
      DOCK_KINDS.map((k) => `bwc/v1/${FLEET}/+/${k}`),
      { qos: 1 },
    );
  });

  it("binds a dock to its certificate's CN, whatever username it claims", async () => {
    const a = await connect(broker.tlsUrl, {
      ca: broker.ca,
      ...certOf('dock-a'),
      username: 'dock-b',
      password: 'ignored',
      clientId: 'dock-a',
    });
    await a.publishAsync(topic('dock-b', 'status'), 'claiming to be dock-b', { qos: 1 });
    await a.publishAsync(topic('dock-a', 'status'), 'dock-a by certificate', { qos: 1 });
    await until('the certified status', () => atGateway.payloads.get(topic('dock-a', 'status'))?.includes('dock-a by certificate'), 5000);
    expect(atGateway.topics).not.toContain(topic('dock-b', 'status'));
    await a.endAsync();
  });

  it('refuses a dock without a certificate, even with its right password', async () => {
    const message = await refused(broker.tlsUrl, { ca: broker.ca, username: 'dock-a', password: PASSWORDS['dock-a']!, clientId: 'dock-a' });
    expect(message).not.toBe('connected');
  });

  it('refuses a certificate from another CA', async () => {
    const other = tempDir('bwc-deploy-otherca-');
    runTool('bwc-mqtt-pki', ['ca', other]);
    const dir = tempDir('bwc-deploy-client-');
    spawnSync('openssl', [
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      join(dir, 'k'),
      '-subj',
      '/CN=dock-a',
      '-out',
      join(dir, 'dock-a.csr'),
    ]);
    runTool('bwc-mqtt-pki', ['client', other, join(dir, 'dock-a.csr')]);
    const message = await refused(broker.tlsUrl, {
      ca: broker.ca,
      cert: readFileSync(join(other, 'dock-a.crt')),
      key: readFileSync(join(dir, 'k')),
      clientId: 'dock-a',
    });
    expect(message).not.toBe('connected');
  });
});

// ── the site setup of the guide ─────────────────────────────────────────────────────────────────

/** A setting of a systemd unit file (the last assignment wins, as in systemd). */
function unitSetting(unit: string, key: string): string {
  const text = readFileSync(join(ROOT, 'scripts', 'deploy', 'systemd', unit), 'utf8');
  const values = text
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1).trim());
  if (values.length === 0) throw new Error(`${unit} has no ${key}=`);
  return values.at(-1)!;
}

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function bwcChild(args: string[]): { p: ChildProcess; out(): string; stdout(): string } {
  const p = spawn(process.execPath, [BWC, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(p);
  let out = '';
  let stdout = '';
  p.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    stdout += d.toString();
  });
  p.stderr!.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-200_000);
  });
  return { p, out: () => out, stdout: () => stdout };
}

/** SIGTERM, then the exit code and how long it took (null: still running after `limitS`). */
async function terminate(p: ChildProcess, limitS: number): Promise<{ code: number | null; seconds: number }> {
  const started = Date.now();
  const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
  p.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), limitS * 1000))]);
  return { code, seconds: (Date.now() - started) / 1000 };
}

function bwcOk(args: string[], input?: string): string {
  const r = runBwc(args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`bwc ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

describe("the guide's site setup, end to end", () => {
  it("a dock enrolled with the guide's commands goes online over TLS; both services stop cleanly within their units' TimeoutStopSec", async () => {
    const broker = await startBroker(false);
    const dir = tempDir('bwc-deploy-site-');
    const trust = join(dir, 'trust');
    const gwData = join(dir, 'var-lib-bwc-gateway');
    const dockState = join(dir, 'var-lib-bwc-dock');
    const issuerKeys = join(dir, 'issuer-keys');
    mkdirSync(trust);
    mkdirSync(issuerKeys);

    // The agency, offline: its root key, the gateway's certificate and the policy bundle.
    const rootOut = bwcOk(['authz', 'keygen', '--out', join(dir, 'root-key')]);
    const rootKeyId = /key id ([0-9a-f]{64})/.exec(rootOut)![1]!;
    bwcOk(['keygen', '--out', join(gwData, 'keys', 'gateway')]);
    bwcOk([
      'authz',
      'sign-gateway-cert',
      '--key',
      join(dir, 'root-key'),
      '--gateway-key',
      join(gwData, 'keys', 'gateway', 'public.hex'),
      '--gateway-id',
      'gw-sea-1',
      '--fleet',
      'sea',
      '--out',
      join(trust, 'gw-sea-1.cert'),
    ]);
    copyFileSync(join(dir, 'root-key', 'public.hex'), join(trust, 'root.hex'));
    bwcOk([
      'authz',
      'sign-bundle',
      join(ROOT, 'device', 'policy', 'default-policy.yaml'),
      '--key',
      join(dir, 'root-key'),
      '--out',
      join(trust, 'policy.bundle'),
    ]);

    // The gateway, from examples/gateway.yaml.
    let gwYaml = readFileSync(join(ROOT, 'scripts', 'deploy', 'examples', 'gateway.yaml'), 'utf8');
    gwYaml = rewrite(gwYaml, '/var/lib/bwc-gateway', gwData);
    gwYaml = rewrite(gwYaml, '/etc/bwc/trust/', `${trust}/`);
    gwYaml = rewrite(gwYaml, '/etc/bwc/issuer-keys', issuerKeys);
    gwYaml = rewrite(gwYaml, 'url: mqtt://127.0.0.1:1883', `url: ${broker.plainUrl}`);
    gwYaml = rewrite(gwYaml, 'CHANGE-ME-the-password-given-to-bwc-mqtt-user', PASSWORDS[GW_USER]!);
    gwYaml = rewrite(gwYaml, 'mqtts://gw-sea-1.sea.example:8883', broker.tlsUrl);
    gwYaml = rewrite(gwYaml, 'port: 8080', 'port: 0');
    const gwConfig = join(dir, 'gateway.yaml');
    writeFileSync(gwConfig, gwYaml);
    const gateway = bwcChild(['gateway', '--config', gwConfig]);
    const started = await until(
      'the gateway to start',
      () => {
        if (gateway.p.exitCode !== null) throw new Error(`the gateway exited: ${gateway.out()}`);
        const line = gateway
          .stdout()
          .split('\n')
          .find((l) => l.startsWith('{'));
        return line ? (JSON.parse(line) as { http: number }) : undefined;
      },
      30_000,
    );

    // The operator's one-time token; the dock enrolls with it and the root fingerprint.
    const { token } = JSON.parse(bwcOk(['gateway', 'device', 'token', '--config', gwConfig, '--device-id', 'dock-sea-01'])) as {
      token: string;
    };
    let dockYaml = readFileSync(join(ROOT, 'scripts', 'deploy', 'examples', 'dock.yaml'), 'utf8');
    dockYaml = rewrite(dockYaml, 'stateDir: /var/lib/bwc-dock', `stateDir: ${dockState}`);
    dockYaml = rewrite(dockYaml, 'ca: /etc/bwc/mqtt-ca.pem', `ca: ${join(broker.pki, 'ca.crt')}`);
    const dockConfig = join(dir, 'dock.yaml');
    writeFileSync(dockConfig, dockYaml);
    const enrolled = bwcOk([
      'dock',
      'enroll',
      '--config',
      dockConfig,
      '--gateway',
      `http://127.0.0.1:${started.http}`,
      '--device-id',
      'dock-sea-01',
      '--token',
      token,
      '--root-fingerprint',
      rootKeyId,
    ]);
    expect(enrolled).toContain(`broker ${broker.tlsUrl}`);

    // The dock's MQTT password, registered with the broker.
    runTool(
      'bwc-mqtt-user',
      ['add', 'dock-sea-01', '--file', join(broker.etc, 'passwd'), '--no-reload'],
      readFileSync(join(dockState, 'mqtt-password'), 'utf8'),
    );
    await broker.reload();

    const dock = bwcChild(['dock', '--config', dockConfig]);
    const gwDb = join(gwData, 'gateway.db');
    const online = () => {
      const db = new Database(gwDb, { readonly: true, fileMustExist: true });
      try {
        return (db.prepare('SELECT online FROM devices WHERE device_id = ?').get('dock-sea-01') as { online: number } | undefined)?.online;
      } finally {
        db.close();
      }
    };
    await until(
      'the dock online at the gateway',
      () => {
        if (dock.p.exitCode !== null) throw new Error(`the dock exited: ${dock.out()}`);
        return online() === 1;
      },
      30_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${dock.out()}\n${gateway.out()}\n${broker.log()}`);
    });
    expect(bwcOk(['dock', 'status', '--config', dockConfig])).toContain('dock dock-sea-01 fleet sea');

    // systemd's stop: SIGTERM, then SIGKILL after TimeoutStopSec. The dock's clean Death reaches
    // the gateway through the ACL.
    const dockStop = await terminate(dock.p, Number(unitSetting('bwc-dock.service', 'TimeoutStopSec')));
    expect(dockStop.code, dock.out()).toBe(0);
    await until('the clean Death at the gateway', () => online() === 0, 10_000);
    const gwStop = await terminate(gateway.p, Number(unitSetting('bwc-gateway.service', 'TimeoutStopSec')));
    expect(gwStop.code, gateway.out()).toBe(0);
  }, 120_000);
});
