/**
 * Alerts (`#/alerts`): open alerts, critical first and newest first, kept current by the live
 * `alert` event. Operators, supervisors and admins acknowledge and resolve them.
 */
import { useState } from 'preact/hooks';
import type { AlertActionResponse, AlertJson, AlertsResponse, Severity } from '../../../api/types.js';
import { api, query, seg } from '../api.js';
import { SeverityBadge } from '../components/Badges.js';
import { ErrorBanner } from '../components/ErrorBanner.js';
import { Checkbox } from '../components/Fields.js';
import { Loading, Page } from '../components/Page.js';
import { Time } from '../components/Time.js';
import { formatCount } from '../format.js';
import { useAction, useNow, useResource } from '../hooks.js';
import { useLiveEvent, useOnReconnect } from '../live.js';
import { href } from '../router.js';
import { useHasRole, WHO } from '../session.js';

const SEVERITY_RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

/** Critical first, then the most recent activity first. */
export function sortAlerts(alerts: readonly AlertJson[]): AlertJson[] {
  return [...alerts].sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || b.lastAt - a.lastAt || b.id - a.id);
}

/** The list with `alert` added or replaced; a resolved alert leaves a list of open ones. */
export function upsertAlert(list: readonly AlertJson[], alert: AlertJson, openOnly: boolean): AlertJson[] {
  const rest = list.filter((a) => a.id !== alert.id);
  return openOnly && alert.resolvedAt !== null ? rest : [...rest, alert];
}

/** Open alerts (up to 1000), kept current live. */
export function useOpenAlerts(showResolved = false) {
  const alerts = useResource((signal) => api.get<AlertsResponse>(`/api/v1/alerts${query({ open: showResolved ? undefined : 'true', limit: 1000 })}`, signal), [showResolved]);
  useLiveEvent('alert', ({ alert }) => alerts.update((d) => ({ alerts: upsertAlert(d.alerts, alert, !showResolved) })));
  useOnReconnect(alerts.reload);
  return alerts;
}

export function AlertsPage() {
  const [showResolved, setShowResolved] = useState(false);
  const alerts = useOpenAlerts(showResolved);
  const now = useNow();
  const canRespond = useHasRole(WHO.respondToAlerts);
  const list = alerts.data ? sortAlerts(alerts.data.alerts) : [];
  const counts = list.reduce<Record<Severity, number>>((c, a) => ({ ...c, [a.severity]: c[a.severity] + (a.resolvedAt === null ? 1 : 0) }), { critical: 0, warning: 0, info: 0 });

  return (
    <Page title="Alerts">
      <div class="toolbar toolbar-plain">
        <Checkbox label="Show resolved" checked={showResolved} onChange={setShowResolved} />
        <button type="button" class="btn" onClick={alerts.reload}>Refresh</button>
      </div>
      <p class="muted count-note" aria-live="polite">
        {alerts.data ? `${formatCount(counts.critical)} critical, ${formatCount(counts.warning)} warning, ${formatCount(counts.info)} info open` : ''}
        {alerts.data?.alerts.length === 1000 ? ' (the newest 1000 shown)' : ''}
      </p>
      <ErrorBanner error={alerts.error} context="Could not load the alerts" />
      {!alerts.data && alerts.loading ? <Loading what="alerts" /> : null}
      {alerts.data && list.length === 0 ? <p class="empty">{showResolved ? 'No alerts.' : 'No open alerts.'}</p> : null}
      {list.length > 0 ? (
        <div class="table-wrap">
          <table class="table alerts">
            <caption class="vh">{showResolved ? 'All alerts' : 'Open alerts'}, critical first, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Severity</th><th scope="col">Kind</th><th scope="col">Message</th><th scope="col">Device / camera</th>
                <th scope="col" class="num">Count</th><th scope="col">Raised</th><th scope="col">Last</th>
                <th scope="col">Acknowledged</th><th scope="col">Resolved</th>
                {canRespond ? <th scope="col"><span class="vh">Actions</span></th> : null}
              </tr>
            </thead>
            <tbody>
              {list.map((a) => <AlertRow key={a.id} alert={a} now={now} canRespond={canRespond} onChanged={alerts.reload} />)}
            </tbody>
          </table>
        </div>
      ) : null}
    </Page>
  );
}

function AlertRow({ alert: a, now, canRespond, onChanged }: { alert: AlertJson; now: number; canRespond: boolean; onChanged: () => void }) {
  const act = useAction(async (action: 'ack' | 'resolve') => {
    await api.post<AlertActionResponse>(`/api/v1/alerts/${seg(a.id)}/${action}`);
    onChanged();
  });
  return (
    <>
      <tr data-alert-id={String(a.id)} class={`alert-row severity-row-${a.severity}${a.resolvedAt ? ' is-resolved' : ''}`}>
        <td><SeverityBadge severity={a.severity} /></td>
        <td><code>{a.kind}</code></td>
        <td class="wrap" id={`alert-${a.id}-msg`}>{a.message}</td>
        <td>
          {a.deviceId ? <a href={href.device(a.deviceId)}>{a.deviceId}</a> : null}
          {a.deviceId && a.cameraSerial ? ' / ' : null}
          {a.cameraSerial ? <span>camera {a.cameraSerial}</span> : null}
          {!a.deviceId && !a.cameraSerial ? (a.subject ?? <span class="muted">—</span>) : null}
        </td>
        <td class="num">{formatCount(a.count)}</td>
        <td><Time at={a.raisedAt} relativeTo={now} /></td>
        <td><Time at={a.lastAt} relativeTo={now} /></td>
        <td>{a.ackedAt ? <>{a.ackedBy ?? 'someone'}, <Time at={a.ackedAt} relativeTo={now} /></> : <span class="muted">no</span>}</td>
        <td>{a.resolvedAt ? <>{a.resolvedBy ?? 'someone'}, <Time at={a.resolvedAt} relativeTo={now} /></> : <span class="muted">no</span>}</td>
        {canRespond ? (
          <td class="actions-cell">
            {a.resolvedAt === null && a.ackedAt === null
              ? <button type="button" class="btn btn-small" aria-disabled={act.busy} onClick={() => void act.run('ack')} aria-describedby={`alert-${a.id}-msg`}>Acknowledge</button>
              : null}
            {a.resolvedAt === null
              ? <button type="button" class="btn btn-small" aria-disabled={act.busy} onClick={() => void act.run('resolve')} aria-describedby={`alert-${a.id}-msg`}>Resolve</button>
              : null}
          </td>
        ) : null}
      </tr>
      {act.error ? (
        <tr class="row-error">
          <td colSpan={canRespond ? 10 : 9}><ErrorBanner error={act.error} context={`Alert ${a.id}`} /></td>
        </tr>
      ) : null}
    </>
  );
}
