/** `GET /metrics` on the API server: the Prometheus exposition of a Metrics registry. */
import type { ApiServer, RouteRoles } from './http.js';
import { EXPOSITION_CONTENT_TYPE, type Metrics } from './metrics.js';

export interface MetricsRouteOptions {
  /** Who may scrape (default `authenticated`: any signed-in user or API token). */
  roles?: RouteRoles;
  path?: string;
}

/**
 * `GET /metrics`. It requires authentication by default: Prometheus scrapes with an API token
 * (`authorization: { credentials_file: … }` in its scrape config).
 */
export function registerMetricsRoute(server: ApiServer, metrics: Metrics, options: MetricsRouteOptions = {}): void {
  server.route({
    method: 'GET',
    path: options.path ?? '/metrics',
    roles: options.roles ?? 'authenticated',
    handle: async (ctx) => ({
      raw: await metrics.expose((metric, err) => ctx.log.error({ metric, err }, 'metrics collect failed')),
      headers: { 'content-type': EXPOSITION_CONTENT_TYPE },
    }),
  });
}
