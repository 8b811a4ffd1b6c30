/**
 * The configuration references (DESIGN §10: "one schema per program: defaults, env overrides … and
 * the generated config reference"). device/README.md and gateway/README.md hold, between their
 * `config-reference` markers, exactly what `bwc dock|gateway config-reference` generates from the
 * schemas — like a codegen check, so they cannot drift — and what the reference says is what the
 * code does: every setting is described, each default shown is the one parsing an empty
 * configuration gives, and each environment variable shown overrides that setting.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DOCK_ENV, DockConfigSchema, loadDockConfig, parseDockConfig } from '../device/config.js';
import { GATEWAY_ENV, GatewayConfigSchema, loadGatewayConfig, parseGatewayConfig } from '../gateway/config.js';
import {
  configJsonSchema,
  configSettings,
  defaultCell,
  MAP_KEY,
  readmeSection,
  renderConfigReference,
  withReadmeSection,
  type ConfigSetting,
  type EnvTable,
} from '../scripts/cli/config-reference.js';
import { ROOT, runBwc, tempDir } from './helpers.js';

interface Program {
  name: 'dock' | 'gateway';
  readme: string;
  schema: typeof DockConfigSchema | typeof GatewayConfigSchema;
  env: EnvTable;
  parse(raw: unknown): unknown;
  load(file: string | undefined, env: NodeJS.ProcessEnv): unknown;
}

const PROGRAMS: Program[] = [
  { name: 'dock', readme: 'device/README.md', schema: DockConfigSchema, env: DOCK_ENV, parse: parseDockConfig, load: loadDockConfig },
  {
    name: 'gateway',
    readme: 'gateway/README.md',
    schema: GatewayConfigSchema,
    env: GATEWAY_ENV,
    parse: parseGatewayConfig,
    load: loadGatewayConfig,
  },
];

const refresh = (p: Program) => `node scripts/build.mjs && node dist/scripts/bwc.js ${p.name} config-reference --write-readme ${p.readme}`;

function at(o: unknown, path: string[]): unknown {
  let v = o;
  for (const p of path) v = v === undefined || v === null ? undefined : (v as Record<string, unknown>)[p];
  return v;
}

/** A configuration holding `path`'s parents, each empty: the setting itself left to its default. */
function parentsOf(path: string[]): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  let o = raw;
  for (const p of path.slice(0, -1)) o = (o[p] = {}) as Record<string, unknown>;
  return raw;
}

/** The Markdown row of a setting. */
function row(markdown: string, path: string): string {
  const line = markdown.split('\n').find((l) => l.startsWith(`| \`${path}\` |`));
  expect(line, `a row for ${path}`).toBeDefined();
  return line!;
}

/** A value for an environment variable, other than the default, and what the setting becomes. */
function sample(name: string, s: ConfigSetting): { text: string; value: unknown } {
  const j = s.schema;
  if (j.enum) {
    const v = [...j.enum].reverse().find((x) => x !== s.default)!;
    return { text: String(v), value: v };
  }
  if (j.type === 'integer') {
    const n = Math.min(j.maximum ?? Number.MAX_SAFE_INTEGER, (typeof s.default === 'number' ? s.default : (j.minimum ?? 0)) + 1);
    return { text: String(n), value: n };
  }
  if (j.type === 'array') return { text: `/env/${name}/a, /env/${name}/b`, value: [`/env/${name}/a`, `/env/${name}/b`] };
  if (j.format === 'uri' || /mqtt/.test(String(j.pattern ?? ''))) {
    const url = `mqtts://${name.toLowerCase().replaceAll('_', '-')}.example:8883`;
    return { text: url, value: url };
  }
  if (j.type === 'string') return { text: `/env/${name}`, value: `/env/${name}` };
  throw new Error(`no sample for ${s.path} (${s.type})`);
}

describe.each(PROGRAMS)('the $name configuration reference', (p) => {
  const markdown = renderConfigReference(p.schema, p.env);
  const settings = configSettings(p.schema, p.env);
  const readme = readFileSync(join(ROOT, p.readme), 'utf8');

  it('is in its README exactly as generated from the schema', () => {
    expect(readmeSection(readme, p.name), `${p.readme} has config-reference:${p.name} markers`).not.toBeNull();
    expect(readmeSection(readme, p.name), `${p.readme} is stale; refresh it: ${refresh(p)}`).toBe(markdown);
  });

  it('is what `bwc … config-reference` prints, and --json is the JSON Schema of the file', () => {
    const md = runBwc([p.name, 'config-reference']);
    expect(md.stderr).toBe('');
    expect(md.stdout).toBe(markdown);
    const json = runBwc([p.name, 'config-reference', '--json']);
    expect(JSON.parse(json.stdout)).toEqual(configJsonSchema(p.schema));
    expect(JSON.parse(json.stdout)).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      additionalProperties: false,
    });
  });

  it('--write-readme replaces only the marked section, and says when it was current already', () => {
    const file = join(tempDir('bwc-config-ref-'), 'README.md');
    writeFileSync(file, `# x\n\nbefore\n\n<!-- config-reference:${p.name}:start -->\n| stale |\n<!-- config-reference:${p.name}:end -->\n\nafter\n`);
    const first = runBwc([p.name, 'config-reference', '--write-readme', file]);
    expect(first).toMatchObject({ code: 0, stdout: `${file}: configuration reference updated\n` });
    const text = readFileSync(file, 'utf8');
    expect(readmeSection(text, p.name)).toBe(markdown);
    expect(text.startsWith('# x\n\nbefore\n\n')).toBe(true);
    expect(text.endsWith(`<!-- config-reference:${p.name}:end -->\n\nafter\n`)).toBe(true);
    expect(runBwc([p.name, 'config-reference', '--write-readme', file]).stdout).toBe(`${file}: configuration reference already current\n`);
    const other = join(tempDir('bwc-config-ref-'), 'README.md');
    copyFileSync(join(ROOT, 'proto', 'README.md'), other);
    const refused = runBwc([p.name, 'config-reference', '--write-readme', other]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`no <!-- config-reference:${p.name}:start -->`);
  });

  it('describes every setting', () => {
    expect(settings.length).toBeGreaterThan(20);
    for (const s of settings) expect(s.description, s.path).toMatch(/\S{3}/);
  });

  it('shows the defaults that parsing gives, with the section left out and with it empty', () => {
    const empty = p.parse({});
    let checked = 0;
    for (const s of settings) {
      if (s.default === undefined || s.defaultText !== undefined || s.path.includes(MAP_KEY)) continue;
      const path = s.path.split('.');
      expect(at(p.parse(parentsOf(path)), path), `${s.path} in a configuration with its section empty`).toEqual(s.default);
      // A default inside an optional section without a default (mqtt.tls) applies once the section is given.
      if (at(empty, path.slice(0, -1)) !== undefined) expect(at(empty, path), `${s.path} in an empty configuration`).toEqual(s.default);
      const cell = defaultCell(s);
      if (cell === 'below') {
        const yaml = markdown.slice(markdown.indexOf('```yaml\n') + 8, markdown.lastIndexOf('```'));
        expect(at(parseYaml(yaml), path), `${s.path} in the YAML of longer defaults`).toEqual(s.default);
      } else {
        expect(cell).toBe(`\`${typeof s.default === 'string' ? s.default : JSON.stringify(s.default)}\``);
      }
      expect(row(markdown, s.path)).toContain(` | ${cell} | `);
      checked++;
    }
    expect(checked).toBeGreaterThan(15);
  });

  it('shows as text only the defaults worked out at run time', () => {
    const empty = p.parse({});
    const computed = settings.filter((s) => s.defaultText !== undefined && at(empty, s.path.split('.')) !== undefined).map((s) => s.path);
    expect(computed).toEqual(p.name === 'gateway' ? ['gatewayId'] : []);
    for (const s of settings.filter((x) => x.defaultText !== undefined)) expect(row(markdown, s.path)).toContain(` | *${s.defaultText}* | `);
  });

  it('names the environment variable of each override, and each overrides exactly that setting', () => {
    const env: NodeJS.ProcessEnv = {};
    const expected: [string, string[], unknown][] = [];
    for (const [name, path] of Object.entries(p.env)) {
      const s = settings.find((x) => x.path === path.join('.'))!;
      expect(s.env, s.path).toContain(name);
      expect(row(markdown, s.path)).toContain(`\`${name}\``);
      const { text, value } = sample(name, s);
      env[name] = text;
      expected.push([name, [...path], value]);
    }
    const loaded = p.load(undefined, env);
    for (const [name, path, value] of expected) expect(at(loaded, path), name).toEqual(value);
    const withEnv = settings.filter((s) => s.env.length > 0).map((s) => s.path);
    expect(withEnv.sort()).toEqual(
      Object.values(p.env)
        .map((x) => x.join('.'))
        .sort(),
    );
  });

  it('parses the example configuration of its README', () => {
    const section = readme.slice(readme.search(/^#+ Configuration/m), readme.indexOf(`<!-- config-reference:${p.name}:start -->`));
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section);
    expect(yaml, `${p.readme} has a YAML example before the reference`).not.toBeNull();
    expect(() => p.parse(parseYaml(yaml![1]!))).not.toThrow();
  });
});

describe('what the references say', () => {
  const dock = renderConfigReference(DockConfigSchema, DOCK_ENV);
  const gateway = renderConfigReference(GatewayConfigSchema, GATEWAY_ENV);

  it('the gateway listens on port 8080 unless BWC_GATEWAY_HTTP_PORT says otherwise', () => {
    expect(row(gateway, 'http.port')).toBe(
      `| \`http.port\` | integer (0–65535) | \`8080\` | \`BWC_GATEWAY_HTTP_PORT\` | ${GatewayConfigSchema.shape.http.unwrap().shape.port.description} |`,
    );
    expect(parseGatewayConfig({}).http.port).toBe(8080);
    expect(loadGatewayConfig(undefined, { BWC_GATEWAY_HTTP_PORT: '9443' }).http.port).toBe(9443);
  });

  it('the dock publishes its Status every 60 s by default, within 1 s to a day', () => {
    expect(row(dock, 'sync.statusIntervalS')).toMatch(/^\| `sync.statusIntervalS` \| integer \(1–86400\) \| `60` \| {2}\| .*Status.* \|$/);
    expect(parseDockConfig({}).sync.statusIntervalS).toBe(60);
    expect(() => parseDockConfig({ sync: { statusIntervalS: 86_401 } })).toThrow(/sync\.statusIntervalS/);
  });

  it('BWC_DOCK_PORTS is a comma-separated list of serial ports', () => {
    expect(row(dock, 'link.ports')).toContain('| `BWC_DOCK_PORTS` (comma-separated) |');
    expect(loadDockConfig(undefined, { BWC_DOCK_PORTS: '/dev/ttyACM0, /dev/ttyACM1' }).link.ports).toEqual(['/dev/ttyACM0', '/dev/ttyACM1']);
  });

  it('enums list their values, and the protocol version is 4 or 5', () => {
    expect(row(dock, 'clock.ntp')).toContain('| `auto` \\| `synced` \\| `unsynced` | `auto` | `BWC_DOCK_NTP` |');
    expect(row(gateway, 'mqtt.protocolVersion')).toContain('| `4` \\| `5` | `4` |');
    expect(() => parseGatewayConfig({ mqtt: { protocolVersion: 3 } })).toThrow(/mqtt\.protocolVersion/);
  });

  it('a records schedule: its type, a retention its type requires, and the cutoff verified by default', () => {
    expect(row(gateway, `records.schedules.${MAP_KEY}.type`)).toContain('| `temporary` \\| `permanent` \\| `unscheduled` | required |');
    expect(row(gateway, `records.schedules.${MAP_KEY}.retentionDays`)).toContain('| integer (0–73000); with type `temporary` only | required |');
    expect(row(gateway, `records.schedules.${MAP_KEY}.transferAfterYears`)).toContain('| integer (0–200); with type `permanent` only | required |');
    expect(row(gateway, `records.schedules.${MAP_KEY}.cutoff`)).toContain(
      '| `received` \\| `verified` \\| `calendar_year`; with type `temporary`, `permanent` only | `verified` |',
    );
    const records = (schedules: unknown) => parseGatewayConfig({ records: { schedules, mapping: { categories: {}, kinds: {} } } }).records;
    expect(records({ short: { type: 'temporary', retentionDays: 30 } }).schedules.short).toEqual({
      type: 'temporary',
      retentionDays: 30,
      cutoff: 'verified',
    });
    expect(() => records({ short: { type: 'temporary' } })).toThrow(/retentionDays/);
    expect(() => records({ keep: { type: 'unscheduled', cutoff: 'received' } })).toThrow(/cutoff/);
  });

  it('the gateway id defaults to the host name, which the reference does not print as a constant', () => {
    expect(row(gateway, 'gatewayId')).toContain("| *this host's name");
    expect(row(gateway, 'gatewayId')).not.toContain(`\`${parseGatewayConfig({}).gatewayId}\``);
  });
});

describe('README sections', () => {
  it('are replaced between their markers and read back as written', () => {
    const text = 'a\n<!-- config-reference:x:start -->\nold\n<!-- config-reference:x:end -->\nb\n';
    const next = withReadmeSection(text, 'x', '| t |\n');
    expect(next).toBe('a\n<!-- config-reference:x:start -->\n\n| t |\n\n<!-- config-reference:x:end -->\nb\n');
    expect(readmeSection(next, 'x')).toBe('| t |\n');
    expect(readmeSection(next, 'y')).toBeNull();
    expect(() => withReadmeSection('no markers', 'x', '')).toThrow(/config-reference:x:start/);
  });
});
