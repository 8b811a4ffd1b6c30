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
// Registered when a test file imports this module, so dirs made inside tests are removed too.
afterAll(() => {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A temp dir removed after the file's tests. */
export function tempDir(prefix = 'bwc-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

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
    cwd: options.cwd ?? ROOT, encoding: 'utf8', input: options.input, timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function run(cmd: string, args: string[], options: { input?: Buffer | string } = {}): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: options.input, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A pty pair made by socat, as a camera would appear on a dock: `cam` for the camera, `dock` for the dock. */
export interface PtyPair {
  readonly cam: string;
  readonly dock: string;
  /** Kills socat: both ttys vanish, as when a USB cable is pulled. */
  kill(): Promise<void>;
  /** Starts socat again with the same paths. */
  restart(): Promise<void>;
}

export async function ptyPair(dir: string, name = 'pty'): Promise<PtyPair> {
  const { spawn } = await import('node:child_process');
  const { existsSync, rmSync } = await import('node:fs');
  const cam = join(dir, `${name}-cam`);
  const dock = join(dir, `${name}-dock`);
  let proc: import('node:child_process').ChildProcess | null = null;
  const start = async () => {
    rmSync(cam, { force: true });
    rmSync(dock, { force: true });
    proc = spawn('socat', ['-d', '-d', `pty,rawer,link=${cam}`, `pty,rawer,link=${dock}`], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !(existsSync(cam) && existsSync(dock)); i++) await new Promise((r) => setTimeout(r, 20));
    if (!existsSync(cam) || !existsSync(dock)) throw new Error('socat did not create the pty pair');
  };
  const kill = async () => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((r) => { p.once('exit', () => r()); p.kill('SIGTERM'); });
  };
  await start();
  afterAll(kill);
  return { cam, dock, kill, restart: start };
}

/** Like runBwc, without blocking the event loop (for tests that also run peers in-process). */
export async function runBwcAsync(args: string[]): Promise<RunResult> {
  const { spawn } = await import('node:child_process');
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BWC, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
