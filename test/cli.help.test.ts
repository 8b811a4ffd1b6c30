/**
 * `--help` with examples on every command (DESIGN §10: "one command tree, `--help` with examples
 * everywhere"). The whole tree from buildProgram() (scripts/bwc.ts): every command that runs
 * something prints, in its complete help (the `addHelpText` text included), an Example section
 * with a `$ bwc …` invocation of that very command. And every `bwc` invocation in any example is
 * one the tree accepts: its subcommands exist, each option is one the command has and gets its
 * value, every required option and argument is given, and no extra argument is left over.
 */
import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';

/**
 * scripts/bwc.ts runs the CLI on process.argv when it is imported. It is imported here with an
 * argv that only asks for the version, whose line is kept off the test output.
 */
async function importBuildProgram(): Promise<(only?: string) => Promise<Command>> {
  const argv = process.argv;
  const exitCode = process.exitCode;
  const write = process.stdout.write;
  process.argv = [process.execPath, 'bwc', '--version'];
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    return (await import('../scripts/bwc.js')).buildProgram;
  } finally {
    process.stdout.write = write;
    process.argv = argv;
    process.exitCode = exitCode;
  }
}

const buildProgram = await importBuildProgram();

function pathOf(c: Command): string {
  const names: string[] = [];
  for (let at: Command | null = c; at; at = at.parent) names.unshift(at.name());
  return names.join(' ');
}

const hasAction = (c: Command) => typeof (c as unknown as { _actionHandler: unknown })._actionHandler === 'function';
const defaultCommand = (c: Command) => (c as unknown as { _defaultCommandName?: string })._defaultCommandName;

/** Every command that runs something: the leaves, and any command with an action of its own. */
function runnable(c: Command): Command[] {
  return [...(c.parent && (c.commands.length === 0 || hasAction(c)) ? [c] : []), ...c.commands.flatMap(runnable)];
}

/** The complete help of a command, as `bwc … --help` prints it. */
function helpOf(c: Command): string {
  let out = '';
  c.configureOutput({
    writeOut: (s) => {
      out += s;
    },
    writeErr: (s) => {
      out += s;
    },
  });
  c.outputHelp();
  return out;
}

/** The commands of the Example(s) section: each `$ ` line with the lines that continue it. */
function examples(help: string): string[] {
  const lines = help.split('\n');
  const at = lines.findIndex((l) => /^Examples?:\s*$/.test(l));
  if (at < 0) return [];
  const out: string[] = [];
  for (const line of lines.slice(at + 1)) {
    if (line.trim() === '') break;
    const t = line.trim();
    if (t.startsWith('$ ')) out.push(t.slice(2));
    else if (out.length) out[out.length - 1] += `\n${line}`;
  }
  return out;
}

/**
 * A shell command line as the shell splits it: simple commands (split at `|`, `&`, `;`), each a
 * list of words with quotes removed; comments, redirections and their targets dropped.
 */
function shellCommands(text: string): string[][] {
  const commands: string[][] = [[]];
  let word: string | null = null;
  let redirect = false;
  const end = () => {
    if (word !== null) {
      if (redirect) redirect = false;
      else commands.at(-1)!.push(word);
    }
    word = null;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\' && text[i + 1] === '\n') {
      i++;
      continue;
    }
    if (ch === '\\') {
      word = (word ?? '') + (text[++i] ?? '');
      continue;
    }
    if (/\s/.test(ch)) {
      end();
      continue;
    }
    if (ch === '#' && word === null) {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (ch === '|' || ch === '&' || ch === ';') {
      end();
      if (commands.at(-1)!.length) commands.push([]);
      continue;
    }
    if ((ch === '>' || ch === '<') && (word === null || /^\d$/.test(word))) {
      word = null;
      while (text[i + 1] === '>' || text[i + 1] === '&') i++;
      redirect = true;
      continue;
    }
    if (ch === "'") {
      const close = text.indexOf("'", i + 1);
      word = (word ?? '') + text.slice(i + 1, close);
      i = close;
      continue;
    }
    if (ch === '"') {
      let j = i + 1;
      let s = '';
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\\' && j + 1 < text.length) j++;
        s += text[j++];
      }
      word = (word ?? '') + s;
      i = j;
      continue;
    }
    if (ch === '$' && text[i + 1] === '(') {
      let depth = 0;
      let j = i + 1;
      for (; j < text.length; j++) {
        if (text[j] === '(') depth++;
        else if (text[j] === ')' && --depth === 0) break;
      }
      word = (word ?? '') + text.slice(i, j + 1);
      i = j;
      continue;
    }
    word = (word ?? '') + ch;
  }
  end();
  return commands.filter((c) => c.length > 0);
}

interface Invocation {
  text: string;
  words: string[];
}

/** The `bwc …` commands of an example (after any VAR=value assignments), without the `bwc`. */
function bwcInvocations(example: string): Invocation[] {
  const out: Invocation[] = [];
  for (const words of shellCommands(example)) {
    const at = words.indexOf('bwc');
    if (at < 0 || !words.slice(0, at).every((w) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(w))) continue;
    out.push({ text: example, words: words.slice(at + 1) });
  }
  return out;
}

/** The command an invocation runs, and the words left for it; null when it names none. */
function resolve(program: Command, words: string[]): { command: Command; args: string[] } | null {
  let c = program;
  let k = 0;
  for (; k < words.length; k++) {
    const sub = c.commands.find((s) => s.name() === words[k] || s.aliases().includes(words[k]!));
    if (!sub) break;
    c = sub;
  }
  if (c.commands.length > 0 && !hasAction(c)) {
    const name = defaultCommand(c);
    const sub = name === undefined ? undefined : c.commands.find((s) => s.name() === name);
    if (!sub) return null;
    c = sub;
  }
  return c === program ? null : { command: c, args: words.slice(k) };
}

/** What is wrong with an invocation, checked by commander's own option parser on a fresh tree. */
async function problems(words: string[]): Promise<string[]> {
  const program = await buildProgram();
  const r = resolve(program, words);
  if (!r) return [`names no command: bwc ${words.join(' ')}`];
  const { command, args } = r;
  command.configureOutput({ writeErr: () => {}, outputError: () => {} });
  let parsed: { operands: string[]; unknown: string[] };
  try {
    parsed = command.parseOptions(args);
  } catch (e) {
    return [`${pathOf(command)}: ${(e as Error).message}`];
  }
  const out: string[] = [];
  if (parsed.unknown.length) out.push(`${pathOf(command)}: unknown ${parsed.unknown.join(' ')}`);
  for (const o of command.options) {
    if (o.mandatory && command.getOptionValue(o.attributeName()) === undefined) out.push(`${pathOf(command)}: required option ${o.long} missing`);
  }
  const declared = command.registeredArguments;
  const required = declared.filter((a) => a.required).length;
  const variadic = declared.some((a) => a.variadic);
  if (parsed.operands.length < required) out.push(`${pathOf(command)}: ${required} argument(s) needed, got ${parsed.operands.length}`);
  if (!variadic && parsed.operands.length > declared.length)
    out.push(`${pathOf(command)}: extra argument(s) ${parsed.operands.slice(declared.length).join(' ')}`);
  return out;
}

const program = await buildProgram();
const commands = runnable(program);

describe('the shell reading of examples', () => {
  it('splits pipelines, keeps quoted words whole, and drops comments and redirections', () => {
    expect(shellCommands(`printf %s "$PW" | BWC_TOKEN=$(cat ~/t x) bwc a b --r "x y" > out.json # note | bwc c`)).toEqual([
      ['printf', '%s', '$PW'],
      ['BWC_TOKEN=$(cat ~/t x)', 'bwc', 'a', 'b', '--r', 'x y'],
    ]);
    expect(shellCommands(`echo '{"a":\n 1}' |\n    bwc p d --f k="v w" \\\n  --g 2>&1 &`)).toEqual([
      ['echo', '{"a":\n 1}'],
      ['bwc', 'p', 'd', '--f', 'k=v w', '--g'],
    ]);
  });

  it('finds the bwc invocations of an example, and only those', () => {
    expect(bwcInvocations('npm start   # = bwc demo').map((i) => i.words)).toEqual([]);
    expect(bwcInvocations('jq . bwc x | A=1 bwc dock status --json').map((i) => i.words)).toEqual([['dock', 'status', '--json']]);
  });

  it('refuses an unknown option, a missing value, a missing required option and extra arguments', async () => {
    expect(await problems(['dock', 'status', '--no-such-option'])).toEqual(['bwc dock status: unknown --no-such-option']);
    expect((await problems(['dock', 'status', '--state-dir']))[0]).toMatch(/^bwc dock status: .*--state-dir/);
    expect(await problems(['authz', 'deny', 'AR-1'])).toEqual(['bwc authz deny: required option --reason missing']);
    expect(await problems(['records', 'release', '--reason', 'x'])).toEqual(['bwc records release: 1 argument(s) needed, got 0']);
    expect(await problems(['dock', 'status', 'extra'])).toEqual(['bwc dock status: extra argument(s) extra']);
    expect(await problems(['no-such-command'])).toEqual(['names no command: bwc no-such-command']);
    expect(await problems(['dock', '--state-dir', '/x'])).toEqual([]);
  });
});

describe('bwc --help: examples on every command', () => {
  it('walks the whole tree', () => {
    const paths = commands.map(pathOf);
    for (const p of [
      'bwc verify',
      'bwc dock run',
      'bwc dock config-reference',
      'bwc gateway config-reference',
      'bwc gateway device token',
      'bwc records release',
      'bwc authz show',
    ]) {
      expect(paths).toContain(p);
    }
    expect(paths.length).toBeGreaterThan(35);
  });

  it.each(commands.map((c) => [pathOf(c), c] as const))('%s --help has an example that runs it', (path, c) => {
    const help = helpOf(c);
    expect(help, `${path} --help`).toMatch(/^Examples?:\s*$/m);
    const runs = examples(help)
      .flatMap(bwcInvocations)
      .filter((i) => resolve(program, i.words)?.command === c);
    expect(runs.length, `${path} --help shows no "$ ${path} …" example:\n${help}`).toBeGreaterThan(0);
  });

  it.each(commands.map((c) => [pathOf(c), c] as const))('%s --help: each bwc invocation in its examples is one the CLI accepts', async (path, c) => {
    for (const example of examples(helpOf(c))) {
      for (const i of bwcInvocations(example)) expect(await problems(i.words), `${path} --help: $ ${example}`).toEqual([]);
    }
  });
});
