/**
 * Overview (`#/overview`): how the fleet is doing at a glance. Devices online, open alerts by
 * severity, and three charts: activations per day by decision (30 days), the upload backlog and
 * devices online (24 hours).
 */
import type { ActivationsResponse, HistoryResponse, HistorySample, Severity } from '../../../api/types.js';
import { api } from '../api.js';
import { SeverityBadge } from '../components/Badges.js';
import { ErrorBanner } from '../components/ErrorBanner.js';
import { Loading, Page, Panel } from '../components/Page.js';
import { Time } from '../components/Time.js';
import { useFleet } from '../devices.js';
import { formatCount } from '../format.js';
import { useInterval, useNow, useResource } from '../hooks.js';
import { useOnReconnect } from '../live.js';
import { useOpenAlerts } from './alerts.js';
import { ActivationsChart, BacklogChart, DevicesOnlineChart } from './overview-charts.js';

const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info'];

export function OverviewPage() {
  // Loading every device row only for two counts would cost a large fleet megabytes on each visit:
  // the counts come from the fleet store when the Fleet page has loaded it (live), and otherwise
  // from the gateway's latest fleet sample.
  const fleet = useFleet({ load: false });
  const alerts = useOpenAlerts();
  const activations = useResource((s) => api.get<ActivationsResponse>('/api/v1/stats/activations?days=30', s), []);
  const history = useResource((s) => api.get<HistoryResponse>('/api/v1/stats/history?hours=24', s), []);
  const now = useNow();
  useInterval(history.reload, 60_000);
  useInterval(activations.reload, 5 * 60_000);
  useOnReconnect(() => {
    history.reload();
    activations.reload();
  });

  let enrolled = 0;
  let online = 0;
  let decommissioned = 0;
  for (const d of fleet.devices) {
    if (d.status === 'decommissioned') decommissioned++;
    else {
      enrolled++;
      if (d.online) online++;
    }
  }
  const samples = history.data?.samples ?? [];
  const sample = samples.reduce<HistorySample | null>((last, s) => (!last || s.at > last.at ? s : last), null);
  const counts = fleet.loaded
    ? { online, enrolled, decommissioned, asOf: null }
    : sample
      ? { online: sample.devicesOnline, enrolled: sample.devicesEnrolled, decommissioned: null, asOf: sample.at }
      : null;
  const bySeverity = { critical: 0, warning: 0, info: 0 };
  for (const a of alerts.data?.alerts ?? []) if (a.resolvedAt === null) bySeverity[a.severity]++;
  const truncated = alerts.data?.alerts.length === 1000;

  return (
    <Page title="Overview">
      <div class="stats">
        <section class="stat" aria-labelledby="stat-devices">
          <h2 id="stat-devices">Devices</h2>
          {counts ? (
            <>
              <p class="stat-value">
                {formatCount(counts.online)} <span class="stat-of">of {formatCount(counts.enrolled)} online</span>
              </p>
              <p class="muted">
                {formatCount(counts.enrolled - counts.online)} offline
                {counts.decommissioned ? `, ${formatCount(counts.decommissioned)} decommissioned` : ''}
                {counts.asOf !== null ? (
                  <>
                    {' '}
                    · as of <Time at={counts.asOf} relativeTo={now} />
                  </>
                ) : null}
              </p>
            </>
          ) : history.error ? (
            <p class="muted">No count: the fleet history did not load.</p>
          ) : (
            <Loading what="devices" />
          )}
        </section>
        <section class="stat" aria-labelledby="stat-alerts">
          <h2 id="stat-alerts">Open alerts</h2>
          <ErrorBanner error={alerts.error} context="Could not load the alerts" />
          {alerts.data ? (
            <>
              <ul class="stat-severities">
                {SEVERITIES.map((s) => (
                  <li key={s}>
                    <SeverityBadge severity={s} />{' '}
                    <span class="stat-count">
                      {formatCount(bySeverity[s])}
                      {truncated ? '+' : ''}
                    </span>
                  </li>
                ))}
              </ul>
              {truncated ? <p class="muted">Counted from the newest 1000 open alerts.</p> : null}
            </>
          ) : alerts.error ? null : (
            <Loading what="alerts" />
          )}
        </section>
      </div>
      <div class="charts">
        <Panel title="Activations per day" id="chart-activations">
          <ErrorBanner error={activations.error} context="Could not load the activations" />
          {activations.data ? <ActivationsChart data={activations.data} /> : activations.error ? null : <Loading what="activations" />}
        </Panel>
        <Panel title="Upload backlog" id="chart-backlog">
          <ErrorBanner error={history.error} context="Could not load the fleet history" />
          {history.data ? <BacklogChart data={history.data} /> : history.error ? null : <Loading what="history" />}
        </Panel>
        <Panel title="Devices online" id="chart-online">
          <ErrorBanner error={history.error} context="Could not load the fleet history" />
          {history.data ? <DevicesOnlineChart data={history.data} /> : history.error ? null : <Loading what="history" />}
        </Panel>
      </div>
    </Page>
  );
}
