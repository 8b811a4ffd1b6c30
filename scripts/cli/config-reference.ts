/**
 * The configuration reference of a program, generated from its zod schema (DESIGN §10): one row
 * per setting with its type, default, environment override and description. The schema is the one
 * source: descriptions are its `.describe()` texts, types and ranges its checks, defaults its
 * `.default()`s (a `defaultText` in `.meta()` stands for a default worked out at run time), and
 * the environment column comes from the program's table of overrides (DOCK_ENV, GATEWAY_ENV).
 *
 * `bwc dock config-reference` and `bwc gateway config-reference` print it; `--write-readme FILE`
 * puts it between the `<!-- config-reference:NAME:start -->` and `…:end -->` markers of a README,
 * and test/repo.config-reference.test.ts fails when a README's copy is not current.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import { createRequire } from 'node:module';
import { CliError, writeJson } from './common.js';

/** Environment variable → the path of the setting it overrides. */
export type EnvTable = Readonly<Record<string, readonly string[]>>;

/** A node of the JSON Schema zod writes (the parts read here). */
export interface JsonSchema {
  type?: string;
  description?: string;
  defaultText?: string;
  default?: unknown;
  const?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
}

/** One setting: a leaf of the schema. */
export interface ConfigSetting {
  /** Dotted path; `<name>` stands for a key of a map. */
  path: string;
  /** Markdown. */
  type: string;
  /** The schema's default; undefined when it has none. */
  default: unknown;
  /** Set when the default is worked out at run time (shown instead of `default`). */
  defaultText?: string;
  /** The setting must be given (inside a map entry). */
  required: boolean;
  description: string;
  /** The environment variables that override it. */
  env: string[];
  /** Its node of the JSON Schema. */
  schema: JsonSchema;
}

/** Placeholder for a map's key in a path. */
export const MAP_KEY = '<name>';

/** The JSON Schema of a configuration file: what it may hold (`io: 'input'`: defaults are optional). */
export function configJsonSchema(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { io: 'input' }) as JsonSchema;
}

/** Every setting of a schema, in the schema's order, with the variables of `env` that override it. */
export function configSettings(schema: z.ZodType, env: EnvTable): ConfigSetting[] {
  const out: ConfigSetting[] = [];
  walk(configJsonSchema(schema), [], out, { required: false });
  const byPath = new Map(out.map((s) => [s.path, s]));
  for (const [name, path] of Object.entries(env)) {
    const setting = byPath.get(path.join('.'));
    if (!setting) throw new Error(`${name} overrides ${path.join('.')}, which is not a setting of the schema`);
    setting.env.push(name);
  }
  return out;
}

function isObject(s: JsonSchema): boolean {
  return s.type === 'object' && s.properties !== undefined;
}

function isMap(s: JsonSchema): boolean {
  return s.type === 'object' && s.properties === undefined && typeof s.additionalProperties === 'object';
}

function walk(s: JsonSchema, path: string[], out: ConfigSetting[], o: { required: boolean; only?: string }): void {
  if (isObject(s)) {
    for (const [key, child] of Object.entries(s.properties!)) walk(child, [...path, key], out, { required: (s.required ?? []).includes(key) });
    return;
  }
  out.push(setting(s, path, o.required, o.only));
  if (!isMap(s)) return;
  const value = s.additionalProperties as JsonSchema;
  if (isObject(value)) walk(value, [...path, MAP_KEY], out, { required: false });
  else if (value.oneOf?.every(isObject)) walkVariants(value.oneOf, [...path, MAP_KEY], out);
}

/**
 * The variants of a discriminated union, as one set of settings: the discriminator (the field
 * every variant fixes with a `const`) lists its values; a field only some variants have says which.
 */
function walkVariants(variants: JsonSchema[], path: string[], out: ConfigSetting[]): void {
  const keys = [...new Set(variants.flatMap((v) => Object.keys(v.properties!)))];
  const tag = keys.find((k) => variants.every((v) => v.properties![k]?.const !== undefined));
  if (tag === undefined) throw new Error(`${path.join('.')}: a union without a discriminator field`);
  const values = variants.map((v) => v.properties![tag]!.const);
  out.push({
    path: [...path, tag].join('.'),
    type: values.map(code).join(' \\| '),
    default: undefined,
    required: true,
    env: [],
    description: joinDescriptions(variants.map((v) => v.properties![tag]!.description)),
    schema: { enum: values },
  });
  for (const key of keys) {
    if (key === tag) continue;
    const having = variants.filter((v) => v.properties![key] !== undefined);
    const only = having.length < variants.length ? having.map((v) => code(v.properties![tag]!.const)).join(', ') : undefined;
    const first = having[0]!.properties![key]!;
    const required = having.every((v) => (v.required ?? []).includes(key));
    const s = setting(
      { ...first, description: joinDescriptions(having.map((v) => v.properties![key]!.description)) },
      [...path, key],
      required,
      only && `${tag} ${only}`,
    );
    out.push(s);
  }
}

function joinDescriptions(list: (string | undefined)[]): string {
  const unique = [...new Set(list.filter((d): d is string => !!d).map((d) => d.replace(/\.$/, '')))];
  return unique.length ? `${unique.join('; ')}.` : '';
}

function setting(s: JsonSchema, path: string[], required: boolean, only?: string): ConfigSetting {
  return {
    path: path.join('.'),
    type: only ? `${typeOf(s)}; with ${only} only` : typeOf(s),
    default: s.default,
    ...(s.defaultText !== undefined ? { defaultText: s.defaultText } : {}),
    required: required && s.default === undefined,
    description: s.description ?? '',
    env: [],
    schema: s,
  };
}

const code = (v: unknown): string => `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``;

/** The type of a setting with the checks the schema makes (a JSON Schema keeps the ones it can say). */
export function typeOf(s: JsonSchema): string {
  if (s.const !== undefined) return code(s.const);
  if (s.enum) return s.enum.map(code).join(' \\| ');
  if (s.anyOf?.every((a) => a.const !== undefined)) return s.anyOf.map((a) => code(a.const)).join(' \\| ');
  if (s.oneOf?.every(isObject)) return 'object (fields below)';
  switch (s.type) {
    case 'boolean':
      return 'boolean';
    case 'integer':
    case 'number':
      return qualified(s.type, range(s));
    case 'string':
      if (s.format === 'uri') return 'URL';
      return qualified('string', [s.pattern ? `matching \`${s.pattern.replace(/^\^/, '').replace(/\$$/, '')}\`` : '', length(s)].filter(Boolean).join(', '));
    case 'array':
      return `list of ${typeOf(s.items ?? {})}`;
    case 'object':
      if (isMap(s)) {
        const value = s.additionalProperties as JsonSchema;
        const valueType = isObject(value) || value.oneOf?.every(isObject) ? `object (\`${MAP_KEY}\` fields below)` : typeOf(value);
        return `map: ${typeOf(s.propertyNames ?? { type: 'string' })} → ${valueType}`;
      }
      return 'object';
    default:
      throw new Error(`no rendering for the schema ${JSON.stringify(s)}`);
  }
}

const qualified = (base: string, q: string) => (q ? `${base} (${q})` : base);

function range(s: JsonSchema): string {
  const int = s.type === 'integer';
  const safe = (n: number | undefined) => (n !== undefined && Math.abs(n) < Number.MAX_SAFE_INTEGER ? n : undefined);
  let min = safe(s.minimum);
  let max = safe(s.maximum);
  let low = min === undefined ? '' : `≥ ${min}`;
  let high = max === undefined ? '' : `≤ ${max}`;
  const exMin = safe(s.exclusiveMinimum);
  const exMax = safe(s.exclusiveMaximum);
  if (exMin !== undefined) {
    if (int) low = `≥ ${(min = exMin + 1)}`;
    else low = `> ${exMin}`;
  }
  if (exMax !== undefined) {
    if (int) high = `≤ ${(max = exMax - 1)}`;
    else high = `< ${exMax}`;
  }
  if (min !== undefined && max !== undefined && low.startsWith('≥') && high.startsWith('≤')) return `${min}–${max}`;
  return [low, high].filter(Boolean).join(', ');
}

function length(s: JsonSchema): string {
  const min = s.minLength ?? 0;
  if (s.maxLength !== undefined) return `${min}–${s.maxLength} characters`;
  if (min === 1) return 'not empty';
  if (min > 1) return `at least ${min} characters`;
  return '';
}

/** A default short enough for a table cell; longer ones go in a YAML block after the table. */
const MAX_INLINE_DEFAULT = 48;

function inlineDefault(v: unknown): string | null {
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  if (text.length > MAX_INLINE_DEFAULT) return null;
  return text === '' ? '`""`' : `\`${text}\``;
}

/** The default column: what the schema gives when the setting is left out. */
export function defaultCell(s: ConfigSetting): string {
  if (s.defaultText !== undefined) return `*${s.defaultText}*`;
  if (s.default === undefined) return s.required ? 'required' : 'none';
  return inlineDefault(s.default) ?? 'below';
}

function envCell(s: ConfigSetting): string {
  const list = s.type.startsWith('list of') ? ' (comma-separated)' : '';
  return s.env.map((e) => `\`${e}\`${list}`).join(', ');
}

const cell = (text: string) => text.replace(/\r?\n/g, ' ').replace(/(?<!\\)\|/g, '\\|');

/** The reference as Markdown: the table, then the defaults too long for it as YAML. */
export function renderConfigReference(schema: z.ZodType, env: EnvTable): string {
  const settings = configSettings(schema, env);
  const lines = ['| setting | type | default | environment | description |', '|---|---|---|---|---|'];
  const long: Record<string, unknown> = {};
  for (const s of settings) {
    lines.push(`| \`${s.path}\` | ${cell(s.type)} | ${cell(defaultCell(s))} | ${envCell(s)} | ${cell(s.description)} |`);
    if (s.defaultText === undefined && s.default !== undefined && inlineDefault(s.default) === null) setPath(long, s.path.split('.'), s.default);
  }
  if (Object.keys(long).length)
    lines.push(
      '',
      'The defaults marked *below*:',
      '',
      '```yaml',
      (createRequire(import.meta.url)('yaml') as typeof import('yaml')).stringify(long, { lineWidth: 0 }).trimEnd(),
      '```',
    );
  return `${lines.join('\n')}\n`;
}

function setPath(o: Record<string, unknown>, path: string[], value: unknown): void {
  let at = o;
  for (const p of path.slice(0, -1)) at = (at[p] ??= {}) as Record<string, unknown>;
  at[path.at(-1)!] = value;
}

const markers = (name: string) => ({ start: `<!-- config-reference:${name}:start -->`, end: `<!-- config-reference:${name}:end -->` });

/** The reference a README holds between its markers for `name` (null without the markers). */
export function readmeSection(text: string, name: string): string | null {
  const { start, end } = markers(name);
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return null;
  return text
    .slice(a + start.length, b)
    .replace(/^\n\n/, '')
    .replace(/\n$/, '');
}

/** `text` with the section between the markers for `name` replaced by `markdown`. */
export function withReadmeSection(text: string, name: string, markdown: string): string {
  const { start, end } = markers(name);
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) throw new Error(`no ${start} … ${end} markers`);
  return `${text.slice(0, a + start.length)}\n\n${markdown}\n${text.slice(b)}`;
}

/** Rewrites the section of a README file; says whether it changed. */
export function writeReadmeSection(file: string, name: string, markdown: string): boolean {
  const before = readFileSync(file, 'utf8');
  const after = withReadmeSection(before, name, markdown);
  if (after === before) return false;
  writeFileSync(file, after);
  return true;
}

/** `bwc dock|gateway config-reference`: the reference of `program`'s --config, printed or written into its README. */
export function registerConfigReference(parent: Command, program: 'dock' | 'gateway', schema: z.ZodType, env: EnvTable, readme: string): void {
  parent
    .command('config-reference')
    .description(
      'Print the configuration reference, generated from the schema: every setting of --config with its type, default, environment override and meaning (Markdown).',
    )
    .option('--json', 'print the JSON Schema of the configuration file instead')
    .option('--write-readme <file>', `put the reference between the config-reference:${program} markers of this file (${readme}) instead of printing it`)
    .addHelpText(
      'after',
      `\nExamples:\n  $ bwc ${program} config-reference\n  $ bwc ${program} config-reference --json > ${program}-config.schema.json\n  $ bwc ${program} config-reference --write-readme ${readme}     # in a checkout, after node scripts/build.mjs\n`,
    )
    .action((o: { json?: boolean; writeReadme?: string }) => {
      if (o.json) return writeJson(configJsonSchema(schema));
      const markdown = renderConfigReference(schema, env);
      if (!o.writeReadme) return void process.stdout.write(markdown);
      try {
        const changed = writeReadmeSection(o.writeReadme, program, markdown);
        process.stdout.write(`${o.writeReadme}: configuration reference ${changed ? 'updated' : 'already current'}\n`);
      } catch (e) {
        throw new CliError(`${o.writeReadme}: ${(e as Error).message}`);
      }
    });
}
