/**
 * `bwc gateway`: the composition. Opens the database (SQLite or PostgreSQL) and the clip store,
 * loads or creates the gateway key, checks its place in the chain of trust (the root key, its
 * certificate, the policy bundle), starts the embedded broker unless an external one is
 * configured, connects to it as an MQTT client, announces its presence (retained, with a Will, and
 * its certificate), feeds every dock message through verified ingest, applies what ingest accepted
 * to the fleet, brings a dock that was born up to date (policy bundle, camera assignments, grants
 * and revocations), runs the periodic sweeps, and serves the HTTP API (enrollment included).
 *
 * Flow control: messages are handled concurrently, their database writes grouped into shared
 * commits; the broker's PUBACK is given as a message is taken, up to a bound of messages in flight.
 * No message is lost to a gateway crash: the dock keeps every message in its outbox until the
 * gateway's signed ack for it arrives, and that ack is sent only after the commit.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Auth } from './api/auth.js';
import type { Logger } from './api/http.js';
import { LiveFeed } from './api/live.js';
import type { ScryptCost } from './api/passwords.js';
import { Metrics } from './api/metrics.js';
import { AuditLog } from './audit/log.js';
import type { PolicyBundles } from './authz/bundles.js';
import type { Authorizations } from './authz/workflow.js';
import type { EmbeddedBroker } from './broker.js';
import { acceptedMessages } from './compose/dispatch.js';
import { DockCommands } from './compose/dock-commands.js';
import { openFoundation } from './compose/foundation.js';
import { registerGatewayMetrics } from './compose/gauges.js';
import { startHttpApi } from './compose/http-api.js';
import { gatewayIngest, ingestHandler } from './compose/ingest.js';
import { startGatewayMqtt } from './compose/mqtt-client.js';
import { startPolicy, type GatewayPolicy } from './compose/policy.js';
import { Shutdown } from './compose/shutdown.js';
import { gatewaySweeps, Sweeper } from './compose/sweeper.js';
import type { GatewayConfig } from './config.js';
import { Alerts } from './fleet/alerts.js';
import { FleetHistory } from './fleet/history.js';
import { DEFAULT_REVIEW_GRACE_HOURS } from './fleet/recording-reports.js';
import { Fleet } from './fleet/registry.js';
import type { ClipStore } from './ingest/clip-store.js';
import type { Ingest } from './ingest/ingest.js';
import { gatewayLogger } from './log.js';
import type { PolicyObjects } from './policy/objects.js';
import type { SecondDecisions } from './policy/second-decision.js';
import { Records } from './records/records.js';
import type { LitigationHold } from './records/retention.js';
import { ReviewQueue } from './review/review.js';
import type { GatewaySigner } from './signer.js';
import type { Db } from './store/db.js';
import type { GatewayTrust } from './trust.js';

export interface GatewayOptions {
  config: GatewayConfig;
  log?: Logger;
  now?: () => number;
  /** For tests and several replicas on one embedded broker: the gateway-client secret. */
  gatewaySecret?: string;
  /** For tests only: the scrypt cost of password hashes (default and minimum in production: api/passwords.ts SCRYPT_PARAMS). */
  passwordCost?: ScryptCost;
  /** For tests only: how often the dashboard's live stream sends what changed (default 1 s). */
  liveFlushMs?: number;
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
  const shutdown = new Shutdown(log);
  try {
    const base = await openFoundation({ config: c, log, now, shutdown });
    const { paths, db, store, signer, trust, messenger } = base;
    const metrics = new Metrics();
    // Every state change below is recorded in the audit log, in the transaction that makes it.
    const { checkpointEvery, checkpointIntervalMs } = c.audit;
    const certificate = trust?.certificate ?? null;
    const audit = new AuditLog({ db, gatewayId: c.gatewayId, fleet: c.fleet, now, signer, certificate, checkpointEvery, checkpointIntervalMs });
    const alerts = new Alerts(db, now, { log: audit, actor: audit.actor });
    const review = new ReviewQueue({ db, audit, gatewayId: c.gatewayId, now });
    // The review grace period is policy: the bundle in force names it (read when a clip is held).
    const inForce: { policy: GatewayPolicy | null } = { policy: null };
    const reviewGraceHours = () => inForce.policy?.bundles.current()?.bundle.reviewGraceHours ?? DEFAULT_REVIEW_GRACE_HOURS;
    const fleet = new Fleet({ db, alerts, fleet: c.fleet, now, thresholds: c.thresholds, audit, review, reviewGraceHours });
    const { sampleIntervalMs: intervalMs, sampleRetentionDays } = c.dashboard;
    const history = new FleetHistory(db, { intervalMs, retainMs: sampleRetentionDays * 86_400_000 });
    const authLog = log.child({ part: 'auth' });
    const passwordCost = o.passwordCost ? { passwordCost: o.passwordCost } : {};
    const auth = new Auth({ db, now, metrics, log: authLog, behindTls: c.http.behindTls, audit: { log: audit, actor: audit.actor }, ...passwordCost });
    // The dashboard's live stream; sessions are checked again without counting as activity.
    const authenticate = (req: IncomingMessage) => auth.authenticate(req, { touch: false });
    const flushMs = o.liveFlushMs ? { flushMs: o.liveFlushMs } : {};
    const live = new LiveFeed({ db, log: log.child({ part: 'live' }), keepAliveMs: c.dashboard.liveKeepAliveMs, authenticate, ...flushMs });
    alerts.onChange = (id) => live.alertChanged(id);

    const gatewaySecret = o.gatewaySecret ?? randomBytes(24).toString('base64url');
    const checkDevice = (id: string, pw: string) => fleet.checkMqttPassword(id, pw);
    const mqtt = await startGatewayMqtt({ config: c, signer, certificate, gatewaySecret, now, log, shutdown, checkDevice });
    const commands = new DockCommands({ db, fleet, fleetId: c.fleet, messenger, log: log.child({ part: 'commands' }), publish: mqtt.publish });
    const blobPath = (sha: string) => store.blobPath(sha);
    const notify = (h: LitigationHold) => commands.holdChanged(h);
    const records = new Records({ db, audit, config: c.records, signer, gatewayId: c.gatewayId, now, blobPath, notify });
    const policyLog = log.child({ part: 'second-decision' });
    const policy = await startPolicy({ config: c, db, now, log: policyLog, audit, alerts, review, loaded: base.loaded, messenger, commands, shutdown });
    inForce.policy = policy;
    const accepted = acceptedMessages({ fleet, commands, policy, live });
    const ingest = gatewayIngest({ config: c, base, now, audit, alerts, publish: mqtt.publish, accepted });
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
    await mqtt.consume(ingestHandler(ingest, log.child({ part: 'ingest' })));
    registerGatewayMetrics(metrics, { ingest, db, alerts });

    const { bundles, authz, secondDecisions, objects: policyObjects } = policy;
    const [apiLog, mqttUrl] = [log.child({ part: 'api' }), mqtt.url];
    const httpPort = await startHttpApi({
      config: c,
      log: apiLog,
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
      mqttUrl,
      bundles,
      authz,
      records,
      review,
      history,
      live,
      shutdown,
    });
    const sweepLog = log.child({ part: 'sweep' });
    const steps = gatewaySweeps({ ingest, fleet, secondDecisions, auth, audit, history, auditExportDir: paths.auditExportDir, log: sweepLog });
    const sweeper = new Sweeper({ log: sweepLog, now, steps });
    sweeper.start(c.sweepIntervalMs, shutdown);
    // Stop taking messages first (runs first: stops run in reverse).
    shutdown.add(() => mqtt.idle());

    const [sweep, idle, stop] = [() => sweeper.sweep(), () => mqtt.idle(), () => shutdown.run()];
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
      trust,
      gatewaySecret,
      httpPort,
      audit,
      records,
      review,
      authz,
      bundles,
      policyObjects,
      secondDecisions,
      mqttUrl,
      broker: mqtt.broker,
      sweep,
      idle,
      stop,
    };
  } catch (e) {
    await shutdown.run();
    throw e;
  }
}
