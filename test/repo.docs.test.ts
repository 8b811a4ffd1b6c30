/**
 * The documentation states what the code does: every reason code is in device/README.md, and in
 * every README and guide of the repository each `bwc` command (also as `npx bwc`) is a command of
 * the built CLI with options it lists, each `npm run` names a script of package.json (and `npm run
 * bench -- NAME` a benchmark), and each relative link leads to a file that exists.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REASONS } from '../proto/policy-vocab.js';
import { checkBwc, invocations, shellLines } from './docs-check.js';
import { ROOT } from './helpers.js';

const SKIP = new Set(['node_modules', 'dist', 'vendor', '.git']);
function markdownFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    if (SKIP.has(f)) return [];
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return markdownFiles(p);
    return f.endsWith('.md') ? [p] : [];
  });
}
const DOCS = markdownFiles(ROOT).map((f) => relative(ROOT, f));
const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');

describe('documentation', () => {
  it('device/README.md lists every reason code with its clause', () => {
    const readme = read('device/README.md');
    for (const [code, r] of Object.entries(REASONS)) expect(readme, code).toContain(`| \`${code}\` | ${r.clause} |`);
  });

  it('finds the guides (README.md and one per part at least)', () => {
    expect(DOCS).toEqual(expect.arrayContaining(['README.md', 'device/README.md', 'gateway/README.md', 'proto/README.md', 'gateway/web/README.md']));
  });

  it.each(DOCS)('%s: every bwc command in it exists with the options it uses', (file) => {
    const problems = shellLines(read(file))
      .flatMap((l) => invocations(l, 'bwc'))
      .flatMap(checkBwc);
    expect(problems).toEqual([]);
  });

  it.each(DOCS)('%s: every npm run names a script of package.json, and every benchmark exists', (file) => {
    const scripts = Object.keys((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts);
    // A benchmark is an exported object whose top-level `name:` is its name.
    const benches = readdirSync(join(ROOT, 'scripts', 'bench'))
      .filter((f) => f.endsWith('.ts'))
      .flatMap((f) => [...read(`scripts/bench/${f}`).matchAll(/^ {2}name: '([\w-]+)'/gm)].map((m) => m[1]!));
    expect(benches).toContain('custody');
    for (const m of read(file).matchAll(/npm run ([\w:-]+)(?: -- ([\w-]+))?/g)) {
      expect(scripts, `${file}: npm run ${m[1]}`).toContain(m[1]);
      if (m[1] === 'bench' && m[2] && !m[2].startsWith('-')) expect(benches, `${file}: npm run bench -- ${m[2]}`).toContain(m[2]);
    }
  });

  it.each(DOCS)('%s: every relative link leads to a file that exists', (file) => {
    for (const m of read(file).matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
      if (/^[a-z]+:/.test(m[1]!)) continue;
      expect(existsSync(join(ROOT, dirname(file), m[1]!)), `${file} links ${m[1]}`).toBe(true);
    }
  });

  it('the checker itself refuses what does not exist', () => {
    expect(invocations('npx bwc verify clip.mp4 --manifest m.json', 'bwc')).toEqual([['verify', 'clip.mp4', '--manifest', 'm.json']]);
    expect(shellLines('run `npx bwc dock status --jsn` to see')).toEqual(['npx bwc dock status --jsn']);
    expect(shellLines('prints `bwc verify: NOT_AUTHENTIC` or `bwc …`')).toEqual([]);
    expect(checkBwc(['dock', 'status', '--jsn'])).toEqual(['bwc dock status: no option --jsn']);
  });
});

/** Test sources under test/ (vendored code aside). */
function testSources(dir = join(ROOT, 'test')): string[] {
  return readdirSync(dir).flatMap((f) => {
    if (SKIP.has(f)) return [];
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return testSources(p);
    return f.endsWith('.ts') ? [relative(ROOT, p)] : [];
  });
}

/** A fixed pause: a promise's resolve handed to setTimeout, a `sleep(` call, or node:timers/promises. */
const FIXED_WAIT = /setTimeout\(\s*[A-Za-z_$][\w$]*\s*,|\bsleep\(|timers\/promises/g;

/** Pauses still waiting to be replaced by the event or state they stand for: none, and a new one fails this test. */
const PAUSES_LEFT: Record<string, number> = {};

describe('tests', () => {
  it('wait for the event or state, never a fixed time (only `until` in helpers.ts polls on a timer)', () => {
    const found: Record<string, number> = {};
    for (const file of testSources()) {
      if (file === 'test/repo.docs.test.ts') continue; // its own samples below
      let text = read(file);
      if (file === 'test/helpers.ts') {
        // The one timer allowed: the poll inside `until`.
        const start = text.indexOf('export async function until');
        const end = text.indexOf('\n}\n', start);
        expect(start, 'until in test/helpers.ts').toBeGreaterThan(-1);
        text = text.slice(0, start) + text.slice(end);
      }
      const n = [...text.matchAll(FIXED_WAIT)].length;
      if (n > 0) found[file] = n;
    }
    expect(found).toEqual(PAUSES_LEFT);
  });

  it('the fixed-wait pattern finds the forms of a pause', () => {
    const count = (s: string) => [...s.matchAll(FIXED_WAIT)].length;
    expect(count('await new Promise((r) => setTimeout(r, 300));')).toBe(1);
    expect(count('await new Promise((res) => setTimeout( res , 20));')).toBe(1);
    expect(count('await sleep(4000);')).toBe(1);
    expect(count("import { setTimeout as wait } from 'node:timers/promises';")).toBe(1);
    expect(count("await until('acked', () => acked);")).toBe(0);
    expect(count('const t = setTimeout(() => resolve(null), timeoutMs);')).toBe(0);
  });
});
