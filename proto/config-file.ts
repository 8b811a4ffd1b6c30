/**
 * Reading a program's configuration file (YAML or JSON, one mapping of settings), shared by the
 * dock and the gateway so both report a bad file the same way. The schema is each program's own.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

/** The YAML parser, loaded only for a file that is not plain JSON (a dock counts its megabytes). */
function parseYaml(text: string): unknown {
  const YAML = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return YAML.parse(text);
}

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
    let json: unknown;
    try {
      json = text.trimStart().startsWith('{') ? JSON.parse(text) : undefined;
    } catch {
      json = undefined; // YAML reads it again and says what is wrong
    }
    raw = json ?? parseYaml(text) ?? {};
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
