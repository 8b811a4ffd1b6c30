/**
 * `bwc sim camera`: a simulated camera on a real serial port or one end of a pty pair; `bwc sim
 * fleet` and `bwc sim chaos` run scripts/sim/fleet.ts and scripts/sim/chaos.ts.
 */
import type { Command } from 'commander';
import { CameraSim } from '../../device/link/sim/camera.js';
import { DEFAULT_SCENARIO, loadScenario, ScenarioError } from '../../device/link/sim/scenario.js';
import { DEFAULT_BAUD, serialLinkPort } from '../../device/link/transport.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimFleet } from '../sim/fleet.js';
import { runChaos } from '../sim/chaos.js';
import { loadPublicKeyFile } from '../../proto/keyfile.js';
import { CliError, writeJson } from './common.js';

interface SimOptions {
  port: string;
  storage: string;
  scenario?: string;
  chaos: string;
  baud: string;
  speed: string;
  dockedAfterShift?: boolean;
  json?: boolean;
  settle: string;
  untilReleased: string;
}

async function simCamera(opts: SimOptions): Promise<void> {
  const chaos = Number(opts.chaos);
  if (!(chaos >= 0 && chaos <= 1)) throw new CliError(`--chaos must be a rate between 0 and 1, got "${opts.chaos}"`);
  const speed = Number(opts.speed);
  if (!(speed > 0)) throw new CliError(`--speed must be above 0, got "${opts.speed}"`);
  if (!(Number(opts.untilReleased) >= 0)) throw new CliError(`--until-released must be a number of seconds, got "${opts.untilReleased}"`);
  let scenario = DEFAULT_SCENARIO;
  if (opts.scenario) {
    try {
      scenario = loadScenario(opts.scenario);
    } catch (e) {
      if (e instanceof ScenarioError) throw new CliError(e.message);
      throw e;
    }
  }
  const goAheads = signalledGoAheads('SIGUSR2');
  const sim = new CameraSim({
    scenario,
    storageDir: opts.storage,
    port: serialLinkPort(opts.port, Number(opts.baud)),
    chaos,
    speed,
    dockedAfterShift: opts.dockedAfterShift ?? false,
    settleMs: Number(opts.settle) * 1000,
    untilReleasedMs: Number(opts.untilReleased) * 1000,
    proceed: goAheads.next,
    log: (line) => process.stderr.write(`${scenario.camera.serial}: ${line}\n`),
  });
  let result;
  try {
    result = await sim.run();
  } catch (e) {
    throw new CliError((e as Error).message);
  } finally {
    goAheads.close();
  }
  if (opts.json) writeJson(result);
  else {
    process.stdout.write(
      `${scenario.camera.serial}: sent events ${result.firstEventNo}..${result.lastEventNo} (${result.eventsSent}), ` +
        `${result.unacked} unacked, ${result.retransmits} retransmits, ${result.sessions} sessions, alerts ${result.alerts.length}, released ${result.released.length}\n`,
    );
  }
  if (result.unacked > 0) process.exitCode = 1;
}

/**
 * Go-aheads for a scenario's `pause` steps, one per `signal` received. A signal that comes before
 * the pause is kept for it, so whoever sends it need not know whether the camera got there yet.
 */
function signalledGoAheads(signal: NodeJS.Signals): { next: () => Promise<void>; close: () => void } {
  let banked = 0;
  const waiting: (() => void)[] = [];
  const onSignal = () => {
    const go = waiting.shift();
    if (go) go();
    else banked++;
  };
  process.on(signal, onSignal);
  return {
    next: () =>
      new Promise<void>((resolve) => {
        if (banked > 0) {
          banked--;
          resolve();
        } else waiting.push(resolve);
      }),
    close: () => process.off(signal, onSignal),
  };
}

interface FleetCliOptions {
  devices: string;
  broker: string;
  gateway: string;
  tokenFile?: string;
  rootPubkey: string;
  fleet: string;
  prefix: string;
  statusInterval: string;
  clipEvery: string;
  clipBytes: string;
  duration: string;
  concurrency: string;
  dir?: string;
  gatewayPasswords?: boolean;
  json?: boolean;
}

async function simFleet(o: FleetCliOptions): Promise<void> {
  const num = (flag: string, v: string, min: number, max: number) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new CliError(`${flag} must be a number from ${min} to ${max}, got "${v}"`);
    return n;
  };
  const devices = num('--devices', o.devices, 1, 100_000);
  const token = (o.tokenFile ? readFileSync(o.tokenFile, 'utf8') : (process.env.BWC_TOKEN ?? '')).trim();
  if (!token) throw new CliError('give an operator API token: --token-file FILE or BWC_TOKEN');
  let root;
  try {
    root = loadPublicKeyFile(o.rootPubkey);
  } catch (e) {
    throw new CliError(`--root-pubkey: ${(e as Error).message}`);
  }
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'bwc-fleet-'));
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const fleet = new SimFleet({
    devices,
    brokerUrl: o.broker,
    gatewayUrl: o.gateway,
    operatorToken: token,
    fleet: o.fleet,
    root,
    prefix: o.prefix,
    statusIntervalS: num('--status-interval', o.statusInterval, 1, 3600),
    clipEveryS: num('--clip-every', o.clipEvery, 0, 1e6),
    clipBytes: num('--clip-bytes', o.clipBytes, 1, 64 * 1024 * 1024),
    dir,
    useGatewayPasswords: o.gatewayPasswords ?? false,
    concurrency: num('--concurrency', o.concurrency, 1, 5000),
    log: say,
  });
  const started = Date.now();
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(report);
    await fleet.stop();
    const summary = {
      devices,
      connectedInMs: connectedAt - started,
      ...fleet.counters,
      ranForS: Math.round((Date.now() - started) / 1000),
    };
    if (o.json) writeJson(summary);
    else
      process.stdout.write(
        `${Object.entries(summary)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}\n`,
      );
  };
  const report = setInterval(
    () =>
      say(
        `fleet: ${Object.entries(fleet.counters)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
      ),
    5000,
  );
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  let connectedAt = started;
  try {
    await fleet.start();
  } catch (e) {
    await stop();
    throw new CliError(`the fleet could not start: ${(e as Error).message}`, 1);
  }
  connectedAt = Date.now();
  say(`${devices} simulated docks connected in ${((connectedAt - started) / 1000).toFixed(1)} s`);
  const duration = num('--duration', o.duration, 0, 86_400);
  if (duration > 0) {
    await new Promise((r) => setTimeout(r, duration * 1000));
    await stop();
  } else {
    await new Promise<never>(() => {});
  }
}

interface ChaosCliOptions {
  seed?: string;
  faults: string;
  window: string;
  clips: string;
  serialChaos: string;
  duplicates: string;
  runs: string;
  dir?: string;
  json?: boolean;
}

async function simChaos(o: ChaosCliOptions): Promise<void> {
  const int = (flag: string, v: string, min: number, max: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`${flag} must be a whole number from ${min} to ${max}, got "${v}"`);
    return n;
  };
  const rate = (flag: string, v: string) => {
    const n = Number(v);
    if (!(n >= 0 && n <= 1)) throw new CliError(`${flag} must be a rate from 0 to 1, got "${v}"`);
    return n;
  };
  const clipsMiB = o.clips.split(',').map((x) => int('--clips', x.trim(), 1, 4096));
  const runs = int('--runs', o.runs, 1, 10_000);
  const first = o.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : int('--seed', o.seed, 0, 2 ** 31);
  const results = [];
  for (let i = 0; i < runs; i++) {
    const seed = first + i;
    const dir = o.dir ? join(o.dir, `run-${seed}`) : mkdtempSync(join(tmpdir(), `bwc-chaos-${seed}-`));
    const r = await runChaos({
      dir,
      seed,
      faults: int('--faults', o.faults, 0, 1000),
      windowS: int('--window', o.window, 5, 86_400),
      clipsMiB,
      serialChaos: rate('--serial-chaos', o.serialChaos),
      duplicateRate: rate('--duplicates', o.duplicates),
      log: (l) => process.stderr.write(`${l}\n`),
    });
    results.push({ seed, dir, ...r });
    if (!o.json) {
      process.stdout.write(
        `run ${i + 1}/${runs}, seed ${seed}: ${r.ok ? 'every invariant held' : 'INVARIANT BROKEN'} (${r.faults.length} faults, ${r.duplicatesSent} duplicates, ${r.seconds} s; data in ${dir})\n`,
      );
      for (const inv of r.invariants) process.stdout.write(`  ${inv.ok ? 'ok  ' : 'FAIL'} ${inv.name}${inv.ok ? '' : ` — ${inv.detail}`}\n`);
    }
    if (!r.ok) break;
  }
  if (o.json) writeJson(results);
  if (results.some((r) => !r.ok)) process.exitCode = 1;
}

export function registerSim(program: Command): void {
  const sim = program.command('sim').description('Simulators for tests, demos and field checks.');
  sim
    .command('chaos')
    .description(
      "Docks, cameras, a gateway and Mosquitto as real processes under faults that land while a clip is mid-upload (SIGKILL of docks and gateway, broker restarts and freezes; seeded kinds and pauses), serial chaos, duplicated and reordered deliveries; then the custody invariants, judged from the gateway's audit log and the cameras.",
    )
    .option('--seed <n>', 'the seed of the first run (printed; give it again to replay a run)')
    .option('--faults <n>', 'faults per run', '6')
    .option('--window <s>', 'how long each fault waits, at most, for a clip to be mid-upload at the gateway', '40')
    .option('--clips <MiB,…>', 'clip sizes per camera, MiB', '4,24,8')
    .option('--serial-chaos <rate>', 'camera-link chaos per frame', '0.02')
    .option('--duplicates <rate>', 'share of dock messages published again, late', '0.2')
    .option('--runs <n>', 'runs, each with the next seed (a soak: --runs 50 --faults 20 --window 300)', '1')
    .option('--dir <dir>', "keep each run's data under DIR/run-SEED")
    .option('--json', 'print the results as JSON')
    .addHelpText(
      'after',
      "\nExit status 1 when an invariant broke (the run's data is kept and named).\n\nExamples:\n  $ bwc sim chaos --seed 7\n  $ bwc sim chaos --runs 50 --faults 20 --window 300 --clips 64,512,16 --dir /var/tmp/bwc-soak\n",
    )
    .action(simChaos);
  sim
    .command('fleet')
    .description(
      "Many simulated docks in one process, on the dock's real sync layer: registered with the gateway, Birth, Status, small clips uploaded until VERIFIED.",
    )
    .requiredOption('--devices <n>', 'how many docks')
    .requiredOption('--broker <url>', 'the broker the gateway listens on (mqtt://host:port)')
    .requiredOption('--gateway <url>', "the gateway HTTP API, to register each dock's key")
    .requiredOption('--root-pubkey <file>', 'the agency root public key (hex or PEM): acks and commands are checked against it')
    .option('--token-file <file>', 'an operator API token (default: $BWC_TOKEN)')
    .option('--fleet <id>', 'the fleet id', 'f1')
    .option('--prefix <p>', 'device ids are PREFIX0000…', 'sim-')
    .option('--status-interval <s>', 'seconds between Status messages per dock', '10')
    .option('--clip-every <s>', 'mean seconds between clips per dock (0: none)', '0')
    .option('--clip-bytes <n>', 'size of each clip', '65536')
    .option('--duration <s>', 'stop after this long (0: until Ctrl-C), each dock with a clean Death', '0')
    .option('--concurrency <n>', 'docks connecting at once', '200')
    .option('--gateway-passwords', 'connect with the MQTT password the gateway returns (its embedded broker); default: none')
    .option('--dir <dir>', 'where clip files are written (default: a temporary directory)')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ bwc sim fleet --devices 10000 --broker mqtt://127.0.0.1:1883 --gateway http://127.0.0.1:8080 \\\n      --root-pubkey root.hex --token-file operator.token --fleet f1 --duration 300\n  $ bwc sim fleet --devices 50 --clip-every 30 --broker mqtt://127.0.0.1:1883 --gateway http://127.0.0.1:8080 --root-pubkey root.hex --gateway-passwords\n',
    )
    .action(simFleet);
  sim
    .command('camera')
    .description('A simulated camera speaking BWC-Link v1, playing a scripted shift (device/link/README.md, "Scenarios").')
    .requiredOption('--port <path>', 'serial device or one end of a pty pair (socat -d -d pty,rawer,link=A pty,rawer,link=B)')
    .requiredOption('--storage <dir>', "the camera's storage: clips are written under DIR/DCIM/")
    .option('--scenario <file>', 'scenario (YAML or JSON); default: a short shift')
    .option('--chaos <rate>', 'probability per frame of garbage, a corrupted byte, a duplicate or a drop', '0')
    .option('--speed <factor>', 'play waits and unplugs this many times faster', '1')
    .option('--docked-after-shift', 'record the whole shift unlinked, then replay its events at docking')
    .option('--baud <n>', 'baud rate', String(DEFAULT_BAUD))
    .option('--settle <seconds>', 'how long to wait at the end for the dock to ack everything', '15')
    .option('--until-released <seconds>', 'after the scenario, stay linked this long at most until the dock has released every clip written', '0')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      "\nA scenario's pause step goes on at SIGUSR2 (kill -USR2 PID).\nExit status 1 when some event was never acked by the dock.\n\nExample:\n  $ socat -d -d pty,rawer,link=/tmp/cam pty,rawer,link=/tmp/dock &\n  $ bwc link monitor --port /tmp/dock &\n  $ bwc sim camera --port /tmp/cam --storage /tmp/cam-storage --chaos 0.05\n",
    )
    .action(simCamera);
}
