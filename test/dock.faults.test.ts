/**
 * The dock agent through a real Mosquitto with the per-device ACL of device/README.md, and the
 * faults it must survive: the broker stopped mid-upload and started again, the dock SIGKILLed
 * mid-hash and mid-upload and restarted, the gateway restarted. Each run ends with every clip
 * VERIFIED exactly once at the gateway and no clip released before its VERIFIED ack. A state
 * directory that cannot be written is refused with a clear error.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import Database from 'better-sqlite3';
import { parseGatewayConfig, type GatewayConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { silentLogger } from '../gateway/api/http.js';
import { ptyPair, runBwcAsync, tempDir, until } from './helpers.js';
import { startMosquitto, type TestMosquitto } from './mosquitto.js';
import { agencyTrust, exited, killAll, mosquittoAcl, spawnBwc, OFFICER, type AgencyTrust, type BwcProcess } from './dock.fixtures.js';

const FLEET = 'faults';
const DEVICE = 'dock-f-1';
const CAMERA = 'CAM-F-1';
const GW_USER = 'bwc-gateway';
const GW_PASSWORD = 'gateway-secret-for-tests';

const dir = tempDir('bwc-dock-faults-');
let mosq: TestMosquitto;
let gw: RunningGateway | null = null;
let gwConfig: GatewayConfig;
let agency: AgencyTrust;
let dockPassword = '';
const stateDir = join(dir, 'dock-state');

beforeAll(async () => {
  mosq = await startMosquitto({ users: { [GW_USER]: GW_PASSWORD }, acl: mosquittoAcl(FLEET, GW_USER) });
  const gwData = join(dir, 'gateway');
  agency = agencyTrust(dir, gwData, { fleet: FLEET, gatewayId: 'gw-f' });
  gwConfig = parseGatewayConfig({
    fleet: FLEET,
    gatewayId: 'gw-f',
    dataDir: gwData,
    http: { port: 0 },
    sweepIntervalMs: 500,
    mqtt: { url: mosq.url, username: GW_USER, password: GW_PASSWORD },
    trust: agency.trust,
  });
  gw = await startGateway({ config: gwConfig, log: silentLogger });
  await gw.fleet.assign(CAMERA, OFFICER, 'operator-1', 'operator');
  const { token } = await gw.fleet.createEnrollmentToken(DEVICE, 'operator-1');
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
    DEVICE,
    '--root-fingerprint',
    agency.root.keyId,
  ]);
  if (r.code !== 0) throw new Error(`enroll failed: ${r.stderr}`);
  dockPassword = readFileSync(join(stateDir, 'mqtt-password'), 'utf8').trim();
  await mosq.setUsers({ [GW_USER]: GW_PASSWORD, [DEVICE]: dockPassword, 'dock-f-2': 'other-password' });
}, 60_000);

afterAll(async () => {
  killAll();
  await gw?.stop();
  await mosq?.stop();
});

describe('Mosquitto with a per-device ACL', () => {
  it("carries a device's own messages and drops one published under another device's prefix", async () => {
    const watcher = await mqtt.connectAsync(mosq.url, { username: GW_USER, password: GW_PASSWORD, clientId: 'acl-watcher' });
    const seen: string[] = [];
    watcher.on('message', (t) => seen.push(t));
    await watcher.subscribeAsync(`bwc/v1/${FLEET}/+/log`, { qos: 1 });
    const dock = await mqtt.connectAsync(mosq.url, { username: DEVICE, password: dockPassword, clientId: `${DEVICE}-acl-probe` });
    try {
      await dock.publishAsync(`bwc/v1/${FLEET}/dock-f-2/log`, Buffer.from('forged'), { qos: 1 });
      await dock.publishAsync(`bwc/v1/${FLEET}/${DEVICE}/log`, Buffer.from('own'), { qos: 1 });
      // Mosquitto delivers one client's QoS 1 messages in the order published: the forged one, sent
      // first, would have arrived before the device's own.
      await until('own message delivered', () => seen.includes(`bwc/v1/${FLEET}/${DEVICE}/log`), 5000);
      expect(seen).not.toContain(`bwc/v1/${FLEET}/dock-f-2/log`);
      // Nor may a device read another's commands: Mosquitto grants the subscription but delivers nothing.
      const got: string[] = [];
      dock.on('message', (t) => got.push(t));
      await dock.subscribeAsync(`bwc/v1/${FLEET}/dock-f-2/cmd`, { qos: 1 });
      await watcher.publishAsync(`bwc/v1/${FLEET}/dock-f-2/cmd`, Buffer.from('not yours'), { qos: 1 });
      await dock.subscribeAsync(`bwc/v1/${FLEET}/${DEVICE}/cmd`, { qos: 1 });
      await watcher.publishAsync(`bwc/v1/${FLEET}/${DEVICE}/cmd`, Buffer.from('yours'), { qos: 1 });
      await until('own command delivered', () => got.includes(`bwc/v1/${FLEET}/${DEVICE}/cmd`), 5000);
      expect(got).not.toContain(`bwc/v1/${FLEET}/dock-f-2/cmd`);
    } finally {
      await dock.endAsync();
      await watcher.endAsync();
    }
  }, 30_000);
});

interface ClipHistory {
  clip_id: string;
  state: string;
}

function dockHistory(): ClipHistory[] {
  const db = new Database(join(stateDir, 'dock.db'), { readonly: true });
  try {
    return db.prepare('select clip_id, state from clip_history order by id').all() as ClipHistory[];
  } finally {
    db.close();
  }
}

function dockClipState(clipId: string): { state: string; path: string | null } | undefined {
  if (!existsSync(join(stateDir, 'dock.db'))) return undefined;
  const db = new Database(join(stateDir, 'dock.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('select state, path from clips where clip_id = ?').get(clipId) as { state: string; path: string | null } | undefined;
  } finally {
    db.close();
  }
}

async function chunksStored(clipId: string): Promise<number> {
  const r = await gw!.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM chunks c JOIN manifests m ON m.manifest_hash = c.manifest_hash WHERE m.clip_id = ?', [
    clipId,
  ]);
  return Number(r?.n ?? 0);
}

describe('faults during hashing and offload', () => {
  it('survives a SIGKILL mid-hash and mid-upload, a broker outage and a gateway restart: every clip VERIFIED once, none released early', async () => {
    const storage = join(dir, 'camera-storage');
    mkdirSync(storage, { recursive: true });
    const pty = await ptyPair(dir, 'camf');
    const config = join(dir, 'dock.yaml');
    writeFileSync(
      config,
      JSON.stringify({
        stateDir,
        link: { ports: [pty.dock] },
        storage: { mounts: { [CAMERA]: storage } },
        clock: { ntp: 'synced' },
        sync: { statusIntervalS: 2, ackTimeoutMs: 3000, chunkWindow: 2 },
        mqtt: { backoffMinMs: 100, backoffMaxMs: 1000, connectTimeoutMs: 3000 },
      }),
    );
    const scenario = join(dir, 'shift.yaml');
    writeFileSync(
      scenario,
      JSON.stringify({
        camera: { serial: CAMERA },
        steps: [
          { start: { clip: 'big-hash', activity: 'at_large_arrest', preEventBufferS: 0 } },
          { stop: { clip: 'big-hash' } },
          { ready: { clip: 'big-hash', size: '400MiB' } },
          { start: { clip: 'upload', activity: 'search_warrant', preEventBufferS: 0 } },
          { stop: { clip: 'upload' } },
          { ready: { clip: 'upload', size: '48MiB' } },
        ],
      }),
    );
    let dock: BwcProcess = spawnBwc(['dock', '--config', config], 'dock #1');
    const cam = spawnBwc(['sim', 'camera', '--port', pty.cam, '--storage', storage, '--scenario', scenario, '--until-released', '150', '--json'], 'camera');
    const log: string[] = [];
    try {
      // 1. SIGKILL while the 400 MiB clip is being hashed (it is CLOSED with its path, not yet HASHED).
      await until('big clip hashing', () => (dockClipState('big-hash')?.state === 'CLOSED' && dockClipState('big-hash')?.path ? true : undefined), 60_000);
      dock.kill('SIGKILL');
      await exited(dock);
      log.push(`killed mid-hash (state ${dockClipState('big-hash')?.state})`);
      expect(dockClipState('big-hash')?.state).toBe('CLOSED');
      dock = spawnBwc(['dock', '--config', config], 'dock #2');

      // 2. The broker stops in the middle of an upload and comes back.
      await until('upload under way', async () => ((await chunksStored('big-hash')) + (await chunksStored('upload')) >= 3 ? true : undefined), 90_000);
      const lost = () => (dock.output().match(/mqtt: .*; reconnecting with backoff/g) ?? []).length;
      const lostBefore = lost();
      await mosq.stop();
      log.push('broker stopped');
      await until('the dock retrying the stopped broker', () => lost() > lostBefore, 30_000);
      await mosq.restart();
      log.push('broker restarted');

      // 3. SIGKILL in the middle of an upload.
      const before = (await chunksStored('big-hash')) + (await chunksStored('upload'));
      await until('more chunks', async () => ((await chunksStored('big-hash')) + (await chunksStored('upload')) > before + 2 ? true : undefined), 60_000);
      dock.kill('SIGKILL');
      await exited(dock);
      log.push(`killed mid-upload (${(await chunksStored('big-hash')) + (await chunksStored('upload'))} chunks stored)`);
      dock = spawnBwc(['dock', '--config', config], 'dock #3');

      // 4. The gateway restarts, once the new dock is connected to the broker.
      await until('dock #3 connected', () => /mqtt: connected to /.test(dock.output()), 30_000);
      await gw!.stop();
      gw = null;
      log.push('gateway stopped');
      gw = await startGateway({ config: gwConfig, log: silentLogger });
      log.push('gateway restarted');

      const camExit = await exited(cam, 150_000);
      expect(camExit, log.join('; ') + cam.output() + dock.output()).toBe(0);
      const result = JSON.parse(cam.stdoutText()) as { released: string[]; releaseRefused: string[] };
      expect(result.released.sort(), log.join('; ') + cam.output() + dock.output()).toEqual(['big-hash', 'upload']);
      expect(result.releaseRefused).toEqual([]);

      const rows = await gw.db.all<{ clip_id: string; state: string; byte_length: number }>(
        'SELECT clip_id, state, byte_length FROM manifests WHERE device_id = ? ORDER BY seq',
        [DEVICE],
      );
      // In either order: the killed hash restarted after the second clip may have been signed first.
      expect(rows.map((r) => [r.clip_id, r.state, Number(r.byte_length)]).sort()).toEqual([
        ['big-hash', 'VERIFIED', 400 * 1024 * 1024],
        ['upload', 'VERIFIED', 48 * 1024 * 1024],
      ]);
      const blobs = await gw.db.all<{ n: number }>('SELECT COUNT(*) AS n FROM blobs');
      expect(Number(blobs[0]!.n)).toBe(2);
      // Exactly once: one VERIFIED entry per clip in the dock's history, and RELEASED only after it.
      const history = dockHistory();
      for (const clip of ['big-hash', 'upload']) {
        const states = history.filter((h) => h.clip_id === clip).map((h) => h.state);
        expect(
          states.filter((s) => s === 'VERIFIED'),
          states.join(' → '),
        ).toHaveLength(1);
        expect(states.indexOf('RELEASED'), states.join(' → ')).toBeGreaterThan(states.indexOf('VERIFIED'));
        expect(
          states.filter((s) => s === 'SIGNED'),
          states.join(' → '),
        ).toHaveLength(1);
      }
    } finally {
      dock.kill('SIGTERM');
      await exited(dock, 15_000);
    }
  }, 300_000);

  it('refuses a state directory it cannot write, with a clear error and nothing corrupted', async () => {
    if (process.getuid?.() === 0) {
      // root writes through file modes; a read-only bind is not available here, so use a path under a file.
      const file = join(dir, 'not-a-dir');
      writeFileSync(file, '');
      const r = await runBwcAsync(['dock', '--state-dir', join(file, 'state')]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/state directory .* is not writable: (ENOTDIR|EEXIST)/);
    } else {
      const ro = join(dir, 'read-only');
      mkdirSync(ro);
      chmodSync(ro, 0o500);
      const r = await runBwcAsync(['dock', '--state-dir', join(ro, 'state')]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/state directory .* is not writable/);
    }
    // The enrolled dock's own database is intact after the kills above.
    const db = new Database(join(stateDir, 'dock.db'), { readonly: true });
    try {
      expect((db.pragma('integrity_check') as { integrity_check: string }[])[0]!.integrity_check).toBe('ok');
    } finally {
      db.close();
    }
  }, 30_000);
});
