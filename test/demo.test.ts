/**
 * `bwc demo --exit-when-done` (what `npm start` runs, headless): the gateway, its embedded broker
 * and dashboard, three enrolled docks and six simulated cameras play the shift, the broker goes
 * down and comes back, and the demo checks the end state itself. Run as a user would, as a
 * process: once over pty pairs (socat, as on serial ports) and once over in-memory links.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBwcAsync, tempDir, until } from './helpers.js';

/** The processes of one process group, read from /proc (field 5 of stat is the group). */
function groupMembers(pgid: number): string[] {
  const members: string[] = [];
  for (const pid of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    } // gone meanwhile
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z') members.push(`${pid} ${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))}`);
  }
  return members;
}

describe('bwc demo --exit-when-done', () => {
  for (const link of ['pty', 'memory'] as const) {
    it(`plays the shift over ${link} links and exits 0 with every check passed`, async () => {
      const dir = join(tempDir('bwc-demo-test-'), 'data');
      const r = await runBwcAsync(['demo', '--duration', '15', '--exit-when-done', '--port', '0', '--link', link, '--dir', dir]);
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/dashboard: http:\/\/127\.0\.0\.1:\d+\//);
      expect(r.stdout).toContain(link === 'pty' ? 'Cameras: pty pairs' : 'Cameras: in-memory streams');
      // A login per role, printed once and kept only in the data directory (mode 0600).
      for (const role of ['operator', 'supervisor', 'requester', 'approver_fro', 'director', 'records_officer', 'auditor', 'viewer', 'admin']) {
        expect(r.stdout).toMatch(new RegExp(`^\\s+\\S+\\s+demo-\\S+\\s+.*\\b${role}\\b`, 'm'));
      }
      expect(statSync(join(dir, 'logins.txt')).mode & 0o777).toBe(0o600);
      expect(r.stdout).toContain('broker outage: every MQTT connection dropped');
      expect(r.stdout).toContain('broker back');
      expect(r.stdout).toMatch(/prior authorization AR-\d{8}-[0-9a-f]{8} filed by olive .* approved by fred \(FRO\) with the nine §5\.3 factors/);
      expect(r.stdout).toContain('litigation hold HOLD-DEMO-1 placed by rita');
      expect(r.stdout).toMatch(/^ {2}ok {3}pdx101-authorized-meeting: AUTHORIZED \(grant\)$/m);
      expect(r.stdout).toMatch(/^ {2}ok {3}sea201-protest: PROHIBITED FIRST_AMENDMENT_ONLY$/m);
      expect(r.stdout).toMatch(/^ {2}ok {3}audit log intact/m);
      expect(r.stdout).not.toMatch(/FAIL/);
      expect(r.stdout).toMatch(/All \d+ checks passed\./);
      // The device keys were made on each dock, private and kept.
      const key = join(dir, 'docks', 'dock-sea-1', 'keys', 'device', 'private.pem');
      expect(existsSync(key)).toBe(true);
      expect(statSync(key).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(dir, 'gateway.log'), 'utf8')).toContain('embedded MQTT broker listening again');
    }, 180_000);
  }

  // `npm start` as a user runs it: stopped by a service manager (SIGTERM to npm alone) or by
  // Ctrl-C (SIGINT to the whole foreground group), it leaves no process behind (no dock, no
  // socat pty pair, no gateway) and removes its temporary data.
  for (const how of ['SIGTERM to npm', 'Ctrl-C'] as const) {
    it(`npm start stopped by ${how} leaves no process behind`, async () => {
      const npm = spawn('npm', ['start', '--', '--port', '0', '--link', 'pty'], {
        cwd: resolve(import.meta.dirname, '..'),
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      npm.stdout.on('data', (b: Buffer) => {
        out += b.toString();
      });
      npm.stderr.on('data', (b: Buffer) => {
        out += b.toString();
      });
      const pgid = npm.pid!;
      try {
        await until('the demo to be up', () => /The shift plays/.test(out), 120_000);
        const data = /data in (\S+?)[,)]/.exec(out)?.[1];
        expect(data, out).toBeTruthy();
        expect(
          groupMembers(pgid).some((m) => m.endsWith(' socat')),
          groupMembers(pgid).join('\n'),
        ).toBe(true);
        if (how === 'Ctrl-C') process.kill(-pgid, 'SIGINT');
        else process.kill(pgid, 'SIGTERM');
        await until('every process of the group to exit', () => groupMembers(pgid).length === 0, 30_000).catch((e: Error) => {
          throw new Error(`${e.message}; left: ${groupMembers(pgid).join(', ')}\n${out}`);
        });
        expect(existsSync(data!)).toBe(false);
      } finally {
        try {
          process.kill(-pgid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }, 180_000);
  }

  it('refuses a bad option with one line and exit 2', async () => {
    const r = await runBwcAsync(['demo', '--duration', '2', '--exit-when-done']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/--duration must be 5 to 3600 seconds, got "2"/)]);
    const link = await runBwcAsync(['demo', '--link', 'carrier-pigeon']);
    expect(link.code).toBe(2);
    expect(link.stderr).toMatch(/--link must be auto, pty or memory/);
  });
});
