/**
 * The unit tier's scratch space. Its gateway tests open SQLite databases by the dozen, and every
 * committed write waits for an fsync of the WAL (gateway/store/sqlite.ts); on a shared disk those
 * waits were most of their time. Temp files (helpers.ts tempDir, os.tmpdir()) go to a directory
 * in memory (/dev/shm) where the machine has one, removed when the run ends; the fsyncs still
 * run, and return at once. The full tier keeps the system temp dir.
 */
import { accessSync, constants, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const MEMORY = '/dev/shm';

function usable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

export default function setup(): () => void {
  if (!usable(MEMORY)) return () => undefined;
  const dir = mkdtempSync(join(MEMORY, 'bwc-unit-'));
  const saved = process.env.TMPDIR;
  // Read by the test workers, which start after this (their environment is copied from this process).
  process.env.TMPDIR = dir;
  return () => {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    rmSync(dir, { recursive: true, force: true });
  };
}
