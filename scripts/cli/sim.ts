/** `bwc sim camera`: a simulated camera on a real serial port or one end of a pty pair. */
import type { Command } from 'commander';
import { CameraSim } from '../../device/link/sim/camera.js';
import { DEFAULT_SCENARIO, loadScenario, ScenarioError } from '../../device/link/sim/scenario.js';
import { DEFAULT_BAUD, serialLinkPort } from '../../device/link/transport.js';
import { CliError, writeJson } from './common.js';

interface SimOptions {
  port: string; storage: string; scenario?: string; chaos: string; baud: string; speed: string;
  dockedAfterShift?: boolean; json?: boolean; settle: string; untilReleased: string;
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
  const sim = new CameraSim({
    scenario, storageDir: opts.storage, port: serialLinkPort(opts.port, Number(opts.baud)), chaos, speed,
    dockedAfterShift: opts.dockedAfterShift ?? false, settleMs: Number(opts.settle) * 1000, untilReleasedMs: Number(opts.untilReleased) * 1000,
    log: (line) => process.stderr.write(`${scenario.camera.serial}: ${line}\n`),
  });
  let result;
  try {
    result = await sim.run();
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  if (opts.json) writeJson(result);
  else {
    process.stdout.write(`${scenario.camera.serial}: sent events ${result.firstEventNo}..${result.lastEventNo} (${result.eventsSent}), ` +
      `${result.unacked} unacked, ${result.retransmits} retransmits, ${result.sessions} sessions, alerts ${result.alerts.length}, released ${result.released.length}\n`);
  }
  if (result.unacked > 0) process.exitCode = 1;
}

export function registerSim(program: Command): void {
  const sim = program.command('sim').description('Simulators for tests, demos and field checks.');
  sim
    .command('camera')
    .description('A simulated camera speaking BWC-Link v1, playing a scripted shift (device/link/README.md, "Scenarios").')
    .requiredOption('--port <path>', 'serial device or one end of a pty pair (socat -d -d pty,rawer,link=A pty,rawer,link=B)')
    .requiredOption('--storage <dir>', 'the camera\'s storage: clips are written under DIR/DCIM/')
    .option('--scenario <file>', 'scenario (YAML or JSON); default: a short shift')
    .option('--chaos <rate>', 'probability per frame of garbage, a corrupted byte, a duplicate or a drop', '0')
    .option('--speed <factor>', 'play waits and unplugs this many times faster', '1')
    .option('--docked-after-shift', 'record the whole shift unlinked, then replay its events at docking')
    .option('--baud <n>', 'baud rate', String(DEFAULT_BAUD))
    .option('--settle <seconds>', 'how long to wait at the end for the dock to ack everything', '15')
    .option('--until-released <seconds>', 'after the scenario, stay linked this long at most until the dock has released every clip written', '0')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExit status 1 when some event was never acked by the dock.\n\nExample:\n  $ socat -d -d pty,rawer,link=/tmp/cam pty,rawer,link=/tmp/dock &\n  $ bwc link monitor --port /tmp/dock &\n  $ bwc sim camera --port /tmp/cam --storage /tmp/cam-storage --chaos 0.05\n')
    .action(simCamera);
}
