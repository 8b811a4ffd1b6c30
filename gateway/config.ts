/**
 * The gateway's configuration: one zod schema with defaults; a YAML or JSON file overrides them,
 * and `BWC_GATEWAY_*` environment variables (GATEWAY_ENV) override the file for the few settings
 * deployments change most. Errors name the field and the file.
 *
 * Each setting's description lives here, in the schema (`.describe()`, or `.meta()` with a
 * `defaultText` where the default is worked out at run time); `bwc gateway config-reference`
 * renders them into the reference in gateway/README.md.
 */
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { firstIssue } from '../proto/schema-error.js';
import { readConfigFile, setSetting } from '../proto/config-file.js';
import { ID_PATTERN } from '../proto/topics.js';
import { DEFAULT_THRESHOLDS } from './fleet/registry.js';
import { DEFAULT_RECORDS_CONFIG, RecordsConfigSchema } from './records/schedules.js';
import { parseProxySpec } from './api/client-address.js';

const id = z
  .string()
  .regex(ID_PATTERN, 'must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}')
  .refine((s) => !s.startsWith('_'), 'must not begin with _');

function defaultGatewayId(): string {
  const h = hostname()
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '');
  return (h || 'gateway').slice(0, 64);
}

export const GatewayConfigSchema = z
  .object({
    fleet: id.default('default').describe('The fleet this gateway serves: its MQTT topics are `bwc/v1/{fleet}/…`.'),
    gatewayId: id.default(defaultGatewayId).meta({
      description: "This gateway's id (its certificate names it); each replica its own.",
      defaultText: "this host's name (characters other than letters, digits, `.`, `_`, `-` made `-`; at most 64)",
    }),
    dataDir: z
      .string()
      .min(1)
      .default('./bwc-gateway-data')
      .describe('The data directory: gateway.db (SQLite), clips/, keys/gateway/ (private key mode 0600), audit-checkpoints/.'),
    clipsDir: z.string().min(1).optional().meta({
      description: 'The clip store; replicas point this at the same shared directory.',
      defaultText: '`{dataDir}/clips`',
    }),
    db: z
      .object({
        url: z.string().min(1).optional().meta({
          description: 'The database: a `postgres://` (or `postgresql://`) URL, or a SQLite file path.',
          defaultText: '`{dataDir}/gateway.db`',
        }),
      })
      .strict()
      .default({})
      .describe('The database.'),
    mqtt: z
      .object({
        url: z
          .string()
          .url()
          .regex(/^mqtts?:\/\//i, 'must be an mqtt:// or mqtts:// URL')
          .optional()
          .meta({
            description: 'An external broker (`mqtt://` or `mqtts://` URL).',
            defaultText: 'none: the embedded broker',
          }),
        publicUrl: z
          .string()
          .url()
          .regex(/^mqtts?:\/\//i, 'must be an mqtt:// or mqtts:// URL')
          .optional()
          .meta({
            description: 'The broker URL docks are given at enrollment.',
            defaultText: 'the URL the gateway itself connects to',
          }),
        username: z.string().optional().describe('The MQTT username for an external broker.'),
        password: z.string().optional().describe('The MQTT password for an external broker.'),
        protocolVersion: z
          .union([z.literal(4), z.literal(5)])
          .default(4)
          .describe('MQTT protocol version: 4 (3.1.1), or 5 for an external MQTT 5 broker.'),
        shared: z
          .boolean()
          .default(false)
          .describe(
            'Subscribe through `$share/{shareGroup}/…` so several gateways split the load; needs an external broker (mqtt.url) and PostgreSQL (db.url).',
          ),
        shareGroup: id.default('bwc-gateway').describe('The shared-subscription group (with mqtt.shared).'),
        embedded: z
          .object({
            host: z.string().default('127.0.0.1').describe('The address the embedded broker listens on (when no mqtt.url is set).'),
            port: z.number().int().min(0).max(65535).default(1883).describe("The embedded broker's port (0: any free port)."),
          })
          .strict()
          .default({ host: '127.0.0.1', port: 1883 })
          .describe('The embedded broker (aedes), used when no mqtt.url is set.'),
      })
      .strict()
      .default({ protocolVersion: 4, shared: false, shareGroup: 'bwc-gateway', embedded: { host: '127.0.0.1', port: 1883 } })
      .describe('The broker: embedded, or an external one.'),
    http: z
      .object({
        host: z.string().default('127.0.0.1').describe('The address the HTTP API and the dashboard listen on.'),
        port: z.number().int().min(0).max(65535).default(8080).describe('The port of the HTTP API and the dashboard (0: any free port).'),
        behindTls: z
          .boolean()
          .default(false)
          .describe('Set when a TLS-terminating proxy is in front: session cookies get `Secure`, responses `Strict-Transport-Security`.'),
        trustProxy: z
          .array(z.string().refine((s) => parseProxySpec(s) !== null, { message: 'an IP address or a CIDR (10.0.0.0/8, fd00::/8)' }))
          .default([])
          .describe(
            'The reverse proxies in front of the gateway, as IP addresses or CIDRs (e.g. `[127.0.0.1, ::1]`). From these only, the client address is taken from `X-Forwarded-For` (the rightmost hop that is not a listed proxy); it counts sign-in attempts and is recorded in the audit log. Empty: the header is ignored, and behind a proxy every client shares its address.',
          ),
        webDir: z.string().optional().meta({
          description: 'The built dashboard (index.html and assets/).',
          defaultText: 'dist/gateway/web of this installation',
        }),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8080, behindTls: false, trustProxy: [] })
      .describe('The HTTP API and the dashboard.'),
    ingest: z
      .object({
        maxEnvelopeBytes: z
          .number()
          .int()
          .min(64 * 1024)
          .max(256 * 1024 * 1024)
          .default(8 * 1024 * 1024)
          .describe("The largest message accepted from the broker, in bytes; a clip's chunks must fit in it."),
        gapSettleMs: z
          .number()
          .int()
          .min(0)
          .default(30_000)
          .describe("How long a gap in a device's chain must persist, in ms, before it is raised (replicas see messages out of order)."),
        leaseMs: z.number().int().min(1000).default(120_000).describe("How long a replica may hold a clip's assembly lease, in ms."),
        cryptoThreads: z.number().int().min(0).max(64).default(1).describe('Worker threads for signature verification and ack signing; 0: on the main thread.'),
      })
      .strict()
      .default({ maxEnvelopeBytes: 8 * 1024 * 1024, gapSettleMs: 30_000, leaseMs: 120_000, cryptoThreads: 1 })
      .describe("Verified ingest of the docks' messages."),
    thresholds: z
      .object({
        offlineAfterMs: z
          .number()
          .int()
          .positive()
          .default(DEFAULT_THRESHOLDS.offlineAfterMs)
          .describe('A device not heard from this long, in ms, is offline (DEVICE_OFFLINE alert).'),
        clockDriftMs: z
          .number()
          .int()
          .positive()
          .default(DEFAULT_THRESHOLDS.clockDriftMs)
          .describe('A device clock more than this many ms off, or not synchronized, raises CLOCK_DRIFT.'),
        storageLowBytes: z
          .number()
          .int()
          .nonnegative()
          .default(DEFAULT_THRESHOLDS.storageLowBytes)
          .describe('A device with less free storage than this, in bytes, raises STORAGE_LOW.'),
        uploadOverdueMs: z
          .number()
          .int()
          .positive()
          .default(DEFAULT_THRESHOLDS.uploadOverdueMs)
          .describe('A clip not uploaded this long, in ms, after its manifest arrived raises UPLOAD_OVERDUE (the end-of-shift rule).'),
      })
      .strict()
      .default({ ...DEFAULT_THRESHOLDS })
      .describe('When the fleet raises alerts.'),
    secondDecision: z
      .object({
        grantFiledLateHours: z
          .number()
          .positive()
          .max(24 * 365)
          .default(24)
          .describe(
            'A grant that reaches the gateway more than this many hours after its claimed signing time, and authorizes a recording that started before the gateway held it, raises GRANT_FILED_LATE for review.',
          ),
        objectWaitMs: z
          .number()
          .int()
          .min(1000)
          .default(600_000)
          .describe(
            'How long, in ms, the gateway waits for a policy object it asked a dock for (PolicyObjectRequest) before deciding the clip again without it and raising DECISION_MISMATCH if the decisions differ.',
          ),
      })
      .strict()
      .default({ grantFiledLateHours: 24, objectWaitMs: 600_000 })
      .describe('The gateway deciding each recording again from the signed policy objects it holds (DESIGN §5).'),
    trust: z
      .object({
        rootPublicKey: z
          .string()
          .min(1)
          .optional()
          .describe(
            'The agency root public key file (public.hex or public.pem from `bwc authz keygen`); without it the gateway cannot enroll devices. Needs trust.certificate.',
          ),
        certificate: z
          .string()
          .min(1)
          .optional()
          .describe("This gateway's GatewayCertificate file, signed by the root (`bwc authz sign-gateway-cert`); needs trust.rootPublicKey."),
        bundle: z
          .string()
          .min(1)
          .optional()
          .describe('The current root-signed policy bundle file (`bwc authz sign-bundle`), pushed to docks; needs trust.rootPublicKey.'),
      })
      .strict()
      .default({})
      .describe(
        'The agency root key and what it signed for this gateway (DESIGN §4 "Who signs what", §8): files, read and checked at startup. Without them the gateway cannot enroll devices.',
      ),
    authz: z
      .object({
        issuerKeysDir: z
          .string()
          .min(1)
          .optional()
          .describe(
            "Officials' issuer keys, one directory per person id (`{dir}/{personId}/private.pem`, from `bwc authz keygen`), listed in the policy bundle with that person id and role. Without it requests are filed and denied, but nothing is approved on this gateway.",
          ),
      })
      .strict()
      .default({})
      .describe('Recording authorizations (1061.2 §5; gateway/README.md "Authorizations").'),
    records: RecordsConfigSchema.default(DEFAULT_RECORDS_CONFIG).describe(
      'Records schedules and their mapping (gateway/README.md "Records"); defaults in records/schedules.ts.',
    ),
    audit: z
      .object({
        checkpointEvery: z
          .number()
          .int()
          .min(1)
          .max(1_000_000)
          .default(1000)
          .describe('A signed checkpoint whenever the entry count reaches a multiple of this.'),
        checkpointIntervalMs: z.number().int().min(1000).default(3_600_000).describe('And a checkpoint at least this often, in ms.'),
        exportDir: z.string().min(1).optional().meta({
          description: 'Where signed checkpoints are copied as files, outside the database.',
          defaultText: '`{dataDir}/audit-checkpoints`',
        }),
      })
      .strict()
      .default({ checkpointEvery: 1000, checkpointIntervalMs: 3_600_000 })
      .describe('The audit log\'s signed checkpoints (gateway/README.md "Audit log").'),
    dashboard: z
      .object({
        sampleIntervalMs: z
          .number()
          .int()
          .min(1000)
          .max(3_600_000)
          .default(60_000)
          .describe("How often the fleet is sampled for the dashboard's charts, in ms."),
        sampleRetentionDays: z.number().int().min(1).max(3650).default(30).describe('How long the samples are kept, in days.'),
        liveKeepAliveMs: z
          .number()
          .int()
          .min(500)
          .max(300_000)
          .default(15_000)
          .describe("The live stream's keep-alive, and how often its session is checked again, in ms."),
      })
      .strict()
      .default({ sampleIntervalMs: 60_000, sampleRetentionDays: 30, liveKeepAliveMs: 15_000 })
      .describe("The dashboard's charts and live stream."),
    sweepIntervalMs: z
      .number()
      .int()
      .min(100)
      .default(5000)
      .describe('How often the periodic checks run, in ms: chain gaps, offline devices, overdue uploads, expired sessions, audit checkpoints, chart samples.'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.trust.certificate && !c.trust.rootPublicKey) {
      ctx.addIssue({
        code: 'custom',
        path: ['trust', 'certificate'],
        message: 'a certificate needs trust.rootPublicKey, the agency root key that signed it',
      });
    }
    if (c.trust.bundle && !c.trust.rootPublicKey) {
      ctx.addIssue({
        code: 'custom',
        path: ['trust', 'bundle'],
        message: 'a bundle needs trust.rootPublicKey, the agency root key that signed it',
      });
    }
    if (c.trust.rootPublicKey && !c.trust.certificate) {
      ctx.addIssue({
        code: 'custom',
        path: ['trust', 'certificate'],
        message: "is required with trust.rootPublicKey: this gateway's certificate signed by that root (bwc authz sign-gateway-cert)",
      });
    }
    if (c.mqtt.shared && !c.mqtt.url) {
      ctx.addIssue({
        code: 'custom',
        path: ['mqtt', 'shared'],
        message: 'shared subscriptions need an external broker (mqtt.url): the embedded aedes broker does not deliver $share subscriptions',
      });
    }
    if (c.mqtt.shared && !/^postgres(ql)?:\/\//.test(c.db.url ?? '')) {
      ctx.addIssue({
        code: 'custom',
        path: ['db', 'url'],
        message: 'several gateways (mqtt.shared) need one PostgreSQL database (db.url postgres://…); SQLite is for one gateway',
      });
    }
  });

export type GatewayConfig = z.infer<typeof GatewayConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses a config object (from a file, or built by a test or the demo). */
export function parseGatewayConfig(raw: unknown, source = 'configuration'): GatewayConfig {
  const r = GatewayConfigSchema.safeParse(raw ?? {});
  if (!r.success) throw new ConfigError(firstIssue(r.error, source));
  return r.data;
}

/** The environment overrides: variable → setting (in the configuration reference). BWC_GATEWAY_HTTP_PORT is a number. */
export const GATEWAY_ENV = {
  BWC_GATEWAY_DATA_DIR: ['dataDir'],
  BWC_GATEWAY_DB_URL: ['db', 'url'],
  BWC_GATEWAY_MQTT_URL: ['mqtt', 'url'],
  BWC_GATEWAY_HTTP_PORT: ['http', 'port'],
  BWC_GATEWAY_ROOT_PUBKEY: ['trust', 'rootPublicKey'],
  BWC_GATEWAY_CERT: ['trust', 'certificate'],
  BWC_GATEWAY_BUNDLE: ['trust', 'bundle'],
  BWC_GATEWAY_ISSUER_KEYS: ['authz', 'issuerKeysDir'],
} as const;

/** Reads a YAML/JSON config file (or none), then the environment overrides. */
export function loadGatewayConfig(file?: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const raw: Record<string, unknown> = file ? readConfigFile(file, (m) => new ConfigError(m)) : {};
  for (const [name, path] of Object.entries(GATEWAY_ENV)) {
    const value = env[name];
    if (!value) continue;
    setSetting(raw, path, name === 'BWC_GATEWAY_HTTP_PORT' ? Number(value) : value);
  }
  return parseGatewayConfig(raw, file ?? 'configuration');
}

export function resolvedPaths(c: GatewayConfig): { dataDir: string; db: string; clips: string; keyDir: string; auditExportDir: string } {
  const dataDir = resolve(c.dataDir);
  return {
    dataDir,
    db: c.db.url ?? join(dataDir, 'gateway.db'),
    clips: c.clipsDir ? resolve(c.clipsDir) : join(dataDir, 'clips'),
    keyDir: join(dataDir, 'keys', 'gateway'),
    auditExportDir: c.audit.exportDir ? resolve(c.audit.exportDir) : join(dataDir, 'audit-checkpoints'),
  };
}
