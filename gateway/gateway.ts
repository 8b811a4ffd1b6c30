/**
 * `bwc gateway`: the composition. Opens the database (SQLite or PostgreSQL) and the clip store,
 * loads or creates the gateway key, checks its place in the chain of trust (the root key, its
 * certificate, the policy bundle), starts the embedded broker unless an external one is
 * configured, connects to it as an MQTT client, announces its presence (retained, with a Will, and
 * its certificate), feeds every dock message through verified ingest, applies what ingest accepted
 * to the fleet, brings a dock that was born up to date (policy bundle, camera assignments), runs
 * the periodic sweeps, and serves the HTTP API (enrollment included).
 *
 * Flow control: messages are handled concurrently, their database writes grouped into shared
 * commits; the broker's PUBACK is given as a message is taken, up to a bound of messages in flight.
 * No message is lost to a gateway crash: the dock keeps every message in its outbox until the
 * gateway's signed ack for it arrives, and that ack is sent only after the commit.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { gatewayLogger } from './log.js';
import type { Db } from './store/db.js';
import { openGatewayDb } from './store/open.js';
import { ClipStore } from './ingest/clip-store.js';
import { CryptoPool } from './ingest/crypto-pool.js';
import { Ingest } from './ingest/ingest.js';
import { Alerts } from './fleet/alerts.js';
import { Fleet } from './fleet/registry.js';
import { DEFAULT_REVIEW_GRACE_HOURS } from './fleet/recording-reports.js';
import { FleetHistory } from './fleet/history.js';
import { GatewayMessenger } from './messenger.js';
import { loadOrCreateGatewayKey, type GatewaySigner } from './signer.js';
import type { EmbeddedBroker } from './broker.js';
import { resolvedPaths, type GatewayConfig } from './config.js';
import { loadGatewayTrust, type GatewayTrust, type LoadedTrust } from './trust.js';
import type { Logger } from './api/http.js';
import { Auth } from './api/auth.js';
import { Metrics } from './api/metrics.js';
import { LiveFeed } from './api/live.js';
import type { Authorizations } from './authz/workflow.js';
import type { PolicyBundles } from './authz/bundles.js';
import { AuditLog } from './audit/log.js';
import { Records } from './records/records.js';
import { ReviewQueue } from './review/review.js';
import type { PolicyObjects } from './policy/objects.js';
import type { SecondDecisions } from './policy/second-decision.js';
import { Shutdown } from './compose/shutdown.js';
import { startGatewayMqtt } from './compose/mqtt-client.js';
import { DockCommands } from './compose/dock-commands.js';
import { startPolicy, type GatewayPolicy } from './compose/policy.js';
import { acceptedMessages } from './compose/dispatch.js';
import { registerGatewayMetrics } from './compose/gauges.js';
import { startHttpApi } from './compose/http-api.js';
import { Sweeper } from './compose/sweeper.js';

export interface GatewayOptions {
  config: GatewayConfig;
  log?: Logger;
  now?: () => number;
  /** For tests and several replicas on one embedded broker: the gateway-client secret. */
  gatewaySecret?: string;
}

export interface RunningGateway {
  readonly config: GatewayConfig;
  readonly db: Db;
  readonly fleet: Fleet;
  readonly alerts: Alerts;
  readonly ingest: Ingest;
  /** The content-addressed clip store. */
  readonly store: ClipStore;
  readonly auth: Auth;
  readonly metrics: Metrics;
  readonly signer: GatewaySigner;
  readonly mqttUrl: string;
  readonly httpPort: number;
  readonly broker: EmbeddedBroker | null;
  /** The root key, this gateway's certificate and the policy bundle; null when trust is not configured (no enrollment). */
  readonly trust: GatewayTrust | null;
  /** The recording-authorization workflow (1061.2 §5). */
  readonly authz: Authorizations;
  /** The policy bundle in force and its publication. */
  readonly bundles: PolicyBundles;
  /** The hash-linked audit log and its signed checkpoints. */
  readonly audit: AuditLog;
  /** Records schedules, litigation holds, disposition and export. */
  readonly records: Records;
  /** The signed policy objects this gateway holds (bundles, grants, revocations, plans), and its second decision over them. */
  readonly policyObjects: PolicyObjects;
  readonly secondDecisions: SecondDecisions;
  /** Flagged recordings for the supervisor and OPR (DESIGN §6 "Review queue"). */
  readonly review: ReviewQueue;
  /** The secret gateway clients present to the embedded broker (share it with replicas). */
  readonly gatewaySecret: string;
  /** Runs the periodic checks now (tests); they also run every `sweepIntervalMs`. */
  sweep(): Promise<void>;
  /** Resolves when every message received so far has been handled. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** JSON lines on stderr (pino); secrets never reach it. */
export function defaultGatewayLogger(): Logger {
  return gatewayLogger();
}

/** The parts, in the order they start; each registers its stop, and they stop in reverse. */
export async function startGateway(o: GatewayOptions): Promise<RunningGateway> {
  const c = o.config;
  const log = o.log ?? defaultGatewayLogger();
  const now = o.now ?? Date.now;
  const paths = resolvedPaths(c);
  mkdirSync(paths.dataDir, { recursive: true, mode: 0o750 });
  const db = await openGatewayDb(paths.db);
  const shutdown = new Shutdown(log);
  shutdown.add(() => db.close());
  try {
    log.info({}, `database ${db.description}`);
    const store = await new ClipStore(paths.clips).init();
    shutdown.add(() => store.close());
    const { signer, created } = loadOrCreateGatewayKey(paths.keyDir);
    log.info({}, `gateway ${c.gatewayId} key ${signer.keyId.slice(0, 16)}…${created ? ' (new)' : ''}`);
    const loaded = loadGatewayTrust(c, signer.keyId, now());
    reportTrust(loaded, log.child({ part: 'trust' }), now());
    const trust = loaded?.trust ?? null;
    const { cryptoThreads, ...ingestOptions } = c.ingest;
    const pool = cryptoThreads > 0 ? new CryptoPool(cryptoThreads, signer.keyObject) : null;
    if (pool) shutdown.add(() => pool.close());
    const messenger = new GatewayMessenger({
      db,
      signer,
      gatewayId: c.gatewayId,
      fleet: c.fleet,
      now,
      ...(pool ? { signWith: (m: Uint8Array) => pool.sign(m) } : {}),
    });
    const metrics = new Metrics();
    // Every state change below is recorded in the audit log, in the transaction that makes it.
    const audit = new AuditLog({
      db,
      gatewayId: c.gatewayId,
      fleet: c.fleet,
      now,
      signer,
      certificate: trust?.certificate ?? null,
      checkpointEvery: c.audit.checkpointEvery,
      checkpointIntervalMs: c.audit.checkpointIntervalMs,
    });
    const alerts = new Alerts(db, now, { log: audit, actor: audit.actor });
    // The review grace period is policy: the bundle in force names it (read when a clip is held).
    const inForce: { policy: GatewayPolicy | null } = { policy: null };
    const review = new ReviewQueue({ db, audit, gatewayId: c.gatewayId, now });
    const fleet = new Fleet({
      db,
      alerts,
      fleet: c.fleet,
      now,
      thresholds: c.thresholds,
      audit,
      review,
      reviewGraceHours: () => inForce.policy?.bundles.current()?.bundle.reviewGraceHours ?? DEFAULT_REVIEW_GRACE_HOURS,
    });
    const history = new FleetHistory(db, {
      intervalMs: c.dashboard.sampleIntervalMs,
      retainMs: c.dashboard.sampleRetentionDays * 86_400_000,
    });
    const auth = new Auth({
      db,
      now,
      metrics,
      log: log.child({ part: 'auth' }),
      behindTls: c.http.behindTls,
      audit: { log: audit, actor: audit.actor },
    });
    // The dashboard's live stream; sessions are checked again without counting as activity.
    const live = new LiveFeed({
      db,
      log: log.child({ part: 'live' }),
      keepAliveMs: c.dashboard.liveKeepAliveMs,
      authenticate: (req) => auth.authenticate(req, { touch: false }),
    });
    alerts.onChange = (id) => live.alertChanged(id);
    const gatewaySecret = o.gatewaySecret ?? randomBytes(24).toString('base64url');

    const mqtt = await startGatewayMqtt({
      config: c,
      signer,
      certificate: trust?.certificate ?? null,
      gatewaySecret,
      now,
      log,
      shutdown,
      checkDevice: (id, pw) => fleet.checkMqttPassword(id, pw),
    });
    const commands = new DockCommands({
      db,
      fleet,
      fleetId: c.fleet,
      messenger,
      log: log.child({ part: 'commands' }),
      publish: mqtt.publish,
    });
    const records = new Records({
      db,
      audit,
      config: c.records,
      signer,
      gatewayId: c.gatewayId,
      blobPath: (sha) => store.blobPath(sha),
      now,
      notify: (h) => commands.holdChanged(h),
    });
    const policy = await startPolicy({
      config: c,
      db,
      now,
      log: log.child({ part: 'second-decision' }),
      audit,
      alerts,
      review,
      loaded,
      messenger,
      commands,
      shutdown,
    });
    inForce.policy = policy;
    const ingest = new Ingest({
      db,
      store,
      sealer: messenger,
      fleet: c.fleet,
      now,
      ...ingestOptions,
      ...(pool ? { verifier: pool } : {}),
      audit,
      sink: {
        publish: mqtt.publish,
        alert: async (a) => {
          await alerts.raise(a);
        },
        accepted: acceptedMessages({ fleet, commands, policy, live }),
      },
    });
    fleet.onTrustChanged = (id, status) => {
      ingest.keys.forget(id);
      live.deviceChanged(id);
      // A decommissioned device keeps no session on the embedded broker (an external broker's ACL is the operator's).
      if (status === 'decommissioned' && mqtt.broker?.disconnect(id))
        log.child({ part: 'mqtt' }).info({ device: id }, `mqtt: ended the session of decommissioned device ${id}`);
    };
    fleet.onAssignmentsChanged = async () => {
      const assignments = await fleet.assignmentsForDocks();
      await commands.toDocks((id) => messenger.sealCameraAssignments(assignments, id));
    };
    const ingestLog = log.child({ part: 'ingest' });
    await mqtt.consume(async (topic, payload) => {
      try {
        const r = await ingest.handle(topic, payload);
        if (r.status === 'rejected') ingestLog.warn({ reason: r.reason }, `ingest: ${topic}: ${r.reason}: ${r.detail}`);
      } catch (e) {
        ingestLog.error({ err: e }, `ingest: ${topic}: ${(e as Error).message}`);
      }
    });
    registerGatewayMetrics(metrics, { ingest, db, alerts });
    const httpPort = await startHttpApi({
      config: c,
      log: log.child({ part: 'api' }),
      now,
      db,
      auth,
      metrics,
      audit,
      fleet,
      alerts,
      ingest,
      store,
      messenger,
      signer,
      trust,
      mqttUrl: mqtt.url,
      bundles: policy.bundles,
      authz: policy.authz,
      records,
      review,
      history,
      live,
      shutdown,
    });
    const sweepLog = log.child({ part: 'sweep' });
    const sweeper = new Sweeper({
      log: sweepLog,
      now,
      steps: [
        {
          name: 'ingest',
          run: async () => {
            for (const f of (await ingest.sweep()).failed) sweepLog.warn({}, `sweep: cannot finish the ${f}; tried again at the next sweep`);
          },
        },
        {
          name: 'fleet',
          run: async () => {
            await fleet.sweep();
          },
        },
        {
          name: 'second decision',
          run: async () => {
            await policy.secondDecisions.sweep();
          },
        },
        {
          name: 'sessions',
          run: async () => {
            await auth.pruneSessions();
          },
        },
        {
          name: 'audit',
          run: async () => {
            await audit.sweep(paths.auditExportDir);
          },
        },
        {
          name: 'history',
          run: async (t) => {
            await history.maybeSample(t);
          },
        },
      ],
    });
    sweeper.start(c.sweepIntervalMs, shutdown);
    // Stop taking messages first (runs first: stops run in reverse).
    shutdown.add(() => mqtt.idle());

    return {
      config: c,
      db,
      fleet,
      alerts,
      ingest,
      store,
      auth,
      metrics,
      signer,
      mqttUrl: mqtt.url,
      httpPort,
      broker: mqtt.broker,
      trust,
      gatewaySecret,
      sweep: () => sweeper.sweep(),
      authz: policy.authz,
      bundles: policy.bundles,
      audit,
      records,
      policyObjects: policy.objects,
      secondDecisions: policy.secondDecisions,
      review,
      idle: () => mqtt.idle(),
      stop: () => shutdown.run(),
    };
  } catch (e) {
    await shutdown.run();
    throw e;
  }
}

/** The chain of trust as the log shows it at start, with what will soon stop working. */
function reportTrust(loaded: LoadedTrust | null, log: Logger, now: number): void {
  if (!loaded) {
    log.warn({}, 'trust: no agency root key configured (trust.rootPublicKey, trust.certificate): devices cannot enroll');
    return;
  }
  log.info(
    {},
    `trust: root key ${loaded.trust.root.keyId.slice(0, 16)}…, certificate ${loaded.cert.hash.slice(0, 16)}… valid until ${new Date(loaded.cert.notAfterMs).toISOString()}` +
      (loaded.bundle ? `, policy bundle v${loaded.bundle.version}` : ', no policy bundle'),
  );
  if (loaded.cert.notAfterMs - now < 30 * 24 * 3600_000)
    log.warn({}, `trust: the gateway certificate expires at ${new Date(loaded.cert.notAfterMs).toISOString()}; sign a new one (bwc authz sign-gateway-cert)`);
  if (loaded.bundle && loaded.bundle.expiresAt <= now)
    log.warn({}, `trust: policy bundle v${loaded.bundle.version} expired at ${new Date(loaded.bundle.expiresAt).toISOString()}`);
}
