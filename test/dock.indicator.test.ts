/**
 * The dock's status light and button in the running agent (io.led, io.button), on fake pins: a
 * real gateway, an enrolled dock and a simulated camera on an in-memory link. The light is solid
 * while the camera records, flickers after an unauthorized recording until the button is pressed,
 * blinks while a clip is hashed and offloaded (160 MiB, so that it lasts a few refreshes), and returns to the idle heartbeat once everything is at the
 * gateway. A short press logs a status line for field IT.
 */
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { silentLogger } from '../gateway/api/http.js';
import { parseDockConfig } from '../device/config.js';
import { DockAgent } from '../device/agent.js';
import { textLogger } from '../device/log.js';
import { enrollDock } from '../device/enrollment.js';
import { CameraSim } from '../device/link/sim/camera.js';
import { parseScenario } from '../device/link/sim/scenario.js';
import { memoryDuplexPair, type LinkPort } from '../device/link/transport.js';
import type { GpioBackend, PinValue } from '../device/io/gpio.js';
import { FakeClock } from '../proto/clock.js';
import { agencyTrust, OFFICER } from './dock.fixtures.js';
import { tempDir, until } from './helpers.js';

const dir = tempDir('bwc-dock-light-');
let gw: RunningGateway;

beforeAll(async () => {
  const gwData = join(dir, 'gateway');
  const { root, trust } = agencyTrust(dir, gwData, { fleet: 'lt', gatewayId: 'gw-lt' });
  gw = await startGateway({
    log: silentLogger,
    config: parseGatewayConfig({
      fleet: 'lt',
      gatewayId: 'gw-lt',
      dataDir: gwData,
      http: { port: 0 },
      mqtt: { embedded: { port: 0 } },
      trust,
      sweepIntervalMs: 1000,
    }),
  });
  await gw.fleet.assign('CAM-LT-1', OFFICER, 'otto', 'operator', Date.now() - 3600_000);
  const { token } = await gw.fleet.createEnrollmentToken('dock-lt-1', 'otto');
  await enrollDock({
    stateDir: join(dir, 'dock'),
    gatewayUrl: `http://127.0.0.1:${gw.httpPort}`,
    deviceId: 'dock-lt-1',
    token,
    rootFingerprint: root.keyId,
  });
}, 60_000);

afterAll(async () => {
  await gw?.stop();
});

describe('the status light and button of a running dock', () => {
  it('shows recording, the unauthorized flicker until a press, syncing, then idle', async () => {
    let buttonEdge: ((v: PinValue) => void) | null = null;
    const gpio: GpioBackend = {
      kind: 'sysfs',
      output: () => ({ write: () => {}, close: () => {} }),
      input: () => ({
        read: () => 1,
        watch: (cb) => {
          buttonEdge = cb;
        },
        close: () => {},
      }),
    };
    let camEnd: Duplex | null = null;
    const dockPort: LinkPort = {
      path: 'memory:cam',
      open: async () => {
        const [d, c] = memoryDuplexPair();
        camEnd = c;
        return d;
      },
    };
    const camPort: LinkPort = {
      path: 'memory:cam',
      open: () => until<Duplex>("the dock's end of the link open", () => camEnd ?? undefined),
    };
    // The light's and button's own clock (blink patterns, debouncing), moved by the test.
    const ioClock = new FakeClock();
    const storage = join(dir, 'camera');
    const lines: string[] = [];
    const log = textLogger((_level, m) => lines.push(m));
    const agent = DockAgent.open({
      config: parseDockConfig({
        stateDir: join(dir, 'dock'),
        storage: { mounts: { 'CAM-LT-1': storage } },
        clock: { ntp: 'synced' },
        io: { led: 17, button: 27 },
        sync: { statusIntervalS: 2, ackTimeoutMs: 3000 },
        mqtt: { backoffMinMs: 100, backoffMaxMs: 1000 },
      }),
      ports: [dockPort],
      gpio,
      ioTimers: ioClock,
      log,
    });
    const seen = new Set<string>();
    const watch = setInterval(() => {
      const s = agent.light;
      if (s) seen.add(s);
    }, 20);
    await agent.start();
    try {
      const sim = new CameraSim({
        scenario: parseScenario({
          camera: { serial: 'CAM-LT-1' },
          steps: [
            // An arrest: the light is solid while it records.
            { start: { clip: 'lt-0', activity: 'at_large_arrest', preEventBufferS: 0 } },
            { wait: 1500 },
            { stop: { clip: 'lt-0' } },
            { ready: { clip: 'lt-0', size: 2_000_000 } },
            // An excluded activity without a grant: UNAUTHORIZED (the camera and the light say so).
            { start: { clip: 'lt-1', activity: 'undercover_operation', preEventBufferS: 0 } },
            { wait: 1200 },
            { stop: { clip: 'lt-1' } },
            { ready: { clip: 'lt-1', size: '160MiB' } },
          ],
        }),
        storageDir: storage,
        port: camPort,
        settleMs: 5000,
        untilReleasedMs: 60_000,
      });
      const running = sim.run();
      await until('the light solid while recording', () => seen.has('recording') || undefined, 20_000).catch((e: Error) => {
        throw new Error(`${e.message}: seen ${[...seen].join(',')}\n${lines.join('\n')}`);
      });
      await until('the unauthorized flicker', () => agent.light === 'unauthorized' || undefined, 20_000);
      // The officer presses the button and holds it past its debounce (30 ms), then lets go: a short
      // press. The flicker is acknowledged, and a status line is logged for field IT.
      buttonEdge!(0);
      ioClock.advance(60);
      expect(agent.light, 'not a press until let go').toBe('unauthorized');
      buttonEdge!(1);
      ioClock.advance(60);
      expect(agent.light, 'the flicker acknowledged').not.toBe('unauthorized');
      expect(
        lines.some((l) => /^button: light \w+; connected to the broker; \d+ clip\(s\) not yet verified/.test(l)),
        lines.join('\n'),
      ).toBe(true);
      const result = await running;
      expect(result.released.sort()).toEqual(['lt-0', 'lt-1']);
      await until('the idle heartbeat once everything is at the gateway', () => agent.light === 'idle' || undefined, 20_000);
      expect(seen.has('syncing'), [...seen].join(',')).toBe(true);
    } finally {
      clearInterval(watch);
      await agent.stop();
    }
  }, 90_000);
});
