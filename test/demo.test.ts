/**
 * `bwc demo --exit-when-done` (what `npm start` runs, headless): the gateway, its embedded broker
 * and dashboard, three enrolled docks and six simulated cameras play the shift, the broker goes
 * down and comes back, and the demo checks the end state itself. Run as a user would, as a
 * process: once over pty pairs (socat, as on serial ports) and once over in-memory links.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBwcAsync, tempDir } from './helpers.js';

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

  it('refuses a bad option with one line and exit 2', async () => {
    const r = await runBwcAsync(['demo', '--duration', '2', '--exit-when-done']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/--duration must be 5 to 3600 seconds, got "2"/)]);
    const link = await runBwcAsync(['demo', '--link', 'carrier-pigeon']);
    expect(link.code).toBe(2);
    expect(link.stderr).toMatch(/--link must be auto, pty or memory/);
  });
});
