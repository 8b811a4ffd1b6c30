/**
 * The dock agent end to end, every part real: a simulated camera process on one end of a socat pty
 * pair, the `bwc dock` process on the other, the gateway with its embedded aedes broker,
 * enrollment through `bwc dock enroll`, and `bwc verify` on what the gateway stored.
 *
 * The shift: an authorized arrest with a mute (BWC-2024 trigger), an excluded activity with no
 * grant (UNAUTHORIZED, 1061.2 §4), a recording whose only purpose is First Amendment activity
 * (PROHIBITED), and a clip tagged late (PENDING_CLASSIFICATION, then AUTHORIZED). It must end with
 * every clip VERIFIED at the gateway, then RELEASED on the dock and freed by the camera — never
 * freed before the VERIFIED ack — and the right alerts at the gateway.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pb } from '../proto/wire.js';
import { openEnvelope } from '../proto/envelope.js';
import { parseGatewayConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { silentLogger } from '../gateway/api/http.js';
import { ptyPair, runBwcAsync, tempDir, until } from './helpers.js';
import { agencyTrust, exited, killAll, spawnBwc, OFFICER, type AgencyTrust } from './dock.fixtures.js';

const FLEET = 'e2e';
const DEVICE = 'dock-e2e-1';
const CAMERA = 'CAM-E2E-1';

const dir = tempDir('bwc-dock-e2e-');
let root: AgencyTrust['root'];
let trust: AgencyTrust['trust'];
let gw: RunningGateway;

beforeAll(async () => {
  const gwData = join(dir, 'gateway');
  ({ root, trust } = agencyTrust(dir, gwData, { fleet: FLEET, gatewayId: 'gw-e2e' }));
  gw = await startGateway({
    log: silentLogger,
    config: parseGatewayConfig({
      fleet: FLEET,
      gatewayId: 'gw-e2e',
      dataDir: gwData,
      http: { port: 0 },
      mqtt: { embedded: { port: 0 } },
      sweepIntervalMs: 500,
      trust,
    }),
  });
  await gw.fleet.assign(CAMERA, OFFICER, 'operator-1', 'operator');
}, 60_000);

afterAll(async () => {
  killAll();
  await gw?.stop();
});

describe('dock agent end to end over a pty, the embedded broker and the gateway', () => {
  const stateDir = join(dir, 'dock-state');
  const storage = join(dir, 'camera-storage');

  it('enrolls with a one-time token and the root fingerprint, and refuses a wrong fingerprint', async () => {
    const gatewayUrl = `http://127.0.0.1:${gw.httpPort}`;
    // A gateway whose root is not the one given out of band is not trusted: nothing is written.
    const other = await gw.fleet.createEnrollmentToken('dock-e2e-other', 'operator-1');
    const otherState = join(dir, 'other-state');
    const wrong = await runBwcAsync([
      'dock',
      'enroll',
      '--state-dir',
      otherState,
      '--gateway',
      gatewayUrl,
      '--token',
      other.token,
      '--device-id',
      'dock-e2e-other',
      '--root-fingerprint',
      'ab'.repeat(32),
    ]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/fingerprint/);
    expect(existsSync(join(otherState, 'enrollment.json'))).toBe(false);
    expect(existsSync(join(otherState, 'mqtt-password'))).toBe(false);
    const fresh = await gw.fleet.createEnrollmentToken(DEVICE, 'operator-1');
    const r = await runBwcAsync([
      'dock',
      'enroll',
      '--state-dir',
      stateDir,
      '--gateway',
      gatewayUrl,
      '--token',
      fresh.token,
      '--device-id',
      DEVICE,
      '--root-fingerprint',
      root.keyId,
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { deviceId: string; fleet: string; policyBundle: boolean };
    expect(out).toMatchObject({ deviceId: DEVICE, fleet: FLEET, policyBundle: true });
    const { statSync } = await import('node:fs');
    expect(statSync(join(stateDir, 'mqtt-password')).mode & 0o777).toBe(0o600);
    expect(statSync(join(stateDir, 'keys', 'device', 'private.pem')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(stateDir, 'enrollment.json'), 'utf8')).not.toContain(readFileSync(join(stateDir, 'mqtt-password'), 'utf8').trim());
  }, 60_000);

  it('runs a shift: every clip VERIFIED, then RELEASED and freed; the right alerts; bwc verify accepts each stored clip', async () => {
    mkdirSync(storage, { recursive: true });
    const pty = await ptyPair(dir, 'cam1');
    const config = join(dir, 'dock.yaml');
    writeFileSync(
      config,
      JSON.stringify({
        stateDir,
        link: { ports: [pty.dock] },
        storage: { mounts: { [CAMERA]: storage } },
        clock: { ntp: 'synced' },
        sync: { statusIntervalS: 2, ackTimeoutMs: 5000 },
        mqtt: { backoffMinMs: 100, backoffMaxMs: 2000 },
      }),
    );
    const scenario = join(dir, 'shift.yaml');
    writeFileSync(
      scenario,
      JSON.stringify({
        camera: { serial: CAMERA, model: 'SIM-1', firmware: 'sim-1.0.0' },
        steps: [
          { start: { clip: 'c1-arrest', trigger: 'holster', activity: 'at_large_arrest', preEventBufferS: 0 } },
          { mute: { clip: 'c1-arrest', reason: 'conversation with counsel' } },
          { unmute: { clip: 'c1-arrest' } },
          { stop: { clip: 'c1-arrest' } },
          { ready: { clip: 'c1-arrest', size: '3MiB' } },
          { start: { clip: 'c2-undercover', activity: 'undercover_operation', preEventBufferS: 0 } },
          { stop: { clip: 'c2-undercover' } },
          { ready: { clip: 'c2-undercover', size: 200000 } },
          { start: { clip: 'c3-protest', activity: 'first_amendment_activity', preEventBufferS: 0 } },
          { stop: { clip: 'c3-protest' } },
          { ready: { clip: 'c3-protest', size: 150000 } },
          { start: { clip: 'c4-late', preEventBufferS: 0 } },
          { wait: 200 },
          { tag: { clip: 'c4-late', activity: 'search_warrant' } },
          { stop: { clip: 'c4-late' } },
          { ready: { clip: 'c4-late', size: '1.5MiB' } },
        ],
      }),
    );
    const dock = spawnBwc(['dock', '--config', config], 'dock');
    const cam = spawnBwc(['sim', 'camera', '--port', pty.cam, '--storage', storage, '--scenario', scenario, '--until-released', '60', '--json'], 'camera');
    try {
      const camExit = await exited(cam, 90_000);
      expect(camExit, cam.output() + dock.output()).toBe(0);
      const camResult = JSON.parse(cam.stdoutText()) as {
        released: string[];
        releaseRefused: string[];
        alerts: { kind: number; clipId: string }[];
      };
      expect(camResult.released.sort()).toEqual(['c1-arrest', 'c2-undercover', 'c3-protest', 'c4-late']);
      expect(camResult.releaseRefused).toEqual([]);
      // The camera was alerted live for the unauthorized and prohibited activations, and asked to tag c4.
      const alerted = camResult.alerts.map((a) => `${a.clipId}:${pb.AlertKind[a.kind]}`);
      expect(alerted).toContain('c2-undercover:ALERT_KIND_UNAUTHORIZED');
      expect(alerted).toContain('c3-protest:ALERT_KIND_PROHIBITED');
      expect(alerted).toContain('c4-late:ALERT_KIND_PENDING_CLASSIFICATION');
      for (const c of ['c1-arrest', 'c2-undercover', 'c3-protest', 'c4-late']) expect(existsSync(join(storage, 'DCIM', `${c}.mp4`))).toBe(false);

      // The gateway: four manifests of this dock, each VERIFIED once, chained 1..4.
      const rows = await until(
        'four verified manifests',
        async () => {
          const r = await gw.db.all<{
            manifest_hash: string;
            clip_id: string;
            state: string;
            seq: number;
            clip_sha256: string;
            officer_id: string;
            decision: string | null;
          }>('SELECT manifest_hash, clip_id, state, seq, clip_sha256, officer_id, decision FROM manifests WHERE device_id = ? ORDER BY seq', [DEVICE]);
          return r.length === 4 && r.every((x) => x.state === 'VERIFIED') ? r : undefined;
        },
        30_000,
      );
      expect(rows.map((r) => Number(r.seq))).toEqual([1, 2, 3, 4]);
      const byClip = Object.fromEntries(rows.map((r) => [r.clip_id, r]));
      expect(byClip['c1-arrest']!.decision).toBe('AUTHORIZED');
      expect(byClip['c2-undercover']!.decision).toBe('UNAUTHORIZED');
      expect(byClip['c3-protest']!.decision).toBe('PROHIBITED');
      expect(byClip['c4-late']!.decision).toBe('AUTHORIZED');
      expect(rows.every((r) => r.officer_id === OFFICER)).toBe(true);

      // Alerts at the gateway: the unauthorized and the prohibited recording (1061.2 §4).
      const alerts = await until(
        'alerts',
        async () => {
          const a = await gw.db.all<{ kind: string; subject: string | null }>('SELECT kind, subject FROM alerts');
          return a.some((x) => x.kind === 'PROHIBITED_RECORDING') && a.some((x) => x.kind === 'UNAUTHORIZED_RECORDING') ? a : undefined;
        },
        15_000,
      );
      expect(alerts.find((a) => a.kind === 'PROHIBITED_RECORDING')!.subject).toBe('c3-protest');
      expect(alerts.find((a) => a.kind === 'UNAUTHORIZED_RECORDING')!.subject).toBe('c2-undercover');

      // The dock's custody table: all RELEASED, nothing pending, VERIFIED recorded before RELEASED.
      const status = await until(
        'dock status all RELEASED',
        async () => {
          const s = await runBwcAsync(['dock', 'status', '--state-dir', stateDir, '--json']);
          const j = JSON.parse(s.stdout) as { notVerified: number; clips: { clipId: string; state: string }[] };
          return j.clips.length === 4 && j.clips.every((c) => c.state === 'RELEASED') ? j : undefined;
        },
        20_000,
      );
      expect(status.notVerified).toBe(0);
      const { default: Database } = await import('better-sqlite3');
      const ddb = new Database(join(stateDir, 'dock.db'), { readonly: true });
      try {
        for (const c of ['c1-arrest', 'c2-undercover', 'c3-protest', 'c4-late']) {
          const states = (ddb.prepare('select state from clip_history where clip_id = ? order by id').all(c) as { state: string }[]).map((h) => h.state);
          const order = ['SIGNED', 'MANIFEST_ACKED', 'VERIFIED', 'RELEASED'].map((s) => states.indexOf(s));
          expect(
            order.every((i) => i >= 0),
            `${c}: ${states.join(' → ')}`,
          ).toBe(true);
          expect([...order].sort((a, b) => a - b)).toEqual(order);
        }
      } finally {
        ddb.close();
      }

      // An auditor's check of each stored clip: the blob from the clip store, the manifest from the gateway.
      const pub = join(stateDir, 'keys', 'device', 'public.pem');
      for (const r of rows) {
        const m = await gw.db.get<{ envelope: Buffer }>('SELECT envelope FROM manifests WHERE manifest_hash = ?', [r.manifest_hash]);
        const manifestFile = join(dir, `${r.clip_id}.manifest`);
        writeFileSync(manifestFile, m!.envelope);
        const blob = join(gw.config.dataDir, 'clips', 'blobs', r.clip_sha256.slice(0, 2), r.clip_sha256);
        const blobPath = existsSync(blob) ? blob : await findBlob(join(gw.config.dataDir, 'clips'), r.clip_sha256);
        const v = await runBwcAsync(['verify', blobPath, manifestFile, '--pubkey', pub, '--json']);
        expect(v.code, v.stdout + v.stderr).toBe(0);
        expect(JSON.parse(v.stdout)).toMatchObject({ content: 'AUTHENTIC' });
        expect(pb.ClipManifest.decode(openEnvelope(m!.envelope).body).clipId).toBe(r.clip_id);
      }
    } finally {
      dock.kill('SIGTERM');
      const code = await exited(dock, 15_000);
      expect(code, dock.output()).toBe(0);
    }
    // A clean stop published a clean Death: the gateway shows the dock offline.
    await until(
      'dock offline at the gateway',
      async () => {
        const d = await gw.db.get<{ online: number }>('SELECT online FROM devices WHERE device_id = ?', [DEVICE]);
        return d && Number(d.online) === 0 ? d : undefined;
      },
      10_000,
    );
  }, 150_000);
});

async function findBlob(root: string, sha: string): Promise<string> {
  const { readdirSync, statSync } = await import('node:fs');
  const walk = (d: string): string | null => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) {
        const hit = walk(p);
        if (hit) return hit;
      } else if (e === sha || e.startsWith(sha)) return p;
    }
    return null;
  };
  const hit = walk(root);
  if (!hit) throw new Error(`no blob ${sha} under ${root}`);
  return hit;
}
