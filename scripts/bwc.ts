#!/usr/bin/env node
/**
 * `bwc`: the one executable of bwc-companion. Each command lives in scripts/cli/ and composes the
 * dock (device/), the gateway (gateway/) or the contract (proto/); this file only wires them up
 * and turns errors into one line and an exit code.
 */
import { Command, CommanderError } from 'commander';
import { SOFTWARE_VERSION } from '../proto/version.js';
import { CliError, USAGE_EXIT } from './cli/common.js';
import { registerKeygen } from './cli/keygen.js';
import { registerManifest } from './cli/manifest.js';
import { registerVerify } from './cli/verify.js';
import { registerDemo } from './cli/demo.js';
import { registerLink } from './cli/link.js';
import { registerSim } from './cli/sim.js';
import { registerAuthz } from './cli/authz.js';
import { registerPolicy } from './cli/policy.js';
import { registerIo } from './cli/io.js';
import { registerGateway } from './cli/gateway.js';
import { registerDock } from './cli/dock.js';

export function buildProgram(): Command {
  const program = new Command('bwc')
    .description('bwc-companion: custody for body-worn camera recordings (dock agent, gateway, verification).')
    .version(SOFTWARE_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) });
  registerDemo(program);
  registerKeygen(program);
  registerManifest(program);
  registerVerify(program);
  registerLink(program);
  registerSim(program);
  registerAuthz(program);
  registerPolicy(program);
  registerIo(program);
  registerGateway(program);
  registerDock(program);
  const override = (c: Command): void => { c.exitOverride(); c.commands.forEach(override); };
  override(program);
  return program;
}

function commandPath(c: Command): string {
  const names: string[] = [];
  for (let at: Command | null = c; at; at = at.parent) names.unshift(at.name());
  return names.join(' ');
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  let name = 'bwc';
  program.hook('preAction', (_root, action) => { name = commandPath(action); });
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

await main(process.argv);
