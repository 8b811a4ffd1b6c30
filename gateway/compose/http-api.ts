/**
 * The HTTP API and the dashboard: every route of gateway/api/ on one server, each API write
 * audited, the live stream, the built dashboard. Routes check roles and scope themselves.
 */
import { trustPublicKey } from '../../proto/ed25519.js';
import { registerAdminRoutes } from '../api/admin-routes.js';
import { registerAuditRoutes } from '../api/audit-routes.js';
import type { Auth } from '../api/auth.js';
import { registerAuthRoutes } from '../api/auth-routes.js';
import { registerAuthzRoutes } from '../api/authz-routes.js';
import { registerFleetRoutes } from '../api/fleet-routes.js';
import { ApiServer, type Logger } from '../api/http.js';
import type { LiveFeed } from '../api/live.js';
import type { Metrics } from '../api/metrics.js';
import { registerMetricsRoute } from '../api/metrics-route.js';
import { registerRecordsRoutes } from '../api/records-routes.js';
import { registerReviewRoutes } from '../api/review-routes.js';
import { registerStatsRoutes } from '../api/stats-routes.js';
import { findWebDir, registerWebRoutes } from '../api/web-routes.js';
import { actorOf, type AuditLog } from '../audit/log.js';
import type { PolicyBundles } from '../authz/bundles.js';
import type { Authorizations } from '../authz/workflow.js';
import type { GatewayConfig } from '../config.js';
import type { Alerts } from '../fleet/alerts.js';
import type { FleetHistory } from '../fleet/history.js';
import type { Fleet } from '../fleet/registry.js';
import type { ClipStore } from '../ingest/clip-store.js';
import type { Ingest } from '../ingest/ingest.js';
import type { GatewayMessenger } from '../messenger.js';
import type { Records } from '../records/records.js';
import type { ReviewQueue } from '../review/review.js';
import type { GatewaySigner } from '../signer.js';
import type { Db } from '../store/db.js';
import type { GatewayTrust } from '../trust.js';
import type { Shutdown } from './shutdown.js';

export interface HttpParts {
  config: GatewayConfig;
  log: Logger;
  now: () => number;
  db: Db;
  auth: Auth;
  metrics: Metrics;
  audit: AuditLog;
  fleet: Fleet;
  alerts: Alerts;
  ingest: Ingest;
  store: ClipStore;
  messenger: GatewayMessenger;
  signer: GatewaySigner;
  trust: GatewayTrust | null;
  mqttUrl: string;
  bundles: PolicyBundles;
  authz: Authorizations;
  records: Records;
  review: ReviewQueue;
  history: FleetHistory;
  live: LiveFeed;
  shutdown: Shutdown;
}

/** Serves the API and the dashboard; returns the port it listens on. */
export async function startHttpApi(p: HttpParts): Promise<number> {
  const c = p.config;
  const { db, auth, audit, live, log } = p;
  const api = new ApiServer({
    auth,
    metrics: p.metrics,
    log,
    behindTls: c.http.behindTls,
    trustProxy: c.http.trustProxy,
    // Every API write, answered or refused: who, what, when (the change itself has its own entry).
    onWrite: async (w) => {
      await audit.append(db, {
        actor: w.user ? actorOf.user(w.user.username) : 'anonymous',
        action: 'api.request',
        subject: `${w.method} ${w.route}`,
        detail: { params: w.params, status: w.status, code: w.code, requestId: w.requestId, ip: w.ip, via: w.user?.via ?? null },
      });
    },
  });
  registerAuthRoutes(api, auth);
  registerAdminRoutes(api, auth);
  registerMetricsRoute(api, p.metrics);
  registerFleetRoutes(api, {
    fleet: p.fleet,
    alerts: p.alerts,
    db,
    ingest: p.ingest,
    blobPath: (sha) => p.store.blobPath(sha),
    audit,
    enrollment: {
      trust: p.trust,
      messenger: p.messenger,
      brokerUrl: c.mqtt.publicUrl ?? p.mqttUrl,
      bundle: () => p.bundles.current()?.bytes ?? null,
    },
  });
  registerAuthzRoutes(api, { authz: p.authz, bundles: p.bundles, changed: (id, state) => live.authzChanged(id, state) });
  registerRecordsRoutes(api, { records: p.records });
  registerReviewRoutes(api, { db, review: p.review });
  registerAuditRoutes(api, {
    audit,
    db,
    trust: { keys: [trustPublicKey(Buffer.from(p.signer.publicKeyHex, 'hex'), 'the gateway key')], root: p.trust?.root ?? null },
  });
  registerStatsRoutes(api, { db, history: p.history, now: p.now });
  live.register(api);
  const web = registerWebRoutes(api, { dir: c.http.webDir ?? findWebDir() });
  if (!web.dir) log.warn({}, 'dashboard: not built (npm run build); / answers a page saying so, the API works');
  const { port } = await api.listen(c.http.port, c.http.host);
  p.shutdown.add(() => api.close());
  p.shutdown.add(() => live.close()); // before the server closes: its streams would hold it open
  log.info({}, `dashboard on http://${c.http.host}:${port}/, HTTP API under /api/v1/ (MQTT ${p.mqttUrl})`);
  return port;
}
