/**
 * Verified ingest joined to the broker: every message on the docks' topics goes through `Ingest`
 * (strict verification, group-committed writes, the signed ack after commit); what it rejects is
 * logged with the reason, what it accepts goes to `accepted` (compose/dispatch.ts). A message that
 * throws is logged and left to the dock's outbox, which sends it again.
 */
import type { Logger } from '../api/http.js';
import type { AuditLog } from '../audit/log.js';
import type { GatewayConfig } from '../config.js';
import type { Alerts } from '../fleet/alerts.js';
import { Ingest } from '../ingest/ingest.js';
import type { FleetMessage } from '../ingest/types.js';
import type { Foundation } from './foundation.js';
import type { GatewayMqtt } from './mqtt-client.js';

export function gatewayIngest(o: {
  config: GatewayConfig;
  base: Foundation;
  now: () => number;
  audit: AuditLog;
  alerts: Alerts;
  publish: GatewayMqtt['publish'];
  accepted: (m: FleetMessage) => Promise<void>;
}): Ingest {
  const { db, store, messenger, pool } = o.base;
  const { cryptoThreads: _threads, ...options } = o.config.ingest;
  return new Ingest({
    db,
    store,
    sealer: messenger,
    fleet: o.config.fleet,
    now: o.now,
    ...options,
    ...(pool ? { verifier: pool } : {}),
    audit: o.audit,
    sink: {
      publish: o.publish,
      alert: async (a) => {
        await o.alerts.raise(a);
      },
      accepted: o.accepted,
    },
  });
}

/** What the broker's messages go to (`GatewayMqtt.consume`): ingest, with its refusals and failures logged. */
export function ingestHandler(ingest: Ingest, log: Logger): (topic: string, payload: Buffer) => Promise<void> {
  return async (topic, payload) => {
    try {
      const r = await ingest.handle(topic, payload);
      if (r.status === 'rejected') log.warn({ reason: r.reason }, `ingest: ${topic}: ${r.reason}: ${r.detail}`);
    } catch (e) {
      log.error({ err: e }, `ingest: ${topic}: ${(e as Error).message}`);
    }
  };
}
