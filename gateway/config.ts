/**
 * The gateway's configuration: one zod schema with defaults; a YAML or JSON file overrides them,
 * and `BWC_GATEWAY_*` environment variables override the file for the few settings deployments
 * change most (see gateway/README.md). Errors name the field and the file.
 */
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { firstIssue } from '../proto/schema-error.js';
import { readConfigFile, setSetting } from '../proto/config-file.js';
import { ID_PATTERN } from '../proto/topics.js';
import { DEFAULT_THRESHOLDS } from './fleet/registry.js';
import { DEFAULT_RECORDS_CONFIG, RecordsConfigSchema } from './records/schedules.js';

const id = z.string().regex(ID_PATTERN, 'must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}').refine((s) => !s.startsWith('_'), 'must not begin with _');

function defaultGatewayId(): string {
  const h = hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return (h || 'gateway').slice(0, 64);
}

export const GatewayConfigSchema = z.object({
  fleet: id.default('default'),
  gatewayId: id.default(defaultGatewayId),
  dataDir: z.string().min(1).default('./bwc-gateway-data'),
  /** The clip store; replicas point this at the same shared directory. Default `{dataDir}/clips`. */
  clipsDir: z.string().min(1).optional(),
  db: z.object({
    /** A postgres:// URL, or a SQLite file path; default `{dataDir}/gateway.db`. */
    url: z.string().min(1).optional(),
  }).strict().default({}),
  mqtt: z.object({
    /** An external broker (mqtt://, mqtts://); none: the embedded broker. */
    url: z.string().url().optional(),
    /** The broker URL docks are given at enrollment; default: the URL the gateway itself uses. */
    publicUrl: z.string().url().optional(),
    username: z.string().optional(),
    password: z.string().optional(),
    protocolVersion: z.union([z.literal(4), z.literal(5)]).default(4),
    /** Subscribe through `$share/{shareGroup}/…` so several gateways split the load (external brokers only). */
    shared: z.boolean().default(false),
    shareGroup: id.default('bwc-gateway'),
    embedded: z.object({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(1883),
    }).strict().default({ host: '127.0.0.1', port: 1883 }),
  }).strict().default({ protocolVersion: 4, shared: false, shareGroup: 'bwc-gateway', embedded: { host: '127.0.0.1', port: 1883 } }),
  http: z.object({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8080),
    /** Set when a TLS-terminating proxy is in front: session cookies get `Secure`. */
    behindTls: z.boolean().default(false),
    /** The built dashboard (index.html and assets/); default: dist/gateway/web of this installation. */
    webDir: z.string().optional(),
  }).strict().default({ host: '127.0.0.1', port: 8080, behindTls: false }),
  ingest: z.object({
    maxEnvelopeBytes: z.number().int().min(64 * 1024).max(256 * 1024 * 1024).default(8 * 1024 * 1024),
    gapSettleMs: z.number().int().min(0).default(30_000),
    leaseMs: z.number().int().min(1000).default(120_000),
    /** Worker threads for signature verification and ack signing; 0: on the main thread. */
    cryptoThreads: z.number().int().min(0).max(64).default(1),
  }).strict().default({ maxEnvelopeBytes: 8 * 1024 * 1024, gapSettleMs: 30_000, leaseMs: 120_000, cryptoThreads: 1 }),
  thresholds: z.object({
    offlineAfterMs: z.number().int().positive().default(DEFAULT_THRESHOLDS.offlineAfterMs),
    clockDriftMs: z.number().int().positive().default(DEFAULT_THRESHOLDS.clockDriftMs),
    storageLowBytes: z.number().int().nonnegative().default(DEFAULT_THRESHOLDS.storageLowBytes),
    uploadOverdueMs: z.number().int().positive().default(DEFAULT_THRESHOLDS.uploadOverdueMs),
  }).strict().default({ ...DEFAULT_THRESHOLDS }),
  /**
   * The agency root key and what it signed for this gateway (DESIGN §4 "Who signs what", §8): files,
   * read and checked at startup. Without them the gateway cannot enroll devices.
   */
  trust: z.object({
    /** The agency root public key (public.hex or public.pem from `bwc authz keygen`). */
    rootPublicKey: z.string().min(1).optional(),
    /** This gateway's GatewayCertificate, signed by the root (`bwc authz sign-gateway-cert`). */
    certificate: z.string().min(1).optional(),
    /** The current root-signed policy bundle (`bwc authz sign-bundle`), pushed to docks. */
    bundle: z.string().min(1).optional(),
  }).strict().default({}),
  /** Recording authorizations (1061.2 §5; gateway/README.md "Authorizations"). */
  authz: z.object({
    /**
     * Officials' issuer keys, one directory per person id (`{dir}/{personId}/private.pem`, from
     * `bwc authz keygen`), listed in the policy bundle with that person id and role. Without it
     * requests are filed and denied, but nothing is approved on this gateway.
     */
    issuerKeysDir: z.string().min(1).optional(),
  }).strict().default({}),
  /** Records schedules and their mapping (gateway/README.md "Records"); defaults in records/schedules.ts. */
  records: RecordsConfigSchema.default(DEFAULT_RECORDS_CONFIG),
  /** The audit log's signed checkpoints (gateway/README.md "Audit log"). */
  audit: z.object({
    /** A checkpoint whenever the entry count reaches a multiple of this. */
    checkpointEvery: z.number().int().min(1).max(1_000_000).default(1000),
    /** And at least this often. */
    checkpointIntervalMs: z.number().int().min(1000).default(3_600_000),
    /** Where signed checkpoints are copied as files, outside the database; default `{dataDir}/audit-checkpoints`. */
    exportDir: z.string().min(1).optional(),
  }).strict().default({ checkpointEvery: 1000, checkpointIntervalMs: 3_600_000 }),
  /** The dashboard's charts: how often the fleet is sampled, and how long samples are kept. */
  dashboard: z.object({
    sampleIntervalMs: z.number().int().min(1000).max(3_600_000).default(60_000),
    sampleRetentionDays: z.number().int().min(1).max(3650).default(30),
    /** The live stream's keep-alive, and how often its session is checked again. */
    liveKeepAliveMs: z.number().int().min(500).max(300_000).default(15_000),
  }).strict().default({ sampleIntervalMs: 60_000, sampleRetentionDays: 30, liveKeepAliveMs: 15_000 }),
  sweepIntervalMs: z.number().int().min(100).default(5000),
}).strict().superRefine((c, ctx) => {
  if (c.trust.certificate && !c.trust.rootPublicKey) {
    ctx.addIssue({ code: 'custom', path: ['trust', 'certificate'], message: 'a certificate needs trust.rootPublicKey, the agency root key that signed it' });
  }
  if (c.trust.bundle && !c.trust.rootPublicKey) {
    ctx.addIssue({ code: 'custom', path: ['trust', 'bundle'], message: 'a bundle needs trust.rootPublicKey, the agency root key that signed it' });
  }
  if (c.trust.rootPublicKey && !c.trust.certificate) {
    ctx.addIssue({ code: 'custom', path: ['trust', 'certificate'], message: "is required with trust.rootPublicKey: this gateway's certificate signed by that root (bwc authz sign-gateway-cert)" });
  }
  if (c.mqtt.shared && !c.mqtt.url) {
    ctx.addIssue({ code: 'custom', path: ['mqtt', 'shared'], message: 'shared subscriptions need an external broker (mqtt.url): the embedded aedes broker does not deliver $share subscriptions' });
  }
  if (c.mqtt.shared && !/^postgres(ql)?:\/\//.test(c.db.url ?? '')) {
    ctx.addIssue({ code: 'custom', path: ['db', 'url'], message: 'several gateways (mqtt.shared) need one PostgreSQL database (db.url postgres://…); SQLite is for one gateway' });
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

/** Reads a YAML/JSON config file (or none), then the environment overrides. */
export function loadGatewayConfig(file?: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const raw: Record<string, unknown> = file ? readConfigFile(file, (m) => new ConfigError(m)) : {};
  const over = (path: string[], value: unknown) => setSetting(raw, path, value);
  if (env.BWC_GATEWAY_DATA_DIR) over(['dataDir'], env.BWC_GATEWAY_DATA_DIR);
  if (env.BWC_GATEWAY_DB_URL) over(['db', 'url'], env.BWC_GATEWAY_DB_URL);
  if (env.BWC_GATEWAY_MQTT_URL) over(['mqtt', 'url'], env.BWC_GATEWAY_MQTT_URL);
  if (env.BWC_GATEWAY_HTTP_PORT) over(['http', 'port'], Number(env.BWC_GATEWAY_HTTP_PORT));
  if (env.BWC_GATEWAY_ROOT_PUBKEY) over(['trust', 'rootPublicKey'], env.BWC_GATEWAY_ROOT_PUBKEY);
  if (env.BWC_GATEWAY_CERT) over(['trust', 'certificate'], env.BWC_GATEWAY_CERT);
  if (env.BWC_GATEWAY_BUNDLE) over(['trust', 'bundle'], env.BWC_GATEWAY_BUNDLE);
  if (env.BWC_GATEWAY_ISSUER_KEYS) over(['authz', 'issuerKeysDir'], env.BWC_GATEWAY_ISSUER_KEYS);
  return parseGatewayConfig(raw, file ?? 'configuration');
}

export function resolvedPaths(c: GatewayConfig): { dataDir: string; db: string; clips: string; keyDir: string; auditExportDir: string } {
  const dataDir = resolve(c.dataDir);
  return {
    dataDir, db: c.db.url ?? join(dataDir, 'gateway.db'), clips: c.clipsDir ? resolve(c.clipsDir) : join(dataDir, 'clips'), keyDir: join(dataDir, 'keys', 'gateway'),
    auditExportDir: c.audit.exportDir ? resolve(c.audit.exportDir) : join(dataDir, 'audit-checkpoints'),
  };
}
