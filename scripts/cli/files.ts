/** Reading inputs and writing outputs for the CLI: one-line errors naming the file, never overwriting. */
import { closeSync, constants, fsyncSync, openSync, readFileSync, readdirSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { CliError } from './common.js';

export function readInput(path: string, what: string, maxBytes = 16 * 1024 * 1024): Buffer {
  if (path === '-') return readFileSync(0);
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new CliError(`${what} ${path} is a directory, not a file`);
    size = st.size;
  } catch (e) {
    if (e instanceof CliError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `${what} ${path} does not exist` : `${what} ${path} cannot be read: ${(e as Error).message}`);
  }
  if (size > maxBytes) throw new CliError(`${what} ${path} is ${size} bytes, above the ${maxBytes}-byte limit`);
  return readFileSync(path);
}

/** JSON, or YAML for .yaml/.yml files (and for stdin that is not JSON). */
export function readStructured(path: string, what: string): unknown {
  const text = readInput(path, what).toString('utf8');
  try {
    if (/\.ya?ml$/i.test(path)) return YAML.parse(text);
    try {
      return JSON.parse(text);
    } catch (e) {
      if (path === '-') return YAML.parse(text);
      throw e;
    }
  } catch (e) {
    throw new CliError(`${what} ${path === '-' ? '(stdin)' : path} is not valid ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'}: ${(e as Error).message}`);
  }
}

/** Writes a new file (O_EXCL: never overwrites), fsynced. */
export function writeNewFile(path: string, data: Uint8Array | string, mode = 0o644): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new CliError(`${path} already exists; refusing to overwrite it`);
    throw new CliError(`cannot create ${path}: ${(e as Error).message}`);
  }
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The regular files of a directory, sorted, for loading signed objects. */
export function filesIn(dir: string, what: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile() && !e.name.startsWith('.'))
      .map((e) => join(dir, e.name))
      .sort();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `${what} directory ${dir} does not exist` : `${what} directory ${dir} cannot be read: ${(e as Error).message}`);
  }
}
