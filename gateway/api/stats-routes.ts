/**
 * What the dashboard's charts draw, under `/api/v1/stats` (any signed-in user):
 *
 * | route | answer |
 * |---|---|
 * | `GET /stats/activations?days=30` | activations per UTC day by decision, counted from the manifests received (recording time as claimed, else receipt) |
 * | `GET /stats/history?hours=24` | the fleet sampled over time: devices online and enrolled, upload backlog, dock outboxes |
 */
import { z } from 'zod';
import type { Db } from '../store/db.js';
import type { FleetHistory } from '../fleet/history.js';
import type { ApiServer } from './http.js';
import { VERDICTS, type ActivationsResponse, type HistoryResponse, type Verdict } from './types.js';

const DAY_MS = 86_400_000;

export function registerStatsRoutes(server: ApiServer, deps: { db: Db; history: FleetHistory; now: () => number }): void {
  const { db, history, now } = deps;

  server.route({
    method: 'GET',
    path: '/api/v1/stats/activations',
    roles: 'authenticated',
    query: z.object({ days: z.coerce.number().int().min(1).max(366).default(30) }),
    handle: async ({ query }) => {
      const first = Math.floor(now() / DAY_MS) - query.days + 1;
      const rows = await db.all<{ day: number; decision: string | null; n: number }>(
        `SELECT (COALESCE(started_at, received_at) / ${DAY_MS}) AS day, decision, COUNT(*) AS n FROM manifests
          WHERE COALESCE(started_at, received_at) >= ? GROUP BY (COALESCE(started_at, received_at) / ${DAY_MS}), decision`,
        [first * DAY_MS],
      );
      const days = Array.from({ length: query.days }, (_, i) => ({
        day: new Date((first + i) * DAY_MS).toISOString().slice(0, 10),
        counts: Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>,
      }));
      for (const r of rows) {
        const d = days[Math.floor(Number(r.day)) - first];
        const v = (r.decision ?? 'PENDING_CLASSIFICATION') as Verdict;
        if (d && v in d.counts) d.counts[v] += Number(r.n);
      }
      return { body: { days } satisfies ActivationsResponse };
    },
  });

  server.route({
    method: 'GET',
    path: '/api/v1/stats/history',
    roles: 'authenticated',
    query: z.object({
      hours: z.coerce
        .number()
        .int()
        .min(1)
        .max(24 * 366)
        .default(24),
    }),
    handle: async ({ query }) => ({ body: { samples: await history.since(now() - query.hours * 3_600_000) } satisfies HistoryResponse }),
  });
}
