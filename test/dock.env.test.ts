/**
 * The dock agent in the environments a field dock meets (device/README.md, "Faults"; DESIGN §4
 * "MQTT", §9 "Platform facts"; device/README.md, configuration `mqtt.tls.*`):
 *
 * 1. TLS to the broker. A throw-away CA, a server certificate for 127.0.0.1/localhost and one client
 *    certificate per dock (CN = the device id), made with the `openssl` CLI. Mosquitto listens twice
 *    on loopback: a TLS listener that requires a client certificate and takes the certificate's CN
 *    as the MQTT username (`require_certificate true`, `use_identity_as_username true`: the password
 *    enrollment gave the dock is then ignored, and the per-device ACL of device/README.md binds the
 *    certificate to the device's topic prefix), and a plain listener with password auth for the
 *    gateway, whose configuration (gateway/config.ts) has no TLS client options. A clip a simulated
 *    camera records goes VERIFIED at the gateway over TLS, then RELEASED. A dock without a client
 *    certificate, or trusting another CA than the server's, never connects, says why in its log and
 *    records nothing as sent. `mqtt.tls` with a certificate and no key, or naming a file that does
 *    not exist, is refused with an error naming the field and the file.
 * 2. A full state directory. The dock's state dir is a 4 MiB tmpfs, filled up while a camera's clips
 *    are in custody, so dock.db writes fail with ENOSPC/SQLITE_FULL. Product rules: bad input gets a
 *    clear error with nothing lost and no crash; evidence is never destroyed by the device. So the
 *    dock says its state directory is full, no clip is released before its VERIFIED ack, dock.db
 *    passes `PRAGMA integrity_check`, and once space is freed a restarted dock brings every clip to
 *    VERIFIED. Skipped, saying so, where tmpfs cannot be mounted (not root).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import { startMosquitto } from '../scripts/sim/mosquitto.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { parseGatewayConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { silentLogger } from '../gateway/api/http.js';
import { BWC, ptyPair, run, runBwcAsync, tempDir, until } from './helpers.js';
import { agencyTrust, exited, mosquittoAcl, OFFICER, type AgencyTrust } from './dock.fixtures.js';

const FLEET = 'env';
const GW_ID = 'gw-env';
const GW_USER = 'bwc-gateway';
const GW_PASSWORD = 'gateway-secret-for-env-tests';
const TLS_DOCK = 'dock-tls-1';
const NOCERT_DOCK = 'dock-tls-nocert';
const BADCA_DOCK = 'dock-tls-badca';
const SMALL_DOCK = 'dock-tmpfs-1';
const TLS_CAMERA = 'CAM-TLS-1';
const SMALL_CAMERA = 'CAM-TMPFS-1';

const dir = tempDir('bwc-dock-env-');

// ── child processes with their whole output kept ─────────────────────────────────────────────

interface Proc {
  readonly p: ChildProcess;
  /** stdout and stderr interleaved, as received. */
  text(): string;
  stdout(): string;
}

const procs: ChildProcess[] = [];

function spawnProc(cmd: string, args: string[]): Proc {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let all = '';
  let out = '';
  const keep = (s: string) => {
    all = (all + s).slice(-4_000_000);
  };
  p.stdout!.on('data', (d: Buffer) => {
    keep(d.toString());
    out += d.toString();
  });
  p.stderr!.on('data', (d: Buffer) => keep(d.toString()));
  p.once('error', (e) => keep(`spawn error: ${e.message}\n`));
  procs.push(p);
  return { p, text: () => all, stdout: () => out };
}

const bwc = (args: string[]): Proc => spawnProc(process.execPath, [BWC, ...args]);

async function stopProc(x: Proc | null | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (!x) return null;
  if (x.p.exitCode !== null || x.p.signalCode !== null) return x.p.exitCode;
  x.p.kill(signal);
  const code = await exited(x.p, 20_000);
  if (x.p.exitCode === null && x.p.signalCode === null) x.p.kill('SIGKILL');
  return code;
}

function killProcs(): void {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

interface LogLine {
  level: number;
  msg: string;
}

/** The dock's pino JSON lines on stderr (other lines, e.g. a crash's stack trace, are skipped). */
function logLines(text: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const l of text.split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      const j = JSON.parse(l) as { level?: number; msg?: string };
      if (typeof j.level === 'number') lines.push({ level: j.level, msg: String(j.msg ?? '') });
    } catch {
      // a torn line
    }
  }
  return lines;
}

// ── a certificate authority with the openssl CLI ─────────────────────────────────────────────

interface Pki {
  ca: string;
  otherCa: string;
  server: { cert: string; key: string };
  client(cn: string): { cert: string; key: string };
}

function openssl(args: string[]): void {
  const r = run('openssl', args);
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
}

/** CA, server and client certificates (EC P-256, 2 days), independent of the system openssl.cnf. */
function makePki(pkiDir: string): Pki {
  mkdirSync(pkiDir, { recursive: true });
  const cnf = join(pkiDir, 'openssl.cnf');
  writeFileSync(
    cnf,
    [
      '[req]',
      'distinguished_name = dn',
      'prompt = no',
      '[dn]',
      'CN = unused',
      '[ca_ext]',
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
      '[server_ext]',
      'basicConstraints = CA:FALSE',
      'keyUsage = critical, digitalSignature',
      'extendedKeyUsage = serverAuth',
      'subjectAltName = IP:127.0.0.1, DNS:localhost',
      'authorityKeyIdentifier = keyid',
      '[client_ext]',
      'basicConstraints = CA:FALSE',
      'keyUsage = critical, digitalSignature',
      'extendedKeyUsage = clientAuth',
      'authorityKeyIdentifier = keyid',
      '',
    ].join('\n'),
  );
  const p = (name: string) => join(pkiDir, name);
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  const selfSigned = (name: string, cn: string) =>
    openssl([
      'req',
      '-config',
      cnf,
      '-x509',
      ...newKey,
      '-keyout',
      p(`${name}.key`),
      '-out',
      p(`${name}.crt`),
      '-days',
      '2',
      '-subj',
      `/CN=${cn}`,
      '-extensions',
      'ca_ext',
    ]);
  selfSigned('ca', 'bwc test CA');
  selfSigned('other-ca', 'bwc test CA'); // the same name, another key: only the signature tells them apart
  const issue = (name: string, cn: string, ext: string) => {
    openssl(['req', '-config', cnf, '-new', ...newKey, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${cn}`]);
    openssl([
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p('ca.crt'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-CAserial',
      p('ca.srl'),
      '-out',
      p(`${name}.crt`),
      '-days',
      '2',
      '-extfile',
      cnf,
      '-extensions',
      ext,
    ]);
    return { cert: p(`${name}.crt`), key: p(`${name}.key`) };
  };
  const server = issue('server', 'localhost', 'server_ext');
  return { ca: p('ca.crt'), otherCa: p('other-ca.crt'), server, client: (cn) => issue(`client-${cn}`, cn, 'client_ext') };
}

// ── Mosquitto with a TLS listener and a plain one (the spawning of test/mosquitto.ts, plus TLS) ─

interface TlsMosquitto {
  plainUrl: string;
  tlsUrl: string;
  tlsPort: number;
  log(): string;
  setUsers(users: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

async function startTlsMosquitto(mdir: string, pki: Pki, o: { users: Record<string, string>; acl: string }): Promise<TlsMosquitto> {
  const m = await startMosquitto({
    dir: mdir,
    users: o.users,
    acl: o.acl,
    tls: { cafile: pki.ca, certfile: pki.server.cert, keyfile: pki.server.key },
    verbose: true,
  });
  return {
    plainUrl: m.url,
    tlsUrl: m.tlsUrl!,
    tlsPort: m.tlsPort!,
    log: () => m.log(),
    setUsers: (u) => m.setUsers(u),
    stop: () => m.stop(),
  };
}

// ── the dock's database, read from outside ───────────────────────────────────────────────────

function openDockDb(stateDir: string): Database.Database | null {
  const path = join(stateDir, 'dock.db');
  if (!existsSync(path)) return null;
  return new Database(path, { readonly: true, fileMustExist: true });
}

function withDockDb<T>(stateDir: string, fn: (db: Database.Database) => T): T | undefined {
  const db = openDockDb(stateDir);
  if (!db) return undefined;
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

function clipStates(stateDir: string): Record<string, string> {
  return (
    withDockDb(stateDir, (db) =>
      Object.fromEntries((db.prepare('select clip_id, state from clips').all() as { clip_id: string; state: string }[]).map((r) => [r.clip_id, r.state])),
    ) ?? {}
  );
}

function clipHistory(stateDir: string, clipId: string): string[] {
  return (
    withDockDb(stateDir, (db) =>
      (db.prepare('select state from clip_history where clip_id = ? order by id').all(clipId) as { state: string }[]).map((r) => r.state),
    ) ?? []
  );
}

function integrity(stateDir: string): string {
  return withDockDb(stateDir, (db) => (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ')) ?? 'no dock.db';
}

// ── the shared peers: PKI, Mosquitto, the gateway ────────────────────────────────────────────

let pki: Pki;
let mosq: TlsMosquitto;
let gw: RunningGateway;
let agency: AgencyTrust;
const users: Record<string, string> = { [GW_USER]: GW_PASSWORD };

async function enroll(deviceId: string, stateDir: string): Promise<void> {
  const { token } = await gw.fleet.createEnrollmentToken(deviceId, 'operator-1');
  const r = await runBwcAsync([
    'dock',
    'enroll',
    '--state-dir',
    stateDir,
    '--gateway',
    `http://127.0.0.1:${gw.httpPort}`,
    '--token',
    token,
    '--device-id',
    deviceId,
    '--root-fingerprint',
    agency.root.keyId,
  ]);
  if (r.code !== 0) throw new Error(`enroll ${deviceId} failed (${r.code}): ${r.stderr}`);
}

function dockConfig(name: string, c: Record<string, unknown>): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, JSON.stringify(c, null, 2));
  return file;
}

function scenarioFile(name: string, camera: string, clips: { id: string; size: string; waitBefore?: number }[]): string {
  const file = join(dir, `${name}.json`);
  const steps: unknown[] = [];
  for (const c of clips) {
    if (c.waitBefore) steps.push({ wait: c.waitBefore });
    steps.push({ start: { clip: c.id, activity: 'at_large_arrest', preEventBufferS: 0 } }, { stop: { clip: c.id } }, { ready: { clip: c.id, size: c.size } });
  }
  writeFileSync(file, JSON.stringify({ camera: { serial: camera }, steps }));
  return file;
}

async function gatewayManifests(deviceId: string): Promise<{ clip_id: string; state: string; byte_length: number }[]> {
  const rows = await gw.db.all<{ clip_id: string; state: string; byte_length: number }>(
    'SELECT clip_id, state, byte_length FROM manifests WHERE device_id = ? ORDER BY seq',
    [deviceId],
  );
  return rows.map((r) => ({ ...r, byte_length: Number(r.byte_length) }));
}

async function gatewayMessages(deviceId: string): Promise<number> {
  const r = await gw.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM messages WHERE device_id = ?', [deviceId]);
  return Number(r?.n ?? 0);
}

beforeAll(async () => {
  pki = makePki(join(dir, 'pki'));
  const mdir = join(dir, 'mosquitto');
  mkdirSync(mdir);
  mosq = await startTlsMosquitto(mdir, pki, { users, acl: mosquittoAcl(FLEET, GW_USER) });
  const gwData = join(dir, 'gateway');
  agency = agencyTrust(dir, gwData, { fleet: FLEET, gatewayId: GW_ID });
  gw = await startGateway({
    log: silentLogger,
    config: parseGatewayConfig({
      fleet: FLEET,
      gatewayId: GW_ID,
      dataDir: gwData,
      http: { port: 0 },
      sweepIntervalMs: 500,
      trust: agency.trust,
      mqtt: { url: mosq.plainUrl, username: GW_USER, password: GW_PASSWORD },
    }),
  });
  await gw.fleet.assign(TLS_CAMERA, OFFICER, 'operator-1', 'operator');
  await gw.fleet.assign(SMALL_CAMERA, OFFICER, 'operator-1', 'operator');
}, 60_000);

afterAll(async () => {
  killProcs();
  await gw?.stop();
  await mosq?.stop();
});

// ── 1. TLS ───────────────────────────────────────────────────────────────────────────────────

describe('TLS to Mosquitto with client certificates', () => {
  const tlsState = join(dir, 'tls-state');
  const nocertState = join(dir, 'nocert-state');
  const badcaState = join(dir, 'badca-state');

  beforeAll(async () => {
    await enroll(TLS_DOCK, tlsState);
    await enroll(NOCERT_DOCK, nocertState);
    await enroll(BADCA_DOCK, badcaState);
  }, 60_000);

  it('carries a clip over mqtts with a client certificate: VERIFIED at the gateway, then released', async () => {
    const client = pki.client(TLS_DOCK);
    const storage = join(dir, 'tls-camera');
    mkdirSync(storage);
    const pty = await ptyPair(dir, 'tls');
    const config = dockConfig('tls-dock', {
      stateDir: tlsState,
      link: { ports: [pty.dock] },
      storage: { mounts: { [TLS_CAMERA]: storage } },
      clock: { ntp: 'synced' },
      sync: { ackTimeoutMs: 5000, chunkWindow: 4 },
      mqtt: {
        url: mosq.tlsUrl,
        tls: { ca: pki.ca, cert: client.cert, key: client.key },
        backoffMinMs: 100,
        backoffMaxMs: 1000,
        connectTimeoutMs: 5000,
      },
    });
    const dock = bwc(['dock', '--config', config]);
    const cam = bwc([
      'sim',
      'camera',
      '--port',
      pty.cam,
      '--storage',
      storage,
      '--scenario',
      scenarioFile('tls-shift', TLS_CAMERA, [{ id: 'tls-clip', size: '3MiB' }]),
      '--settle',
      '60',
      '--until-released',
      '90',
      '--json',
    ]);
    const why = () =>
      `\n--- dock ---\n${dock.text().slice(-10_000)}\n--- camera ---\n${cam.text().slice(-5_000)}\n--- mosquitto ---\n${mosq.log().slice(-5_000)}`;
    try {
      const camExit = await exited(cam.p, 120_000);
      expect(camExit, why()).toBe(0);
      const result = JSON.parse(cam.stdout()) as { released: string[]; releaseRefused: string[] };
      expect(result.released, why()).toEqual(['tls-clip']);
      expect(result.releaseRefused).toEqual([]);
      expect(await gatewayManifests(TLS_DOCK), why()).toEqual([{ clip_id: 'tls-clip', state: 'VERIFIED', byte_length: 3 * 1024 * 1024 }]);
      const states = clipHistory(tlsState, 'tls-clip');
      expect(
        states.filter((s) => s === 'VERIFIED'),
        states.join(' → '),
      ).toHaveLength(1);
      expect(states.indexOf('RELEASED'), states.join(' → ')).toBeGreaterThan(states.indexOf('VERIFIED'));
      // The dock reached the broker on the TLS listener, and its certificate authenticated it: the
      // password file has no entry for this device, so only the certificate's CN made it a user.
      expect(
        logLines(dock.text()).some((l) => l.msg.includes(`connected to ${mosq.tlsUrl}`)),
        why(),
      ).toBe(true);
      expect(users[TLS_DOCK]).toBeUndefined();
      expect(mosq.log(), why()).toMatch(
        new RegExp(
          `New connection from 127\\.0\\.0\\.1:(\\d+) on port ${mosq.tlsPort}\\.[\\s\\S]*?` +
            `New client connected from 127\\.0\\.0\\.1:\\1 as ${TLS_DOCK} \\([^)]*u'${TLS_DOCK}'\\)`,
        ),
      );
    } finally {
      await stopProc(dock);
      await stopProc(cam);
    }
  }, 150_000);

  /** Runs a dock whose TLS setup cannot work until it has failed `attempts` times, then stops it. */
  async function neverConnects(deviceId: string, stateDir: string, tls: Record<string, string>, reason: RegExp): Promise<void> {
    const config = dockConfig(`${deviceId}-dock`, {
      stateDir,
      clock: { ntp: 'synced' },
      log: { level: 'debug' },
      sync: { statusIntervalS: 1 },
      mqtt: { url: mosq.tlsUrl, tls, backoffMinMs: 100, backoffMaxMs: 400, connectTimeoutMs: 3000 },
    });
    const dock = bwc(['dock', '--config', config]);
    const why = () => `\n--- dock ---\n${dock.text().slice(-10_000)}\n--- mosquitto ---\n${mosq.log().slice(-3_000)}`;
    try {
      // Three attempts (the first is logged as a warning, later ones of the same kind at debug), and a Status queued meanwhile.
      const connected = () => logLines(dock.text()).some((l) => /mqtt: connected/.test(l.msg));
      await until(
        `${deviceId}: three failed TLS connection attempts`,
        () => logLines(dock.text()).filter((l) => reason.test(l.msg)).length >= 3 || connected() || dock.p.exitCode !== null,
        60_000,
      );
      await until(
        `${deviceId}: a Status queued in the outbox`,
        () =>
          (withDockDb(stateDir, (db) => (db.prepare("select count(*) as n from outbox where kind = 'status'").get() as { n: number }).n) ?? 0) > 0 ||
          dock.p.exitCode !== null,
        30_000,
      );
      expect(dock.p.exitCode, why()).toBeNull(); // it keeps trying: a broker certificate may be fixed without touching the dock
    } finally {
      await stopProc(dock);
    }
    const lines = logLines(dock.text());
    // Said clearly: a warning (or worse) naming the TLS failure, not only debug chatter.
    const warned = lines.filter((l) => l.level >= 40 && reason.test(l.msg));
    expect(warned.length, why()).toBeGreaterThanOrEqual(1);
    expect(warned[0]!.msg, why()).toMatch(/^mqtt: /);
    expect(
      lines.some((l) => /mqtt: connected/.test(l.msg)),
      why(),
    ).toBe(false);
    // Nothing recorded as sent: every outbox row is still unsent, and the gateway heard nothing.
    const outbox =
      withDockDb(
        stateDir,
        (db) => db.prepare('select kind, attempts, sent_at from outbox').all() as { kind: string; attempts: number; sent_at: number | null }[],
      ) ?? [];
    expect(outbox.length, why()).toBeGreaterThan(0);
    expect(
      outbox.filter((r) => r.attempts > 0 || r.sent_at !== null),
      why(),
    ).toEqual([]);
    expect(await gatewayMessages(deviceId)).toBe(0);
    const device = await gw.db.get<{ birth_at: number | null; online: number }>('SELECT birth_at, online FROM devices WHERE device_id = ?', [deviceId]);
    expect(device?.birth_at ?? null).toBeNull();
    expect(Number(device?.online ?? 0)).toBe(0);
  }

  it('a dock without a client certificate never connects and says the broker wants one', async () => {
    await neverConnects(NOCERT_DOCK, nocertState, { ca: pki.ca }, /certificate required|peer did not return a certificate|handshake failure/i);
  }, 120_000);

  it("a dock trusting another CA than the broker's never connects and says the server certificate is not trusted", async () => {
    const client = pki.client(BADCA_DOCK);
    await neverConnects(
      BADCA_DOCK,
      badcaState,
      { ca: pki.otherCa, cert: client.cert, key: client.key },
      /self[- ]signed certificate|unable to (get local issuer|verify)|certificate (verify|signature) fail/i,
    );
  }, 120_000);

  it('refuses mqtt.tls with a certificate and no key, naming the field and the file', async () => {
    const client = pki.client('dock-tls-nokey');
    const config = dockConfig('tls-nokey', { stateDir: nocertState, mqtt: { url: mosq.tlsUrl, tls: { ca: pki.ca, cert: client.cert } } });
    const r = await runBwcAsync(['dock', '--config', config]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe(''); // never started
    expect(r.stderr).toContain(config);
    expect(r.stderr).toMatch(/mqtt\.tls\.key|mqtt\.tls: .*\bkey\b/);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  }, 30_000);

  it('refuses an mqtt.tls file that does not exist, naming the field and the file', async () => {
    const missing = join(dir, 'pki', 'no-such-ca.pem');
    const config = dockConfig('tls-missing-ca', { stateDir: nocertState, mqtt: { url: mosq.tlsUrl, tls: { ca: missing } } });
    const r = await runBwcAsync(['dock', '--config', config]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(missing);
    expect(r.stderr).toMatch(/mqtt\.tls\.ca/);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  }, 30_000);
});

// ── 2. a full state directory ────────────────────────────────────────────────────────────────

/** Whether a tmpfs can be mounted here (root in CI); probed once, synchronously, for it.skipIf. */
function probeTmpfs(): string | null {
  if (process.platform !== 'linux') return 'tmpfs mounts need Linux';
  const probe = mkdtempSync(join(tmpdir(), 'bwc-tmpfs-probe-'));
  try {
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { encoding: 'utf8' });
    if (m.status !== 0) return `mount -t tmpfs is not permitted here (${(m.stderr || m.error?.message || `exit ${m.status}`).trim()}); run as root`;
    spawnSync('umount', [probe]);
    return null;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

const noTmpfs = probeTmpfs();

/** What an uncaught exception, an unhandled rejection or the CLI's last-resort handler prints. */
const CRASH = /internal error|Uncaught|Unhandled|^\s+at .+:\d+:\d+\)?$/m;

/** Writes zeros into `file` until the filesystem has no byte left (ENOSPC). */
function fillUp(file: string): number {
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(256 * 1024);
  let total = 0;
  try {
    for (const size of [block.length, 4096, 512, 1]) {
      for (;;) {
        try {
          total += writeSync(fd, block, 0, size);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw e;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return total;
}

describe('a full state directory', () => {
  const mountPoint = join(dir, 'state-fs');
  const stateDir = join(mountPoint, 'state');
  let mounted = false;

  afterAll(async () => {
    const exits = procs.filter((p) => p.exitCode === null && p.signalCode === null).map((p) => new Promise((r) => p.once('exit', r)));
    killProcs();
    await Promise.all(exits); // the killed dock lets go of its files
    if (mounted) {
      const u = spawnSync('umount', [mountPoint], { encoding: 'utf8' });
      if (u.status !== 0) spawnSync('umount', ['-l', mountPoint]);
    }
  });

  it.skipIf(noTmpfs !== null)(
    `reports a full state dir clearly, releases nothing unverified, keeps dock.db sound, and recovers every clip once space is freed${noTmpfs ? ` (skipped: ${noTmpfs})` : ''}`,
    async () => {
      mkdirSync(mountPoint, { recursive: true });
      const m = run('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', mountPoint]);
      expect(m.code, m.stderr).toBe(0);
      mounted = true;
      await enroll(SMALL_DOCK, stateDir);
      users[SMALL_DOCK] = readFileSync(join(stateDir, 'mqtt-password'), 'utf8').trim();
      await mosq.setUsers(users);

      const storage = join(dir, 'tmpfs-camera');
      mkdirSync(storage);
      const pty = await ptyPair(dir, 'tmpfs');
      const config = dockConfig('tmpfs-dock', {
        stateDir,
        link: { ports: [pty.dock] },
        storage: { mounts: { [SMALL_CAMERA]: storage } },
        clock: { ntp: 'synced' },
        sync: { statusIntervalS: 2, ackTimeoutMs: 3000, chunkWindow: 2 },
        mqtt: { url: mosq.plainUrl, backoffMinMs: 100, backoffMaxMs: 1000, connectTimeoutMs: 3000 },
      });
      const clips = ['tmpfs-1', 'tmpfs-2', 'tmpfs-3'];
      // tmpfs-1 is in custody when the disk fills; tmpfs-2 and tmpfs-3 are recorded on a full state dir.
      const scenario = scenarioFile('tmpfs-shift', SMALL_CAMERA, [
        { id: 'tmpfs-1', size: '24MiB' },
        { id: 'tmpfs-2', size: '2MiB', waitBefore: 3000 },
        { id: 'tmpfs-3', size: '2MiB' },
      ]);
      let dock = bwc(['dock', '--config', config]);
      const firstDock = dock;
      const filler = join(mountPoint, 'filler');
      const cam = bwc([
        'sim',
        'camera',
        '--port',
        pty.cam,
        '--storage',
        storage,
        '--scenario',
        scenario,
        '--settle',
        '150',
        '--until-released',
        '150',
        '--json',
      ]);
      const released = () => [...cam.text().matchAll(new RegExp(`^${SMALL_CAMERA}: released (\\S+)$`, 'gm'))].map((x) => x[1]!);
      const why = () => `\n--- dock (current) ---\n${dock.text().slice(-12_000)}\n--- camera ---\n${cam.text().slice(-4_000)}`;
      const steps: string[] = [];
      try {
        await until(
          'tmpfs-1 signed (its manifest queued)',
          () => {
            const s = clipStates(stateDir)['tmpfs-1'];
            return s !== undefined && !['RECORDING', 'CLOSED', 'HASHED'].includes(s);
          },
          60_000,
        );
        const free = statfsSync(mountPoint);
        const filled = fillUp(filler);
        steps.push(`filled ${filled} bytes (${free.bavail * free.bsize} were free) with tmpfs-1 ${clipStates(stateDir)['tmpfs-1']}`);

        // The dock meets ENOSPC / SQLITE_FULL: it says so (or it exits). Either way it must say it clearly.
        const fullRe = /\bfull\b|ENOSPC|no space|SQLITE_FULL/i;
        await until(
          'the dock reporting the full disk, or exiting',
          () => fullRe.test(dock.text()) || dock.p.exitCode !== null || dock.p.signalCode !== null,
          90_000,
        );
        // Let the recordings made on the full disk reach the dock too (the camera resends what is not acked).
        await until('the camera to have offered tmpfs-3', () => existsSync(join(storage, 'DCIM', 'tmpfs-3.mp4')) || released().length === clips.length, 60_000);
        // tmpfs-3's events resent onto the full disk: the camera gives a session up once a frame went
        // unacked through every retransmission, and resends what is pending in the next one.
        const linkDowns = () => [...cam.text().matchAll(new RegExp(`^${SMALL_CAMERA}: link down \\(`, 'gm'))].length;
        const downsAtOffer = linkDowns();
        await until(
          "tmpfs-3's events resent through a whole session onto the full disk (or applied)",
          () => linkDowns() > downsAtOffer || clipStates(stateDir)['tmpfs-3'] !== undefined,
          60_000,
        );
        steps.push(
          `while full: dock states ${JSON.stringify(clipStates(stateDir))}, camera released [${released().join(', ')}], sessions given up ${linkDowns() - downsAtOffer}`,
        );

        // Nothing released that the dock does not hold VERIFIED (evidence is never destroyed by the device).
        const held = clipStates(stateDir);
        for (const c of released()) expect(['VERIFIED', 'RELEASED'], `${c} released while ${held[c]}; ${steps.join('; ')}${why()}`).toContain(held[c]);
        for (const c of clips) {
          expect(
            released().includes(c) || existsSync(join(storage, 'DCIM', `${c}.mp4`)),
            `${c} vanished from the camera without a release; ${steps.join('; ')}${why()}`,
          ).toBe(true);
        }

        const stoppedCode = await stopProc(dock);
        steps.push(`dock #1 ended with ${stoppedCode} / ${firstDock.p.signalCode}`);
        const firstOut = firstDock.text();
        // A clear error: a line that says the state directory is full (by name or by its path).
        const clear = firstOut.split('\n').filter((l) => (/state dir/i.test(l) || l.includes(stateDir)) && /\bfull\b|no space|ENOSPC|SQLITE_FULL/i.test(l));
        expect
          .soft(clear.length, `no line says the state directory is full; ${steps.join('; ')}\n--- dock #1 ---\n${firstOut.slice(-12_000)}`)
          .toBeGreaterThan(0);
        // No crash: no uncaught exception, no stack trace, no "internal error".
        expect.soft(firstOut, `dock #1 crashed; ${steps.join('; ')}`).not.toMatch(CRASH);
        expect.soft(firstDock.p.signalCode, steps.join('; ')).toBeNull();

        // dock.db is sound on the full disk.
        expect(integrity(stateDir), steps.join('; ')).toBe('ok');

        // Space freed, the dock restarted: every clip ends VERIFIED at the gateway, then released.
        rmSync(filler);
        steps.push('space freed');
        dock = bwc(['dock', '--config', config]);
        const camExit = await exited(cam.p, 200_000);
        expect(camExit, `${steps.join('; ')}${why()}`).toBe(0);
        const result = JSON.parse(cam.stdout()) as { released: string[]; releaseRefused: string[] };
        expect([...result.released].sort(), `${steps.join('; ')}${why()}`).toEqual(clips);
        expect(result.releaseRefused).toEqual([]);
        const rows = await gatewayManifests(SMALL_DOCK);
        expect(rows.map((r) => [r.clip_id, r.state, r.byte_length]).sort(), `${steps.join('; ')}${why()}`).toEqual([
          ['tmpfs-1', 'VERIFIED', 24 * 1024 * 1024],
          ['tmpfs-2', 'VERIFIED', 2 * 1024 * 1024],
          ['tmpfs-3', 'VERIFIED', 2 * 1024 * 1024],
        ]);
        await until('the dock recording every release', () => clips.every((c) => clipStates(stateDir)[c] === 'RELEASED'), 30_000);
        for (const c of clips) {
          const states = clipHistory(stateDir, c);
          expect(
            states.filter((s) => s === 'VERIFIED'),
            `${c}: ${states.join(' → ')}`,
          ).toHaveLength(1);
          expect(
            states.filter((s) => s === 'SIGNED'),
            `${c}: ${states.join(' → ')}`,
          ).toHaveLength(1);
          expect(states.indexOf('RELEASED'), `${c}: ${states.join(' → ')}`).toBeGreaterThan(states.indexOf('VERIFIED'));
        }
        await stopProc(dock);
        expect(dock.text(), 'dock #2 crashed').not.toMatch(CRASH);
        expect(integrity(stateDir)).toBe('ok');
      } finally {
        await stopProc(dock);
        await stopProc(cam);
      }
    },
    420_000,
  );
});
