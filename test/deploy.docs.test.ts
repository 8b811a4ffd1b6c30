/**
 * The deployment guides (scripts/deploy/*.md) say only what exists: every `bwc` command in them is
 * a command of the built CLI and every option it uses is one that command lists in its --help; the
 * deploy scripts are called with their own actions and options; every link and every deploy file
 * they name is there; and every deploy file is in README.md's table.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';
import { checkBwc, invocations, shellLines } from './docs-check.js';

const DEPLOY = join(ROOT, 'scripts', 'deploy');
const GUIDES = readdirSync(DEPLOY).filter((f) => f.endsWith('.md'));
const guide = (f: string) => readFileSync(join(DEPLOY, f), 'utf8');

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
    for (const [tool, actions] of [
      ['bwc-mqtt-user', ['add', 'delete']],
      ['bwc-mqtt-pki', ['ca', 'server', 'client']],
    ] as const) {
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
    const files = walk(DEPLOY)
      .map((f) => relative(DEPLOY, f))
      .filter((f) => dirname(f) !== '.');
    expect(files.length).toBeGreaterThan(10);
    const readme = guide('README.md');
    for (const f of files) expect(readme, f).toContain(`\`${f}\``);
  });
});
