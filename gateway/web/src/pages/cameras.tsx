/**
 * Cameras (`#/cameras`): every camera the docks have seen, with its health, its last dock and the
 * officer it is assigned to. Operators and admins assign and unassign officers; everyone may read
 * a camera's assignment history.
 */
import { useState } from 'preact/hooks';
import type { AssignmentsResponse, CameraJson, CamerasResponse } from '../../../api/types.js';
import { api, seg } from '../api.js';
import { ErrorBanner } from '../components/ErrorBanner.js';
import { TextField } from '../components/Fields.js';
import { Loading, Page } from '../components/Page.js';
import { Time } from '../components/Time.js';
import { formatBytes, formatCount } from '../format.js';
import { useAction, useNow, useResource } from '../hooks.js';
import { useOnReconnect } from '../live.js';
import { href } from '../router.js';
import { useHasRole, WHO } from '../session.js';

export function CamerasPage() {
  const cameras = useResource((s) => api.get<CamerasResponse>('/api/v1/cameras', s), []);
  useOnReconnect(cameras.reload);
  const [search, setSearch] = useState('');
  const q = search.trim().toLowerCase();
  const list = (cameras.data?.cameras ?? []).filter((c) => !q || [c.cameraSerial, c.model, c.officerId, c.lastDock].some((v) => v?.toLowerCase().includes(q)));
  return (
    <Page title="Cameras">
      <div class="toolbar">
        <TextField label="Search cameras" type="search" value={search} onInput={setSearch} hint="Serial, model, officer or dock" />
        <button type="button" class="btn" onClick={cameras.reload}>
          Refresh
        </button>
      </div>
      <ErrorBanner error={cameras.error} context="Could not load the cameras" />
      {!cameras.data && cameras.loading ? <Loading what="cameras" /> : null}
      {cameras.data && list.length === 0 ? <p class="empty">{q ? 'No cameras match.' : 'No cameras have docked yet.'}</p> : null}
      {list.length > 0 ? <CameraTable cameras={list} onChanged={cameras.reload} /> : null}
    </Page>
  );
}

/** The cameras table; also used on the Device page for the cameras last seen on that dock. */
export function CameraTable({ cameras, onChanged }: { cameras: readonly CameraJson[]; onChanged: () => void }) {
  const now = useNow();
  const canAssign = useHasRole(WHO.operate);
  const columns = canAssign ? 12 : 11;
  return (
    <div class="table-wrap">
      <table class="table cameras">
        <thead>
          <tr>
            <th scope="col">Serial</th>
            <th scope="col" class="col-wide">
              Model
            </th>
            <th scope="col" class="col-wide">
              Firmware
            </th>
            <th scope="col" class="num col-mid">
              Battery
            </th>
            <th scope="col" class="num col-wide">
              Storage free
            </th>
            <th scope="col" class="num col-wide">
              Temperature
            </th>
            <th scope="col" class="col-mid">
              Last dock
            </th>
            <th scope="col" class="col-mid">
              Last seen
            </th>
            <th scope="col">Officer</th>
            <th scope="col" class="num col-mid">
              Clips not verified
            </th>
            <th scope="col">History</th>
            {canAssign ? <th scope="col">Assignment</th> : null}
          </tr>
        </thead>
        <tbody>
          {cameras.map((c) => (
            <CameraRow key={c.cameraSerial} camera={c} now={now} canAssign={canAssign} columns={columns} onChanged={onChanged} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function CameraRow({
  camera: c,
  now,
  canAssign,
  columns,
  onChanged,
}: {
  camera: CameraJson;
  now: number;
  canAssign: boolean;
  columns: number;
  onChanged: () => void;
}) {
  const [showHistory, setShowHistory] = useState(false);
  const [officer, setOfficer] = useState('');
  const assign = useAction(async () => {
    await api.put<unknown>(`/api/v1/cameras/${seg(c.cameraSerial)}/assignment`, { officerId: officer.trim() });
    setOfficer('');
    onChanged();
  });
  const unassign = useAction(async () => {
    await api.del<unknown>(`/api/v1/cameras/${seg(c.cameraSerial)}/assignment`);
    onChanged();
  });
  const error = assign.error ?? unassign.error;
  return (
    <>
      <tr data-camera-serial={c.cameraSerial}>
        <th scope="row">{c.cameraSerial}</th>
        <td class="col-wide">{c.model ?? <span class="muted">—</span>}</td>
        <td class="col-wide">{c.firmware ?? <span class="muted">—</span>}</td>
        <td class={c.batteryPct !== null && c.batteryPct < 20 ? 'num warn col-mid' : 'num col-mid'}>{c.batteryPct === null ? '—' : `${c.batteryPct} %`}</td>
        <td class="num col-wide">{formatBytes(c.storageFree)}</td>
        <td class="num col-wide">{c.temperatureC === null ? '—' : `${c.temperatureC.toFixed(1)} °C`}</td>
        <td class="col-mid id-cell">{c.lastDock ? <a href={href.device(c.lastDock)}>{c.lastDock}</a> : <span class="muted">—</span>}</td>
        <td class="col-mid">
          <Time at={c.lastSeen} relativeTo={now} none="never" />
        </td>
        <td>{c.officerId ?? <span class="muted">unassigned</span>}</td>
        <td class={c.clipsNotVerified > 0 ? 'num warn col-mid' : 'num col-mid'}>{formatCount(c.clipsNotVerified)}</td>
        <td>
          <button type="button" class="btn btn-small" aria-expanded={showHistory} onClick={() => setShowHistory(!showHistory)}>
            History
          </button>
        </td>
        {canAssign ? (
          <td class="assign-cell">
            <form
              class="inline-form"
              onSubmit={(e) => {
                e.preventDefault();
                void assign.run();
              }}
            >
              <TextField label={`Officer id for ${c.cameraSerial}`} hiddenLabel value={officer} onInput={setOfficer} placeholder="officer id" />
              <button type="submit" class="btn btn-small" disabled={officer.trim() === ''} aria-disabled={assign.busy}>
                Assign
              </button>
              {c.officerId ? (
                <button type="button" class="btn btn-small btn-quiet" aria-disabled={unassign.busy} onClick={() => void unassign.run()}>
                  Unassign
                </button>
              ) : null}
            </form>
          </td>
        ) : null}
      </tr>
      {error ? (
        <tr class="row-error">
          <td colSpan={columns}>
            <ErrorBanner error={error} context={`Camera ${c.cameraSerial}`} />
          </td>
        </tr>
      ) : null}
      {showHistory ? (
        <tr class="row-detail">
          <td colSpan={columns}>
            <AssignmentHistory serial={c.cameraSerial} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

function AssignmentHistory({ serial }: { serial: string }) {
  const history = useResource((s) => api.get<AssignmentsResponse>(`/api/v1/cameras/${seg(serial)}/assignments`, s), [serial]);
  return (
    <div class="detail-box">
      <h3 class="h-small">Assignments of {serial}</h3>
      <ErrorBanner error={history.error} context="Could not load the assignment history" />
      {!history.data && history.loading ? <Loading what="assignments" /> : null}
      {history.data && history.data.assignments.length === 0 ? <p class="empty">Never assigned.</p> : null}
      {history.data && history.data.assignments.length > 0 ? (
        <table class="table table-compact">
          <thead>
            <tr>
              <th scope="col">Officer</th>
              <th scope="col">From</th>
              <th scope="col">To</th>
              <th scope="col">Assigned by</th>
              <th scope="col">Source</th>
            </tr>
          </thead>
          <tbody>
            {[...history.data.assignments]
              .sort((a, b) => b.from - a.from)
              .map((a) => (
                <tr key={`${a.officerId}-${a.from}`}>
                  <th scope="row">{a.officerId}</th>
                  <td>
                    <Time at={a.from} />
                  </td>
                  <td>{a.to === null ? <strong>current</strong> : <Time at={a.to} />}</td>
                  <td>{a.assignedBy}</td>
                  <td>{a.source}</td>
                </tr>
              ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}
