/**
 * The gateway's own metrics on /metrics: ingest's counters folded into Prometheus counters at
 * scrape time, verification times, clips verified, devices online, outbox depths, open alerts.
 */
import type { Metrics } from '../api/metrics.js';
import type { Alerts } from '../fleet/alerts.js';
import type { Ingest } from '../ingest/ingest.js';
import { REJECT_REASONS } from '../ingest/types.js';
import type { Db } from '../store/db.js';

export function registerGatewayMetrics(metrics: Metrics, o: { ingest: Ingest; db: Db; alerts: Alerts }): void {
  const { ingest, db, alerts } = o;
  const ingestCounter = metrics.counter({
    name: 'bwc_ingest_messages_total',
    help: 'Messages received from docks, by type and outcome.',
    labelNames: ['type', 'outcome'],
  });
  const rejected = metrics.counter({
    name: 'bwc_ingest_rejected_total',
    help: 'Messages refused by ingest, by reason.',
    labelNames: ['reason'],
  });
  const verifyHist = metrics.histogram({
    name: 'bwc_ingest_verify_seconds',
    help: 'Strict signature verification time per message.',
    buckets: [0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.005, 0.01],
  });
  const seen = {
    received: {} as Record<string, number>,
    accepted: {} as Record<string, number>,
    duplicates: {} as Record<string, number>,
    rejected: {} as Record<string, number>,
  };
  metrics.gauge({
    name: 'bwc_ingest_collect',
    help: 'Internal: folds ingest counters into the exported counters at scrape time (always 1).',
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
  metrics.gauge({
    name: 'bwc_clips_verified_total',
    help: 'Clips verified by this gateway process.',
    collect: (g) => g.set({}, ingest.counters.verified),
  });
  metrics.gauge({
    name: 'bwc_devices_online',
    help: 'Enrolled devices online.',
    collect: async (g) => {
      const r = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM devices WHERE online = 1 AND status = 'enrolled'`);
      g.set({}, Number(r?.n ?? 0));
    },
  });
  metrics.gauge({
    name: 'bwc_device_outbox_depth',
    help: 'Messages waiting in each device outbox (last reported).',
    labelNames: ['device'],
    collect: async (g) => {
      g.reset();
      for (const d of await db.all<{ device_id: string; outbox_depth: number | null }>(
        `SELECT device_id, outbox_depth FROM devices WHERE status = 'enrolled'`,
      )) {
        g.set({ device: d.device_id }, Number(d.outbox_depth ?? 0));
      }
    },
  });
  metrics.gauge({ name: 'bwc_alerts_open', help: 'Alerts not yet resolved.', collect: async (g) => g.set({}, await alerts.openCount()) });
}
