/**
 * The dock agent's harder cases end to end (device/README.md), every part real: `bwc dock`
 * processes enrolled with `bwc dock enroll`, simulated cameras (`bwc sim camera`) on socat pty
 * pairs, and the gateway with its embedded aedes broker, in this process.
 *
 * - Several cameras on one dock, recording at the same time, even with the same clip id: every clip
 *   VERIFIED at the gateway in one gap-free manifest chain, then RELEASED, each camera freeing
 *   exactly its own bytes (DESIGN §3; 4007.1 §2: records reach the central repository before the
 *   device lets go of them) and alerted only for its own recordings (1061.2 §4).
 * - A decision never waits behind a big hash (DESIGN §3, device/README.md): camera B's UNAUTHORIZED
 *   recording of an excluded activity (BWC-2024:excluded-investigations) is decided and alerted
 *   while camera A's 1 GiB clip is still being hashed, shown by order, never by a time threshold.
 * - `bwc dock status` shows a transfer's progress while a large clip moves, and not afterwards.
 * - Commands that are not signed by a root-certified gateway key, or whose body was changed after
 *   signing, are refused, not applied, and reported to the gateway as SYNC_ERROR events; the dock
 *   keeps running, and a correctly signed command is applied (DESIGN §4 "Who signs what", §8).
 * - A camera that stops answering for a few seconds still gets its alerts and its ReleaseClip once it
 *   answers again (BWC-Link v1: nothing dropped): the dock reopens a link that went down, and the
 *   camera greets again.
 *
 * Order, not time: the tests hold a camera (a scenario `pause`, or SIGSTOP) where they need a known
 * order, and judge by the dock's committed history (clip_history ids) and what each side reports.
 */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { pb, type bwc } from '../proto/wire.js';
import { openEnvelope, sealEnvelope, envelopeSignatureValid } from '../proto/envelope.js';
import { trustPublicKey } from '../proto/ed25519.js';
import { deviceTopic, gatewayStateTopic } from '../proto/topics.js';
import { signGatewayCertificate } from '../proto/gateway-cert.js';
import { bundleFromSource, signPolicyObject } from '../proto/policy.js';
import { parseGatewayConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { GatewayMessenger } from '../gateway/messenger.js';
import { GATEWAY_MQTT_USER } from '../gateway/broker.js';
import { silentLogger } from '../gateway/api/http.js';
import { signerFromSeed } from '../device/custody/keys.js';
import { ptyPair, pseudoRandomBytes, runBwcAsync, tempDir, until } from './helpers.js';
import { agencyTrust, exited, killAll, spawnBwc, OFFICER, type AgencyTrust, type BwcProcess } from './dock.fixtures.js';

const FLEET = 'cases';
const GATEWAY_ID = 'gw-cases';
const DOCK_MULTI = 'dock-cases-multi';
const DOCK_BIG = 'dock-cases-big';
const DOCK_CMD = 'dock-cases-cmd';
const CAMS_MULTI = ['CAM-MC-1', 'CAM-MC-2', 'CAM-MC-3'] as const;
const CAM_A = 'CAM-BIG-A';
const CAM_B = 'CAM-BIG-B';
const CAM_CMD = 'CAM-CMD-1';
const DOCK_STALL = 'dock-cases-stall';
const CAM_STALL = 'CAM-STALL-1';
const GiB = 1024 ** 3;

const dir = tempDir('bwc-dock-cases-');
let agency: AgencyTrust;
let gw: RunningGateway;
const stateDirs: Record<string, string> = {};

beforeAll(async () => {
  const gwData = join(dir, 'gateway');
  agency = agencyTrust(dir, gwData, { fleet: FLEET, gatewayId: GATEWAY_ID });
  gw = await startGateway({
    log: silentLogger,
    config: parseGatewayConfig({
      fleet: FLEET,
      gatewayId: GATEWAY_ID,
      dataDir: gwData,
      http: { port: 0 },
      mqtt: { embedded: { port: 0 } },
      sweepIntervalMs: 500,
      trust: agency.trust,
    }),
  });
  for (const cam of [...CAMS_MULTI, CAM_A, CAM_B, CAM_CMD, CAM_STALL]) await gw.fleet.assign(cam, OFFICER, 'operator-1', 'operator');
  const gatewayUrl = `http://127.0.0.1:${gw.httpPort}`;
  await Promise.all(
    [DOCK_MULTI, DOCK_BIG, DOCK_CMD, DOCK_STALL].map(async (deviceId) => {
      const { token } = await gw.fleet.createEnrollmentToken(deviceId, 'operator-1');
      const stateDir = join(dir, `${deviceId}-state`);
      const r = await runBwcAsync([
        'dock',
        'enroll',
        '--state-dir',
        stateDir,
        '--gateway',
        gatewayUrl,
        '--token',
        token,
        '--device-id',
        deviceId,
        '--root-fingerprint',
        agency.root.keyId,
      ]);
      if (r.code !== 0) throw new Error(`enroll ${deviceId} failed: ${r.stderr}`);
      stateDirs[deviceId] = stateDir;
    }),
  );
}, 60_000);

afterAll(async () => {
  killAll();
  await gw?.stop();
});

// ── helpers ───────────────────────────────────────────────────────────────────────────────────

/** Reads the running dock's database (WAL: a reader never blocks the agent). */
function dockDb<T>(deviceId: string, fn: (db: Database.Database) => T, file = 'dock.db'): T {
  const db = new Database(join(stateDirs[deviceId]!, file), { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

interface ClipState {
  state: string;
  path: string | null;
  facts: string;
}
function dockClip(deviceId: string, serial: string, clipId: string): ClipState | undefined {
  return dockDb(
    deviceId,
    (db) => db.prepare('select state, path, facts from clips where camera_serial = ? and clip_id = ?').get(serial, clipId) as ClipState | undefined,
  );
}

interface HistoryRow {
  id: number;
  camera_serial: string;
  clip_id: string;
  state: string;
  detail: string | null;
}
function dockHistory(deviceId: string): HistoryRow[] {
  return dockDb(deviceId, (db) => db.prepare('select id, camera_serial, clip_id, state, detail from clip_history order by id').all() as HistoryRow[]);
}

interface StatusJson {
  deviceId: string;
  notVerified: number;
  progress: { transfers?: { cameraSerial: string; clipId: string; phase: string; doneBytes: number; totalBytes: number }[] } | null;
  clips: { cameraSerial: string; clipId: string; state: string; bytes: number | null; sha256: string | null; manifestSeq: number | null }[];
}
async function dockStatus(deviceId: string): Promise<StatusJson> {
  const r = await runBwcAsync(['dock', 'status', '--state-dir', stateDirs[deviceId]!, '--json']);
  if (r.code !== 0) throw new Error(`bwc dock status: ${r.code} ${r.stderr}`);
  return JSON.parse(r.stdout) as StatusJson;
}

function writeDockConfig(deviceId: string, ports: string[], mounts: Record<string, string>): string {
  const file = join(dir, `${deviceId}.yaml`);
  writeFileSync(
    file,
    JSON.stringify({
      stateDir: stateDirs[deviceId],
      link: { ports },
      storage: { mounts },
      clock: { ntp: 'synced' },
      sync: { statusIntervalS: 2, ackTimeoutMs: 5000 },
      mqtt: { backoffMinMs: 100, backoffMaxMs: 2000 },
    }),
  );
  return file;
}

function writeScenario(name: string, scenario: object): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(scenario));
  return file;
}

interface SimJson {
  released: string[];
  releaseRefused: string[];
  alerts: { kind: number; clipId: string }[];
  unacked: number;
}
function simResult(p: BwcProcess): SimJson {
  return JSON.parse(p.stdoutText()) as SimJson;
}

/** The dock's events as the gateway stored them (messages table), decoded, in the dock's seq order. */
async function gatewayEvents(deviceId: string): Promise<{ seq: number; event: bwc.v1.Event }[]> {
  const rows = await gw.db.all<{ envelope: Buffer; seq: number }>(`SELECT envelope, seq FROM messages WHERE device_id = ? AND type = 'Event' ORDER BY seq`, [
    deviceId,
  ]);
  return rows.map((r) => ({ seq: Number(r.seq), event: pb.Event.decode(openEnvelope(r.envelope).body) }));
}

async function syncErrors(deviceId: string): Promise<{ seq: number; detail: string }[]> {
  return (await gatewayEvents(deviceId))
    .filter((e) => e.event.kind === pb.EventKind.EVENT_KIND_ALERT && e.event.alert === pb.AlertKind.ALERT_KIND_SYNC_ERROR)
    .map((e) => ({ seq: e.seq, detail: e.event.detail }));
}

/** The last camera eventNo the dock applied for a camera (0 before its first event). */
function lastEventNo(deviceId: string, serial: string): number {
  return dockDb(deviceId, (db) => (db.prepare('select last from event_nos where camera_serial = ?').get(serial) as { last: number } | undefined)?.last ?? 0);
}

function running(p: BwcProcess): boolean {
  return p.exitCode === null && p.signalCode === null;
}

async function stopDock(dock: BwcProcess): Promise<void> {
  if (!running(dock)) return;
  dock.kill('SIGTERM');
  const code = await exited(dock, 30_000);
  expect(code, dock.output()).toBe(0);
}

// ── 1. several cameras on one dock ────────────────────────────────────────────────────────────

describe('several cameras on one dock at once', () => {
  it('records on three cameras concurrently (one clip id shared by all three): every clip VERIFIED in one gap-free chain, RELEASED, each camera freeing only its own', async () => {
    const ptys = await Promise.all(CAMS_MULTI.map((_, i) => ptyPair(dir, `mc${i + 1}`)));
    const storage = Object.fromEntries(CAMS_MULTI.map((c) => [c, join(dir, `storage-${c}`)]));
    for (const s of Object.values(storage)) mkdirSync(s, { recursive: true });
    const config = writeDockConfig(
      DOCK_MULTI,
      ptys.map((p) => p.dock),
      storage,
    );
    // Long first recordings so the three cameras are recording at once; starts and stops interleave.
    const scenarios: Record<string, object[]> = {
      'CAM-MC-1': [
        { start: { clip: 'clip-0001', trigger: 'holster', activity: 'at_large_arrest', preEventBufferS: 0 } },
        { wait: 2500 },
        { stop: { clip: 'clip-0001' } },
        { ready: { clip: 'clip-0001', size: '2MiB' } },
        { start: { clip: 'mc1-warrant', activity: 'search_warrant', preEventBufferS: 0 } },
        { wait: 300 },
        { stop: { clip: 'mc1-warrant' } },
        { ready: { clip: 'mc1-warrant', size: '1.5MiB' } },
      ],
      'CAM-MC-2': [
        { wait: 400 },
        // Excluded investigative activity with no grant: UNAUTHORIZED (BWC-2024:excluded-investigations, 1061.2 §4).
        { start: { clip: 'clip-0001', activity: 'undercover_operation', preEventBufferS: 0 } },
        { wait: 2500 },
        { stop: { clip: 'clip-0001' } },
        { start: { clip: 'mc2-late', preEventBufferS: 0 } },
        { wait: 200 },
        { tag: { clip: 'mc2-late', activity: 'search_warrant' } },
        { ready: { clip: 'clip-0001', size: 700_000 } },
        { stop: { clip: 'mc2-late' } },
        { ready: { clip: 'mc2-late', size: '3MiB' } },
      ],
      'CAM-MC-3': [
        // First Amendment activity as the sole purpose: PROHIBITED (BWC-2024:first-amendment).
        { start: { clip: 'mc3-protest', activity: 'first_amendment_activity', preEventBufferS: 0 } },
        { wait: 1500 },
        { stop: { clip: 'mc3-protest' } },
        { ready: { clip: 'mc3-protest', size: 300_000 } },
        { start: { clip: 'clip-0001', trigger: 'vehicle', activity: 'at_large_arrest', preEventBufferS: 0 } },
        { mute: { clip: 'clip-0001', reason: 'conversation with counsel' } },
        { unmute: { clip: 'clip-0001' } },
        { wait: 1500 },
        { stop: { clip: 'clip-0001' } },
        { ready: { clip: 'clip-0001', size: '1MiB' } },
      ],
    };
    const expectedClips: Record<string, string[]> = {
      'CAM-MC-1': ['clip-0001', 'mc1-warrant'],
      'CAM-MC-2': ['clip-0001', 'mc2-late'],
      'CAM-MC-3': ['clip-0001', 'mc3-protest'],
    };
    const expectedDecision = (cam: string, clip: string) =>
      cam === 'CAM-MC-2' && clip === 'clip-0001' ? 'UNAUTHORIZED' : cam === 'CAM-MC-3' && clip === 'mc3-protest' ? 'PROHIBITED' : 'AUTHORIZED';
    const total = Object.values(expectedClips).flat().length;

    const dock = spawnBwc(['dock', '--config', config], 'dock multi');
    const cams = CAMS_MULTI.map((cam, i) =>
      spawnBwc(
        [
          'sim',
          'camera',
          '--port',
          ptys[i]!.cam,
          '--storage',
          storage[cam]!,
          '--scenario',
          writeScenario(`multi-${cam}`, { camera: { serial: cam }, steps: scenarios[cam] }),
          '--until-released',
          '90',
          '--json',
        ],
        cam,
      ),
    );
    const outputs = () => cams.map((c) => c.output()).join('\n') + dock.output();
    try {
      const codes = await Promise.all(cams.map((c) => exited(c, 120_000)));
      expect(codes, outputs()).toEqual([0, 0, 0]);

      // Each camera freed exactly its own clips (the sim frees only bytes whose SHA-256 and length match
      // its own file), and was alerted only for its own recordings, though all three have a clip-0001.
      for (const [i, cam] of CAMS_MULTI.entries()) {
        const r = simResult(cams[i]!);
        expect(r.released.sort(), `${cam}\n${outputs()}`).toEqual(expectedClips[cam]);
        expect(r.releaseRefused, cam).toEqual([]);
        const alerted = r.alerts.map((a) => `${a.clipId}:${pb.AlertKind[a.kind]}`);
        // A decision is taken again at the stop, so an alert may come twice; what matters is which clips.
        const serious = [...new Set(alerted.filter((a) => /UNAUTHORIZED|PROHIBITED/.test(a)))].sort();
        expect(serious, cam).toEqual(
          cam === 'CAM-MC-2' ? ['clip-0001:ALERT_KIND_UNAUTHORIZED'] : cam === 'CAM-MC-3' ? ['mc3-protest:ALERT_KIND_PROHIBITED'] : [],
        );
        for (const clip of expectedClips[cam]!) expect(existsSync(join(storage[cam]!, 'DCIM', `${clip}.mp4`)), `${cam}/${clip}`).toBe(false);
      }

      // The gateway: one manifest per (camera, clip), all VERIFIED, chained 1..N with no gap and no fork.
      const rows = await until(
        'every manifest VERIFIED at the gateway',
        async () => {
          const r = await gw.db.all<{
            manifest_hash: string;
            prev_hash: string;
            seq: number;
            camera_serial: string;
            clip_id: string;
            state: string;
            clip_sha256: string;
            byte_length: number;
            decision: string | null;
          }>(
            'SELECT manifest_hash, prev_hash, seq, camera_serial, clip_id, state, clip_sha256, byte_length, decision FROM manifests WHERE device_id = ? ORDER BY seq',
            [DOCK_MULTI],
          );
          return r.length === total && r.every((x) => x.state === 'VERIFIED') ? r : undefined;
        },
        30_000,
      );
      expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      expect(rows[0]!.prev_hash).toBe('');
      for (let i = 1; i < rows.length; i++) expect(rows[i]!.prev_hash, `seq ${i + 1}`).toBe(rows[i - 1]!.manifest_hash);
      const keyOf = (cam: string, clip: string) => `${cam}/${clip}`;
      expect(rows.map((r) => keyOf(r.camera_serial, r.clip_id)).sort()).toEqual(
        Object.entries(expectedClips)
          .flatMap(([cam, clips]) => clips.map((c) => keyOf(cam, c)))
          .sort(),
      );
      for (const r of rows) expect(r.decision, keyOf(r.camera_serial, r.clip_id)).toBe(expectedDecision(r.camera_serial, r.clip_id));
      expect(new Set(rows.map((r) => r.clip_sha256)).size).toBe(total);
      const chainAlerts = await gw.db.all<{ kind: string }>(
        `SELECT kind FROM alerts WHERE device_id = ? AND kind IN ('CHAIN_GAP', 'CHAIN_FORK', 'SEQ_REUSED', 'BAD_SIGNATURE', 'ID_MISMATCH')`,
        [DOCK_MULTI],
      );
      expect(chainAlerts).toEqual([]);
      const byKey = new Map(rows.map((r) => [keyOf(r.camera_serial, r.clip_id), r]));

      // Supervisor alerts name the right camera and clip, and only those (1061.2 §4).
      const alerts = await until(
        'recording alerts at the gateway',
        async () => {
          const a = await gw.db.all<{ kind: string; camera_serial: string | null; subject: string | null }>(
            `SELECT kind, camera_serial, subject FROM alerts WHERE device_id = ? AND kind IN ('UNAUTHORIZED_RECORDING', 'PROHIBITED_RECORDING')`,
            [DOCK_MULTI],
          );
          return a.length >= 2 ? a : undefined;
        },
        15_000,
      );
      expect(alerts.map((a) => `${a.kind} ${a.camera_serial}/${a.subject}`).sort()).toEqual([
        'PROHIBITED_RECORDING CAM-MC-3/mc3-protest',
        'UNAUTHORIZED_RECORDING CAM-MC-2/clip-0001',
      ]);

      // The dock: every clip RELEASED, each with the SHA-256 and chain seq the gateway verified for that camera's clip.
      const status = await until(
        'every clip RELEASED on the dock',
        async () => {
          const s = await dockStatus(DOCK_MULTI);
          return s.clips.length === total && s.clips.every((c) => c.state === 'RELEASED') ? s : undefined;
        },
        20_000,
      );
      expect(status.notVerified).toBe(0);
      for (const c of status.clips) {
        const g = byKey.get(keyOf(c.cameraSerial, c.clipId));
        expect(g, keyOf(c.cameraSerial, c.clipId)).toBeDefined();
        expect([c.sha256, c.manifestSeq, c.bytes], keyOf(c.cameraSerial, c.clipId)).toEqual([g!.clip_sha256, Number(g!.seq), Number(g!.byte_length)]);
      }
      // The cameras' release confirmations reached the gateway, each naming its own camera's verified bytes.
      const released = await until(
        'CLIP_RELEASED events at the gateway',
        async () => {
          const ev = (await gatewayEvents(DOCK_MULTI)).filter((e) => e.event.kind === pb.EventKind.EVENT_KIND_CLIP_RELEASED);
          return ev.length >= total ? ev : undefined;
        },
        15_000,
      );
      expect(released.map((e) => `${keyOf(e.event.cameraSerial, e.event.clipId)} ${Buffer.from(e.event.clipSha256).toString('hex')}`).sort()).toEqual(
        [...byKey.entries()].map(([k, r]) => `${k} ${r.clip_sha256}`).sort(),
      );

      // Custody order per clip, and proof the cameras really recorded at the same time: some clip of one
      // camera started before a clip of another camera had stopped, and vice versa.
      const history = dockHistory(DOCK_MULTI);
      const span = new Map<string, { rec: number; closed: number }>();
      for (const [k] of byKey) {
        const h = history.filter((x) => keyOf(x.camera_serial, x.clip_id) === k);
        const states = h.map((x) => x.state);
        const order = ['RECORDING', 'CLOSED', 'SIGNED', 'MANIFEST_ACKED', 'VERIFIED', 'RELEASED'].map((s) => states.indexOf(s));
        expect(
          order.every((i) => i >= 0),
          `${k}: ${states.join(' → ')}`,
        ).toBe(true);
        expect(
          [...order].sort((a, b) => a - b),
          `${k}: ${states.join(' → ')}`,
        ).toEqual(order);
        expect(
          states.filter((s) => s === 'VERIFIED'),
          k,
        ).toHaveLength(1);
        span.set(k, { rec: h.find((x) => x.state === 'RECORDING')!.id, closed: h.find((x) => x.state === 'CLOSED')!.id });
      }
      const overlapping = [...span.entries()].some(([k1, a]) =>
        [...span.entries()].some(([k2, b]) => k1.split('/')[0] !== k2.split('/')[0] && a.rec < b.closed && b.rec < a.closed),
      );
      expect(overlapping, 'no two cameras were recording at the same time: the test did not exercise concurrency').toBe(true);
      expect(running(dock), dock.output()).toBe(true);
    } finally {
      await stopDock(dock);
      for (const p of ptys) await p.kill();
    }
  }, 150_000);
});

// ── 2. a decision never waits behind a big hash; 4. progress in bwc dock status ─────────────────

describe('a big clip on camera A and an excluded activity on camera B, on one dock', () => {
  const storageA = join(dir, 'storage-big-a');
  const storageB = join(dir, 'storage-big-b');
  const BIG = 1 * GiB;
  let dock: BwcProcess;
  let camA: BwcProcess;
  let camB: BwcProcess;

  it("decides and alerts camera B while camera A's 1 GiB clip is still being hashed (shown by order)", async () => {
    mkdirSync(storageA, { recursive: true });
    mkdirSync(storageB, { recursive: true });
    const [ptyA, ptyB] = [await ptyPair(dir, 'biga'), await ptyPair(dir, 'bigb')];
    const config = writeDockConfig(DOCK_BIG, [ptyA.dock, ptyB.dock], { [CAM_A]: storageA, [CAM_B]: storageB });
    const scenarioA = writeScenario('big-a', {
      camera: { serial: CAM_A },
      steps: [
        { start: { clip: 'a-big', trigger: 'holster', activity: 'at_large_arrest', preEventBufferS: 0 } },
        { stop: { clip: 'a-big' } },
        // The simulator writes the clip synchronously and answers nothing meanwhile: let it ack the dock's
        // TimeSync first, or a slow write leaves the dock's link to A down for good (the stalled-camera test).
        { wait: 500 },
        { ready: { clip: 'a-big', size: BIG } },
      ],
    });
    const scenarioB = writeScenario('big-b', {
      camera: { serial: CAM_B },
      steps: [
        { status: { docked: true } },
        // Camera B pauses here, still linked, and goes on (SIGUSR2) once camera A's ClipReady is applied.
        { pause: true },
        { start: { clip: 'b-excluded', activity: 'undercover_operation', preEventBufferS: 0 } },
        { stop: { clip: 'b-excluded' } },
        { ready: { clip: 'b-excluded', size: 100_000 } },
      ],
    });
    dock = spawnBwc(['dock', '--config', config], 'dock big');
    camB = spawnBwc(['sim', 'camera', '--port', ptyB.cam, '--storage', storageB, '--scenario', scenarioB, '--until-released', '150', '--json'], CAM_B);
    const outputs = () => [camA?.output() ?? '', camB.output(), dock.output()].join('\n');

    // 1. Camera B linked (its status applied), then paused before its recording starts.
    await until('camera B linked', () => lastEventNo(DOCK_BIG, CAM_B) >= 1, 30_000);
    await until('camera B paused', () => /paused until told to go on/.test(camB.output()), 20_000);
    expect(dockClip(DOCK_BIG, CAM_B, 'b-excluded'), 'camera B recording before its pause (set-up, not the dock)').toBeUndefined();

    // 2. Camera A readies its 1 GiB clip; once the dock has applied the ClipReady (hashing has begun), B goes on.
    camA = spawnBwc(['sim', 'camera', '--port', ptyA.cam, '--storage', storageA, '--scenario', scenarioA, '--until-released', '150', '--json'], CAM_A);
    await until(
      "camera A's ClipReady applied",
      () => {
        const a = dockClip(DOCK_BIG, CAM_A, 'a-big');
        return a && a.path !== null && a.state !== 'RECORDING' ? a : undefined;
      },
      60_000,
    );
    const atRelease = dockClip(DOCK_BIG, CAM_A, 'a-big')!.state;
    expect(atRelease, "camera A's clip was hashed before camera B could be let go (set-up, not the dock)").toBe('CLOSED');

    // 3. The moment camera B reports the UNAUTHORIZED alert, look at camera A's clip.
    let seenAtAlert: { state: string; history: string[] } | null = null;
    const onData = () => {
      if (seenAtAlert || !/alert ALERT_KIND_UNAUTHORIZED b-excluded/.test(camB.output())) return;
      seenAtAlert = {
        state: dockClip(DOCK_BIG, CAM_A, 'a-big')!.state,
        history: dockHistory(DOCK_BIG)
          .filter((h) => h.camera_serial === CAM_A)
          .map((h) => h.state),
      };
    };
    camB.stderr!.on('data', onData);
    camB.kill('SIGUSR2'); // B goes on: it records at once
    const atAlert = await until('camera B alerted UNAUTHORIZED', () => seenAtAlert ?? undefined, 60_000);
    camB.stderr!.off('data', onData);
    // Camera A's clip had not reached HASHED when B's alert arrived (states only move forward, so it had
    // not then either).
    expect(atAlert.state, outputs()).toBe('CLOSED');
    expect(atAlert.history).not.toContain('HASHED');

    // 4. The dock's own record, in the order it committed: A ready → B started and decided → A HASHED.
    const history = await until(
      "camera A's clip HASHED",
      () => {
        const h = dockHistory(DOCK_BIG);
        return h.some((x) => x.camera_serial === CAM_A && x.state === 'HASHED') ? h : undefined;
      },
      120_000,
    );
    const aReady = history.find((x) => x.camera_serial === CAM_A && x.state === 'CLOSED' && /^ready:/.test(x.detail ?? ''));
    const aHashed = history.find((x) => x.camera_serial === CAM_A && x.state === 'HASHED')!;
    const bStarted = history.find((x) => x.camera_serial === CAM_B && x.clip_id === 'b-excluded' && x.state === 'RECORDING');
    expect(aReady, history.map((h) => `${h.id} ${h.camera_serial}/${h.clip_id} ${h.state}`).join('\n')).toBeDefined();
    expect(bStarted).toBeDefined();
    expect(aReady!.id).toBeLessThan(bStarted!.id);
    expect(bStarted!.id).toBeLessThan(aHashed.id);
    // The decision taken in that transaction: UNAUTHORIZED, for the excluded activity.
    const bFacts = JSON.parse(dockClip(DOCK_BIG, CAM_B, 'b-excluded')!.facts) as {
      decision: { decision: string; reasons: string[] } | null;
    };
    expect(bFacts.decision?.decision).toBe('UNAUTHORIZED');
    expect(bFacts.decision?.reasons).toContain('EXCLUDED_ACTIVITY');
    // And it reached the gateway: the decision event and the supervisor alert (1061.2 §4).
    await until(
      'UNAUTHORIZED_RECORDING alert for camera B at the gateway',
      async () => {
        const a = await gw.db.get<{ n: number }>(
          `SELECT COUNT(*) AS n FROM alerts WHERE device_id = ? AND kind = 'UNAUTHORIZED_RECORDING' AND camera_serial = ? AND subject = 'b-excluded'`,
          [DOCK_BIG, CAM_B],
        );
        return Number(a?.n ?? 0) === 1;
      },
      20_000,
    );
  }, 180_000);

  it("shows the big clip's transfer in `bwc dock status` (JSON and text) with doneBytes growing toward totalBytes, and not once it is done", async () => {
    expect(dock, 'the previous test did not start the dock').toBeDefined();
    type Transfer = { phase: string; doneBytes: number; totalBytes: number };
    const samples: Transfer[] = [];
    const textLines: string[] = [];
    let done: StatusJson | undefined;
    // Poll both forms until the clip is VERIFIED at the gateway (or later).
    while (!done) {
      if (!running(dock)) throw new Error(`the dock exited\n${dock.output()}`);
      const s = await dockStatus(DOCK_BIG);
      const a = s.clips.find((c) => c.cameraSerial === CAM_A && c.clipId === 'a-big');
      if (a && (a.state === 'VERIFIED' || a.state === 'RELEASED')) {
        done = s;
        break;
      }
      const t = s.progress?.transfers?.find((x) => x.cameraSerial === CAM_A && x.clipId === 'a-big');
      if (t) samples.push({ phase: t.phase, doneBytes: t.doneBytes, totalBytes: t.totalBytes });
      const text = await runBwcAsync(['dock', 'status', '--state-dir', stateDirs[DOCK_BIG]!]);
      expect(text.code, text.stderr).toBe(0);
      const line = text.stdout.split('\n').find((l) => l.includes(`${CAM_A}/a-big:`));
      if (line) textLines.push(line);
      if (samples.length > 400) throw new Error('the transfer never finished');
    }
    const seen = samples.map((s) => `${s.phase} ${s.doneBytes}/${s.totalBytes}`).join(', ');
    expect(samples.length, `transfers seen: ${seen}`).toBeGreaterThanOrEqual(2);
    for (const s of samples) {
      expect(['hash', 'upload']).toContain(s.phase);
      expect(s.totalBytes).toBe(BIG);
      expect(s.doneBytes).toBeGreaterThanOrEqual(0);
      expect(s.doneBytes).toBeLessThanOrEqual(s.totalBytes);
    }
    // Growing: within one phase, a later sample shows more bytes done than an earlier one, short of the total.
    const grew = samples.some((a, i) => samples.slice(i + 1).some((b) => b.phase === a.phase && b.doneBytes > a.doneBytes && a.doneBytes < a.totalBytes));
    expect(grew, `transfers seen: ${seen}`).toBe(true);
    // The text form shows the same transfer, e.g. "  upload CAM-BIG-A/a-big: 312.0 MiB of 1.00 GiB".
    expect(textLines.length, 'the text form never showed the transfer').toBeGreaterThan(0);
    for (const l of textLines) expect(l).toMatch(new RegExp(`^\\s+(hash|upload) ${CAM_A}/a-big: [\\d.]+ (B|KiB|MiB|GiB) of 1\\.00 GiB$`));

    // Afterwards the transfer is gone from both forms.
    await until(
      'the transfer gone from bwc dock status',
      async () => {
        const s = await dockStatus(DOCK_BIG);
        return s.progress !== null && !(s.progress.transfers ?? []).some((x) => x.cameraSerial === CAM_A) ? s : undefined;
      },
      20_000,
    );
    const text = await runBwcAsync(['dock', 'status', '--state-dir', stateDirs[DOCK_BIG]!]);
    expect(text.stdout).not.toMatch(new RegExp(`(hash|upload) ${CAM_A}/a-big:`));
    expect(text.stdout).toMatch(new RegExp(`${CAM_A}\\s+a-big\\s+(VERIFIED|RELEASED)\\s+1\\.00 GiB`));

    // Both cameras end with their clip released (camera A's 1 GiB is freed from its storage).
    const [codeA, codeB] = await Promise.all([exited(camA, 150_000), exited(camB, 150_000)]);
    expect([codeA, codeB], camA.output() + camB.output() + dock.output()).toEqual([0, 0]);
    expect(simResult(camA).released).toEqual(['a-big']);
    expect(simResult(camB).released).toEqual(['b-excluded']);
    expect(simResult(camB).alerts.map((a) => `${a.clipId}:${pb.AlertKind[a.kind]}`)).toContain('b-excluded:ALERT_KIND_UNAUTHORIZED');
    expect(existsSync(join(storageA, 'DCIM', 'a-big.mp4'))).toBe(false);
    await stopDock(dock);
  }, 240_000);

  afterAll(async () => {
    if (dock && running(dock)) dock.kill('SIGKILL');
  });
});

// ── 3. unsigned or wrongly signed commands ────────────────────────────────────────────────────

describe('commands that are not signed by a root-certified gateway key', () => {
  it('are refused, not applied and reported in aggregate as SYNC_ERROR at the gateway; the dock keeps running and applies a correctly signed command', async () => {
    const config = writeDockConfig(DOCK_CMD, [], {});
    const dock = spawnBwc(['dock', '--config', config], 'dock cmd');
    const messenger = new GatewayMessenger({ db: gw.db, signer: gw.signer, gatewayId: GATEWAY_ID, fleet: FLEET });
    const topic = deviceTopic(FLEET, DOCK_CMD, 'cmd');
    const forger = await mqtt.connectAsync(gw.mqttUrl, {
      username: GATEWAY_MQTT_USER,
      password: gw.gatewaySecret,
      clientId: 'cases-forger',
      protocolVersion: 4,
    });
    const rogueTopic = gatewayStateTopic(FLEET, 'gw-rogue');
    try {
      // Connected, born, and brought up to date (bundle v3 and camera assignments, both applied by command id).
      await until(
        'dock online with its Birth commands applied',
        async () => {
          const d = await gw.db.get<{ online: number; policy_version: number }>('SELECT online, policy_version FROM devices WHERE device_id = ?', [DOCK_CMD]);
          const applied = dockDb(DOCK_CMD, (db) => (db.prepare('select count(*) as n from commands').get() as { n: number }).n);
          return d && Number(d.online) === 1 && applied >= 2 ? d : undefined;
        },
        30_000,
      );

      const now = Date.now();
      const header = (seq: number, subject = DOCK_CMD) => ({
        issuer: GATEWAY_ID,
        subjectDevice: subject,
        fleet: FLEET,
        seq,
        createdAtMs: Date.now(),
      });
      const assignment = (officerId: string) => ({
        cameraSerial: CAM_CMD,
        officerId,
        fromMs: now - 60_000,
        toMs: 0,
        assignedBy: 'operator-1',
      });
      const assignmentsBody = (commandId: string, officerId: string, seq: number) =>
        pb.Command.encode({
          commandId,
          header: header(seq),
          cameraAssignments: { header: header(seq), assignments: [assignment(officerId)] },
        }).finish();
      // Bundle v4, properly root-signed: only the command around it decides whether it may enter.
      const bundleV4 = signPolicyObject(
        'PolicyBundle',
        bundleFromSource({
          version: 4,
          issuedAt: new Date(now - 3600_000).toISOString(),
          expiresAt: new Date(now + 30 * 86_400_000).toISOString(),
          triggers: ['at_large_arrest', 'search_warrant', 'public_interaction'],
          excludedActivities: ['undercover_operation'],
          prohibitedPurposes: ['first_amendment_activity'],
          officersIssued: [OFFICER],
        }),
        agency.root,
      ).bytes;

      const freshKey = signerFromSeed(pseudoRandomBytes(32, 7001));
      const rogueRoot = signerFromSeed(pseudoRandomBytes(32, 7002));
      const rogueGw = signerFromSeed(pseudoRandomBytes(32, 7003));
      const rogueCert = signGatewayCertificate(
        { gatewayId: 'gw-rogue', fleet: FLEET, publicKey: rogueGw.publicKey, notBeforeMs: now - 3600_000, notAfterMs: now + 86_400_000 },
        rogueRoot,
      );

      // (d): signed by the certified gateway key, then one officer id changed in the body.
      const signed = await messenger.sealCameraAssignments([assignment('O-SIGNED-D')], DOCK_CMD);
      const signedEnv = openEnvelope(signed);
      expect(envelopeSignatureValid(signedEnv, trustPublicKey(gw.signer.publicKey))).toBe(true);
      const tamperedBody = Buffer.from(signedEnv.body);
      const at = tamperedBody.indexOf('O-SIGNED-D');
      expect(at).toBeGreaterThan(0);
      tamperedBody.write('O-FORGED-D', at);
      const tampered = pb.Envelope.encode({
        type: signedEnv.type,
        body: tamperedBody,
        keyId: signedEnv.keyId,
        sig: signedEnv.sig,
      }).finish();

      // (f): a correctly signed command carrying a bundle the agency root did not sign (the inner layer).
      const unrootedBundle = signPolicyObject(
        'PolicyBundle',
        bundleFromSource({
          version: 5,
          issuedAt: new Date(now - 60_000).toISOString(),
          expiresAt: new Date(now + 30 * 86_400_000).toISOString(),
          triggers: ['at_large_arrest', 'undercover_operation'],
          officersIssued: [OFFICER],
        }),
        freshKey,
      ).bytes;

      const cases: {
        name: string;
        payload: Uint8Array;
        before?: () => Promise<void>;
        reason: RegExp;
        recorded?: { id: string; outcome: RegExp };
      }[] = [
        { name: '(a) garbage bytes', payload: pseudoRandomBytes(300, 7004), reason: /^command refused: / },
        {
          name: '(b) a Command with no signature',
          reason: /^command refused: Command is not signed/,
          payload: pb.Envelope.encode({ type: 'Command', body: assignmentsBody('forged-b', 'O-FORGED-B', 900_001) }).finish(),
        },
        {
          name: '(b2) a Command naming the gateway key, with an empty signature',
          reason: /^command refused: .*signature does not verify/,
          payload: pb.Envelope.encode({
            type: 'Command',
            body: assignmentsBody('forged-b2', 'O-FORGED-B2', 900_002),
            keyId: gw.signer.keyId,
          }).finish(),
        },
        {
          name: '(c) a Command signed by a fresh key',
          reason: /^command refused: Command signed by key [0-9a-f]{16}…, which no root-certified gateway/,
          payload: sealEnvelope('Command', assignmentsBody('forged-c', 'O-FORGED-C', 900_003), freshKey).bytes,
        },
        {
          name: '(c2) a root-signed bundle v4 in a Command signed by a fresh key',
          reason: /^command refused: Command signed by key [0-9a-f]{16}…, which no root-certified gateway/,
          payload: sealEnvelope('Command', pb.Command.encode({ commandId: 'forged-c2', header: header(900_004), policyBundle: bundleV4 }).finish(), freshKey)
            .bytes,
        },
        {
          name: '(c3) a Command signed by a gateway key another root certified, announced in a retained presence',
          reason: /^command refused: Command signed by key [0-9a-f]{16}…, which no root-certified gateway/,
          before: async () => {
            await forger.publishAsync(
              rogueTopic,
              JSON.stringify({ gatewayId: 'gw-rogue', online: true, certificate: Buffer.from(rogueCert).toString('base64') }),
              { qos: 1, retain: true },
            );
          },
          payload: sealEnvelope('Command', assignmentsBody('forged-c3', 'O-FORGED-C3', 900_005), rogueGw).bytes,
        },
        {
          name: '(d) a signed Command whose body was changed',
          reason: /^command refused: Command signature does not verify/,
          payload: tampered,
        },
        {
          name: '(e) a signed Command addressed to another dock',
          reason: /^command refused: the command is addressed to dock-cases-other/,
          payload: await messenger.sealCommand(
            {
              commandId: 'forged-e',
              cameraAssignments: { header: header(900_006, 'dock-cases-other'), assignments: [assignment('O-FORGED-E')] },
            },
            'dock-cases-other',
          ),
        },
        {
          name: '(f) a signed Command carrying a bundle the root did not sign',
          reason: /^command refused: policyBundle: PolicyBundle rejected: /,
          payload: await messenger.sealCommand({ commandId: 'forged-f', policyBundle: unrootedBundle }, DOCK_CMD),
          recorded: { id: 'forged-f', outcome: /^refused: PolicyBundle rejected: / },
        },
      ];

      const commands = () =>
        dockDb(DOCK_CMD, (db) =>
          Object.fromEntries(
            (db.prepare('select command_id, outcome from commands').all() as { command_id: string; outcome: string }[]).map((r) => [r.command_id, r.outcome]),
          ),
        );
      const assignments = () =>
        dockDb(
          DOCK_CMD,
          (db) =>
            JSON.parse((db.prepare(`select value from kv where key = 'assignments'`).get() as { value: string }).value) as {
              cameraSerial: string;
              officerId: string;
            }[],
        );
      const bundleVersions = () =>
        dockDb(
          DOCK_CMD,
          (db) => (db.prepare('select version from policy_bundles order by version').all() as { version: number }[]).map((r) => r.version),
          'policy.db',
        );
      const idsSeen = Object.keys(commands()).sort();
      const assignmentsBefore = assignments();
      expect(bundleVersions()).toEqual([3]);
      const errorsBefore = (await syncErrors(DOCK_CMD)).length;

      // Forgeries (not signed by a certified key, altered, misaddressed) are refused before they are
      // applied and reported in aggregate (DESIGN §8, second round): one SYNC_ERROR counting them by
      // reason, not one per forgery. A genuine command whose content is refused (f) is reported alone.
      const forged = cases.filter((c) => !c.recorded);
      const refusedTotal = (e: { detail: string }[]) =>
        e.slice(errorsBefore).reduce((n, x) => n + Number(/^(\d+) gateway message\(s\) refused/.exec(x.detail)?.[1] ?? 0), 0);
      for (const c of forged) {
        await c.before?.();
        await forger.publishAsync(topic, Buffer.from(c.payload), { qos: 1 });
      }
      // The rogue presence's certificate is refused too (state), besides the commands.
      const reports = await until(
        'the aggregated refusal report at the gateway',
        async () => {
          const e = await syncErrors(DOCK_CMD);
          return refusedTotal(e) >= forged.length + 1 ? e.slice(errorsBefore) : undefined;
        },
        30_000,
      );
      expect(reports.length).toBeLessThanOrEqual(2);
      const text = reports.map((r) => r.detail).join('\n');
      expect(text).toMatch(/cmd: /);
      for (const reason of ['not signed', 'unknown key', 'bad signature', 'not for this dock', 'malformed']) expect(text).toContain(reason);
      expect(text).toMatch(/state: certificate refused 1/);
      // Not applied: the assignments and the policy unchanged, no command recorded; the dock runs on.
      expect(assignments()).toEqual(assignmentsBefore);
      expect(bundleVersions()).toEqual([3]);
      expect(Object.keys(commands()).sort()).toEqual([...idsSeen].sort());
      expect(running(dock), dock.output()).toBe(true);
      const errorsAfterForged = (await syncErrors(DOCK_CMD)).length;
      for (const c of cases.filter((x) => x.recorded)) {
        await forger.publishAsync(topic, Buffer.from(c.payload), { qos: 1 });
        idsSeen.push(c.recorded!.id);
        const errors = await until(
          `${c.name}: reported at the gateway`,
          async () => {
            const e = await syncErrors(DOCK_CMD);
            return e.length > errorsAfterForged && Object.keys(commands()).includes(c.recorded!.id) ? e : undefined;
          },
          20_000,
        );
        expect(errors.at(-1)!.detail, c.name).toMatch(c.reason);
        expect(commands()[c.recorded!.id], c.name).toMatch(c.recorded!.outcome);
        expect(assignments(), c.name).toEqual(assignmentsBefore);
        expect(bundleVersions(), c.name).toEqual([3]);
      }

      // The same commands, correctly signed by the certified gateway key, are applied.
      const okAssignments = await messenger.sealCameraAssignments([assignment('O-SIGNED-OK')], DOCK_CMD);
      const okId = pb.Command.decode(openEnvelope(okAssignments).body).commandId;
      await forger.publishAsync(topic, Buffer.from(okAssignments), { qos: 1 });
      const okBundle = await messenger.sealCommand({ policyBundle: bundleV4 }, DOCK_CMD);
      const okBundleId = pb.Command.decode(openEnvelope(okBundle).body).commandId;
      await forger.publishAsync(topic, Buffer.from(okBundle), { qos: 1 });
      const outcomes = await until(
        'both signed commands recorded as applied',
        () => {
          const o = dockDb(
            DOCK_CMD,
            (db) =>
              db.prepare(`select command_id, outcome from commands where command_id in (?, ?)`).all(okId, okBundleId) as {
                command_id: string;
                outcome: string;
              }[],
          );
          return o.length === 2 ? o : undefined;
        },
        20_000,
      );
      expect(Object.fromEntries(outcomes.map((o) => [o.command_id, o.outcome]))).toEqual({
        [okId]: 'applied 1 assignment(s)',
        [okBundleId]: expect.stringMatching(/^applied /),
      });
      expect(assignments().some((a) => a.cameraSerial === CAM_CMD && a.officerId === 'O-SIGNED-OK')).toBe(true);
      expect(bundleVersions()).toEqual([3, 4]);
      // The new policy is in force on the dock: its Status reports version 4 to the gateway.
      await until(
        'policy v4 reported to the gateway',
        async () => {
          const d = await gw.db.get<{ policy_version: number }>('SELECT policy_version FROM devices WHERE device_id = ?', [DOCK_CMD]);
          return Number(d?.policy_version) === 4;
        },
        20_000,
      );
      expect(running(dock), dock.output()).toBe(true);
      // Operators see it: one open critical COMMAND_REFUSED alert for the dock, counting each report.
      const refused = await gw.db.all<{ severity: string; count: number; message: string }>(
        "SELECT severity, count, message FROM alerts WHERE kind = 'COMMAND_REFUSED' AND device_id = ?",
        [DOCK_CMD],
      );
      const all = await gw.db.all<{ kind: string; count: number; message: string }>('SELECT kind, count, message FROM alerts WHERE device_id = ?', [DOCK_CMD]);
      expect(refused, JSON.stringify({ all, reports })).toHaveLength(1);
      expect(refused[0]!.severity).toBe('critical');
      expect(Number(refused[0]!.count), JSON.stringify({ all, reports })).toBe(reports.length + 1);
    } finally {
      await forger.publishAsync(rogueTopic, '', { qos: 1, retain: true }).catch(() => {});
      await forger.endAsync();
      await stopDock(dock);
    }
  }, 120_000);
});

// ── a camera that stops answering for a moment ────────────────────────────────────────────────

describe('a camera that stops answering for a few seconds while the dock has a frame for it', () => {
  // Once a frame to a camera goes unacked through every retransmission (8 × 250 ms), the dock's
  // LinkEndpoint marks the link down (device/link/endpoint.ts), and only a new Hello clears that. The
  // camera, whose own frames are still acked, has no reason to say Hello again, so the dock closes the
  // link on CameraLink 'linkDown' (device/link/cameras.ts) and the port runner reopens the port
  // (device/link/port-runner.ts); the dock's probe on the new link makes the camera greet again. Without
  // that, the officer would never be told of an unauthorized recording (1061.2 §4) and VERIFIED clips
  // would never be freed. A simulated camera writing a large clip (sim/camera.ts #writeClip blocks its
  // event loop) stalls the same way.
  it('gets its UNAUTHORIZED alert and its ReleaseClip once it answers again', async () => {
    const pty = await ptyPair(dir, 'stall');
    const storage = join(dir, 'storage-stall');
    mkdirSync(storage, { recursive: true });
    const config = writeDockConfig(DOCK_STALL, [pty.dock], { [CAM_STALL]: storage });
    const scenario = writeScenario('stall', {
      camera: { serial: CAM_STALL },
      steps: [
        { status: { docked: true } },
        { wait: 2000 }, // the camera is stopped (SIGSTOP) during this wait, and records as soon as it is let go
        { start: { clip: 's-excluded', activity: 'undercover_operation', preEventBufferS: 0 } },
        { stop: { clip: 's-excluded' } },
        { ready: { clip: 's-excluded', size: 65_536 } },
      ],
    });
    const dock = spawnBwc(['dock', '--config', config], 'dock stall');
    const cam = spawnBwc(['sim', 'camera', '--port', pty.cam, '--storage', storage, '--scenario', scenario, '--until-released', '20', '--json'], CAM_STALL);
    const gwClient = await mqtt.connectAsync(gw.mqttUrl, {
      username: GATEWAY_MQTT_USER,
      password: gw.gatewaySecret,
      clientId: 'cases-stall',
      protocolVersion: 4,
    });
    try {
      await until('camera linked', () => lastEventNo(DOCK_STALL, CAM_STALL) >= 1, 30_000);
      await until('its TimeSync answered', () => /time sync from the dock/.test(cam.output()), 20_000);
      cam.kill('SIGSTOP');
      // A frame for the camera while it does not answer: the gateway asks for a status, and the dock
      // sends a RequestStatus to every linked camera.
      const messenger = new GatewayMessenger({ db: gw.db, signer: gw.signer, gatewayId: GATEWAY_ID, fleet: FLEET });
      await gwClient.publishAsync(deviceTopic(FLEET, DOCK_STALL, 'cmd'), Buffer.from(await messenger.sealCommand({ statusRequest: {} }, DOCK_STALL)), {
        qos: 1,
      });
      await until(
        'status request applied',
        () => dockDb(DOCK_STALL, (db) => (db.prepare(`select count(*) as n from commands where outcome = 'status sent'`).get() as { n: number }).n) === 1,
        20_000,
      );
      // Every retransmission unacked: the dock gives the link up and reopens the port.
      await until('the dock reopening the link', () => new RegExp(`camera ${CAM_STALL}: .*; reopening the link`).test(dock.output()), 20_000);
      cam.kill('SIGCONT');

      // The camera answers again: its reply to the status request and its recording reach the dock.
      await until('the camera heard from again', () => lastEventNo(DOCK_STALL, CAM_STALL) >= 3, 30_000);
      const rows = await until(
        'the excluded recording VERIFIED at the gateway',
        async () => {
          const r = await gw.db.all<{ state: string; decision: string }>(
            `SELECT state, decision FROM manifests WHERE device_id = ? AND clip_id = 's-excluded'`,
            [DOCK_STALL],
          );
          return r.length === 1 && r[0]!.state === 'VERIFIED' ? r : undefined;
        },
        30_000,
      );
      expect(rows[0]!.decision).toBe('UNAUTHORIZED');

      const code = await exited(cam, 60_000);
      expect(code, cam.output() + dock.output()).toBe(0);
      const r = simResult(cam);
      // Both reach the camera over the reopened link.
      expect(
        r.alerts.map((a) => `${a.clipId}:${pb.AlertKind[a.kind]}`),
        cam.output(),
      ).toContain('s-excluded:ALERT_KIND_UNAUTHORIZED');
      expect(r.released, cam.output()).toEqual(['s-excluded']);
      expect(existsSync(join(storage, 'DCIM', 's-excluded.mp4'))).toBe(false);
    } finally {
      await gwClient.endAsync();
      await stopDock(dock);
      await pty.kill();
    }
  }, 120_000);
});
