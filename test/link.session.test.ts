/** A simulated camera and the dock's CameraLink over in-memory streams: whole scenarios. */
import { describe, expect, it } from 'vitest';
import { CameraLink, memoryEventNoStore, type CameraEvent, type EventNoStore } from '../device/link/camera-link.js';
import { CameraSim } from '../device/link/sim/camera.js';
import { DEFAULT_SCENARIO, parseScenario, ScenarioError } from '../device/link/sim/scenario.js';
import { memoryDuplexPair, type LinkPort } from '../device/link/transport.js';
import type { Duplex } from 'node:stream';
import { tempDir, until } from './helpers.js';

/** A LinkPort whose every open() makes a fresh memory pair and hands the dock end to a new CameraLink. */
function dockedPort(onEvent: (e: CameraEvent) => void | Promise<void>, eventNos: EventNoStore) {
  const links: CameraLink[] = [];
  const port: LinkPort = {
    path: 'memory',
    open: async () => {
      const [cameraEnd, dockEnd] = memoryDuplexPair();
      links.push(new CameraLink({ transport: dockEnd as Duplex, onEvent, eventNos, retransmitMs: 100 }).start());
      return cameraEnd;
    },
  };
  return { port, links };
}

function seeded(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}

describe('camera link sessions (simulator ↔ dock over memory)', () => {
  it('plays the default shift: every event once, in order, times corrected by the clock offset', async () => {
    const events: CameraEvent[] = [];
    const { port, links } = dockedPort((e) => {
      events.push(e);
    }, memoryEventNoStore());
    const scenario = { ...DEFAULT_SCENARIO, clockSkewMs: -90_000 };
    const sim = new CameraSim({ scenario, storageDir: tempDir(), port, speed: 5, retransmitMs: 80 });
    const result = await sim.run();
    expect(result.unacked).toBe(0);
    expect(events.map((e) => e.eventNo)).toEqual(Array.from({ length: result.eventsSent }, (_, i) => result.firstEventNo + i));
    expect(events.map((e) => e.kind)).toEqual([
      'status',
      'recordingStarted',
      'muted',
      'unmuted',
      'recordingStopped',
      'clipReady',
      'recordingStarted',
      'activityTagged',
      'recordingStopped',
      'clipReady',
      'status',
      'tamper',
      'status',
    ]);
    expect(links.length).toBe(2); // the unplug made a second link
    expect(links[0]!.camera).toMatchObject({ cameraSerial: 'CAM-0001', model: 'SIM-1' });
    // The camera clock runs 90 s behind: the dock measures the offset and corrects event times.
    expect(Math.abs(links[0]!.camera!.offsetMs - 90_000)).toBeLessThan(1_000);
    for (const e of events) expect(Math.abs(e.atMs - (e.cameraTimeMs + 90_000))).toBeLessThan(1_000);
    expect(result.timeSyncs).toBe(2);
  });

  it('delivers everything exactly once and in order through heavy line noise', async () => {
    const events: CameraEvent[] = [];
    const { port, links } = dockedPort((e) => {
      events.push(e);
    }, memoryEventNoStore());
    const steps = Array.from({ length: 60 }, (_, i) => ({ tamper: { kind: 'other', detail: `n${i}` } }));
    const sim = new CameraSim({
      scenario: parseScenario({ steps }),
      storageDir: tempDir(),
      port,
      chaos: 0.3,
      random: seeded(7),
      retransmitMs: 40,
      settleMs: 30_000,
    });
    const result = await sim.run();
    expect(result.unacked).toBe(0);
    expect(events.map((e) => e.frame.tamper?.detail)).toEqual(steps.map((s) => s.tamper.detail));
    const c = links[0]!.counters;
    expect(result.chaos.dropped + result.chaos.corrupted + result.chaos.duplicated + result.chaos.garbage).toBeGreaterThan(10);
    expect(c.decoder.badCrc + c.decoder.badCobs + c.decoder.undecodable).toBeGreaterThan(0);
    expect(result.retransmits).toBeGreaterThan(0);
  });

  it('applies an event resent after an unplug only once (eventNo dedupe across sessions)', async () => {
    const events: number[] = [];
    const store = memoryEventNoStore();
    let drop = true;
    // The dock handles event 2 but the camera is unplugged before the ack reaches it.
    const { port } = dockedPort((e) => {
      events.push(e.eventNo);
    }, store);
    const scenario = parseScenario({
      steps: [{ tamper: { kind: 'other' } }, { tamper: { kind: 'other' } }, { unplug: { ms: 50 } }, { tamper: { kind: 'other' } }],
    });
    const sim = new CameraSim({ scenario, storageDir: tempDir(), port, retransmitMs: 60 });
    // Lose the dock's acks on the first link only, so both events are resent in the second session.
    const open = port.open.bind(port);
    port.open = async () => {
      const end = await open();
      if (drop) {
        drop = false;
        const push = end.push.bind(end);
        end.push = (chunk: unknown) => (chunk === null ? push(null) : true);
      }
      return end;
    };
    const result = await sim.run();
    expect(result.unacked).toBe(0);
    expect(events).toEqual([result.firstEventNo, result.firstEventNo + 1, result.firstEventNo + 2]);
    expect(store.last('CAM-0001')).toBe(result.lastEventNo);
  });

  it('replays a shift recorded unlinked, oldest first, flagged replayed, with the original camera times', async () => {
    const events: CameraEvent[] = [];
    const { port } = dockedPort((e) => {
      events.push(e);
    }, memoryEventNoStore());
    const scenario = parseScenario({
      steps: [{ start: { clip: 'a', activity: 'search_warrant' } }, { wait: 3_600_000 }, { stop: { clip: 'a' } }, { ready: { clip: 'a', size: 1000 } }],
    });
    const result = await new CameraSim({ scenario, storageDir: tempDir(), port, dockedAfterShift: true }).run();
    expect(result.unacked).toBe(0);
    expect(events.map((e) => e.kind)).toEqual(['recordingStarted', 'recordingStopped', 'clipReady', 'replayComplete']);
    expect(events.slice(0, 3).every((e) => e.replayed)).toBe(true);
    expect(events[1]!.cameraTimeMs - events[0]!.cameraTimeMs).toBe(3_600_000);
    expect(events[0]!.cameraTimeMs).toBeLessThan(Date.now() - 3_500_000);
  });

  it('holds at a pause step, still linked, until told to go on, and refuses a pause it could never leave', async () => {
    const events: CameraEvent[] = [];
    const { port } = dockedPort((e) => {
      events.push(e);
    }, memoryEventNoStore());
    const scenario = parseScenario({
      steps: [{ tamper: { kind: 'other', detail: 'before' } }, { pause: true }, { tamper: { kind: 'other', detail: 'after' } }],
    });
    let go!: () => void;
    const told = new Promise<void>((r) => {
      go = r;
    });
    const lines: string[] = [];
    const sim = new CameraSim({ scenario, storageDir: tempDir(), port, retransmitMs: 80, proceed: () => told, log: (l) => lines.push(l) });
    const running = sim.run();
    await until('the camera paused', () => lines.some((l) => l.includes('paused until told to go on')));
    await until('the event before the pause', () => events.some((e) => e.frame.tamper?.detail === 'before'));
    expect(events.some((e) => e.frame.tamper?.detail === 'after')).toBe(false);
    go();
    const result = await running;
    expect(result.unacked).toBe(0);
    expect(events.filter((e) => e.kind === 'tamper').map((e) => e.frame.tamper?.detail)).toEqual(['before', 'after']);
    expect(lines.some((l) => l.includes('going on'))).toBe(true);
    expect(() => new CameraSim({ scenario, storageDir: tempDir(), port })).toThrow(ScenarioError);
  });
});
