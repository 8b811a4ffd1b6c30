/**
 * Reading a program's configuration file (YAML or JSON, one mapping of settings), shared by the
 * dock and the gateway so both report a bad file the same way. The schema is each program's own.
 */
import { readFileSync } from 'node:fs';
import YAML from 'yaml';

/** Reads `file` into a mapping; `fail` builds the program's own error from a one-line message. */
export function readConfigFile(file: string, fail: (message: string) => Error): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw fail(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = YAML.parse(text) ?? {};
  } catch (e) {
    throw fail(`${file} is not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw fail(`${file} must hold a mapping of settings`);
  return raw as Record<string, unknown>;
}

/** Sets `value` at `path` in a nested mapping, creating the mappings on the way (environment overrides). */
export function setSetting(raw: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let o = raw;
  for (const p of path.slice(0, -1)) o = (o[p] ??= {}) as Record<string, unknown>;
  o[path.at(-1)!] = value;
}
