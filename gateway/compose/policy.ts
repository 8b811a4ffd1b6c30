/**
 * The gateway's policy side: the signed policy objects it holds and its second decision over
 * every dock decision (DESIGN §5 "The gateway decides again"), the policy bundle in force and its
 * publication, and the recording-authorization workflow (1061.2 §5). What they publish goes to the
 * docks through DockCommands, and is held for the second decision first.
 */
import type { Logger } from '../api/http.js';
import type { AuditLog } from '../audit/log.js';
import { actorOf } from '../audit/log.js';
import { PolicyBundles } from '../authz/bundles.js';
import { Authorizations } from '../authz/workflow.js';
import type { GatewayConfig } from '../config.js';
import type { Alerts } from '../fleet/alerts.js';
import type { GatewayMessenger } from '../messenger.js';
import { PolicyObjects } from '../policy/objects.js';
import { SecondDecisions } from '../policy/second-decision.js';
import type { ReviewQueue } from '../review/review.js';
import type { Db, Queryable } from '../store/db.js';
import type { LoadedTrust } from '../trust.js';
import type { DockCommands } from './dock-commands.js';
import type { Shutdown } from './shutdown.js';

export interface GatewayPolicy {
  readonly objects: PolicyObjects;
  readonly secondDecisions: SecondDecisions;
  readonly bundles: PolicyBundles;
  readonly authz: Authorizations;
}

export async function startPolicy(o: {
  config: GatewayConfig;
  db: Db;
  now: () => number;
  log: Logger;
  audit: AuditLog;
  alerts: Alerts;
  review: ReviewQueue;
  loaded: LoadedTrust | null;
  messenger: GatewayMessenger;
  commands: DockCommands;
  shutdown: Shutdown;
}): Promise<GatewayPolicy> {
  const { config: c, db, now, log, messenger, commands } = o;
  const trust = o.loaded?.trust ?? null;
  const objects = new PolicyObjects({ db, root: trust?.root ?? null, now });
  const holdOwn = async (bytes: Uint8Array, source: string) => {
    try {
      if (objects.enabled) await objects.hold(bytes, source);
    } catch (e) {
      log.warn({}, `second decision: could not hold a ${source} policy object: ${(e as Error).message}`);
    }
  };
  const imported = await objects.importHeld(trust?.bundle ?? null);
  for (const r of imported.refused) log.warn({}, `second decision: not held: ${r}`);
  const secondDecisions = new SecondDecisions({
    db,
    objects,
    alerts: o.alerts,
    now,
    review: o.review,
    objectWaitMs: c.secondDecision.objectWaitMs,
    grantFiledLateMs: c.secondDecision.grantFiledLateHours * 3600_000,
    request: async (deviceId, hashes) => {
      await commands.send(deviceId, await messenger.sealCommand({ policyObjectRequest: { hashes: hashes.map((h) => Buffer.from(h, 'hex')) } }, deviceId));
      log.info({ device: deviceId }, `second decision: asked ${deviceId} for ${hashes.length} policy object(s) its decisions name`);
    },
    log,
  });
  if (!objects.enabled) log.warn({}, "second decision: no agency root key (trust.rootPublicKey): docks' decisions are not decided again");
  o.shutdown.add(() => secondDecisions.idle());

  // The authorization workflow names users by username; the audit log's actors are `user:<name>`.
  const audit = async (q: Queryable, e: { actor: string; action: string; subject: string; detail: Record<string, unknown> }) => {
    await o.audit.append(q, { ...e, actor: actorOf.by(e.actor) });
  };
  // The policy bundle in force: the configured one, or a newer one published through the API.
  const bundles = await new PolicyBundles({
    db,
    now,
    audit,
    root: trust?.root ?? null,
    configured: trust?.bundle && o.loaded?.bundle ? { bytes: trust.bundle, bundle: o.loaded.bundle } : null,
    deliver: async (bytes) => {
      await holdOwn(bytes, 'published');
      return commands.toDocks((id) => messenger.sealCommand({ policyBundle: bytes }, id));
    },
  }).load();
  // An approved grant or a revocation goes to every enrolled dock its scope names, or to all of
  // them when it names none (an officer docks anywhere).
  const authz = new Authorizations({
    db,
    now,
    audit,
    issuerKeysDir: c.authz.issuerKeysDir ?? null,
    bundle: () => bundles.current()?.bundle ?? null,
    deliver: async (kind, envelope, scope) => {
      await holdOwn(envelope, 'workflow');
      return commands.toDocks((id) => messenger.sealCommand(kind === 'grant' ? { grant: envelope } : { revocation: envelope }, id), scope.devices);
    },
  });
  return { objects, secondDecisions, bundles, authz };
}
