/**
 * Fixtures for dock tests: the agency root, a gateway key certified by it and a root-signed policy
 * bundle (as an agency would prepare them), child processes of `bwc` with their output kept, and
 * the Mosquitto ACL that confines each device to its own prefix (device/README.md).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { SIM_OFFICER } from '../scripts/sim/agency.js';
import { BWC } from './helpers.js';

export { agencyTrust, type AgencyTrust } from '../scripts/sim/agency.js';
export { mosquittoAcl } from '../scripts/sim/mosquitto.js';

export const OFFICER = SIM_OFFICER;

export type BwcProcess = ChildProcess & { output(): string; stdoutText(): string };

const running: ChildProcess[] = [];

/** `bwc …` as a child process; its output is kept for failure messages. */
export function spawnBwc(args: string[], name: string): BwcProcess {
  const p = spawn(process.execPath, [BWC, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stdout = '';
  p.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    stdout += d.toString();
  });
  p.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  running.push(p);
  return Object.assign(p, { output: () => `--- ${name} ---\n${out.slice(-20_000)}`, stdoutText: () => stdout });
}

export function killAll(): void {
  for (const p of running) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

export async function exited(p: ChildProcess, timeoutMs = 60_000): Promise<number | null> {
  if (p.exitCode !== null) return p.exitCode;
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(null), timeoutMs);
    p.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}
