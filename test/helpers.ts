/** Shared test fixtures: temp dirs, clips, keys and a way to run the built `bwc` CLI. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { pseudoRandomBytes } from '../scripts/bench/harness.js';

export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const BWC = join(ROOT, 'dist', 'scripts', 'bwc.js');

const tempDirs: string[] = [];
const ptys: { kill(): Promise<void> }[] = [];

/** Kills the pty pairs and removes the temp dirs made so far (after each file's tests). */
export async function cleanUpAfterFile(): Promise<void> {
  await Promise.all(ptys.splice(0).map((p) => p.kill()));
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}
// Registered when a test file imports this module (a hook registered inside a test never runs),
// so pty pairs and dirs made inside tests are cleaned up too. Where files share one module
// instance (the unit tier), its setup file registers the same for every file.
afterAll(cleanUpAfterFile);

/** A temp dir removed after the file's tests. */
export function tempDir(prefix = 'bwc-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/**
 * `openGatewayDb` options for the databases test harnesses open by the hundred: SQLite checkpoints
 * inside COMMIT instead of on a thread started for each (gateway.store.test.ts tests both ways).
 */
export const HARNESS_DB = { sqlite: { checkpointThread: false } } as const;

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
export { pseudoRandomBytes };

/** Polls `fn` until it returns something truthy; fails naming `what` after `timeoutMs`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function writeClip(dir: string, name: string, length: number, seed = 1): string {
  const path = join(dir, name);
  writeFileSync(path, pseudoRandomBytes(length, seed));
  return path;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runBwc(args: string[], options: { cwd?: string; input?: string } = {}): RunResult {
  const r = spawnSync(process.execPath, [BWC, ...args], {
    cwd: options.cwd ?? ROOT,
    encoding: 'utf8',
    input: options.input,
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function run(cmd: string, args: string[], options: { input?: Buffer | string } = {}): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: options.input, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A socat pty pair (scripts/sim/pty.ts), killed when the test file ends. */
export type { PtyPair } from '../scripts/sim/pty.js';

export async function ptyPair(dir: string, name = 'pty'): Promise<import('../scripts/sim/pty.js').PtyPair> {
  const { socatPtyPair } = await import('../scripts/sim/pty.js');
  const pair = await socatPtyPair(dir, name);
  ptys.push(pair);
  return pair;
}

/** Like runBwc, without blocking the event loop (for tests that also run peers in-process). */
export async function runBwcAsync(args: string[]): Promise<RunResult> {
  const { spawn } = await import('node:child_process');
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BWC, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The scrypt cost for test gateways' passwords (`startGateway({ passwordCost })`): 2^10 instead of
 * the production 2^15, so a sign-in costs about 1 ms instead of 100–300 ms. The default itself is
 * held by gateway.api ("hashes passwords at N=2^15…").
 */
export const TEST_PASSWORD_COST = { N: 2 ** 10, r: 8, p: 1 } as const;
