/**
 * The deployment guides (scripts/deploy/*.md) say only what exists: every `bwc` command in them is
 * a command of the built CLI and every option it uses is one that command lists in its --help; the
 * deploy scripts are called with their own actions and options; every link and every deploy file
 * they name is there; and every deploy file is in README.md's table.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BWC, ROOT } from './helpers.js';

const DEPLOY = join(ROOT, 'scripts', 'deploy');
const GUIDES = readdirSync(DEPLOY).filter((f) => f.endsWith('.md'));
const guide = (f: string) => readFileSync(join(DEPLOY, f), 'utf8');

/** Shell code of a guide: fenced sh blocks (continuation lines joined) and inline spans that start with a command. */
function shellLines(md: string): string[] {
  const lines: string[] = [];
  for (const m of md.matchAll(/```sh\n([\s\S]*?)```/g)) lines.push(...m[1]!.replace(/\\\n\s*/g, ' ').split('\n'));
  for (const m of md.replace(/```[\s\S]*?```/g, '').matchAll(/`((?:sudo -u [\w-]+ )?bwc [^`]+)`/g)) lines.push(m[1]!);
  return lines.map((l) => l.trim()).filter(Boolean);
}

const SEPARATORS = ['|', '||', '&&', ';'];

/** Whether tokens[i] is where a shell runs a program: first, after a separator, `sudo [-u USER]`, `env [VAR=…]`. */
function commandPosition(tokens: string[], i: number): boolean {
  const prev = tokens[i - 1];
  if (prev === undefined || SEPARATORS.includes(prev) || prev === 'sudo' || prev === 'env' || prev.endsWith('$(')) return true;
  if (/^[A-Z_][A-Z0-9_]*=/.test(prev)) return commandPosition(tokens, i - 1);
  return tokens[i - 2] === '-u' && tokens[i - 3] === 'sudo';
}

/** The words after each run of `program` (not an argument that happens to be its name) up to a shell separator. */
function invocations(line: string, program: string): string[][] {
  const tokens = line.match(/"[^"]*"|'[^']*'|\S+/g) ?? [];
  const out: string[][] = [];
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i] !== program || !commandPosition(tokens, i)) continue;
    const args: string[] = [];
    for (let j = i + 1; j < tokens.length; j++) {
      const t = tokens[j]!;
      if ([...SEPARATORS, '>', '>>', '<'].includes(t) || t.startsWith('#') || t.startsWith(')')) break;
      args.push(t);
    }
    out.push(args);
  }
  return out;
}

const helps = new Map<string, string | null>();
/** `bwc PATH --help`, or null when PATH is not a command. */
function help(path: string[]): string | null {
  const key = path.join(' ');
  if (!helps.has(key)) {
    const r = spawnSync(process.execPath, [BWC, ...path, '--help'], { encoding: 'utf8' });
    helps.set(key, r.status === 0 && r.stdout.startsWith(`Usage: bwc${key ? ` ${key}` : ''} `) ? r.stdout : null);
  }
  return helps.get(key)!;
}

function checkBwc(args: string[]): string[] {
  const path: string[] = [];
  for (const a of args) {
    if (!/^[a-z][a-z-]*$/.test(a) || help([...path, a]) === null) break;
    path.push(a);
  }
  const problems: string[] = [];
  if (path.length === 0 && !args.every((a) => a.startsWith('-'))) problems.push(`bwc ${args.join(' ')}: "${args[0]}" is not a bwc command`);
  // A command with a default subcommand (`bwc dock` runs `bwc dock run`) takes that one's options.
  const texts = [help(path), help([...path, 'run'])].filter((t): t is string => t !== null);
  for (const a of args) {
    if (!a.startsWith('--')) continue;
    const option = a.split('=')[0]!;
    if (!texts.some((t) => new RegExp(`(^|[\\s,])${option}([\\s,=]|$)`, 'm').test(t))) problems.push(`bwc ${path.join(' ')}: no option ${option}`);
  }
  return problems;
}

describe('the deployment guides', () => {
  it('are README.md, raspberry-pi.md and scale-out.md, linked from README.md', () => {
    expect(GUIDES.sort()).toEqual(['README.md', 'raspberry-pi.md', 'scale-out.md']);
    expect(guide('README.md')).toContain('](raspberry-pi.md)');
    expect(guide('README.md')).toContain('](scale-out.md)');
  });

  it.each(GUIDES)('%s: every bwc command exists with the options it is given', (file) => {
    const calls = shellLines(guide(file)).flatMap((l) => invocations(l, 'bwc'));
    expect(calls.length).toBeGreaterThan(file === 'scale-out.md' ? 2 : 5);
    const problems = calls.flatMap(checkBwc);
    expect(problems).toEqual([]);
  });

  it('the checker itself refuses a command or an option that does not exist', () => {
    expect(checkBwc(['dock', 'enrol', '--token', 'T'])).not.toEqual([]);
    expect(checkBwc(['dock', 'enroll', '--tokn', 'T'])).toEqual(['bwc dock enroll: no option --tokn']);
    expect(checkBwc(['dock', '--config', '/etc/bwc/dock.yaml'])).toEqual([]);
    expect(invocations('sudo -u bwc-dock env A=1 bwc dock status --json | jq .', 'bwc')).toEqual([['dock', 'status', '--json']]);
    expect(invocations('sudo -u postgres createdb --owner bwc bwc', 'bwc')).toEqual([]);
  });

  it.each(GUIDES)('%s: bwc-mqtt-user and bwc-mqtt-pki are called with their own actions and options', (file) => {
    const lines = shellLines(guide(file));
    const usage = (tool: string) => /usage: (.*)"/.exec(readFileSync(join(DEPLOY, 'mosquitto', tool), 'utf8'))![1]!;
    for (const [tool, actions] of [['bwc-mqtt-user', ['add', 'delete']], ['bwc-mqtt-pki', ['ca', 'server', 'client']]] as const) {
      const calls = lines.flatMap((l) => invocations(l.replace(/\S*\/(bwc-mqtt-(?:user|pki))\b/g, '$1'), tool));
      for (const args of calls) {
        expect(actions, `${tool} ${args.join(' ')}`).toContain(args[0]);
        for (const option of args.filter((a) => a.startsWith('--'))) expect(usage(tool), `${tool} ${option}`).toContain(option);
      }
    }
  });

  it.each(GUIDES)('%s: every relative link and every deploy file named exists', (file) => {
    const md = guide(file);
    for (const m of md.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
      if (/^https?:/.test(m[1]!)) continue;
      expect(existsSync(join(DEPLOY, m[1]!)), `${file} links ${m[1]}`).toBe(true);
    }
    for (const m of md.matchAll(/`(?:scripts\/deploy\/)?((?:systemd|sysusers|udev|mosquitto|examples)\/[\w.-]+)`/g)) {
      expect(existsSync(join(DEPLOY, m[1]!)), `${file} names ${m[1]}`).toBe(true);
    }
  });

  it("README.md's table lists every deployment file", () => {
    const walk = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : [join(dir, f)]));
    const files = walk(DEPLOY).map((f) => relative(DEPLOY, f)).filter((f) => dirname(f) !== '.');
    expect(files.length).toBeGreaterThan(10);
    const readme = guide('README.md');
    for (const f of files) expect(readme, f).toContain(`\`${f}\``);
  });
});
