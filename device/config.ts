/**
 * The dock agent's configuration: one zod schema, the defaults in it and nowhere else. A YAML or
 * JSON file overrides the defaults, and `BWC_DOCK_*` environment variables override the file for
 * the settings a deployment changes most (device/README.md lists them). Errors name the field and
 * the file. What enrollment learned (broker URL, MQTT credentials, device id, fleet) is read from
 * the state directory and used where the file leaves a setting out.
 */
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { firstIssue } from '../proto/schema-error.js';
import { readConfigFile, setSetting } from '../proto/config-file.js';
import { ID_PATTERN } from '../proto/topics.js';
import { parseUsbMatch } from './io/usb.js';

const id = z.string().regex(ID_PATTERN, 'must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}').refine((s) => !s.startsWith('_'), 'must not begin with _');
const usb = z.string().refine((s) => {
  try {
    parseUsbMatch(s);
    return true;
  } catch {
    return false;
  }
}, 'must be VID:PID in hex, e.g. 2fe3:0100');

export const DockConfigSchema = z.object({
  /** Set by `bwc dock enroll` (kept in the state dir); a value here must agree with it. */
  deviceId: id.optional(),
  fleet: id.optional(),
  /** Database, keys, enrollment. Must be writable; created 0700. */
  stateDir: z.string().min(1).default('./bwc-dock-state'),
  /** The agency office code the dock stands in (decisions and manifests carry it). */
  office: z.string().min(1).max(32).optional(),
  mqtt: z.object({
    /** Overrides the broker URL enrollment gave (mqtt://, mqtts://). */
    url: z.string().url().optional(),
    username: z.string().optional(),
    /** A file holding the MQTT password (enrollment writes `{stateDir}/mqtt-password`, 0600). */
    passwordFile: z.string().optional(),
    protocolVersion: z.union([z.literal(4), z.literal(5)]).default(4),
    keepaliveS: z.number().int().min(5).max(600).default(30),
    connectTimeoutMs: z.number().int().min(1000).max(120_000).default(15_000),
    /** Reconnect delays: exponential from min to max, full jitter. */
    backoffMinMs: z.number().int().min(50).max(60_000).default(1000),
    backoffMaxMs: z.number().int().min(100).max(3_600_000).default(60_000),
    /** A connection with publishes unanswered this long is torn down and made anew. */
    watchdogMs: z.number().int().min(1000).max(3_600_000).default(90_000),
    tls: z.object({
      ca: z.string().optional(),
      cert: z.string().optional(),
      key: z.string().optional(),
      rejectUnauthorized: z.boolean().default(true),
    }).strict().optional(),
  }).strict().default({ protocolVersion: 4, keepaliveS: 30, connectTimeoutMs: 15_000, backoffMinMs: 1000, backoffMaxMs: 60_000, watchdogMs: 90_000 }),
  link: z.object({
    /** Serial ports (or pty ends) with a camera on them. */
    ports: z.array(z.string().min(1)).default([]),
    /** USB VID:PID of cameras to find and link as they are plugged in. */
    usb: z.array(usb).default([]),
    baudRate: z.number().int().positive().default(115_200),
  }).strict().default({ ports: [], usb: [], baudRate: 115_200 }),
  storage: z.object({
    /** Where a camera's mass storage is mounted, by its filesystem label (read-only mount; device/README.md). */
    mountTemplate: z.string().min(1).default('/media/bwc/{label}'),
    /** Explicit mounts by storage label, overriding the template. */
    mounts: z.record(z.string(), z.string().min(1)).default({}),
  }).strict().default({ mountTemplate: '/media/bwc/{label}', mounts: {} }),
  sync: z.object({
    statusIntervalS: z.number().int().min(1).max(86_400).default(60),
    /** Signed messages published and not yet acked by the gateway, at most. */
    maxInFlight: z.number().int().min(1).max(10_000).default(64),
    /** Clip chunks published and not yet acknowledged by the broker, at most. */
    chunkWindow: z.number().int().min(1).max(256).default(8),
    /** A published message without the gateway's ack after this long is sent again (same bytes). */
    ackTimeoutMs: z.number().int().min(500).max(3_600_000).default(30_000),
  }).strict().default({ statusIntervalS: 60, maxInFlight: 64, chunkWindow: 8, ackTimeoutMs: 30_000 }),
  clock: z.object({
    /** auto: ask systemd-timesyncd / timedatectl; synced / unsynced: fixed (test benches, or a dock known to lack NTP). */
    ntp: z.enum(['auto', 'synced', 'unsynced']).default('auto'),
  }).strict().default({ ntp: 'auto' }),
  log: z.object({
    level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
  }).strict().default({ level: 'info' }),
}).strict().superRefine((c, ctx) => {
  if (c.mqtt.backoffMaxMs < c.mqtt.backoffMinMs) ctx.addIssue({ code: 'custom', path: ['mqtt', 'backoffMaxMs'], message: 'must not be below mqtt.backoffMinMs' });
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

/** The environment overrides, documented in device/README.md. */
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
    setSetting(raw, path, name === 'BWC_DOCK_PORTS' ? value.split(',').map((s) => s.trim()).filter(Boolean) : value);
  }
  return parseDockConfig(raw, file ?? 'configuration');
}

/** The files of a state directory. */
export function statePaths(c: { stateDir: string }): { dir: string; db: string; policyDb: string; keyDir: string; enrollment: string; mqttPassword: string } {
  const dir = resolve(c.stateDir);
  return {
    dir, db: join(dir, 'dock.db'), policyDb: join(dir, 'policy.db'), keyDir: join(dir, 'keys', 'device'),
    enrollment: join(dir, 'enrollment.json'), mqttPassword: join(dir, 'mqtt-password'),
  };
}
