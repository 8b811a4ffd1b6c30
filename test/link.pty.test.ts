/**
 * BWC-Link over real ptys made by socat: the simulator and the dock end as separate processes
 * (`bwc sim camera`, `bwc link monitor`), with and without line noise, and a cable pulled mid-shift.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CameraSim } from '../device/link/sim/camera.js';
import { DEFAULT_SCENARIO, parseScenario } from '../device/link/sim/scenario.js';
import { existsSync, writeFileSync } from 'node:fs';
import { serialLinkPort } from '../device/link/transport.js';
import { LinkPortRunner } from '../device/link/port-runner.js';
import { memoryEventNoStore, type CameraEvent } from '../device/link/camera-link.js';
import { BWC, ptyPair, runBwcAsync, tempDir, until } from './helpers.js';

interface MonitorLine {
  kind: string;
  eventNo?: number;
  camera?: string;
  [k: string]: unknown;
}

/** Runs `bwc link monitor --json` until stopped; returns its JSON lines. */
function startMonitor(port: string, extra: string[] = []) {
  const proc = spawn(process.execPath, [BWC, 'link', 'monitor', '--port', port, '--json', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  let err = '';
  const ready = new Promise<void>((resolve) =>
    proc.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      if (/link open/.test(err)) resolve();
    }),
  );
  return {
    /** Resolves once the dock end holds the port, so no frame of the first session is missed. */
    ready,
    stderr: () => err,
    stop: async (): Promise<MonitorLine[]> => {
      await new Promise<void>((r) => {
        proc.once('exit', () => r());
        proc.kill('SIGINT');
      });
      return out
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as MonitorLine);
    },
  };
}

describe('BWC-Link over a socat pty pair', () => {
  it.each([
    ['a clean line', '0'],
    ['20% line noise', '0.2'],
  ])('plays a whole shift on %s: every event once, in order', async (_name, chaos) => {
    const dir = tempDir();
    const pty = await ptyPair(dir);
    // The default shift (clips, mutes, tags, a tamper, an unplug) with a burst of status reports.
    const scenario = `${dir}/shift.json`;
    writeFileSync(
      scenario,
      JSON.stringify({
        ...DEFAULT_SCENARIO,
        steps: [...DEFAULT_SCENARIO.steps, ...Array.from({ length: 100 }, (_, i) => ({ status: { battery: 100 - (i % 100) } }))],
      }),
    );
    const monitor = startMonitor(pty.dock);
    await monitor.ready;
    const sim = await runBwcAsync([
      'sim',
      'camera',
      '--port',
      pty.cam,
      '--storage',
      `${dir}/storage`,
      '--scenario',
      scenario,
      '--speed',
      '5',
      '--chaos',
      chaos,
      '--json',
    ]);
    expect(sim.code, sim.stderr).toBe(0);
    const result = JSON.parse(sim.stdout) as {
      firstEventNo: number;
      lastEventNo: number;
      unacked: number;
      sessions: number;
      chaos: { corrupted: number; garbage: number };
    };
    expect(result.unacked).toBe(0);
    const lines = await monitor.stop();
    const events = lines.filter((l) => l.eventNo !== undefined);
    expect(events.map((e) => e.eventNo)).toEqual(Array.from({ length: result.lastEventNo - result.firstEventNo + 1 }, (_, i) => result.firstEventNo + i));
    expect(events.map((e) => e.kind)).toContain('clipReady');
    expect(events.filter((e) => e.kind === 'status')).toHaveLength(103);
    // The unplug step makes a second session. On a noisy line a session can end (the camera is
    // unplugged) before its Hello got through; its events then travel in the next session.
    const hellos = lines.filter((l) => l.kind === 'hello').length;
    if (chaos === '0') expect(hellos).toBe(result.sessions);
    else expect(hellos).toBeGreaterThanOrEqual(1);
    expect(hellos).toBeLessThanOrEqual(result.sessions);
    const counters = lines.at(-1) as unknown as { kind: string; decoder: { badCrc: number; badCobs: number; resyncs: number } };
    expect(counters.kind).toBe('counters');
    if (chaos !== '0') {
      expect(result.chaos.corrupted + result.chaos.garbage).toBeGreaterThan(0);
      expect(counters.decoder.resyncs).toBeGreaterThan(0);
    }
  });

  it('links a configured port alongside USB discovery, with one USB log line (hotplug is off without a USB bus)', async () => {
    const dir = tempDir();
    const pty = await ptyPair(dir);
    const monitor = startMonitor(pty.dock, ['--usb', '1209:b0c0']);
    await monitor.ready;
    const sim = await runBwcAsync(['sim', 'camera', '--port', pty.cam, '--storage', `${dir}/storage`, '--speed', '10', '--json']);
    expect(sim.code, sim.stderr).toBe(0);
    const result = JSON.parse(sim.stdout) as { firstEventNo: number; lastEventNo: number };
    const lines = await monitor.stop();
    expect(lines.filter((l) => l.eventNo !== undefined)).toHaveLength(result.lastEventNo - result.firstEventNo + 1);
    const usbLines = monitor
      .stderr()
      .split('\n')
      .filter((l) => /^(info|warn): usb: /.test(l));
    expect(usbLines, monitor.stderr()).toHaveLength(1);
    if (!existsSync('/sys/bus/usb/devices'))
      expect(usbLines[0]).toMatch(/^warn: usb: hotplug off \(no \/sys\/bus\/usb\/devices .*\); using the configured ports only$/);
  });

  it('recovers when the ttys vanish mid-shift and come back (cable pulled, replugged)', async () => {
    const dir = tempDir();
    const pty = await ptyPair(dir, 'pull');
    const events: CameraEvent[] = [];
    const runner = new LinkPortRunner({
      port: serialLinkPort(pty.dock),
      retryMs: 100,
      link: {
        onEvent: (e) => {
          events.push(e);
        },
        eventNos: memoryEventNoStore(),
        retransmitMs: 100,
      },
    }).start();
    const steps = [
      ...Array.from({ length: 5 }, (_, i) => ({ tamper: { kind: 'other', detail: `before-${i}` } })),
      { wait: 1500 },
      ...Array.from({ length: 5 }, (_, i) => ({ tamper: { kind: 'other', detail: `after-${i}` } })),
    ];
    const sim = new CameraSim({
      scenario: parseScenario({ steps }),
      storageDir: `${dir}/storage`,
      port: serialLinkPort(pty.cam),
      retransmitMs: 100,
      settleMs: 20_000,
    });
    const running = sim.run();
    // Pulled while the camera is in its wait, once the first five events are in; put back once the
    // dock has seen its link go down.
    await until('the events before the pull', () => events.length >= 5, 20_000);
    const down = new Promise<string>((r) => runner.once('down', r));
    await pty.kill();
    await down;
    await pty.restart();
    const result = await running;
    runner.stop();
    expect(result.unacked).toBe(0);
    expect(events.map((e) => e.frame.tamper?.detail)).toEqual(
      steps.filter((s) => 'tamper' in s).map((s) => (s as { tamper: { detail: string } }).tamper.detail),
    );
    expect(runner.opened).toBeGreaterThanOrEqual(2);
  });

  it('bwc sim camera refuses a bad scenario with a line naming the field', async () => {
    const dir = tempDir();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${dir}/bad.yaml`, 'steps:\n  - start: { clip: "a b" }\n');
    const r = await runBwcAsync(['sim', 'camera', '--port', `${dir}/none`, '--storage', dir, '--scenario', `${dir}/bad.yaml`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/scenario .*bad\.yaml: steps\.0\.start\.clip: a clip id/);
  });
});
