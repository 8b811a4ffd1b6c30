/**
 * The one logger of each program (gateway/log.ts, device/log.ts): secrets are redacted by its
 * configuration whatever a part passes, errors are written by pino's `err` serializer, and each
 * part's child names itself.
 */
import { describe, expect, it } from 'vitest';
import type { Logger } from 'pino';
import { gatewayLogger } from '../gateway/log.js';
import { dockLogger } from '../device/log.js';
import { parseGatewayConfig } from '../gateway/config.js';
import { startGateway } from '../gateway/gateway.js';
import { tempDir, until } from './helpers.js';
import { dockSync } from './dock.sync.fixtures.js';

function capture(make: (d: { write(s: string): void }) => Logger): {
  log: Logger;
  out: () => string;
  lines: () => Record<string, unknown>[];
} {
  let text = '';
  const log = make({
    write: (s: string) => {
      text += s;
    },
  });
  return {
    log,
    out: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** One object carrying every secret the loggers must never write, each with a value of its own. */
function secrets(): { fields: Record<string, unknown>; values: string[] } {
  const values: string[] = [];
  const v = (name: string) => {
    const s = `SECRET-${name}-${values.length}`;
    values.push(s);
    return s;
  };
  const fields = {
    password: v('password'),
    token: v('token'),
    mqttPassword: v('mqttPassword'),
    authorization: v('authorization'),
    cookie: v('cookie'),
    csrfToken: v('csrfToken'),
    secret: v('secret'),
    user: { password: v('user.password'), token: v('user.token') },
    config: { mqttPassword: v('config.mqttPassword'), secret: v('config.secret') },
    headers: { authorization: v('headers.authorization'), cookie: v('headers.cookie') },
    req: { headers: { authorization: v('req.headers.authorization'), cookie: v('req.headers.cookie') } },
    device: 'dock-1',
  };
  return { fields, values };
}

describe.each([
  ['gateway', 'bwc-gateway', (d: { write(s: string): void }) => gatewayLogger({ level: 'info', destination: d })],
  ['dock', 'bwc-dock', (d: { write(s: string): void }) => dockLogger({ level: 'info', destination: d, env: {} })],
] as const)('the %s logger', (_name, programName, make) => {
  it('writes none of the secrets it is given, at the root or in a part (redact option)', () => {
    const { log, out, lines } = capture(make);
    const { fields, values } = secrets();
    log.info(fields, 'a message carrying secrets');
    log.child({ part: 'api' }).warn(fields, 'again from a part');
    const text = out();
    for (const s of values) expect(text, s).not.toContain(s);
    const [root, part] = lines();
    expect(root).toMatchObject({ name: programName, msg: 'a message carrying secrets', device: 'dock-1', password: '[redacted]' });
    expect(part).toMatchObject({ name: programName, part: 'api', msg: 'again from a part', device: 'dock-1', token: '[redacted]' });
  });

  it('writes an Error under `err` with its type, message and stack', () => {
    const { log, lines } = capture(make);
    log.child({ part: 'ingest' }).error({ err: new TypeError('no such clip'), clip: 'c1', camera: 'CAM1', manifestHash: 'ab' }, 'failed');
    const [line] = lines();
    expect(line).toMatchObject({
      part: 'ingest',
      clip: 'c1',
      camera: 'CAM1',
      manifestHash: 'ab',
      err: { type: 'TypeError', message: 'no such clip' },
    });
    expect((line!.err as { stack: string }).stack).toContain('TypeError: no such clip');
  });
});

describe('the dock logger level', () => {
  it('BWC_LOG_LEVEL overrides the configured level', () => {
    expect(dockLogger({ level: 'info', env: { BWC_LOG_LEVEL: 'warn' }, destination: { write() {} } }).level).toBe('warn');
    expect(dockLogger({ level: 'debug', env: {}, destination: { write() {} } }).level).toBe('debug');
  });
});

describe('the running gateway', () => {
  it('logs each part through a child named for it, and never its MQTT secret', async () => {
    const { log, out, lines } = capture((d) => gatewayLogger({ level: 'info', destination: d }));
    const gatewaySecret = 'gateway-secret-never-logged';
    const gw = await startGateway({
      config: parseGatewayConfig({
        fleet: 'f1',
        gatewayId: 'gw1',
        dataDir: tempDir(),
        mqtt: { embedded: { port: 0 } },
        http: { port: 0 },
        sweepIntervalMs: 600_000,
      }),
      log,
      gatewaySecret,
    });
    try {
      await until('the dashboard line', () => lines().some((l) => String(l.msg).startsWith('dashboard on http://')));
      const partOf = (start: string) => lines().find((l) => String(l.msg).startsWith(start))?.part;
      expect(partOf('embedded MQTT broker (MQTT 3.1.1) listening')).toBe('broker');
      expect(partOf('trust: no agency root key')).toBe('trust');
      expect(partOf('second decision: no agency root key')).toBe('second-decision');
      expect(partOf('dashboard on http://')).toBe('api');
      for (const l of lines()) expect(l.name).toBe('bwc-gateway');
      for (const l of out().trim().split('\n')) expect(l.match(/"part":/g)?.length ?? 0, l).toBeLessThanOrEqual(1);
      expect(out()).not.toContain(gatewaySecret);
    } finally {
      await gw.stop();
    }
  });
});

describe('the dock', () => {
  it('logs its MQTT session through the `session` child of its logger', async () => {
    const { log, out, lines } = capture((d) => dockLogger({ level: 'info', destination: d, env: {} }));
    const t = dockSync({ log });
    try {
      t.sync.start();
      await until('a reconnect line', () => lines().some((l) => String(l.msg).includes('reconnecting with backoff')));
      const line = lines().find((l) => String(l.msg).includes('reconnecting with backoff'));
      expect(line).toMatchObject({ name: 'bwc-dock', part: 'session', level: 40 });
      expect(out().match(/"part":/g)?.length).toBe(lines().length); // one part per line, never a part inside a part
    } finally {
      await t.sync.stop();
      t.close();
    }
  });
});
