/**
 * `npm run bench -- offload`: a clip's offload dock → Mosquitto → gateway against the raw broker,
 * in the same run, through the same broker.
 *
 * Everything is real and separate, as on a dock: a Mosquitto on a loopback port, the gateway (in
 * this process, on SQLite, its clip store in a temp dir), `bwc dock` enrolled with a one-time token
 * (its own process), and `bwc sim camera` on a socat pty pair recording one clip per round.
 *
 * Three contenders, interleaved round by round:
 * 1. raw: a bare mqtt.js publisher process (scripts/bench/mqtt-publisher.ts) sends the clip's
 *    size in 1 MiB QoS 1 messages, at most `sync.chunkWindow` awaiting their PUBACK (the dock's
 *    window), to a bare subscriber in this process. Time: first publish → last message received.
 * 2. offload: the dock's manifest goes out (SIGNED) → the gateway has checked every chunk against
 *    the manifest, written the clip to its store, checked the whole-file SHA-256 and its signed
 *    VERIFIED ack has reached the dock (VERIFIED). Times from the dock's custody history
 *    (`clip_history`), so camera writes and process start-up are outside. The row "ready →
 *    VERIFIED" adds the dock's hashing (CLOSED → HASHED) and is informative.
 * 3. raw + required work: as raw, but the subscriber does what any gateway must with the bytes
 *    (chunk SHA-256, whole-file SHA-256, positional write, shared fdatasync; PUBACK within 32 MiB in work), in
 *    bare code (RequiredWork): what that work alone leaves of raw on this machine.
 * After each offload round: the manifest is VERIFIED at the gateway, the stored blob has the
 * clip's length, and the camera freed the clip only after the dock recorded VERIFIED.
 *
 * Memory: the dock's RSS (`/proc/PID/status` VmRSS, all its threads) once connected and idle
 * (target < 64 MB) and its peak during offload rounds.
 *
 * Sizes: BWC_BENCH_OFFLOAD_MIB (the rounds' clip, default 256), BWC_BENCH_OFFLOAD_ROUNDS (default
 * 8), BWC_BENCH_OFFLOAD_RSS_MIB (the one long clip whose memory is measured, default 2048; 0: none).
 * BWC_BENCH_DOCK_NODE_ARGS: node options for the dock process alone (e.g. `--cpu-prof`).
 * Needs `mosquitto` and `socat` (Debian packages of the same names) and about 3× the clip size
 * free in the temp dir. scripts/bench/README.md explains every number.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import pino from 'pino';
import { parseGatewayConfig, resolvedPaths } from '../../gateway/config.js';
import { ClipStore } from '../../gateway/ingest/clip-store.js';
import { startGateway, type RunningGateway } from '../../gateway/gateway.js';
import { agencyTrust, SIM_OFFICER } from '../sim/agency.js';
import { startMosquitto, type LocalMosquitto } from '../sim/mosquitto.js';
import { socatPtyPair, type PtyPair } from '../sim/pty.js';
import {
  deployedDock,
  BenchCheckError,
  MB,
  MiB,
  cpuOf,
  interleave,
  limitRow,
  pairedRatios,
  pairedRow,
  quantile,
  row,
  rssOf,
  type BenchContext,
  type Benchmark,
  type BenchRow,
} from './harness.js';

const FLEET = 'bench';
const GATEWAY_ID = 'gw-offload';
const DEVICE = 'dock-offload-1';
const CAMERA = 'CAM-OFFLOAD-1';
const RATIO_TARGET = 0.7;
/** The offload against raw + the required work, in the same round (paired). */
const REQUIRED_TARGET = 0.9;
const IDLE_RSS_LIMIT_MB = 64;
const CHUNK_WINDOW = 8;

const HERE = dirname(fileURLToPath(import.meta.url));
const BWC = join(HERE, '..', 'bwc.js');
const PUBLISHER = join(HERE, 'mqtt-publisher.js');

function envInt(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new BenchCheckError(`${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  return n;
}

function requireTool(cmd: string, pkg: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  } catch {
    throw new BenchCheckError(`the offload benchmark needs \`${cmd}\` (Debian package ${pkg})`);
  }
}

/**
 * CPU seconds of named processes over time, sampled every 50 ms, so that the CPU of a window known
 * only afterwards (SIGNED → VERIFIED from the dock's history) can be read: `between(t0, t1)`.
 * "bench" is this process (user and system time apart): the gateway in offload rounds, the bare
 * subscriber in raw rounds.
 */
class CpuTimeline {
  #samples: { t: number; cpu: Record<string, number> }[] = [];
  #timer: NodeJS.Timeout | undefined;
  constructor(readonly pids: Record<string, () => number | null>) {}
  #sample(): void {
    const self = process.cpuUsage();
    const cpu: Record<string, number> = { 'bench user': self.user / 1e6, 'bench sys': self.system / 1e6 };
    for (const [name, pid] of Object.entries(this.pids)) {
      const p = pid();
      const c = p === null ? null : cpuOf(p);
      if (c !== null) cpu[name] = c;
    }
    this.#samples.push({ t: Date.now(), cpu });
  }
  begin(): this {
    this.#samples = [];
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), 50);
    return this;
  }
  end(): void {
    clearInterval(this.#timer);
    this.#sample();
  }
  between(t0: number, t1: number): Record<string, number> {
    const before = [...this.#samples].reverse().find((x) => x.t <= t0) ?? this.#samples[0]!;
    const after = this.#samples.find((x) => x.t >= t1) ?? this.#samples.at(-1)!;
    const out: Record<string, number> = {};
    for (const k of Object.keys(after.cpu)) if (before.cpu[k] !== undefined) out[k] = after.cpu[k]! - before.cpu[k]!;
    return out;
  }
}

/** Peak RSS of one process while sampling runs. */
class PidRss {
  #timer: NodeJS.Timeout | undefined;
  peak = 0;
  samples = 0;
  constructor(readonly pid: number) {}
  begin(everyMs = 50): this {
    this.#timer = setInterval(() => {
      const r = rssOf(this.pid);
      if (r !== null) {
        this.samples++;
        this.peak = Math.max(this.peak, r);
      }
    }, everyMs);
    return this;
  }
  end(): number {
    clearInterval(this.#timer);
    return this.peak;
  }
}

interface Child {
  proc: ChildProcess;
  output(): string;
  exited(timeoutMs: number): Promise<number | null>;
}

function child(args: string[], name: string, env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-200_000);
  });
  proc.stderr!.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-200_000);
  });
  return {
    proc,
    output: () => `--- ${name} ---\n${out.slice(-4000)}`,
    exited: (timeoutMs) =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve(proc.exitCode);
        const t = setTimeout(() => resolve(null), timeoutMs);
        proc.once('exit', (code) => {
          clearTimeout(t);
          resolve(code);
        });
      }),
  };
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number, why: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new BenchCheckError(`timed out waiting for ${what}\n${why()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Rig {
  dir: string;
  mosq: LocalMosquitto;
  gw: RunningGateway;
  pty: PtyPair;
  dock: Child;
  stateDir: string;
  storage: string;
}

export async function setUp(ctx: BenchContext, clipBytes: number): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-bench-offload-'));
  const fs = statfsSync(dir);
  const free = Number(fs.bavail) * Number(fs.bsize);
  if (free < 3 * clipBytes)
    throw new BenchCheckError(`the offload benchmark needs ${Math.ceil((3 * clipBytes) / MiB)} MiB free under ${tmpdir()}, ${Math.floor(free / MiB)} MiB are`);
  const mosq = await startMosquitto({ dir });
  const gwData = join(dir, 'gateway');
  const { root, trust } = agencyTrust(dir, gwData, { fleet: FLEET, gatewayId: GATEWAY_ID });
  const gw = await startGateway({
    log: pino({ level: 'silent' }),
    config: parseGatewayConfig({
      fleet: FLEET,
      gatewayId: GATEWAY_ID,
      dataDir: gwData,
      http: { port: 0 },
      mqtt: { url: mosq.url, publicUrl: mosq.url },
      trust,
    }),
  });
  await gw.fleet.assign(CAMERA, SIM_OFFICER, 'operator-1', 'operator');
  const stateDir = join(dir, 'dock-state');
  const storage = join(dir, 'camera-storage');
  mkdirSync(storage, { recursive: true });
  ctx.progress('offload: enrolling the dock');
  const { token } = await gw.fleet.createEnrollmentToken(DEVICE, 'operator-1');
  const enroll = child(
    [
      BWC,
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
      root.keyId,
    ],
    'dock enroll',
  );
  if ((await enroll.exited(60_000)) !== 0) throw new BenchCheckError(`dock enrollment failed\n${enroll.output()}`);
  const pty = await socatPtyPair(dir, 'cam');
  const config = join(dir, 'dock.json');
  writeFileSync(
    config,
    JSON.stringify({
      stateDir,
      link: { ports: [pty.dock] },
      storage: { mounts: { [CAMERA]: storage } },
      clock: { ntp: 'synced' },
      sync: { chunkWindow: CHUNK_WINDOW },
      log: { level: 'warn' },
    }),
  );
  // The dock runs with the node options of its systemd unit (measured as deployed), plus
  // BWC_BENCH_DOCK_NODE_ARGS for this run, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const deployed = deployedDock();
  const nodeArgs = [...deployed.nodeArgs, ...(process.env.BWC_BENCH_DOCK_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const dock = child([...nodeArgs, BWC, 'dock', '--config', config], 'dock', deployed.env);
  await until(
    'the dock online at the gateway',
    async () => {
      const d = await gw.db.get<{ online: number }>('SELECT online FROM devices WHERE device_id = ?', [DEVICE]);
      return d && Number(d.online) === 1 ? true : undefined;
    },
    30_000,
    dock.output,
  );
  return { dir, mosq, gw, pty, dock, stateDir, storage };
}

export async function tearDown(rig: Partial<Rig> & { dir?: string }): Promise<void> {
  if (rig.dock && rig.dock.proc.exitCode === null) {
    rig.dock.proc.kill('SIGTERM');
    if ((await rig.dock.exited(15_000)) === null) rig.dock.proc.kill('SIGKILL');
  }
  await rig.pty?.kill();
  await rig.gw?.stop();
  await rig.mosq?.stop();
  if (rig.dir) rmSync(rig.dir, { recursive: true, force: true });
}

interface RawTimes {
  ms: number;
  from: number;
  to: number;
  publisherCpuS: number;
}

/**
 * What any gateway must do with a clip's bytes, in bare code: for each 1 MiB message, the SHA-256
 * of the chunk (to compare with the manifest), the running whole-file SHA-256, a positional write
 * into one file and an fdatasync shared by the writes under way (the gateway's group fsync); at the
 * end the digest, a last fdatasync and a rename. No decoding,
 * database, signature or bookkeeping: what that work alone costs on the same machine.
 */
class RequiredWork {
  readonly #whole = createHash('sha256');
  readonly #fh: FileHandle;
  #syncing: Promise<void> | null = null;
  #again: Promise<void> | null = null;
  #index = 0;

  private constructor(
    fh: FileHandle,
    private readonly path: string,
  ) {
    this.#fh = fh;
  }

  static async open(path: string): Promise<RequiredWork> {
    return new RequiredWork(await open(path, 'w', 0o640), path);
  }

  /** Hashes at once (messages arrive in order, as the dock sends them); resolves once written and synced. */
  async chunk(payload: Buffer): Promise<void> {
    createHash('sha256').update(payload).digest(); // the chunk against its manifest hash
    this.#whole.update(payload);
    const at = this.#index++ * MiB;
    let done = 0;
    while (done < payload.length) done += (await this.#fh.write(payload, done, payload.length - done, at + done)).bytesWritten;
    await this.#sync();
  }

  #sync(): Promise<void> {
    const start = (): Promise<void> => {
      const p = this.#fh.datasync().finally(() => {
        if (this.#syncing === p) this.#syncing = null;
      });
      this.#syncing = p;
      return p;
    };
    if (!this.#syncing) return start();
    this.#again ??= this.#syncing.then(() => {
      this.#again = null;
      return start();
    });
    return this.#again;
  }

  async finish(): Promise<string> {
    const digest = this.#whole.digest('hex');
    await this.#fh.datasync();
    await this.#fh.close();
    renameSync(this.path, `${this.path}.${digest.slice(0, 16)}`);
    return digest;
  }
}

/**
 * One raw round: COUNT messages through the broker, publisher process → subscriber here. With
 * `requiredIn`, the subscriber does the required work (RequiredWork) into a file in that dir.
 */
async function rawRound(mosq: LocalMosquitto, round: number, count: number, requiredIn?: string): Promise<RawTimes> {
  const topic = `bench/raw/${process.pid}/${round}${requiredIn ? '/required' : ''}`;
  const sub = await mqtt.connectAsync(mosq.url, { protocolVersion: 4, reconnectPeriod: 0, clean: true });
  const work = requiredIn ? await RequiredWork.open(join(requiredIn, `raw-${round}.part`)) : null;
  try {
    let received = 0;
    let bytes = 0;
    let lastAt = 0;
    const all = new Promise<void>((resolve, reject) => {
      const counted = (payload: Buffer) => {
        received++;
        bytes += payload.length;
        if (received === count) {
          lastAt = Date.now();
          resolve();
        }
      };
      if (work) {
        // As the gateway does (gateway/compose/mqtt-client.ts): PUBACK at once while fewer than
        // 32 MiB are being worked on, so the broker keeps sending while earlier messages are hashed,
        // written and synced.
        let pending = 0;
        let held: (() => void)[] = [];
        sub.handleMessage = (packet, done) => {
          if (packet.topic !== topic) return done();
          const payload = packet.payload as Buffer;
          pending++;
          work
            .chunk(payload)
            .then(async () => {
              pending--;
              const w = held;
              held = [];
              for (const f of w) f();
              received++;
              bytes += payload.length;
              if (received === count) {
                await work.finish();
                lastAt = Date.now();
                resolve();
              }
            })
            .catch(reject);
          if (pending * MiB < 32 * MiB) done();
          else held.push(() => done());
        };
      } else {
        sub.on('message', (t, payload) => {
          if (t === topic) counted(payload);
        });
      }
    });
    await sub.subscribeAsync(topic, { qos: 1 });
    const pub = child([PUBLISHER, mosq.url, topic, String(count), String(MiB), String(CHUNK_WINDOW)], 'mqtt-publisher');
    const code = await pub.exited(600_000);
    if (code !== 0) throw new BenchCheckError(`the bare publisher failed (${code})\n${pub.output()}`);
    const line = pub
      .output()
      .split('\n')
      .find((l) => l.startsWith('{'));
    const stats = JSON.parse(line ?? '{}') as { firstPublishAtMs: number; cpuS: number };
    await Promise.race([all, new Promise((r) => setTimeout(r, 120_000))]);
    if (received !== count || bytes !== count * MiB) throw new BenchCheckError(`raw round: received ${received}/${count} messages, ${bytes} bytes`);
    return { ms: lastAt - stats.firstPublishAtMs, from: stats.firstPublishAtMs, to: lastAt, publisherCpuS: stats.cpuS };
  } finally {
    await sub.endAsync();
  }
}

interface OffloadTimes {
  offloadMs: number;
  readyMs: number;
  hashMs: number;
  uploadMs: number;
  assembleMs: number;
  from: number;
  to: number;
}

/** One offload round: the camera records one clip of `bytes`; times from the dock's custody history. */
async function offloadRound(rig: Rig, round: number, bytes: number): Promise<OffloadTimes> {
  const clip = `offload-${round}`;
  const scenario = join(rig.dir, `scenario-${round}.json`);
  writeFileSync(
    scenario,
    JSON.stringify({
      camera: { serial: CAMERA, model: 'SIM-1', firmware: 'sim-1.0.0' },
      steps: [{ start: { clip, trigger: 'holster', activity: 'at_large_arrest', preEventBufferS: 0 } }, { stop: { clip } }, { ready: { clip, size: bytes } }],
    }),
  );
  const cam = child(
    [BWC, 'sim', 'camera', '--port', rig.pty.cam, '--storage', rig.storage, '--scenario', scenario, '--until-released', '900', '--json'],
    'camera',
  );
  const code = await cam.exited(1_000_000);
  if (code !== 0)
    throw new BenchCheckError(`offload round ${round}: the camera did not see its clip released (${code})\n${cam.output()}\n${rig.dock.output()}`);
  const db = new Database(join(rig.stateDir, 'dock.db'), { readonly: true });
  let history: { state: string; at: number }[];
  try {
    history = db.prepare('select state, at from clip_history where camera_serial = ? and clip_id = ? order by id').all(CAMERA, clip) as typeof history;
  } finally {
    db.close();
  }
  const at = (s: string) => {
    const h = history.find((x) => x.state === s);
    if (!h) throw new BenchCheckError(`offload round ${round}: ${clip} never reached ${s}: ${history.map((x) => x.state).join(' → ')}`);
    return Number(h.at);
  };
  const [closed, hashed, signed, uploaded, verified, released] = ['CLOSED', 'HASHED', 'SIGNED', 'UPLOADED', 'VERIFIED', 'RELEASED'].map(at) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (released < verified) throw new BenchCheckError(`offload round ${round}: RELEASED before VERIFIED`);
  const m = await rig.gw.db.get<{ state: string; clip_sha256: string; byte_length: number }>(
    'SELECT state, clip_sha256, byte_length FROM manifests WHERE device_id = ? AND clip_id = ?',
    [DEVICE, clip],
  );
  if (m?.state !== 'VERIFIED') throw new BenchCheckError(`offload round ${round}: the gateway has ${clip} as ${m?.state ?? 'nothing'}`);
  const blob = new ClipStore(resolvedPaths(rig.gw.config).clips).blobPath(m.clip_sha256);
  if (!existsSync(blob) || statSync(blob).size !== bytes || Number(m.byte_length) !== bytes) {
    throw new BenchCheckError(`offload round ${round}: the stored clip is not ${bytes} bytes`);
  }
  // Keep the temp dir to about one clip: the measured work is done.
  rmSync(blob, { force: true });
  return {
    offloadMs: verified - signed,
    readyMs: verified - closed,
    hashMs: hashed - closed,
    uploadMs: uploaded - signed,
    assembleMs: verified - uploaded,
    from: signed,
    to: verified,
  };
}

function cpuLine(c: Record<string, number> | undefined, mib: number): string {
  if (!c) return '—';
  const total = Object.values(c).reduce((a, b) => a + b, 0);
  return `${Object.entries(c)
    .map(([k, v]) => `${k} ${((v * 1000) / mib).toFixed(2)}`)
    .join(', ')} (total ${((total * 1000) / mib).toFixed(2)})`;
}

export const offload: Benchmark = {
  name: 'offload',
  summary: 'a 1 GiB clip dock → Mosquitto → gateway (verified on disk) vs bare QoS 1 pub/sub of the same 1 MiB messages; dock RSS',
  async run(ctx) {
    requireTool('mosquitto', 'mosquitto');
    requireTool('socat', 'socat');
    const clipMiB = envInt('BWC_BENCH_OFFLOAD_MIB', 256, 8, 16_384);
    const rounds = envInt('BWC_BENCH_OFFLOAD_ROUNDS', 8, 1, 50);
    // One more offload, of a long clip, for the dock's memory while it streams (0: none).
    const rssClipMiB = envInt('BWC_BENCH_OFFLOAD_RSS_MIB', 2048, 0, 16_384);
    const bytes = clipMiB * MiB;
    let rig: Partial<Rig> = {};
    try {
      ctx.progress('offload: starting Mosquitto, the gateway and the dock');
      rig = await setUp(ctx, Math.max(bytes, rssClipMiB * MiB));
      const r = rig as Rig;
      const dockPid = r.dock.proc.pid!;
      // Idle: connected, Birth and Status sent, policy cached, start-up garbage collected (V8's
      // memory reducer runs some seconds after the allocation rate drops); nothing to offload.
      ctx.progress('offload: dock idle (15 s)');
      await new Promise((res) => setTimeout(res, 10_000));
      const idle = new PidRss(dockPid).begin(100);
      await new Promise((res) => setTimeout(res, 5000));
      const idleRss = idle.end();
      const busy = new PidRss(dockPid);
      const cpu = new CpuTimeline({ dock: () => dockPid, mosquitto: () => r.mosq.pid() });
      const details: OffloadTimes[] = [];
      const raws: RawTimes[] = [];
      const required: RawTimes[] = [];
      const cpuRaw: Record<string, number>[] = [];
      const cpuRequired: Record<string, number>[] = [];
      const cpuOffload: Record<string, number>[] = [];
      const res = await interleave(
        [
          // The bare publisher to a bare subscriber, and the same with the required work (into a dir of its own).
          ...(['raw', 'required'] as const).map((name) => ({
            name,
            round: async () => {
              const times = name === 'raw' ? raws : required;
              const dir = name === 'required' ? join(r.dir, `required-${times.length}`) : undefined;
              if (dir) mkdirSync(dir);
              cpu.begin();
              try {
                const t = await rawRound(r.mosq, times.length, clipMiB, dir);
                times.push(t);
                cpu.end();
                (name === 'raw' ? cpuRaw : cpuRequired).push({ ...cpu.between(t.from, t.to), publisher: t.publisherCpuS });
                return t.ms;
              } finally {
                cpu.end();
                if (dir) rmSync(dir, { recursive: true, force: true });
              }
            },
          })),
          {
            name: 'offload',
            round: async () => {
              busy.begin(50);
              cpu.begin();
              try {
                const t = await offloadRound(r, details.length, bytes);
                details.push(t);
                cpu.end();
                cpuOffload.push(cpu.between(t.from, t.to));
                return t.offloadMs;
              } finally {
                busy.end();
                cpu.end();
              }
            },
          },
        ],
        rounds,
        (c, i, n) => ctx.progress(`offload: ${c} round ${i}/${n} (${clipMiB} MiB)`),
      );
      const mbps = (ms: number) => bytes / MB / (ms / 1000);
      const median = (k: keyof OffloadTimes) =>
        quantile(
          details.map((d) => d[k]),
          0.5,
        );
      const readyMedian = median('readyMs');
      const rows: BenchRow[] = [
        row(`offload dock → Mosquitto → gateway, verified (${clipMiB} MiB clip)`, mbps(res.median.offload!), mbps(res.median.raw!), 'MB/s', RATIO_TARGET),
        pairedRow(
          `offload vs raw + the required work (chunk and clip SHA-256, durable writes): median of paired rounds`,
          mbps(res.median.offload!),
          mbps(res.median.required!),
          'MB/s',
          REQUIRED_TARGET,
          pairedRatios(res.times.offload!, res.times.required!),
        ),
        row(`raw + the required work vs raw: what that work alone costs on this machine`, mbps(res.median.required!), mbps(res.median.raw!), 'MB/s', null),
        row(`clip ready → VERIFIED, with the dock's hashing (${clipMiB} MiB)`, mbps(readyMedian), mbps(res.median.raw!), 'MB/s', null),
        limitRow('dock RSS, connected and idle (peak of 5 s)', idleRss / MB, IDLE_RSS_LIMIT_MB, 'MB'),
        row('dock RSS, peak during offload', busy.peak / MB, null, 'MB', null),
      ];
      // The dock's memory while it offloads one long clip: it streams (reads, sends and forgets one
      // chunk window at a time), so its RSS must not grow with the clip. Sampled every 50 ms; the
      // growth compares the peak of the last quarter of the samples with that of the first.
      let longClip: {
        mib: number;
        peak: number;
        firstQuarterPeak: number;
        lastQuarterPeak: number;
        samples: number;
        offloadMs: number;
      } | null = null;
      if (rssClipMiB > 0) {
        ctx.progress(`offload: one ${rssClipMiB} MiB clip for the dock's memory while streaming`);
        const samples: number[] = [];
        const timer = setInterval(() => {
          const v = rssOf(dockPid);
          if (v !== null) samples.push(v);
        }, 50);
        let t: OffloadTimes;
        try {
          t = await offloadRound(r, details.length + 1000, rssClipMiB * MiB);
        } finally {
          clearInterval(timer);
        }
        const q = Math.max(1, Math.floor(samples.length / 4));
        longClip = {
          mib: rssClipMiB,
          peak: Math.max(...samples),
          firstQuarterPeak: Math.max(...samples.slice(0, q)),
          lastQuarterPeak: Math.max(...samples.slice(-q)),
          samples: samples.length,
          offloadMs: t.offloadMs,
        };
        rows.push(row(`dock RSS, peak while offloading a ${rssClipMiB} MiB clip`, longClip.peak / MB, null, 'MB', null));
      }
      const paired = pairedRatios(res.times.offload!, res.times.required!);
      return {
        rows,
        details: {
          pairedOffloadVsRequired: paired,
          longClip,
          clipBytes: bytes,
          rounds,
          chunkWindow: CHUNK_WINDOW,
          times: res.times,
          offloadRounds: details,
          rawRounds: raws,
          requiredRounds: required,
          cpuSecondsRaw: cpuRaw,
          cpuSecondsRequired: cpuRequired,
          cpuSecondsOffload: cpuOffload,
          idleRssBytes: idleRss,
          offloadPeakRssBytes: busy.peak,
          rssSamples: busy.samples,
        },
        notes: [
          `offload = the dock's SIGNED → VERIFIED (manifest out, every chunk checked, clip stored and its SHA-256 checked, signed ack back); raw = first publish → last message, same ${CHUNK_WINDOW}-message PUBACK window; medians of ${rounds} round(s) each.`,
          `the dock runs as its systemd unit starts it: node ${deployedDock().nodeArgs.join(' ')}, ${
            Object.entries(deployedDock().env)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ') || 'no other environment'
          } (scripts/deploy/systemd/bwc-dock.service).`,
          `raw + required work = the same bare publisher; the subscriber hashes each message, keeps the whole-file SHA-256, writes it at its offset with a shared fdatasync; like the gateway it PUBACKs at once while under 32 MiB are in work.`,
          `CPU ms per MiB in the measured window (last round): raw ${cpuLine(cpuRaw.at(-1), clipMiB)}; raw + required work ${cpuLine(cpuRequired.at(-1), clipMiB)}; offload ${cpuLine(cpuOffload.at(-1), clipMiB)}.`,
          `offload / (raw + required work), round by round: ${paired.ratios.map((x) => x.toFixed(2)).join(', ')}.`,
          ...(longClip
            ? [
                `dock RSS during the ${longClip.mib} MiB offload (${longClip.samples} samples, SIGNED → VERIFIED ${(longClip.offloadMs / 1000).toFixed(1)} s): peak ${(longClip.peak / MB).toFixed(1)} MB, ` +
                  `peak of the first quarter ${(longClip.firstQuarterPeak / MB).toFixed(1)} MB, of the last quarter ${(longClip.lastQuarterPeak / MB).toFixed(1)} MB (idle ${(idleRss / MB).toFixed(1)} MB).`,
              ]
            : []),
          `medians: dock hashing (CLOSED → HASHED) ${Math.round(median('hashMs'))} ms; SIGNED → last chunk PUBACK (UPLOADED) ${Math.round(median('uploadMs'))} ms; UPLOADED → VERIFIED ack at the dock ${Math.round(median('assembleMs'))} ms.`,
        ],
      };
    } finally {
      await tearDown(rig);
    }
  },
};
