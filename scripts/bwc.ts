#!/usr/bin/env node
/**
 * `bwc`: the one executable of bwc-companion. Each command lives in scripts/cli/ and composes the
 * dock (device/), the gateway (gateway/) or the contract (proto/); this file only wires them up
 * and turns errors into one line and an exit code.
 */
import { Command, CommanderError } from 'commander';
import { SOFTWARE_VERSION } from '../proto/version.js';
import { CliError, USAGE_EXIT } from './cli/common.js';

type Register = (program: Command) => void;

/**
 * Each top-level command and the module that registers it, loaded only when needed: `bwc dock`
 * does not load the gateway, its broker or PostgreSQL driver (the dock's memory budget:
 * device/README.md, "Memory"), and `bwc verify` loads neither. `bwc --help` and an unknown name load them all.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  demo: async () => (await import('./cli/demo.js')).registerDemo,
  keygen: async () => (await import('./cli/keygen.js')).registerKeygen,
  manifest: async () => (await import('./cli/manifest.js')).registerManifest,
  verify: async () => (await import('./cli/verify.js')).registerVerify,
  link: async () => (await import('./cli/link.js')).registerLink,
  sim: async () => (await import('./cli/sim.js')).registerSim,
  authz: async () => (await import('./cli/authz.js')).registerAuthz,
  policy: async () => (await import('./cli/policy.js')).registerPolicy,
  io: async () => (await import('./cli/io.js')).registerIo,
  gateway: async () => (await import('./cli/gateway.js')).registerGateway,
  dock: async () => (await import('./cli/dock.js')).registerDock,
  audit: async () => (await import('./cli/audit.js')).registerAudit,
  records: async () => (await import('./cli/records.js')).registerRecords,
};

/** The program with every command, or only `only` when it names one. */
export async function buildProgram(only?: string): Promise<Command> {
  const program = new Command('bwc')
    .description('bwc-companion: custody for body-worn camera recordings (dock agent, gateway, verification).')
    .version(SOFTWARE_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) });
  const names = only !== undefined && Object.hasOwn(COMMANDS, only) ? [only] : Object.keys(COMMANDS);
  for (const name of names) (await COMMANDS[name]!())(program);
  const override = (c: Command): void => {
    c.exitOverride();
    c.commands.forEach(override);
  };
  override(program);
  return program;
}

function commandPath(c: Command): string {
  const names: string[] = [];
  for (let at: Command | null = c; at; at = at.parent) names.unshift(at.name());
  return names.join(' ');
}

async function main(argv: string[]): Promise<void> {
  const program = await buildProgram(argv[2]);
  let name = 'bwc';
  program.hook('preAction', (_root, action) => {
    name = commandPath(action);
  });
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : USAGE_EXIT;
      return;
    }
    if (e instanceof CliError) {
      process.stderr.write(`${name}: ${e.message}\n`);
      process.exitCode = e.exitCode;
      return;
    }
    process.stderr.write(`${name}: internal error: ${(e as Error).message}\n`);
    if (process.env.BWC_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    process.exitCode = 70;
  }
}

// A reader that stops early (`bwc … | head`) closes the pipe: the output is no longer wanted, which is
// not an error of the command. Anything else on stdout still is.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(process.exitCode ?? 0);
});

await main(process.argv);
