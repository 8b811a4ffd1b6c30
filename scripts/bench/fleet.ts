/**
 * Fleet-scale load: N simulated docks (`bwc sim fleet`'s SimFleet, on the dock's sync layer; 10,000
 * by default, BWC_BENCH_FLEET_DEVICES to change it) connected through a real Mosquitto to one
 * gateway running as its own process (`bwc gateway`), each sending a Status every 10 s. Measured:
 * how long until the gateway sees every dock online, the status ingest rate against the rate the
 * docks send, the gateway's and Mosquitto's CPU and memory at that load, the fleet list over the
 * API, and — with Debian's Chromium present — the dashboard's fleet page: the time from navigation
 * to the first rows with every device loaded, and how many rows are in the DOM (virtualized).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startMosquitto } from '../sim/mosquitto.js';
import { agencyTrust } from '../sim/agency.js';
import { SimFleet } from '../sim/fleet.js';
import { BenchCheckError, cpuOf, limitRow, row, rssOf, type BenchContext, type Benchmark } from './harness.js';

const BWC = new URL('../bwc.js', import.meta.url).pathname;
const DASHBOARD = new URL('./fleet-dashboard.js', import.meta.url).pathname;
const MiB = 1024 * 1024;
const STATUS_INTERVAL_S = 10;
const STEADY_S = 40;
const PASSWORD = 'operator-password-for-the-bench';

function metric(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (labels && !rest.includes(labels)) continue;
    if (!labels && !/^(\{[^}]*\})?\s/.test(rest)) continue;
    sum += Number(line.split(/\s+/).at(-1));
  }
  return sum;
}

export const fleet: Benchmark = {
  name: 'fleet',
  summary: 'N simulated docks (default 10,000) through Mosquitto to one gateway: connect time, status ingest, gateway CPU/RSS, dashboard first render',
  async run(ctx: BenchContext) {
    const devices = Number(process.env.BWC_BENCH_FLEET_DEVICES ?? 10_000);
    if (!(devices >= 1)) throw new BenchCheckError('BWC_BENCH_FLEET_DEVICES must be a positive number');
    const dir = mkdtempSync(join(tmpdir(), 'bwc-bench-fleet-'));
    const mosq = await startMosquitto();
    let gw: ChildProcess | null = null;
    let sim: SimFleet | null = null;
    try {
      // The agency and a gateway process on Mosquitto.
      const gwData = join(dir, 'gateway');
      const { trust } = agencyTrust(dir, gwData, { fleet: 'f1', gatewayId: 'gw-bench' });
      const config = join(dir, 'gateway.json');
      const port = await freePort();
      writeFileSync(
        config,
        JSON.stringify({
          fleet: 'f1',
          gatewayId: 'gw-bench',
          dataDir: gwData,
          http: { port },
          mqtt: { url: mosq.url },
          trust: { rootPublicKey: trust.rootPublicKey, certificate: trust.certificate, bundle: trust.bundle },
        }),
      );
      const add = spawnSync(process.execPath, [BWC, 'gateway', 'user', 'add', 'otto', '--role', 'operator', '--config', config], {
        input: PASSWORD,
        encoding: 'utf8',
      });
      if (add.status !== 0) throw new BenchCheckError(`bwc gateway user add: ${add.stderr}`);
      const proc = spawn(process.execPath, [BWC, 'gateway', '--config', config], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, BWC_LOG_LEVEL: 'warn' },
      });
      gw = proc;
      let gwErr = '';
      proc.stderr!.on('data', (d: Buffer) => {
        gwErr = (gwErr + d.toString()).slice(-100_000);
      });
      const base = `http://127.0.0.1:${port}`;
      const started = Date.now();
      while (
        !(await fetch(`${base}/api/v1/me`).then(
          (r) => r.status === 401,
          () => false,
        ))
      ) {
        if (proc.exitCode !== null || Date.now() - started > 30_000) throw new BenchCheckError(`the gateway did not start:\n${gwErr.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const login = await fetch(`${base}/api/v1/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'otto', password: PASSWORD }),
      });
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
      const { csrfToken } = (await login.json()) as { csrfToken: string };
      const tok = await fetch(`${base}/api/v1/tokens`, {
        method: 'POST',
        headers: { cookie, 'x-csrf-token': csrfToken, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'bench' }),
      });
      const { token } = (await tok.json()) as { token: string };
      const metrics = async (): Promise<string> => {
        try {
          try {
            return await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
          } catch {
            // Once more on a new connection: with this process's event loop full of simulated docks,
            // a pooled keep-alive connection can be reused after the gateway closed it ("other side closed").
            await new Promise((r) => setTimeout(r, 500));
            return await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
          }
        } catch (e) {
          const cause = (e as { cause?: Error }).cause?.message ?? '';
          const exited =
            proc.exitCode !== null || proc.signalCode !== null ? `; the gateway exited (${proc.exitCode ?? proc.signalCode}):\n${gwErr.slice(-3000)}` : '';
          throw new BenchCheckError(`GET /metrics failed: ${(e as Error).message}${cause ? ` (${cause})` : ''}${exited}`);
        }
      };

      // The fleet: connect them all, and wait until the gateway has every one online.
      ctx.progress(`fleet: connecting ${devices} simulated docks through Mosquitto`);
      const { loadPublicKeyFile } = await import('../../proto/keyfile.js');
      sim = new SimFleet({
        devices,
        brokerUrl: mosq.url,
        gatewayUrl: base,
        operatorToken: token,
        fleet: 'f1',
        root: loadPublicKeyFile(trust.rootPublicKey),
        prefix: 'sim-',
        statusIntervalS: STATUS_INTERVAL_S,
        clipEveryS: 0,
        clipBytes: 65_536,
        dir: join(dir, 'clips'),
        useGatewayPasswords: false,
        concurrency: 200,
        log: (l) => ctx.progress(`fleet: ${l}`),
      });
      const t0 = Date.now();
      await sim.start().catch((e: Error) => {
        throw new BenchCheckError(
          `${e.message}${proc.exitCode !== null || proc.signalCode !== null ? `\nthe gateway exited (${proc.exitCode ?? proc.signalCode}):\n${gwErr.slice(-3000)}` : ''}`,
        );
      });
      const connectedS = (Date.now() - t0) / 1000;
      let online = 0;
      while ((online = metric(await metrics(), 'bwc_devices_online')) < devices) {
        if (Date.now() - t0 > 600_000) throw new BenchCheckError(`only ${online} of ${devices} docks online at the gateway after 10 minutes`);
        await new Promise((r) => setTimeout(r, 1000));
      }
      const onlineS = (Date.now() - t0) / 1000;
      ctx.progress(`fleet: ${devices} online at the gateway after ${onlineS.toFixed(1)} s; steady state for ${STEADY_S} s`);

      // Steady state: statuses every 10 s from every dock.
      const accepted = async () => metric(await metrics(), 'bwc_ingest_messages_total', 'type="Status",outcome="accepted"');
      const s0 = await accepted();
      const produced0 = sim.counters.statuses;
      const c0 = { gw: cpuOf(proc.pid!) ?? 0, mosq: cpuOf(mosq.pid()!) ?? 0, self: process.cpuUsage() };
      let gwRss = 0;
      let mosqRss = 0;
      const tStart = Date.now();
      while (Date.now() - tStart < STEADY_S * 1000) {
        gwRss = Math.max(gwRss, rssOf(proc.pid!) ?? 0);
        mosqRss = Math.max(mosqRss, rssOf(mosq.pid()!) ?? 0);
        await new Promise((r) => setTimeout(r, 500));
      }
      const wall = (Date.now() - tStart) / 1000;
      const statusRate = ((await accepted()) - s0) / wall;
      const producedRate = (sim.counters.statuses - produced0) / wall;
      const selfCpu = process.cpuUsage(c0.self);
      const gwCpu = ((cpuOf(proc.pid!) ?? 0) - c0.gw) / wall;
      const mosqCpu = ((cpuOf(mosq.pid()!) ?? 0) - c0.mosq) / wall;
      const fleetCpu = (selfCpu.user + selfCpu.system) / 1e6 / wall;
      const expectedRate = devices / STATUS_INTERVAL_S;

      // The fleet list over the API, and the dashboard's fleet page.
      // Timed from a process of its own: this one runs the whole simulated fleet on its event loop,
      // which would be measured instead of the gateway.
      const timed = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `
        const t0 = performance.now();
        const r = await fetch(${JSON.stringify(`${base}/api/v1/devices`)}, { headers: { authorization: ${JSON.stringify(`Bearer ${token}`)} } });
        const j = await r.json();
        process.stdout.write(JSON.stringify({ ms: performance.now() - t0, n: j.devices.length }));`,
        ],
        { encoding: 'utf8', timeout: 120_000 },
      );
      if (timed.status !== 0) throw new BenchCheckError(`timing GET /api/v1/devices failed: ${timed.stderr}`);
      const { ms: listMs, n: listed } = JSON.parse(timed.stdout) as { ms: number; n: number };
      if (listed !== devices) throw new BenchCheckError(`GET /api/v1/devices listed ${listed} of ${devices}`);
      let firstRenderMs: number | null = null;
      let domRows: number | null = null;
      let dashboardNote: string | null = null;
      let searchMs: number | null = null;
      if (existsSync('/usr/bin/chromium')) {
        ctx.progress(`fleet: timing the dashboard's fleet page in Chromium (${devices} devices)`);
        const measured = spawnSync(process.execPath, [DASHBOARD, base, 'otto', String(devices)], {
          input: PASSWORD,
          encoding: 'utf8',
          timeout: 300_000,
        });
        const line = measured.stdout.split('\n').find((l) => l.startsWith('{'));
        if (measured.status === 0 && line) {
          ({ firstRenderMs, domRows, searchMs } = JSON.parse(line) as { firstRenderMs: number; domRows: number; searchMs: number });
        } else {
          dashboardNote = `the dashboard could not be measured: ${(measured.stderr || measured.error?.message || `exit ${measured.status}`).trim().split('\n').slice(-3).join(' | ')}`;
        }
      } else {
        dashboardNote = 'no /usr/bin/chromium: the dashboard was not measured';
      }
      const rows = [
        row(`status ingest, ${devices} docks every ${STATUS_INTERVAL_S} s (accepted / sent)`, statusRate, producedRate, 'msg/s', 0.95),
        row(
          `statuses the simulator sent / ${devices} docks every ${STATUS_INTERVAL_S} s (the simulator's own pace)`,
          producedRate,
          expectedRate,
          'msg/s',
          null,
        ),
        row(`docks online at the gateway after connecting ${devices}`, devices / onlineS, null, 'docks/s', null),
        row('gateway CPU at fleet load', gwCpu * 100, null, '% of a core', null),
        row('gateway RSS at fleet load', gwRss / MiB, null, 'MiB', null),
        row('Mosquitto CPU at fleet load', mosqCpu * 100, null, '% of a core', null),
        row('Mosquitto RSS at fleet load', mosqRss / MiB, null, 'MiB', null),
        limitRow(`GET /api/v1/devices (${devices} devices)`, listMs, 2000, 'ms'),
        ...(firstRenderMs !== null ? [limitRow(`dashboard fleet page, first rows with ${devices} devices (Chromium)`, firstRenderMs, 3000, 'ms')] : []),
        ...(searchMs !== null ? [limitRow(`dashboard fleet search, ${devices} devices narrowed to one`, searchMs, 1000, 'ms')] : []),
      ];
      return {
        rows,
        details: {
          devices,
          connectedS,
          onlineS,
          statusRate,
          producedRate,
          expectedRate,
          gwCpu,
          gwRssBytes: gwRss,
          mosqCpu,
          mosqRssBytes: mosqRss,
          fleetCpu,
          listMs,
          firstRenderMs,
          domRows,
          searchMs,
        },
        notes: [
          `${devices} docks connected in ${connectedS.toFixed(1)} s (200 at a time), all online at the gateway after ${onlineS.toFixed(1)} s`,
          `the simulator itself (this process) used ${(fleetCpu * 100).toFixed(0)}% of a core at steady state`,
          ...(domRows !== null ? [`the fleet table kept ${domRows} rows in the DOM for ${devices} devices (virtualized)`] : []),
          ...(dashboardNote ? [dashboardNote] : []),
        ],
      };
    } finally {
      await sim?.stop().catch(() => {});
      if (gw && gw.exitCode === null) {
        await new Promise<void>((r) => {
          gw!.once('exit', () => r());
          gw!.kill('SIGTERM');
          setTimeout(() => {
            gw!.kill('SIGKILL');
            r();
          }, 15_000).unref();
        });
      }
      await mosq.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
