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
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { fleetFilter, gatewayStateTopic, deviceTopic, DOCK_KINDS } from '../proto/topics.js';
import { SOFTWARE_VERSION } from '../proto/version.js';
import { trustPublicKey } from '../proto/ed25519.js';
import type { Db, Queryable } from './store/db.js';
import { openGatewayDb } from './store/open.js';
import { ClipStore } from './ingest/clip-store.js';
import { CryptoPool } from './ingest/crypto-pool.js';
import { Ingest } from './ingest/ingest.js';
import { REJECT_REASONS, type FleetMessage, type IngestAlert } from './ingest/types.js';
import { Alerts } from './fleet/alerts.js';
import { Fleet } from './fleet/registry.js';
import { DEFAULT_REVIEW_GRACE_HOURS } from './fleet/recording-reports.js';
import { GatewayMessenger } from './messenger.js';
import { loadOrCreateGatewayKey, type GatewaySigner } from './signer.js';
import { startEmbeddedBroker, GATEWAY_MQTT_USER, type EmbeddedBroker } from './broker.js';
import { resolvedPaths, type GatewayConfig } from './config.js';
import { loadGatewayTrust, type GatewayTrust } from './trust.js';
import { ApiServer, type Logger } from './api/http.js';
import { Auth } from './api/auth.js';
import { Metrics, registerMetricsRoute } from './api/metrics.js';
import { registerAuthRoutes } from './api/auth-routes.js';
import { registerFleetRoutes } from './api/fleet-routes.js';
import { registerAuthzRoutes } from './api/authz-routes.js';
import { Authorizations } from './authz/workflow.js';
import { PolicyBundles } from './authz/bundles.js';
import { AuditLog, actorOf } from './audit/log.js';
import { Records } from './records/records.js';
import type { LitigationHold } from './records/retention.js';
import { registerRecordsRoutes } from './api/records-routes.js';
import { registerAuditRoutes } from './api/audit-routes.js';
import { registerReviewRoutes } from './api/review-routes.js';
import { ReviewQueue } from './review/review.js';
import { registerStatsRoutes } from './api/stats-routes.js';
import { registerWebRoutes, findWebDir } from './api/web-routes.js';
import { LiveFeed } from './api/live.js';
import { FleetHistory } from './fleet/history.js';
import { PolicyObjects } from './policy/objects.js';
import { SecondDecisions } from './policy/second-decision.js';

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
  return pino({ name: 'bwc-gateway', level: process.env.BWC_LOG_LEVEL ?? 'info' }, pino.destination(2));
}

export async function startGateway(o: GatewayOptions): Promise<RunningGateway> {
  const c = o.config;
  const log = o.log ?? defaultGatewayLogger();
  const now = o.now ?? Date.now;
  const paths = resolvedPaths(c);
  mkdirSync(paths.dataDir, { recursive: true, mode: 0o750 });
  const db = await openGatewayDb(paths.db);
  const cleanups: (() => Promise<void> | void)[] = [() => db.close()];
  const stopAll = async () => {
    for (const f of cleanups.reverse()) {
      try {
        await f();
      } catch (e) {
        log.warn({}, `shutdown: ${(e as Error).message}`);
      }
    }
  };
  try {
    log.info({}, `database ${db.description}`);
    const store = await new ClipStore(paths.clips).init();
    cleanups.push(() => store.close());
    const { signer, created } = loadOrCreateGatewayKey(paths.keyDir);
    log.info({}, `gateway ${c.gatewayId} key ${signer.keyId.slice(0, 16)}…${created ? ' (new)' : ''}`);
    const loaded = loadGatewayTrust(c, signer.keyId, now());
    const trust = loaded?.trust ?? null;
    if (loaded) {
      log.info({}, `trust: root key ${loaded.trust.root.keyId.slice(0, 16)}…, certificate ${loaded.cert.hash.slice(0, 16)}… valid until ${new Date(loaded.cert.notAfterMs).toISOString()}` +
        (loaded.bundle ? `, policy bundle v${loaded.bundle.version}` : ', no policy bundle'));
      if (loaded.cert.notAfterMs - now() < 30 * 24 * 3600_000) log.warn({}, `trust: the gateway certificate expires at ${new Date(loaded.cert.notAfterMs).toISOString()}; sign a new one (bwc authz sign-gateway-cert)`);
      if (loaded.bundle && loaded.bundle.expiresAt <= now()) log.warn({}, `trust: policy bundle v${loaded.bundle.version} expired at ${new Date(loaded.bundle.expiresAt).toISOString()}`);
    } else {
      log.warn({}, 'trust: no agency root key configured (trust.rootPublicKey, trust.certificate): devices cannot enroll');
    }
    const { cryptoThreads, ...ingestOptions } = c.ingest;
    const pool = cryptoThreads > 0 ? new CryptoPool(cryptoThreads, signer.keyObject) : null;
    if (pool) cleanups.push(() => pool.close());
    const messenger = new GatewayMessenger({ db, signer, gatewayId: c.gatewayId, fleet: c.fleet, now, ...(pool ? { signWith: (m: Uint8Array) => pool.sign(m) } : {}) });
    const metrics = new Metrics();
    // Every state change below is recorded in the audit log, in the transaction that makes it.
    const audit = new AuditLog({
      db, gatewayId: c.gatewayId, fleet: c.fleet, now, signer, certificate: trust?.certificate ?? null,
      checkpointEvery: c.audit.checkpointEvery, checkpointIntervalMs: c.audit.checkpointIntervalMs,
    });
    const alerts = new Alerts(db, now, { log: audit, actor: audit.actor });
    // The review grace period is policy: the bundle in force names it (read when a clip is held).
    let policyInForce: PolicyBundles | null = null;
    const fleet = new Fleet({
      db, alerts, fleet: c.fleet, now, thresholds: c.thresholds, audit,
      reviewGraceHours: () => policyInForce?.current()?.bundle.reviewGraceHours ?? DEFAULT_REVIEW_GRACE_HOURS,
    });
    // DESIGN §6: every recording that goes to the supervisor is also a review item.
    const review = new ReviewQueue({ db, audit, gatewayId: c.gatewayId, now });
    fleet.reports.review = review;
    const history = new FleetHistory(db, { intervalMs: c.dashboard.sampleIntervalMs, retainMs: c.dashboard.sampleRetentionDays * 86_400_000 });
    // The dashboard's live stream; sessions are checked again without counting as activity.
    let auth: Auth | null = null;
    const live = new LiveFeed({ db, log, keepAliveMs: c.dashboard.liveKeepAliveMs, authenticate: async (req) => (auth ? auth.authenticate(req, { touch: false }) : null) });
    alerts.onChange = (id) => live.alertChanged(id);
    // The authorization workflow names users by username; the audit log's actors are `user:<name>`.
    const authzAudit = async (q: Queryable, e: { actor: string; action: string; subject: string; detail: Record<string, unknown> }) => {
      await audit.append(q, { ...e, actor: actorOf.by(e.actor) });
    };
    const gatewaySecret = o.gatewaySecret ?? randomBytes(24).toString('base64url');

    // ── broker and client ──
    let broker: EmbeddedBroker | null = null;
    let mqttUrl = c.mqtt.url;
    if (!mqttUrl) {
      broker = await startEmbeddedBroker({
        fleet: c.fleet, host: c.mqtt.embedded.host, port: c.mqtt.embedded.port, gatewaySecret,
        checkDevice: (id, pw) => fleet.checkMqttPassword(id, pw),
        log: (level, m) => log[level]({}, m),
      });
      cleanups.push(() => broker!.close());
      mqttUrl = broker.url;
    }
    const presence = gatewayStateTopic(c.fleet, c.gatewayId);
    const certificate = trust ? Buffer.from(trust.certificate).toString('base64') : null;
    const state = (online: boolean) => JSON.stringify({
      gatewayId: c.gatewayId, online, version: SOFTWARE_VERSION, keyId: signer.keyId, publicKey: signer.publicKeyHex, ...(certificate ? { certificate } : {}), at: now(),
    });
    const client: MqttClient = await mqtt.connectAsync(mqttUrl, {
      clientId: `bwc-gw-${c.gatewayId}`,
      clean: false,
      protocolVersion: c.mqtt.protocolVersion,
      username: broker ? GATEWAY_MQTT_USER : c.mqtt.username,
      password: broker ? gatewaySecret : c.mqtt.password,
      reconnectPeriod: 1000,
      will: { topic: presence, payload: Buffer.from(state(false)), qos: 1, retain: true },
    });
    cleanups.push(async () => {
      await client.publishAsync(presence, state(false), { qos: 1, retain: true }).catch(() => {});
      await client.endAsync();
    });
    // Not awaited: mqtt.js reads no packet (not even our PUBACKs) until handleMessage calls back,
    // so waiting here would deadlock. QoS 1 messages stay in the client's store until acknowledged.
    const publish = async (topic: string, payload: Uint8Array) => {
      client.publish(topic, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), { qos: 1 }, (e) => {
        if (e) log.warn({}, `mqtt publish to ${topic}: ${e.message}`);
      });
    };

    /** Sends each enrolled dock (those `only` names, when given) a command sealed for it; returns how many. */
    const toDocks = async (seal: (deviceId: string) => Promise<Uint8Array>, only: readonly string[] = []): Promise<number> => {
      let n = 0;
      for (const d of await fleet.devices()) {
        if (d.status !== 'enrolled' || (only.length > 0 && !only.includes(d.device_id))) continue;
        await publish(deviceTopic(c.fleet, d.device_id, 'cmd'), await seal(d.device_id));
        n++;
      }
      return n;
    };

    // A hold placed or released is sent to the docks as a signed HoldNotice.
    const notifyHold = async (h: LitigationHold): Promise<void> => {
      try {
        // The dock the hold names, or the one that recorded the clip it names; otherwise every
        // enrolled dock (an officer, a camera, a date range or a clip not yet here: anywhere).
        const clipDock = h.manifestHash && !h.deviceId
          ? (await db.get<{ device_id: string }>('SELECT device_id FROM manifests WHERE manifest_hash = ?', [h.manifestHash]))?.device_id ?? null : null;
        const devices = h.deviceId ? [h.deviceId] : clipDock ? [clipDock] : [];
        const holdNotice = {
          holdId: h.holdId, reason: h.reason, fromMs: h.fromAt ?? 0, toMs: h.toAt ?? 0, released: h.releasedAt !== null,
          scope: { officers: h.officerId ? [h.officerId] : [], cameras: h.cameraSerial ? [h.cameraSerial] : [], devices, offices: [] },
        };
        const sent = await toDocks((id) => messenger.sealCommand({ holdNotice }, id), devices);
        log.info({ holdId: h.holdId }, `records: hold ${h.holdId} ${holdNotice.released ? 'released' : 'placed'}; notice sent to ${sent} dock(s)`);
      } catch (e) {
        log.warn({ holdId: h.holdId }, `records: hold ${h.holdId} stands, but its notice to the docks failed: ${(e as Error).message}`);
      }
    };
    const records = new Records({ db, audit, config: c.records, signer, gatewayId: c.gatewayId, blobPath: (sha) => store.blobPath(sha), now, notify: notifyHold });

    // A dock that was born (it connected) gets the current policy bundle and camera assignments,
    // whatever it missed while away. A failure here is logged; it never refuses the Birth.
    const bringUpToDate = async (deviceId: string): Promise<void> => {
      const cmd = deviceTopic(c.fleet, deviceId, 'cmd');
      try {
        const bundle = bundles.current();
        if (bundle) await publish(cmd, await messenger.sealCommand({ policyBundle: bundle.bytes }, deviceId));
        await publish(cmd, await messenger.sealCameraAssignments(await fleet.assignmentsForDocks(), deviceId));
        for (const o of await authz.forDevice(deviceId)) {
          await publish(cmd, await messenger.sealCommand(o.kind === 'grant' ? { grant: o.envelope } : { revocation: o.envelope }, deviceId));
        }
      } catch (e) {
        log.warn({ deviceId }, `birth: could not send ${deviceId} its policy bundle, camera assignments, grants and revocations: ${(e as Error).message}`);
      }
    };

    // DESIGN §5 "The gateway decides again": every signed policy object this gateway holds, and
    // every dock decision decided again from them, off the ingest path.
    const policyObjects = new PolicyObjects({ db, root: trust?.root ?? null, now });
    const holdOwn = async (bytes: Uint8Array, source: string) => {
      try {
        if (policyObjects.enabled) await policyObjects.hold(bytes, source);
      } catch (e) {
        log.warn({}, `second decision: could not hold a ${source} policy object: ${(e as Error).message}`);
      }
    };
    const imported = await policyObjects.importHeld(trust?.bundle ?? null);
    for (const r of imported.refused) log.warn({}, `second decision: not held: ${r}`);
    const secondDecisions = new SecondDecisions({
      db, objects: policyObjects, alerts, now, review,
      objectWaitMs: c.secondDecision.objectWaitMs, grantFiledLateMs: c.secondDecision.grantFiledLateHours * 3600_000,
      request: async (deviceId, hashes) => {
        await publish(deviceTopic(c.fleet, deviceId, 'cmd'), await messenger.sealCommand({ policyObjectRequest: { hashes: hashes.map((h) => Buffer.from(h, 'hex')) } }, deviceId));
        log.info({ deviceId }, `second decision: asked ${deviceId} for ${hashes.length} policy object(s) its decisions name`);
      },
      log: (level, m) => log[level]({}, m),
    });
    if (!policyObjects.enabled) log.warn({}, 'second decision: no agency root key (trust.rootPublicKey): docks\' decisions are not decided again');
    cleanups.push(() => secondDecisions.idle());

    // The policy bundle in force: the configured one, or a newer one published through the API.
    const bundles = await new PolicyBundles({
      db, now, audit: authzAudit, root: trust?.root ?? null, configured: trust?.bundle && loaded?.bundle ? { bytes: trust.bundle, bundle: loaded.bundle } : null,
      deliver: async (bytes) => {
        await holdOwn(bytes, 'published');
        return toDocks((id) => messenger.sealCommand({ policyBundle: bytes }, id));
      },
    }).load();
    policyInForce = bundles;

    // Recording authorizations (1061.2 §5): an approved grant or a revocation goes to every enrolled
    // dock its scope names, or to all of them when it names none (an officer docks anywhere).
    const authz = new Authorizations({
      db, now, audit: authzAudit, issuerKeysDir: c.authz.issuerKeysDir ?? null, bundle: () => bundles.current()?.bundle ?? null,
      deliver: async (kind, envelope, scope) => {
        await holdOwn(envelope, 'workflow');
        return toDocks((id) => messenger.sealCommand(kind === 'grant' ? { grant: envelope } : { revocation: envelope }, id), scope.devices);
      },
    });

    const ingest = new Ingest({
      db, store, sealer: messenger, fleet: c.fleet, now, ...ingestOptions, ...(pool ? { verifier: pool } : {}), audit,
      sink: {
        publish,
        alert: async (a: IngestAlert) => { await alerts.raise(a); },
        accepted: async (m: FleetMessage) => {
          switch (m.type) {
            case 'Birth':
              await fleet.applyBirth(m.deviceId, m.body, m.receivedAt);
              await bringUpToDate(m.deviceId);
              break;
            case 'Death': await fleet.applyDeath(m.deviceId, m.body, m.receivedAt); break;
            case 'Status': await fleet.applyStatus(m.deviceId, m.body, m.receivedAt); break;
            case 'Event':
              await fleet.applyEvent(m.deviceId, m.body, m.receivedAt);
              await secondDecisions.noteEvent(m.deviceId, m.hash, m.body, m.receivedAt);
              break;
            case 'ClipManifest':
              await fleet.applyManifest(m.deviceId, m.body, m.receivedAt);
              secondDecisions.noteManifest(m.deviceId, m.hash, m.body, m.receivedAt);
              live.clipChanged(m.hash);
              break;
            case 'ClipVerified': live.clipChanged(m.hash); break;
            default: break;
          }
          live.deviceChanged(m.deviceId);
        },
      },
    });
    fleet.onTrustChanged = (id, status) => {
      ingest.keys.forget(id);
      live.deviceChanged(id);
      // A decommissioned device keeps no session on the embedded broker (an external broker's ACL is the operator's).
      if (status === 'decommissioned' && broker?.disconnect(id)) log.info({ deviceId: id }, `mqtt: ended the session of decommissioned device ${id}`);
    };
    fleet.onAssignmentsChanged = async () => {
      const assignments = await fleet.assignmentsForDocks();
      await toDocks((id) => messenger.sealCameraAssignments(assignments, id));
    };

    // Messages are handled concurrently (their writes share group commits) and acknowledged to
    // the broker as they are taken, up to MAX_IN_FLIGHT messages and MAX_IN_FLIGHT_BYTES bytes;
    // beyond that the PUBACK waits, which pushes back on the broker (and, through it, on the
    // docks' chunk windows). The byte bound keeps clip chunks (1 MiB each) from piling up in
    // memory faster than they are written. Delivery is guaranteed end to end by the dock's
    // outbox, which resends every message until the gateway's signed ack for it arrives.
    const MAX_IN_FLIGHT = 512;
    const MAX_IN_FLIGHT_BYTES = 32 * 1024 * 1024;
    let inFlight = 0;
    let inFlightBytes = 0;
    let idleWaiters: (() => void)[] = [];
    let slotWaiters: (() => void)[] = [];
    const room = () => inFlight < MAX_IN_FLIGHT && (inFlightBytes < MAX_IN_FLIGHT_BYTES || inFlight === 1);
    client.handleMessage = (packet, done) => {
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      inFlight++;
      inFlightBytes += payload.byteLength;
      ingest.handle(packet.topic, payload).then((r) => {
        if (r.status === 'rejected') log.warn({ reason: r.reason }, `ingest: ${packet.topic}: ${r.reason}: ${r.detail}`);
      }, (e: unknown) => log.error({}, `ingest: ${packet.topic}: ${(e as Error).message}`)).finally(() => {
        inFlight--;
        inFlightBytes -= payload.byteLength;
        if (room() && slotWaiters.length) { const w = slotWaiters; slotWaiters = []; w.forEach((f) => f()); }
        if (inFlight === 0) { const w = idleWaiters; idleWaiters = []; w.forEach((f) => f()); }
      });
      if (room()) done();
      else slotWaiters.push(() => done());
    };
    const filters = DOCK_KINDS.map((k) => fleetFilter(c.fleet, k, c.mqtt.shared ? c.mqtt.shareGroup : undefined));
    await client.subscribeAsync(filters, { qos: 1 });
    await client.publishAsync(presence, state(true), { qos: 1, retain: true });
    client.on('error', (e) => log.warn({}, `mqtt: ${e.message}`));

    // ── metrics ──
    const ingestCounter = metrics.counter({ name: 'bwc_ingest_messages_total', help: 'Messages received from docks, by type and outcome.', labelNames: ['type', 'outcome'] });
    const rejected = metrics.counter({ name: 'bwc_ingest_rejected_total', help: 'Messages refused by ingest, by reason.', labelNames: ['reason'] });
    const verifyHist = metrics.histogram({ name: 'bwc_ingest_verify_seconds', help: 'Strict signature verification time per message.', buckets: [0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.005, 0.01] });
    const seen = { received: {} as Record<string, number>, accepted: {} as Record<string, number>, duplicates: {} as Record<string, number>, rejected: {} as Record<string, number> };
    metrics.gauge({
      name: 'bwc_ingest_collect', help: 'Internal: folds ingest counters into the exported counters at scrape time (always 1).',
      collect: (g) => {
        const k = ingest.counters;
        for (const outcome of ['received', 'accepted', 'duplicates'] as const) {
          for (const [type, n] of Object.entries(k[outcome])) {
            const d = n - (seen[outcome][type] ?? 0);
            if (d > 0) ingestCounter.inc({ type, outcome }, d);
            seen[outcome][type] = n;
          }
        }
        for (const reason of REJECT_REASONS) {
          const n = k.rejected[reason] ?? 0;
          const d = n - (seen.rejected[reason] ?? 0);
          if (d > 0) rejected.inc({ reason }, d);
          seen.rejected[reason] = n;
        }
        for (const ms of k.verifyMs.splice(0)) verifyHist.observe({}, ms / 1000);
        g.set({}, 1);
      },
    });
    metrics.gauge({ name: 'bwc_clips_verified_total', help: 'Clips verified by this gateway process.', collect: (g) => g.set({}, ingest.counters.verified) });
    metrics.gauge({
      name: 'bwc_devices_online', help: 'Enrolled devices online.',
      collect: async (g) => { const r = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM devices WHERE online = 1 AND status = 'enrolled'`); g.set({}, Number(r?.n ?? 0)); },
    });
    metrics.gauge({
      name: 'bwc_device_outbox_depth', help: 'Messages waiting in each device outbox (last reported).', labelNames: ['device'],
      collect: async (g) => {
        g.reset();
        for (const d of await db.all<{ device_id: string; outbox_depth: number | null }>(`SELECT device_id, outbox_depth FROM devices WHERE status = 'enrolled'`)) {
          g.set({ device: d.device_id }, Number(d.outbox_depth ?? 0));
        }
      },
    });
    metrics.gauge({ name: 'bwc_alerts_open', help: 'Alerts not yet resolved.', collect: async (g) => g.set({}, await alerts.openCount()) });

    // ── HTTP API ──
    auth = new Auth({ db, now, metrics, log, behindTls: c.http.behindTls });
    const api = new ApiServer({
      auth, metrics, log, behindTls: c.http.behindTls, trustProxy: c.http.trustProxy,
      // Every API write, answered or refused: who, what, when (the change itself has its own entry).
      onWrite: async (w) => {
        await audit.append(db, {
          actor: w.user ? actorOf.user(w.user.username) : 'anonymous', action: 'api.request', subject: `${w.method} ${w.route}`,
          detail: { params: w.params, status: w.status, code: w.code, requestId: w.requestId, ip: w.ip, via: w.user?.via ?? null },
        });
      },
    });
    registerAuthRoutes(api, auth);
    registerMetricsRoute(api, metrics);
    registerFleetRoutes(api, {
      fleet, alerts, db, ingest, blobPath: (sha) => store.blobPath(sha), audit,
      enrollment: { trust, messenger, brokerUrl: c.mqtt.publicUrl ?? mqttUrl, bundle: () => bundles.current()?.bytes ?? null },
    });
    registerAuthzRoutes(api, { authz, bundles, changed: (id, state) => live.authzChanged(id, state) });
    registerRecordsRoutes(api, { records });
    registerReviewRoutes(api, { db, review });
    registerAuditRoutes(api, { audit, db, trust: { keys: [trustPublicKey(Buffer.from(signer.publicKeyHex, 'hex'), 'the gateway key')], root: trust?.root ?? null } });
    registerStatsRoutes(api, { db, history, now });
    live.register(api);
    const web = registerWebRoutes(api, { dir: c.http.webDir ?? findWebDir() });
    if (!web.dir) log.warn({}, 'dashboard: not built (npm run build); / answers a page saying so, the API works');
    const { port: httpPort } = await api.listen(c.http.port, c.http.host);
    cleanups.push(() => api.close());
    cleanups.push(() => live.close()); // before the server closes: its streams would hold it open
    log.info({}, `dashboard on http://${c.http.host}:${httpPort}/, HTTP API under /api/v1/ (MQTT ${mqttUrl})`);

    // ── periodic work ──
    let sweeping: Promise<void> | null = null;
    const sweep = async () => {
      sweeping ??= (async () => {
        try {
          for (const f of (await ingest.sweep()).failed) log.warn({}, `sweep: cannot finish the ${f}; tried again at the next sweep`);
          await fleet.sweep();
          await secondDecisions.sweep();
          await auth.pruneSessions();
          await audit.sweep(paths.auditExportDir);
          await history.maybeSample(now());
        } catch (e) {
          log.warn({}, `sweep: ${(e as Error).message}`);
        }
      })().finally(() => { sweeping = null; });
      await sweeping;
    };
    const timer = setInterval(() => void sweep(), c.sweepIntervalMs);
    timer.unref();
    cleanups.push(async () => { clearInterval(timer); await sweeping; });
    // Stop taking messages first (runs first: cleanups run in reverse).
    cleanups.push(async () => { await new Promise<void>((r) => (inFlight === 0 ? r() : idleWaiters.push(r))); });

    return {
      config: c, db, fleet, alerts, ingest, store, auth: auth!, metrics, signer, mqttUrl, httpPort, broker, trust, gatewaySecret, sweep, authz, bundles, audit, records, policyObjects, secondDecisions, review,
      idle: () => new Promise<void>((r) => (inFlight === 0 ? r() : idleWaiters.push(r))),
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
