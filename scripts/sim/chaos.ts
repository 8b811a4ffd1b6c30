/**
 * The chaos run (`bwc sim chaos`; its short form runs in CI, test/chaos.test.ts): two docks with a
 * camera each, a gateway and Mosquitto, all real processes, recording and offloading clips while
 * faults land at seeded random times:
 *
 * - a dock SIGKILLed and started again;
 * - the gateway SIGKILLed and started again;
 * - the broker restarted, or frozen with SIGSTOP (a partition: connections stay open, nothing
 *   moves) and resumed with SIGCONT;
 * - each of these lands while a clip is mid-upload: before firing, the run reads the gateway's own
 *   database until a clip has some of its chunks recorded there and not all (a dock fault kills
 *   the dock uploading it), and the fault's note says which clip and how far it was;
 * - all along: serial chaos from the camera simulator (garbage, corrupted bytes, duplicated and
 *   dropped frames), and a meddler on the broker that publishes copies of the docks' messages
 *   again after random delays (duplicated and reordered deliveries).
 *
 * At the end, with every process stopped, the invariants: every clip VERIFIED exactly once at the
 * gateway and freed by the camera only after that — judged from the gateway's audit log
 * (`clip.verified`, its time and SHA-256) against the camera's own record of what it freed and
 * when, not from the dock's history; every fault landed mid-upload; no manifest chain gap or fork
 * alerted (none is injected); the audit log intact (`bwc audit verify`); no SQLite database
 * corrupted (`PRAGMA integrity_check`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { agencyTrust, SIM_OFFICER } from './agency.js';
import { freePort, mosquittoAcl, startMosquitto, type LocalMosquitto } from './mosquitto.js';
import { socatPtyPair, type PtyPair } from './pty.js';

export interface ChaosOptions {
  dir: string;
  seed: number;
  /** How many faults to inject (beyond the serial chaos and the meddler, which run throughout). */
  faults: number;
  /** The window faults land in, seconds from the start. */
  windowS: number;
  /** Clip sizes per camera, in MiB (cycled until each camera has at least one clip per fault). */
  clipsMiB: number[];
  /** Serial chaos rate per frame (0..1). */
  serialChaos: number;
  /** Probability a dock message is published again by the meddler. */
  duplicateRate: number;
  log(line: string): void;
}

export interface ChaosInvariant {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ChaosResult {
  ok: boolean;
  faults: string[];
  /** Per fault: the clip mid-upload when it landed (chunks at the gateway / all), or null if none was found in time. */
  landed: ({ clip: string; chunks: number; of: number } | null)[];
  invariants: ChaosInvariant[];
  duplicatesSent: number;
  seconds: number;
}

const FLEET = 'chaos';
const GW_USER = 'bwc-gateway';
const GW_PASSWORD = 'gateway-secret-for-the-chaos-run';
const BWC = new URL('../bwc.js', import.meta.url).pathname;

/** mulberry32: a small seeded generator, so a failing run can be replayed with its seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Proc {
  p: ChildProcess;
  out(): string;
}

function bwc(args: string[]): Proc {
  const p = spawn(process.execPath, [BWC, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BWC_LOG_LEVEL: 'warn' } });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-200_000);
  });
  p.stderr!.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-200_000);
  });
  return { p, out: () => out };
}

async function exited(p: ChildProcess, ms: number): Promise<number | null> {
  if (p.exitCode !== null || p.signalCode !== null) return p.exitCode;
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(null), ms);
    p.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

async function kill(p: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  p.kill(signal);
  if ((await exited(p, 20_000)) === null && p.exitCode === null) {
    p.kill('SIGKILL');
    await exited(p, 5000);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const t0 = Date.now();
  const rand = seeded(o.seed);
  // Each camera records at least one clip per fault (the sizes cycled), so that every fault finds
  // an upload under way.
  const clipsMiB = Array.from({ length: Math.max(o.clipsMiB.length, o.faults) }, (_, n) => o.clipsMiB[n % o.clipsMiB.length]!);
  const faults: string[] = [];
  const note = (s: string) => {
    const line = `${((Date.now() - t0) / 1000).toFixed(1)}s ${s}`;
    faults.push(line);
    o.log(line);
  };
  mkdirSync(o.dir, { recursive: true });
  const docks = ['dock-c-1', 'dock-c-2'].map((id, i) => ({
    id,
    camera: `CAM-C-${i + 1}`,
    stateDir: join(o.dir, id),
    config: join(o.dir, `${id}.json`),
    proc: null as Proc | null,
  }));
  let mosq: LocalMosquitto | null = null;
  let gateway: Proc | null = null;
  let meddler: mqtt.MqttClient | null = null;
  const ptys: PtyPair[] = [];
  const cams: Proc[] = [];
  let duplicatesSent = 0;
  try {
    mosq = await startMosquitto({ users: { [GW_USER]: GW_PASSWORD }, acl: mosquittoAcl(FLEET, GW_USER) });
    const gwData = join(o.dir, 'gateway');
    const { root, trust } = agencyTrust(o.dir, gwData, { fleet: FLEET, gatewayId: 'gw-chaos' });
    const port = await freePort();
    const gwConfig = join(o.dir, 'gateway.json');
    writeFileSync(
      gwConfig,
      JSON.stringify({
        fleet: FLEET,
        gatewayId: 'gw-chaos',
        dataDir: gwData,
        http: { port },
        sweepIntervalMs: 1000,
        mqtt: { url: mosq.url, username: GW_USER, password: GW_PASSWORD },
        trust,
      }),
    );
    const base = `http://127.0.0.1:${port}`;
    const startGatewayProc = async () => {
      gateway = bwc(['gateway', '--config', gwConfig]);
      const until = Date.now() + 30_000;
      while (
        !(await fetch(`${base}/api/v1/me`).then(
          (r) => r.status === 401,
          () => false,
        ))
      ) {
        if (gateway.p.exitCode !== null || Date.now() > until) throw new Error(`the gateway did not start:\n${gateway.out().slice(-3000)}`);
        await sleep(100);
      }
    };
    // People and devices are bootstrapped on the gateway machine (bwc gateway user add / device token).
    const add = spawnSync(process.execPath, [BWC, 'gateway', 'user', 'add', 'otto', '--role', 'operator', '--config', gwConfig], {
      input: 'otto-password-long-enough',
      encoding: 'utf8',
    });
    if (add.status !== 0) throw new Error(`bwc gateway user add: ${add.stderr}`);
    await startGatewayProc();
    const login = await fetch(`${base}/api/v1/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'otto', password: 'otto-password-long-enough' }),
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    const users: Record<string, string> = { [GW_USER]: GW_PASSWORD };
    for (const d of docks) {
      const put = await fetch(`${base}/api/v1/cameras/${d.camera}/assignment`, {
        method: 'PUT',
        headers: { cookie, 'x-csrf-token': csrfToken, 'content-type': 'application/json' },
        body: JSON.stringify({ officerId: SIM_OFFICER }),
      });
      if (!put.ok) throw new Error(`assigning ${d.camera}: ${put.status}`);
      const t = await fetch(`${base}/api/v1/devices/${d.id}/enrollment-token`, {
        method: 'POST',
        headers: { cookie, 'x-csrf-token': csrfToken },
      });
      const { token } = (await t.json()) as { token: string };
      const e = spawnSync(
        process.execPath,
        [BWC, 'dock', 'enroll', '--state-dir', d.stateDir, '--gateway', base, '--token', token, '--device-id', d.id, '--root-fingerprint', root.keyId],
        { encoding: 'utf8' },
      );
      if (e.status !== 0) throw new Error(`enrolling ${d.id}: ${e.stderr}`);
      users[d.id] = readFileSync(join(d.stateDir, 'mqtt-password'), 'utf8').trim();
    }
    await mosq.setUsers(users);

    // The meddler: copies of the docks' messages, published again after a random delay.
    meddler = await mqtt.connectAsync(mosq.url, {
      username: GW_USER,
      password: GW_PASSWORD,
      clientId: 'chaos-meddler',
      reconnectPeriod: 500,
    });
    meddler.on('error', () => {});
    await meddler.subscribeAsync(
      ['manifest', 'event', 'status', 'chunk', 'birth'].map((k) => `bwc/v1/${FLEET}/+/${k}`),
      { qos: 1 },
    );
    meddler.on('message', (topic, payload) => {
      if (rand() >= o.duplicateRate) return;
      setTimeout(
        () => {
          duplicatesSent++;
          meddler?.publish(topic, payload, { qos: 1 });
        },
        Math.floor(rand() * 3000),
      );
    });

    // Docks and cameras.
    for (const [i, d] of docks.entries()) {
      const pty = await socatPtyPair(o.dir, `pty-${i}`);
      ptys.push(pty);
      const storage = join(o.dir, `${d.camera}-storage`);
      mkdirSync(storage, { recursive: true });
      writeFileSync(
        d.config,
        JSON.stringify({
          stateDir: d.stateDir,
          link: { ports: [pty.dock] },
          storage: { mounts: { [d.camera]: storage } },
          clock: { ntp: 'synced' },
          sync: { statusIntervalS: 2, ackTimeoutMs: 3000, chunkWindow: 4 },
          mqtt: { backoffMinMs: 100, backoffMaxMs: 1500, connectTimeoutMs: 3000, watchdogMs: 10_000 },
        }),
      );
      d.proc = bwc(['dock', '--config', d.config]);
      // Clips spread over the fault window, the cameras taking turns, so that uploads are under way
      // while the faults wait for one.
      const spacing = Math.max(1500, Math.floor((o.windowS * 1000) / Math.max(1, clipsMiB.length)));
      const steps = [
        { wait: Math.floor((i * spacing) / docks.length) + 200 },
        ...clipsMiB.flatMap((mib, n) => [
          { start: { clip: `${d.camera.toLowerCase()}-${n}`, activity: 'at_large_arrest', preEventBufferS: 0 } },
          { wait: 500 },
          { stop: { clip: `${d.camera.toLowerCase()}-${n}` } },
          { ready: { clip: `${d.camera.toLowerCase()}-${n}`, size: `${mib}MiB` } },
          { wait: spacing },
        ]),
      ];
      const scenario = join(o.dir, `${d.camera}.json`);
      writeFileSync(scenario, JSON.stringify({ camera: { serial: d.camera }, steps }));
      cams.push(
        bwc([
          'sim',
          'camera',
          '--port',
          pty.cam,
          '--storage',
          storage,
          '--scenario',
          scenario,
          '--chaos',
          String(o.serialChaos),
          '--until-released',
          '300',
          '--json',
        ]),
      );
    }
    o.log(`chaos: seed ${o.seed}, ${o.faults} fault(s) within ${o.windowS} s, serial chaos ${o.serialChaos}, duplicates ${o.duplicateRate}`);

    // The faults: seeded kinds, pauses and spacing; each lands only when the gateway's own database
    // shows a clip mid-upload (some chunks recorded, not all).
    const gwDb = join(gwData, 'gateway.db');
    let probe: Database.Database | null = null;
    const midUpload = (): { deviceId: string; clip: string; chunks: number; of: number } | null => {
      try {
        probe ??= new Database(gwDb, { readonly: true, fileMustExist: true });
        const row = probe
          .prepare(`SELECT m.device_id, m.clip_id, m.chunk_count, COUNT(c.idx) AS have FROM manifests m JOIN chunks c ON c.manifest_hash = m.manifest_hash
                                    WHERE m.state = 'RECEIVED' GROUP BY m.manifest_hash, m.device_id, m.clip_id, m.chunk_count
                                    HAVING COUNT(c.idx) > 0 AND COUNT(c.idx) < m.chunk_count LIMIT 1`)
          .get() as { device_id: string; clip_id: string; chunk_count: number; have: number } | undefined;
        return row ? { deviceId: row.device_id, clip: row.clip_id, chunks: Number(row.have), of: Number(row.chunk_count) } : null;
      } catch {
        probe?.close();
        probe = null; // the gateway is restarting, or has not made its database yet
        return null;
      }
    };
    const landed: ChaosResult['landed'] = [];
    const plan = Array.from({ length: o.faults }, () => ({
      after: rand() * Math.min(2000, (o.windowS * 1000) / Math.max(1, o.faults)),
      kind: Math.floor(rand() * 5),
      pause: 500 + rand() * 3000,
    }));
    for (const f of plan) {
      await sleep(f.after);
      const give = Date.now() + o.windowS * 1000;
      let mid = midUpload();
      while (!mid && Date.now() < give) {
        await sleep(5);
        mid = midUpload();
      }
      landed.push(mid ? { clip: `${mid.deviceId}/${mid.clip}`, chunks: mid.chunks, of: mid.of } : null);
      const where = mid
        ? ` (${mid.deviceId}/${mid.clip} mid-upload: ${mid.chunks}/${mid.of} chunks at the gateway)`
        : ' (no clip was mid-upload within the window)';
      switch (f.kind) {
        case 0:
        case 1: {
          const d = docks.find((x) => x.id === mid?.deviceId) ?? docks[0]!;
          await kill(d.proc!.p, 'SIGKILL');
          note(`SIGKILL ${d.id}; restarted after ${Math.round(f.pause)} ms${where}`);
          await sleep(f.pause);
          d.proc = bwc(['dock', '--config', d.config]);
          break;
        }
        case 2:
          await kill(gateway!.p, 'SIGKILL');
          note(`SIGKILL gateway; restarted after ${Math.round(f.pause)} ms${where}`);
          await sleep(f.pause);
          await startGatewayProc();
          break;
        case 3:
          await mosq.stop();
          note(`broker stopped; restarted after ${Math.round(f.pause)} ms${where}`);
          await sleep(f.pause);
          await mosq.restart();
          break;
        default: {
          const pid = mosq.pid();
          if (pid === null) break;
          process.kill(pid, 'SIGSTOP');
          note(`broker frozen (SIGSTOP) for ${Math.round(f.pause * 2)} ms${where}`);
          await sleep(f.pause * 2);
          process.kill(pid, 'SIGCONT');
          break;
        }
      }
    }
    (probe as Database.Database | null)?.close();

    // The cameras end when every clip they wrote is released (or give up after 300 s).
    const camResults = await Promise.all(
      cams.map(async (c, i) => {
        const code = await exited(c.p, 330_000);
        type CamOut = { released: string[]; releases: { clipId: string; sha256: string; at: number }[]; releaseRefused: string[] };
        let parsed: CamOut | null = null;
        try {
          parsed = JSON.parse(c.out().slice(c.out().indexOf('{'))) as CamOut;
        } catch {
          /* reported below */
        }
        return { camera: docks[i]!.camera, code, parsed };
      }),
    );
    // Forced: a copy still in flight when the broker went away is not waited for (duplicates are best effort).
    await meddler.endAsync(true);
    meddler = null;
    for (const d of docks) await kill(d.proc!.p, 'SIGTERM');
    await kill(gateway!.p, 'SIGTERM');

    // ── the invariants ──
    const invariants: ChaosInvariant[] = [];
    const check = (name: string, ok: boolean, detail: string) => invariants.push({ name, ok, detail });
    const expected = (camera: string) => clipsMiB.map((_, n) => `${camera.toLowerCase()}-${n}`);
    check(
      "every fault landed while a clip was mid-upload (from the gateway's database)",
      landed.length === o.faults && landed.every((l) => l !== null),
      landed.map((l) => (l ? `${l.clip} ${l.chunks}/${l.of}` : 'none')).join('; '),
    );
    for (const r of camResults) {
      const released = [...(r.parsed?.released ?? [])].sort();
      check(
        `${r.camera}: every clip released after the gateway's VERIFIED ack`,
        r.code === 0 && JSON.stringify(released) === JSON.stringify(expected(r.camera).sort()) && (r.parsed?.releaseRefused.length ?? 1) === 0,
        `exit ${r.code}, released ${released.join(',') || 'none'}, refused ${r.parsed?.releaseRefused.join(',') ?? '?'}`,
      );
    }
    const gdb = new Database(join(gwData, 'gateway.db'), { readonly: true });
    try {
      const rows = gdb.prepare('SELECT device_id, clip_id, state FROM manifests').all() as {
        device_id: string;
        clip_id: string;
        state: string;
      }[];
      const want = docks.flatMap((d) => expected(d.camera).map((c) => `${d.id}/${c}`)).sort();
      check(
        'every clip has one manifest at the gateway, VERIFIED',
        JSON.stringify(rows.map((r) => `${r.device_id}/${r.clip_id}`).sort()) === JSON.stringify(want) && rows.every((r) => r.state === 'VERIFIED'),
        rows.map((r) => `${r.clip_id}:${r.state}`).join(', '),
      );
      const verifiedTwice = gdb
        .prepare(`SELECT subject, COUNT(*) AS n FROM audit_log WHERE action = 'clip.verified' GROUP BY subject HAVING COUNT(*) <> 1`)
        .all() as { subject: string; n: number }[];
      const verifiedOnce = (gdb.prepare(`SELECT COUNT(DISTINCT subject) AS n FROM audit_log WHERE action = 'clip.verified'`).get() as { n: number }).n;
      check(
        'every clip VERIFIED exactly once (audit log)',
        verifiedTwice.length === 0 && verifiedOnce === want.length,
        `${verifiedOnce} verified, ${verifiedTwice.length} more than once`,
      );
      const chain = gdb
        .prepare(
          `SELECT kind, COUNT(*) AS n FROM alerts WHERE kind IN ('CHAIN_GAP', 'CHAIN_FORK', 'BAD_SIGNATURE', 'SEQ_REUSED', 'CLIP_REJECTED') GROUP BY kind`,
        )
        .all() as { kind: string; n: number }[];
      check(
        'no chain gap or fork, no refused signature or clip (none injected)',
        chain.length === 0,
        chain.map((c) => `${c.kind} ${c.n}`).join(', ') || 'none',
      );
      // Release only after VERIFIED, from two witnesses the dock does not control: the gateway's
      // audit log (when it recorded the clip VERIFIED, with which SHA-256) and the camera (which
      // bytes it freed, and when).
      const verifiedAt = new Map<string, { at: number; sha256: string }[]>();
      for (const e of gdb.prepare(`SELECT at, detail_json FROM audit_log WHERE action = 'clip.verified'`).all() as {
        at: number;
        detail_json: string;
      }[]) {
        const d = JSON.parse(e.detail_json) as { deviceId: string; clipId: string; clipSha256: string };
        const key = `${d.deviceId}/${d.clipId}`;
        verifiedAt.set(key, [...(verifiedAt.get(key) ?? []), { at: Number(e.at), sha256: d.clipSha256 }]);
      }
      for (const [i, r] of camResults.entries()) {
        const d = docks[i]!;
        const bad = expected(r.camera).filter((clip) => {
          const v = verifiedAt.get(`${d.id}/${clip}`) ?? [];
          const freed = (r.parsed?.releases ?? []).filter((x) => x.clipId === clip);
          return v.length !== 1 || freed.length !== 1 || freed[0]!.at < v[0]!.at || freed[0]!.sha256 !== v[0]!.sha256;
        });
        check(
          `${r.camera}: each clip freed only after the gateway's audit log has it VERIFIED, with the same SHA-256`,
          bad.length === 0,
          bad.join(', ') || 'all',
        );
      }
      const integrity = (gdb.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check;
      check('gateway database intact (PRAGMA integrity_check)', integrity === 'ok', integrity);
    } finally {
      gdb.close();
    }
    for (const d of docks) {
      const ddb = new Database(join(d.stateDir, 'dock.db'), { readonly: true });
      try {
        const integrity = (ddb.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check;
        check(`${d.id}: dock database intact (PRAGMA integrity_check)`, integrity === 'ok', integrity);
      } finally {
        ddb.close();
      }
    }
    const audit = spawnSync(process.execPath, [BWC, 'audit', 'verify', '--config', gwConfig, '--json'], { encoding: 'utf8' });
    check(
      'audit log intact (bwc audit verify)',
      audit.status === 0,
      audit.status === 0 ? `${(JSON.parse(audit.stdout) as { entries: number }).entries} entries` : audit.stdout.slice(0, 500) + audit.stderr.slice(0, 500),
    );
    return { ok: invariants.every((i) => i.ok), faults, landed, invariants, duplicatesSent, seconds: Math.round((Date.now() - t0) / 1000) };
  } finally {
    await meddler?.endAsync(true).catch(() => {});
    for (const c of cams) await kill(c.p, 'SIGKILL');
    for (const d of docks) if (d.proc) await kill(d.proc.p, 'SIGKILL');
    if (gateway) await kill((gateway as Proc).p, 'SIGKILL');
    for (const p of ptys) await p.kill();
    if (mosq) {
      const pid = mosq.pid();
      if (pid !== null)
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          /* gone */
        }
      await mosq.stop();
    }
  }
}
