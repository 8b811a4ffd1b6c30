/**
 * Alerts (`#/alerts`): open alerts, critical first and newest first, kept current by the live
 * `alert` event. Each is named in words with its code beside it, links to its clip and its device,
 * and says how often it was raised. Operators, supervisors and admins acknowledge and resolve
 * them; a critical alert is resolved only with a note (the gateway refuses it without one).
 */
import { useState } from 'preact/hooks';
import type { AlertActionResponse, AlertJson, AlertsResponse, Severity } from '../../../api/types.js';
import { api, query, seg } from '../api.js';
import { SeverityBadge } from '../components/Badges.js';
import { ErrorBanner, FormProblem } from '../components/ErrorBanner.js';
import { Checkbox, TextArea } from '../components/Fields.js';
import { Loading, Page } from '../components/Page.js';
import { Time } from '../components/Time.js';
import { alertTitle } from '../alert-words.js';
import { formatCount, shortHash } from '../format.js';
import { useAction, useNow, useResource } from '../hooks.js';
import { useLiveEvent, useOnReconnect } from '../live.js';
import { href } from '../router.js';
import { useHasRole, WHO } from '../session.js';

/** The longest note the gateway keeps (gateway/fleet/alerts.ts). */
const RESOLUTION_NOTE_MAX = 4000;

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
  const alerts = useResource(
    (signal) => api.get<AlertsResponse>(`/api/v1/alerts${query({ open: showResolved ? undefined : 'true', limit: 1000 })}`, signal),
    [showResolved],
  );
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
  const counts: Record<Severity, number> = { critical: 0, warning: 0, info: 0 };
  for (const a of list) if (a.resolvedAt === null) counts[a.severity]++;

  return (
    <Page title="Alerts">
      <div class="toolbar toolbar-plain">
        <Checkbox label="Show resolved" checked={showResolved} onChange={setShowResolved} />
        <button type="button" class="btn" onClick={alerts.reload}>
          Refresh
        </button>
      </div>
      <p class="muted count-note" aria-live="polite">
        {alerts.data ? `${formatCount(counts.critical)} critical, ${formatCount(counts.warning)} warning, ${formatCount(counts.info)} info open` : ''}
        {alerts.data?.alerts.length === 1000 ? ' (the newest 1000 shown)' : ''}
      </p>
      <ErrorBanner error={alerts.error} context="Could not load the alerts" />
      {!alerts.data && alerts.loading ? <Loading what="alerts" /> : null}
      {alerts.data && list.length === 0 ? <p class="empty">{showResolved ? 'No alerts.' : 'No open alerts.'}</p> : null}
      {list.length > 0 ? (
        <div class="table-fit">
          <table class="table alerts">
            <caption class="vh">{showResolved ? 'All alerts' : 'Open alerts'}, critical first, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Alert</th>
                <th scope="col">About</th>
                <th scope="col">Activity</th>
                {canRespond ? (
                  <th scope="col">
                    <span class="vh">Actions</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {list.map((a) => (
                <AlertRow key={a.id} alert={a} now={now} canRespond={canRespond} onChanged={alerts.reload} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </Page>
  );
}

/** "raised once, 3 min ago" or "raised 5 times, first … last …": what the count means. */
function Occurrences({ alert: a, now }: { alert: AlertJson; now: number }) {
  if (a.count <= 1)
    return (
      <>
        Raised once, <Time at={a.raisedAt} relativeTo={now} />
      </>
    );
  return (
    <>
      Raised {formatCount(a.count)} times, first <Time at={a.raisedAt} relativeTo={now} />, last <Time at={a.lastAt} relativeTo={now} />
    </>
  );
}

function AlertRow({ alert: a, now, canRespond, onChanged }: { alert: AlertJson; now: number; canRespond: boolean; onChanged: () => void }) {
  const [resolving, setResolving] = useState(false);
  const ack = useAction(async () => {
    await api.post<AlertActionResponse>(`/api/v1/alerts/${seg(a.id)}/ack`);
    onChanged();
  });
  const title = alertTitle(a);
  const critical = a.severity === 'critical';
  const columns = canRespond ? 4 : 3;
  return (
    <>
      <tr data-alert-id={String(a.id)} class={`alert-row severity-row-${a.severity}${a.resolvedAt ? ' is-resolved' : ''}`}>
        <td class="wrap alert-what">
          <SeverityBadge severity={a.severity} />
          <strong class="alert-words">{title.words}</strong> <code class="code-aside">{title.code}</code>
          <div class="alert-message-text" id={`alert-${a.id}-msg`}>
            {a.message}
          </div>
        </td>
        <td class="alert-about">
          {a.manifestHash ? (
            <div>
              <a href={href.clip(a.manifestHash)}>Clip {a.subject && a.subject !== a.manifestHash ? a.subject : shortHash(a.manifestHash, 10)}</a>
            </div>
          ) : null}
          {a.deviceId ? (
            <div>
              <a href={href.device(a.deviceId)}>Device {a.deviceId}</a>
            </div>
          ) : null}
          {a.cameraSerial ? <div>Camera {a.cameraSerial}</div> : null}
          {!a.deviceId && !a.cameraSerial && !a.manifestHash ? (a.subject ?? <span class="muted">—</span>) : null}
        </td>
        <td class="wrap alert-activity">
          <div>
            <Occurrences alert={a} now={now} />
          </div>
          <div>
            {a.ackedAt ? (
              <>
                Acknowledged by {a.ackedBy ?? 'someone'}, <Time at={a.ackedAt} relativeTo={now} />
              </>
            ) : (
              <span class="muted">Not acknowledged</span>
            )}
          </div>
          {a.resolvedAt ? (
            <div>
              Resolved by {a.resolvedBy ?? 'someone'}, <Time at={a.resolvedAt} relativeTo={now} />
            </div>
          ) : null}
          {a.resolutionNote ? (
            <blockquote class="resolution-note" aria-label="Resolution note">
              {a.resolutionNote}
            </blockquote>
          ) : null}
        </td>
        {canRespond ? (
          <td class="actions-cell">
            {a.resolvedAt === null && a.ackedAt === null ? (
              <button type="button" class="btn btn-small" aria-disabled={ack.busy} onClick={() => void ack.run()} aria-describedby={`alert-${a.id}-msg`}>
                Acknowledge
              </button>
            ) : null}
            {a.resolvedAt === null && !resolving ? (
              <button type="button" class="btn btn-small" aria-expanded="false" onClick={() => setResolving(true)} aria-describedby={`alert-${a.id}-msg`}>
                Resolve
              </button>
            ) : null}
          </td>
        ) : null}
      </tr>
      {ack.error ? (
        <tr class="row-error">
          <td colSpan={columns}>
            <ErrorBanner error={ack.error} context={`Alert ${a.id}`} />
          </td>
        </tr>
      ) : null}
      {resolving && a.resolvedAt === null ? (
        <tr class="row-detail">
          <td colSpan={columns}>
            <ResolveForm
              alert={a}
              critical={critical}
              words={title.words}
              onDone={() => {
                setResolving(false);
                onChanged();
              }}
              onCancel={() => setResolving(false)}
            />
          </td>
        </tr>
      ) : null}
    </>
  );
}

/** Resolving: a note of what was found and done, required for a critical alert (said before sending). */
function ResolveForm({
  alert: a,
  critical,
  words,
  onDone,
  onCancel,
}: {
  alert: AlertJson;
  critical: boolean;
  words: string;
  onDone: () => void;
  onCancel: () => void;
}) {
  const [note, setNote] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const resolve = useAction((text: string) => api.post<AlertActionResponse>(`/api/v1/alerts/${seg(a.id)}/resolve`, text ? { note: text } : {}));
  const submit = async (e: Event) => {
    e.preventDefault();
    const text = note.trim();
    if (critical && text === '') return setProblem('A critical alert is resolved only with a note: say what was found and what was done.');
    if (text.length > RESOLUTION_NOTE_MAX)
      return setProblem(`The note is ${formatCount(text.length)} characters long; at most ${formatCount(RESOLUTION_NOTE_MAX)} are kept.`);
    setProblem(null);
    if (await resolve.run(text)) onDone();
  };
  return (
    <form class="resolve-form" onSubmit={(e) => void submit(e)} aria-label={`Resolve alert ${a.id}: ${words}`}>
      <TextArea
        label="Resolution note"
        needed={critical}
        value={note}
        onInput={setNote}
        hint={
          critical
            ? 'Required: this alert is critical. Say what was found and what was done; the note is kept with the alert and in the audit log.'
            : 'Optional: what was found and what was done.'
        }
      />
      <FormProblem message={problem} />
      <ErrorBanner error={resolve.error} context={`Alert ${a.id} was not resolved`} />
      <div class="actions">
        <button type="submit" class="btn btn-primary" aria-disabled={resolve.busy}>
          {resolve.busy ? 'Resolving…' : 'Resolve alert'}
        </button>
        <button type="button" class="btn btn-quiet" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
