/**
 * Litigation holds: a hold keeps every record it covers out of disposition until it is released.
 * Its criteria (a clip, a device, an officer, a camera, a date range) must all match; a hold is
 * judged when a disposition runs, so it also covers records that arrive after it.
 */
import { useState } from 'preact/hooks';
import type { HoldInput, HoldJson, HoldResponse, HoldsResponse } from '../../../api/types.js';
import { api, query, seg } from '../api.js';
import { ConfirmAction } from '../components/Confirm.js';
import { ErrorBanner, FormProblem } from '../components/ErrorBanner.js';
import { holdProblems } from '../hold-problems.js';
import { Checkbox, TextArea, TextField } from '../components/Fields.js';
import { Loading, Panel } from '../components/Page.js';
import { Time } from '../components/Time.js';
import { localInputToMs, shortHash } from '../format.js';
import { useAction, useResource } from '../hooks.js';
import { href } from '../router.js';
import { useHasRole, WHO } from '../session.js';

export function HoldsPanel() {
  const [showReleased, setShowReleased] = useState(false);
  const holds = useResource((s) => api.get<HoldsResponse>(`/api/v1/records/holds${query({ active: showReleased ? undefined : 'true' })}`, s), [showReleased]);
  const mayManage = useHasRole(WHO.manageRecords);
  const list = holds.data ? [...holds.data.holds].sort((a, b) => b.placedAt - a.placedAt) : [];
  return (
    <Panel title="Litigation holds" id="rec-holds" actions={<Checkbox label="Show released holds" checked={showReleased} onChange={setShowReleased} />}>
      <ErrorBanner error={holds.error} context="Could not load the holds" />
      {!holds.data && holds.loading ? <Loading what="holds" /> : null}
      {holds.data && list.length === 0 ? <p class="empty">{showReleased ? 'No holds.' : 'No active holds.'}</p> : null}
      {list.length > 0 ? (
        <div class="table-wrap">
          <table class="table holds">
            <thead>
              <tr>
                <th scope="col">Hold</th>
                <th scope="col">Reason</th>
                <th scope="col">Covers</th>
                <th scope="col">Placed</th>
                <th scope="col">Status</th>
                {mayManage ? (
                  <th scope="col">
                    <span class="vh">Actions</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {list.map((h) => (
                <HoldRow key={h.holdId} hold={h} mayManage={mayManage} onChanged={holds.reload} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {mayManage ? <PlaceHold onPlaced={holds.reload} /> : null}
    </Panel>
  );
}

function HoldRow({ hold: h, mayManage, onChanged }: { hold: HoldJson; mayManage: boolean; onChanged: () => void }) {
  const criteria = [
    h.manifestHash ? (
      <>
        clip{' '}
        <a href={href.clip(h.manifestHash)}>
          <code>{shortHash(h.manifestHash)}</code>
        </a>
      </>
    ) : null,
    h.deviceId ? <>device {h.deviceId}</> : null,
    h.officerId ? <>officer {h.officerId}</> : null,
    h.cameraSerial ? <>camera {h.cameraSerial}</> : null,
    h.fromAt !== null || h.toAt !== null ? (
      <>
        recorded or received <Time at={h.fromAt} none="any time" /> – <Time at={h.toAt} none="any time" />
      </>
    ) : null,
  ].filter((c) => c !== null);
  return (
    <tr data-hold-id={h.holdId}>
      <th scope="row">
        <code>{h.holdId}</code>
      </th>
      <td class="wrap">{h.reason}</td>
      <td class="wrap">
        {criteria.map((c, i) => (
          <span key={i}>
            {i > 0 ? '; ' : ''}
            {c}
          </span>
        ))}
      </td>
      <td>
        <Time at={h.placedAt} /> by {h.placedBy}
      </td>
      <td>
        {h.releasedAt === null ? (
          <strong>active</strong>
        ) : (
          <>
            released <Time at={h.releasedAt} />
          </>
        )}
      </td>
      {mayManage ? (
        <td class="actions-cell">
          {h.releasedAt === null ? (
            <ConfirmAction
              label="Release"
              confirmLabel="Release hold"
              prompt={<p>Release hold {h.holdId}? The records it covers become eligible for disposition again when they are due.</p>}
              reason={{ label: `Reason for releasing ${h.holdId}`, required: true }}
              onConfirm={async (reason) => {
                await api.post<HoldResponse>(`/api/v1/records/holds/${seg(h.holdId)}/release`, { reason });
                onChanged();
              }}
            />
          ) : null}
        </td>
      ) : null}
    </tr>
  );
}

interface HoldDraft {
  reason: string;
  holdId: string;
  manifestHash: string;
  deviceId: string;
  officerId: string;
  cameraSerial: string;
  from: string;
  to: string;
}

const EMPTY: HoldDraft = { reason: '', holdId: '', manifestHash: '', deviceId: '', officerId: '', cameraSerial: '', from: '', to: '' };

function toHoldInput(d: HoldDraft): HoldInput {
  const fromAt = localInputToMs(d.from);
  const toAt = localInputToMs(d.to);
  const text = (k: 'holdId' | 'manifestHash' | 'deviceId' | 'officerId' | 'cameraSerial') => (d[k].trim() ? { [k]: d[k].trim() } : {});
  return {
    reason: d.reason.trim(),
    ...text('holdId'),
    ...text('manifestHash'),
    ...text('deviceId'),
    ...text('officerId'),
    ...text('cameraSerial'),
    ...(fromAt !== null ? { fromAt } : {}),
    ...(toAt !== null ? { toAt } : {}),
  };
}

function PlaceHold({ onPlaced }: { onPlaced: () => void }) {
  const [d, setD] = useState<HoldDraft>(EMPTY);
  const [problems, setProblems] = useState<string[]>([]);
  const [placed, setPlaced] = useState<string | null>(null);
  const place = useAction((input: HoldInput) => api.post<HoldResponse>('/api/v1/records/holds', input));
  const set = (k: keyof HoldDraft) => (v: string) => setD((x) => ({ ...x, [k]: v }));

  const submit = async (e: Event) => {
    e.preventDefault();
    setPlaced(null);
    const input = toHoldInput(d);
    const found = holdProblems(input);
    setProblems(found);
    if (found.length) return;
    const r = await place.run(input);
    if (!r) return;
    setPlaced(r.value.hold.holdId);
    setD(EMPTY);
    onPlaced();
  };

  return (
    <form class="hold-form" onSubmit={(e) => void submit(e)} aria-labelledby="hold-h">
      <h3 id="hold-h">Place a hold</h3>
      <TextArea label="Reason" needed value={d.reason} onInput={set('reason')} hint="The matter, e.g. Doe v. Agency, 26-cv-0114" />
      <div class="form-grid">
        <TextField label="Hold id" value={d.holdId} onInput={set('holdId')} hint="Optional; the gateway makes one" />
        <TextField label="Manifest hash" value={d.manifestHash} onInput={set('manifestHash')} />
        <TextField label="Device" value={d.deviceId} onInput={set('deviceId')} />
        <TextField label="Officer" value={d.officerId} onInput={set('officerId')} />
        <TextField label="Camera" value={d.cameraSerial} onInput={set('cameraSerial')} />
        <TextField label="From" type="datetime-local" value={d.from} onInput={set('from')} />
        <TextField label="To" type="datetime-local" value={d.to} onInput={set('to')} />
      </div>
      <FormProblem message={problems} />
      <ErrorBanner error={place.error} context="The hold was not placed" />
      {placed ? (
        <p class="notice notice-ok" role="status">
          Placed hold {placed}.
        </p>
      ) : null}
      <div class="actions">
        <button type="submit" class="btn btn-primary" aria-disabled={place.busy}>
          {place.busy ? 'Placing…' : 'Place hold'}
        </button>
      </div>
    </form>
  );
}
