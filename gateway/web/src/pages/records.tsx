/**
 * Records (`#/records`, Directive 4007.1 and 1061.2 §6): the retention schedules and what maps to
 * them, litigation holds, and disposition. Records officers act; auditors read.
 */
import type { DispositionDryRun, DispositionsResponse, SchedulesResponse } from '../../../api/types.js';
import { api } from '../api.js';
import { ErrorBanner } from '../components/ErrorBanner.js';
import { Loading, Page, Panel } from '../components/Page.js';
import { RoleGate } from '../components/RoleGate.js';
import { Time } from '../components/Time.js';
import { formatRetention, shortHash } from '../format.js';
import { href } from '../router.js';
import { useResource } from '../hooks.js';
import { WHO } from '../session.js';
import { DispositionPanel } from './records-disposition.js';
import { HoldsPanel } from './records-holds.js';

export function RecordsPage() {
  return (
    <Page title="Records">
      <RoleGate roles={WHO.readRecords} what="Retention schedules, litigation holds and disposition">
        <Schedules />
        <HoldsPanel />
        <WaitingForReview />
        <Dispositions />
      </RoleGate>
    </Page>
  );
}

interface ScheduleView {
  type?: string;
  retentionDays?: number;
  transferAfterYears?: number;
  cutoff?: string;
  authority?: string;
  description?: string;
}

function asSchedule(v: unknown): ScheduleView {
  return v !== null && typeof v === 'object' ? (v as ScheduleView) : {};
}

function keeping(s: ScheduleView): string {
  if (s.type === 'temporary' && s.retentionDays !== undefined) {
    return s.retentionDays === 0 ? 'destroyed at cutoff' : `destroyed ${formatRetention({ days: s.retentionDays })} after cutoff`;
  }
  if (s.type === 'permanent' && s.transferAfterYears !== undefined) return `transferred ${formatRetention({ years: s.transferAfterYears })} after cutoff`;
  if (s.type === 'unscheduled') return 'kept indefinitely';
  return '—';
}

function Schedules() {
  const schedules = useResource((s) => api.get<SchedulesResponse>('/api/v1/records/schedules', s), []);
  const d = schedules.data;
  return (
    <Panel title="Retention schedules" id="rec-schedules">
      <ErrorBanner error={schedules.error} context="Could not load the schedules" />
      {!d && schedules.loading ? <Loading what="schedules" /> : null}
      {d ? (
        <>
          <div class="table-wrap">
            <table class="table">
              <thead>
                <tr>
                  <th scope="col">Schedule</th>
                  <th scope="col">Type</th>
                  <th scope="col">Retention or transfer</th>
                  <th scope="col">Cutoff</th>
                  <th scope="col">Authority</th>
                  <th scope="col">Description</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(d.schedules).map(([name, raw]) => {
                  const s = asSchedule(raw);
                  return (
                    <tr key={name}>
                      <th scope="row">
                        <code>{name}</code>
                      </th>
                      <td>{s.type ?? '—'}</td>
                      <td>{keeping(s)}</td>
                      <td>{s.cutoff ?? '—'}</td>
                      <td>{s.authority ?? <span class="muted">—</span>}</td>
                      <td class="wrap">{s.description ?? ''}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
          <h3>What maps to them</h3>
          <div class="mapping">
            <Mapping title="AUTHORIZED clips, by 1061.2 §2.1 category" map={d.mapping.categories} />
            <Mapping title="Clips without a basis, by decision" map={d.mapping.decisions} />
            <Mapping title="Other records, by kind" map={d.mapping.kinds} />
          </div>
          <p>
            Anything the mapping does not name: <strong>{d.unnamed}</strong>.
          </p>
        </>
      ) : null}
    </Panel>
  );
}

function Mapping({ title, map }: { title: string; map: Record<string, string> }) {
  const entries = Object.entries(map);
  return (
    <table class="table table-compact">
      <caption>{title}</caption>
      <thead>
        <tr>
          <th scope="col">Class</th>
          <th scope="col">Schedule</th>
        </tr>
      </thead>
      <tbody>
        {entries.length === 0 ? (
          <tr>
            <td colSpan={2} class="muted">
              none: unscheduled
            </td>
          </tr>
        ) : (
          entries.map(([k, v]) => (
            <tr key={k}>
              <th scope="row">
                <code>{k}</code>
              </th>
              <td>{v}</td>
            </tr>
          ))
        )}
      </tbody>
    </table>
  );
}

/**
 * Clips whose review item is open or referred to OPR: never disposed of while they wait, whatever
 * their schedule (DESIGN §6, 1061.2 §4.4).
 */
function WaitingForReview() {
  const dry = useResource((s) => api.get<DispositionDryRun>('/api/v1/records/disposition', s), []);
  const skipped = dry.data?.skipped;
  return (
    <Panel
      title="Waiting for review"
      id="rec-review"
      actions={
        <button type="button" class="btn" onClick={dry.reload}>
          Refresh
        </button>
      }
    >
      <p class="muted">A clip with an open review item or an open referral to OPR is never eligible for disposition, whatever its schedule.</p>
      <ErrorBanner error={dry.error} context="Could not load the clips waiting for review" />
      {!dry.data && dry.loading ? <Loading what="clips waiting for review" /> : null}
      {skipped && skipped.length === 0 ? <p class="empty">No clip is waiting for review.</p> : null}
      {skipped && skipped.length > 0 ? (
        <div class="table-wrap">
          <table class="table">
            <thead>
              <tr>
                <th scope="col">Clip</th>
                <th scope="col">Schedule</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">
                  Review item
                </th>
              </tr>
            </thead>
            <tbody>
              {skipped.map((c) => (
                <tr key={c.manifestHash}>
                  <th scope="row">
                    <a href={href.clip(c.manifestHash)}>
                      <code title={c.manifestHash}>{shortHash(c.manifestHash, 16)}</code>
                    </a>
                  </th>
                  <td>
                    <code>{c.schedule}</code>
                  </td>
                  <td>
                    <span class="badge review-waiting">{c.reason}</span>
                  </td>
                  <td class="num">#{c.reviewId}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </Panel>
  );
}

/** The disposition dry run and execution, then the dispositions executed so far. */
function Dispositions() {
  const past = useResource((s) => api.get<DispositionsResponse>('/api/v1/records/dispositions', s), []);
  return (
    <>
      <DispositionPanel onExecuted={past.reload} />
      <Panel title="Past dispositions" id="rec-past">
        <ErrorBanner error={past.error} context="Could not load the dispositions" />
        {!past.data && past.loading ? <Loading what="dispositions" /> : null}
        {past.data && past.data.dispositions.length === 0 ? <p class="empty">No disposition has been executed.</p> : null}
        {past.data && past.data.dispositions.length > 0 ? (
          <div class="table-wrap">
            <table class="table">
              <thead>
                <tr>
                  <th scope="col">Disposition</th>
                  <th scope="col">When</th>
                  <th scope="col">By</th>
                  <th scope="col" class="num">
                    Records
                  </th>
                  <th scope="col">List hash</th>
                  <th scope="col" class="num">
                    Audit entry
                  </th>
                  <th scope="col">Signed by key</th>
                </tr>
              </thead>
              <tbody>
                {past.data.dispositions.map((p) => (
                  <tr key={p.dispositionId}>
                    <th scope="row">
                      <code>{p.dispositionId}</code>
                    </th>
                    <td>
                      <Time at={p.at} />
                    </td>
                    <td>{p.by}</td>
                    <td class="num">{p.records}</td>
                    <td>
                      <code title={p.listHash}>{shortHash(p.listHash, 16)}</code>
                    </td>
                    <td class="num">{p.auditSeq}</td>
                    <td>
                      <code>{p.signature.keyId}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : null}
      </Panel>
    </>
  );
}
