/**
 * The dock agent's configuration: one zod schema, the defaults in it and nowhere else. A YAML or
 * JSON file overrides the defaults, and `BWC_DOCK_*` environment variables (DOCK_ENV) override the
 * file for the settings a deployment changes most. Errors name the field and the file. What
 * enrollment learned (broker URL, MQTT credentials, device id, fleet) is read from the state
 * directory and used where the file leaves a setting out.
 *
 * Each setting's description lives here, in the schema (`.describe()`, or `.meta()` with a
 * `defaultText` where the default is worked out at run time); `bwc dock config-reference` renders
 * them into the reference in device/README.md.
 */
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { firstIssue } from '../proto/schema-error.js';
import { readConfigFile, setSetting } from '../proto/config-file.js';
import { ID_PATTERN } from '../proto/topics.js';
import { zId } from '../proto/canonical.js';
import { parseUsbMatch } from './io/usb.js';

const id = z
  .string()
  .regex(ID_PATTERN, 'must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}')
  .refine((s) => !s.startsWith('_'), 'must not begin with _');
const usb = z.string().refine((s) => {
  try {
    parseUsbMatch(s);
    return true;
  } catch {
    return false;
  }
}, 'must be VID:PID in hex, e.g. 2fe3:0100');

export const DockConfigSchema = z
  .object({
    deviceId: id.optional().meta({
      description:
        "This dock's device id. Enrollment sets it (`bwc dock enroll`, kept in the state directory); a value here must agree with it, or the agent refuses to start.",
      defaultText: 'from enrollment',
    }),
    fleet: id.optional().meta({
      description: 'The fleet the dock belongs to. Enrollment sets it; a value here must agree with it, or the agent refuses to start.',
      defaultText: 'from enrollment',
    }),
    stateDir: z
      .string()
      .min(1)
      .default('./bwc-dock-state')
      .describe(
        'The state directory: databases (dock.db, policy.db), device key (keys/device), enrollment.json, the MQTT password. Must be writable; created 0700.',
      ),
    office: zId
      .optional()
      .describe(
        'The agency office code the dock stands in: an activation whose camera reports no office gets this one, and decisions (and the manifests that carry them) record it.',
      ),
    mqtt: z
      .object({
        url: z
          .string()
          .url()
          .regex(/^mqtts?:\/\//i, 'must be an mqtt:// or mqtts:// URL')
          .optional()
          .meta({
            description: 'The broker (`mqtt://` or `mqtts://` URL), instead of the one enrollment gave.',
            defaultText: 'the broker enrollment gave',
          }),
        username: z.string().optional().meta({
          description: 'The MQTT username, instead of the one enrollment gave.',
          defaultText: 'the username enrollment gave',
        }),
        passwordFile: z.string().optional().meta({
          description: 'A file holding the MQTT password (enrollment writes the default one, mode 0600); no password when the file does not exist.',
          defaultText: '`{stateDir}/mqtt-password`',
        }),
        protocolVersion: z
          .union([z.literal(4), z.literal(5)])
          .default(4)
          .describe('MQTT protocol version: 4 (3.1.1) or 5.'),
        keepaliveS: z.number().int().min(5).max(600).default(30).describe('MQTT keep-alive, in seconds.'),
        connectTimeoutMs: z
          .number()
          .int()
          .min(1000)
          .max(120_000)
          .default(15_000)
          .describe('How long a connection attempt may take, in ms; the watchdog tears down one still hanging 5 s after that.'),
        backoffMinMs: z
          .number()
          .int()
          .min(50)
          .max(60_000)
          .default(1000)
          .describe(
            'The first reconnect delay, in ms: delays grow exponentially from here to mqtt.backoffMaxMs, with full jitter, and return here once a connection has lasted a minute.',
          ),
        backoffMaxMs: z
          .number()
          .int()
          .min(100)
          .max(3_600_000)
          .default(60_000)
          .describe('The longest reconnect delay, in ms; must not be below mqtt.backoffMinMs.'),
        watchdogMs: z
          .number()
          .int()
          .min(1000)
          .max(3_600_000)
          .default(90_000)
          .describe('A publish left without its PUBACK this long, in ms, tears the connection down and a new client is made.'),
        tls: z
          .object({
            ca: z.string().optional().meta({
              description: "A CA certificate file (PEM) the broker's certificate must chain to.",
              defaultText: "Node's default CAs",
            }),
            cert: z.string().optional().describe('A client certificate file (PEM); needs mqtt.tls.key.'),
            key: z.string().optional().describe("The client certificate's private key file (PEM); needs mqtt.tls.cert."),
            rejectUnauthorized: z.boolean().default(true).describe('Refuse a broker whose certificate does not verify (when an mqtt.tls section is given).'),
          })
          .strict()
          .optional()
          .describe('TLS to the broker: files read at startup; an unreadable one is an error naming the field.'),
      })
      .strict()
      .default({
        protocolVersion: 4,
        keepaliveS: 30,
        connectTimeoutMs: 15_000,
        backoffMinMs: 1000,
        backoffMaxMs: 60_000,
        watchdogMs: 90_000,
      })
      .describe('The MQTT connection to the broker, supervised by the dock (device/README.md).'),
    link: z
      .object({
        ports: z.array(z.string().min(1)).default([]).describe('Serial ports (or pty ends) with a camera on them.'),
        usb: z.array(usb).default([]).describe('Cameras to find and link as they are plugged in, by USB VID:PID in hex (e.g. `2fe3:0100`).'),
        baudRate: z.number().int().positive().default(115_200).describe('Serial line speed, in baud.'),
      })
      .strict()
      .default({ ports: [], usb: [], baudRate: 115_200 })
      .describe('The camera links (BWC-Link v1).'),
    storage: z
      .object({
        mountTemplate: z
          .string()
          .min(1)
          .default('/media/bwc/{label}')
          .describe(
            "Where a camera's mass storage is mounted: `{label}` is replaced by its filesystem label (the camera serial when it reports none). Mount it read-only (device/README.md).",
          ),
        mounts: z.record(z.string(), z.string().min(1)).default({}).describe('Explicit mount directories by storage label, instead of the template.'),
      })
      .strict()
      .default({ mountTemplate: '/media/bwc/{label}', mounts: {} })
      .describe('Where the dock reads clips from.'),
    sync: z
      .object({
        statusIntervalS: z.number().int().min(1).max(86_400).default(60).describe('How often the dock publishes its Status, in seconds.'),
        maxInFlight: z.number().int().min(1).max(10_000).default(64).describe('Signed messages published and not yet acked by the gateway, at most.'),
        chunkWindow: z.number().int().min(1).max(256).default(8).describe('Clip chunks published and not yet acknowledged (PUBACK) by the broker, at most.'),
        ackTimeoutMs: z
          .number()
          .int()
          .min(500)
          .max(3_600_000)
          .default(30_000)
          .describe("A published message without the gateway's ack after this long, in ms, is sent again (the same bytes)."),
      })
      .strict()
      .default({ statusIntervalS: 60, maxInFlight: 64, chunkWindow: 8, ackTimeoutMs: 30_000 })
      .describe('The outbox and its sending to the gateway.'),
    clock: z
      .object({
        ntp: z
          .enum(['auto', 'synced', 'unsynced'])
          .default('auto')
          .describe(
            "Whether the dock's clock is synchronized: `auto` asks systemd-timesyncd (or timedatectl); `synced` and `unsynced` fix the answer (test benches, or a dock known to lack NTP).",
          ),
      })
      .strict()
      .default({ ntp: 'auto' })
      .describe("The dock's clock."),
    io: z
      .object({
        led: z
          .number()
          .int()
          .min(0)
          .max(57)
          .optional()
          .describe(
            'BCM line of the status light (device/io/README.md): a slow heartbeat when idle, solid while a camera records, an even blink while syncing, a fast flicker after an unauthorized or prohibited recording until the button is pressed, three pulses for a fault. None: no light.',
          ),
        button: z
          .number()
          .int()
          .min(0)
          .max(57)
          .optional()
          .describe(
            'BCM line of the push button: a short press acknowledges the unauthorized flicker and logs a status line; held 3 s, it asks for a re-sync. None: no button.',
          ),
        buttonActiveLow: z
          .boolean()
          .default(true)
          .describe('The button pulls its line to ground when pressed (a button to ground with the pull-up on), the usual wiring.'),
      })
      .strict()
      .default({ buttonActiveLow: true })
      .describe("The dock's status light and button on GPIO."),
    log: z
      .object({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info').describe('The pino log level; JSON lines on stderr.'),
      })
      .strict()
      .default({ level: 'info' })
      .describe('Logging.'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.mqtt.backoffMaxMs < c.mqtt.backoffMinMs)
      ctx.addIssue({ code: 'custom', path: ['mqtt', 'backoffMaxMs'], message: 'must not be below mqtt.backoffMinMs' });
    if (c.mqtt.tls && (c.mqtt.tls.cert === undefined) !== (c.mqtt.tls.key === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['mqtt', 'tls'], message: 'a client certificate needs both cert and key' });
    }
  });

export type DockConfig = z.infer<typeof DockConfigSchema>;

export class DockConfigError extends Error {
  override name = 'DockConfigError';
}

export function parseDockConfig(raw: unknown, source = 'configuration'): DockConfig {
  const r = DockConfigSchema.safeParse(raw ?? {});
  if (!r.success) throw new DockConfigError(firstIssue(r.error, source));
  return r.data;
}

/** The environment overrides: variable → setting (in the configuration reference). BWC_DOCK_PORTS is comma-separated. */
export const DOCK_ENV = {
  BWC_DOCK_STATE_DIR: ['stateDir'],
  BWC_DOCK_MQTT_URL: ['mqtt', 'url'],
  BWC_DOCK_PORTS: ['link', 'ports'],
  BWC_DOCK_LOG_LEVEL: ['log', 'level'],
  BWC_DOCK_NTP: ['clock', 'ntp'],
} as const;

/** Reads a YAML/JSON config file (or none), then applies the environment overrides. */
export function loadDockConfig(file?: string, env: NodeJS.ProcessEnv = process.env): DockConfig {
  const raw: Record<string, unknown> = file ? readConfigFile(file, (m) => new DockConfigError(m)) : {};
  for (const [name, path] of Object.entries(DOCK_ENV)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    setSetting(
      raw,
      path,
      name === 'BWC_DOCK_PORTS'
        ? value
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : value,
    );
  }
  return parseDockConfig(raw, file ?? 'configuration');
}

/** The files of a state directory. */
export function statePaths(c: { stateDir: string }): {
  dir: string;
  db: string;
  policyDb: string;
  keyDir: string;
  enrollment: string;
  mqttPassword: string;
} {
  const dir = resolve(c.stateDir);
  return {
    dir,
    db: join(dir, 'dock.db'),
    policyDb: join(dir, 'policy.db'),
    keyDir: join(dir, 'keys', 'device'),
    enrollment: join(dir, 'enrollment.json'),
    mqttPassword: join(dir, 'mqtt-password'),
  };
}
