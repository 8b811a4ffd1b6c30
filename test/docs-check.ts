/**
 * Reading the shell code in the guides: the `bwc` invocations of a Markdown file, and whether each
 * names a command of the built CLI with options that command lists in its --help.
 */
import { spawnSync } from 'node:child_process';
import { BWC } from './helpers.js';

/** Shell code of a guide: fenced sh blocks (continuation lines joined) and inline spans that start with a command. */
export function shellLines(md: string): string[] {
  const lines: string[] = [];
  for (const m of md.matchAll(/```sh\n([\s\S]*?)```/g)) lines.push(...m[1]!.replace(/\\\n\s*/g, ' ').split('\n'));
  for (const m of md.replace(/```[\s\S]*?```/g, '').matchAll(/`((?:sudo -u [\w-]+ |npx )?bwc [a-z][a-z-]*(?:\s[^`]*)?)`/g)) lines.push(m[1]!);
  return lines.map((l) => l.trim()).filter(Boolean);
}

const SEPARATORS = ['|', '||', '&&', ';'];

/** Whether tokens[i] is where a shell runs a program: first, after a separator, `sudo [-u USER]`, `env [VAR=…]`. */
function commandPosition(tokens: string[], i: number): boolean {
  const prev = tokens[i - 1];
  if (prev === undefined || SEPARATORS.includes(prev) || prev === 'sudo' || prev === 'env' || prev === 'npx' || prev.endsWith('$(')) return true;
  if (/^[A-Z_][A-Z0-9_]*=/.test(prev)) return commandPosition(tokens, i - 1);
  return tokens[i - 2] === '-u' && tokens[i - 3] === 'sudo';
}

/** The words after each run of `program` (not an argument that happens to be its name) up to a shell separator. */
export function invocations(line: string, program: string): string[][] {
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

export function checkBwc(args: string[]): string[] {
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
