/** Shared test fixtures: temp dirs, clips, keys and a way to run the built `bwc` CLI. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

export const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const BWC = join(ROOT, 'dist', 'scripts', 'bwc.js');

/** A temp dir removed after the file's tests. */
export function tempDir(prefix = 'bwc-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
export function pseudoRandomBytes(length: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
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
