/**
 * `bwc demo` (`npm start`): the whole system on one machine — the gateway with its embedded broker
 * and dashboard, three docks with two simulated cameras each, playing a shift (scripts/sim/demo.ts).
 * It prints the dashboard's address and a login for every role, shows hashing and offload as they
 * run, and checks the end state. `--exit-when-done` stops there, exiting 0 only if every check
 * passed; otherwise the system stays up for the dashboard until Ctrl-C.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { startDemo, type LinkMode } from '../sim/demo.js';
import type { ProgressEntry } from '../../device/agent.js';
import { CliError } from './common.js';

interface DemoCliOptions {
  duration: string;
  exitWhenDone?: boolean;
  port: string;
  mqttPort: string;
  link: string;
  dir?: string;
  keep?: boolean;
}

type Entry = ProgressEntry & { deviceId: string };

/** Bars on a terminal; a line every few seconds otherwise. */
function progressView(): { show(entries: Entry[]): void; stop(): void; log(line: string): void } {
  const out = process.stdout;
  const mib = (n: number) => (n / 1048576).toFixed(1);
  if (!out.isTTY) {
    let last = 0;
    return {
      show(entries) {
        if (entries.length === 0 || Date.now() - last < 3000) return;
        last = Date.now();
        out.write(`  transfers: ${entries.map((e) => `${e.deviceId}/${e.clipId} ${e.phase} ${mib(e.doneBytes)}/${mib(e.totalBytes)} MiB`).join('; ')}\n`);
      },
      stop() {},
      log: (line) => out.write(`${line}\n`),
    };
  }
  const multi = new cliProgress.MultiBar(
    {
      stream: out,
      hideCursor: true,
      clearOnComplete: true,
      stopOnComplete: false,
      format: '  {phase} {clip} [{bar}] {done}/{all} MiB',
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  return {
    show(entries) {
      const seen = new Set<string>();
      for (const e of entries) {
        const key = `${e.deviceId}|${e.phase}|${e.clipId}`;
        seen.add(key);
        const payload = {
          phase: e.phase === 'hash' ? 'hashing ' : 'offload ',
          clip: `${e.deviceId}/${e.clipId}`.padEnd(38),
          done: mib(e.doneBytes),
          all: mib(e.totalBytes),
        };
        const bar = bars.get(key);
        if (bar) bar.update(e.doneBytes, payload);
        else bars.set(key, multi.create(Math.max(1, e.totalBytes), e.doneBytes, payload));
      }
      for (const [key, bar] of bars) {
        if (!seen.has(key)) {
          multi.remove(bar);
          bars.delete(key);
        }
      }
    },
    stop: () => multi.stop(),
    log: (line) => multi.log(`${line}\n`),
  };
}

async function demo(o: DemoCliOptions): Promise<void> {
  const duration = Number(o.duration);
  if (!(duration >= 5 && duration <= 3600)) throw new CliError(`--duration must be 5 to 3600 seconds, got "${o.duration}"`);
  const port = Number(o.port);
  const mqttPort = Number(o.mqttPort);
  for (const [flag, v] of [
    ['--port', port],
    ['--mqtt-port', mqttPort],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 65535) throw new CliError(`${flag} must be a port number (0: any free port)`);
  }
  if (!['auto', 'pty', 'memory'].includes(o.link)) throw new CliError(`--link must be auto, pty or memory, got "${o.link}"`);
  const dir = o.dir ? resolve(o.dir) : mkdtempSync(join(tmpdir(), 'bwc-demo-'));
  const keep = o.keep ?? Boolean(o.dir);
  const view = progressView();
  const say = (line: string) => view.log(line);

  let running;
  try {
    running = await startDemo({
      dir,
      httpPort: port,
      mqttPort,
      link: o.link as LinkMode,
      durationS: duration,
      say,
      onProgress: (e) => view.show(e),
    });
  } catch (e) {
    view.stop();
    if (!keep) rmSync(dir, { recursive: true, force: true });
    const m = (e as Error).message;
    if (/EADDRINUSE/.test(m)) throw new CliError(`${m}: another program holds the port; give --port 0 (any free port) or another port`, 1);
    throw new CliError(`the demo could not start: ${m}`, 1);
  }
  const stopAll = async () => {
    view.stop();
    await running.stop();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    say('stopping…');
    void stopAll().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  say('');
  say(`bwc-companion demo — dashboard: ${running.url}/   (data in ${dir}${keep ? ', kept' : ', removed at exit'})`);
  say('Sign in as any of these (each sees what its role may):');
  for (const l of running.logins) say(`  ${l.username.padEnd(6)} ${l.password.padEnd(18)} ${l.roles.join(', ').padEnd(26)} ${l.who}`);
  say(`Cameras: ${running.link.mode === 'pty' ? 'pty pairs' : 'in-memory streams'} (${running.link.why}).`);
  say(`The shift plays for about ${duration} s; watch it live on the dashboard.`);
  say('');

  let checks;
  try {
    checks = await running.play();
  } catch (e) {
    await stopAll();
    throw new CliError(`the demo failed: ${(e as Error).message}`, 1);
  }
  say('');
  say('End state:');
  for (const c of checks) say(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.ok ? '' : ` — ${c.detail}`}`);
  const failed = checks.filter((c) => !c.ok).length;
  say(failed === 0 ? `All ${checks.length} checks passed.` : `${failed} of ${checks.length} checks FAILED.`);

  if (o.exitWhenDone || interrupted) {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopAll();
    process.exitCode = failed === 0 ? 0 : 1;
    return;
  }
  say(`The system stays up: ${running.url}/ — Ctrl-C to stop.`);
  await new Promise<never>(() => {});
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('The whole system on one machine: gateway, embedded broker and dashboard, three docks with simulated cameras playing a shift.')
    .option('--duration <seconds>', 'how long the shift plays', '90')
    .option('--exit-when-done', 'stop after the shift and its checks; exit 0 only if every check passed (headless runs, CI)')
    .option('--port <n>', 'the dashboard and API port (0: any free port)', '8080')
    .option('--mqtt-port <n>', 'the embedded MQTT broker port (0: any free port)', '0')
    .option('--link <mode>', 'how cameras reach the docks: auto (pty pairs when socat is installed), pty, or memory', 'auto')
    .option('--dir <dir>', 'keep everything (databases, keys, clips, logs, logins.txt) in DIR instead of a temporary directory')
    .option('--keep', 'keep the temporary directory at exit')
    .addHelpText(
      'after',
      `
What plays: authorized recordings with several triggers (holster, vehicle, sensor), a recording
authorized by a prior authorization approved at the gateway (1061.2 §5.1), an unauthorized and a
prohibited activation, a late-tagged clip, a mute with a reason, a tamper event, a broker outage and
its recovery; every clip hashed, signed, offloaded, verified and released; then a litigation hold
and a disposition dry run. Checked at the end: every decision, every clip verified and released,
the expected alerts, the audit log intact. Logs: gateway.log and one per dock in the data directory.

Examples:
  $ npm start                                      # = bwc demo; open the printed URL
  $ bwc demo --duration 30 --exit-when-done --port 0
  $ bwc demo --link memory --dir ./demo-data
`,
    )
    .action(demo);
}
