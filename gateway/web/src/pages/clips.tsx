/**
 * Clips (`#/clips`): search the manifests the gateway holds by device, camera, officer, decision,
 * category, custody state and date; new clips that match appear live.
 */
import { useState } from 'preact/hooks';
import type { ClipJson, ClipState, ClipsResponse, Verdict } from '../../../api/types.js';
import { VERDICTS } from '../../../api/types.js';
import { CATEGORIES, categoryClause } from '../../../../proto/policy-vocab.js';
import { api, query, type Query } from '../api.js';
import { ClipTable, upsertClip } from '../components/ClipTable.js';
import { ErrorBanner } from '../components/ErrorBanner.js';
import { SelectField, TextField } from '../components/Fields.js';
import { Loading, Page } from '../components/Page.js';
import { dateInputToMs } from '../format.js';
import { useAction, useResource } from '../hooks.js';
import { useLiveEvent, useOnReconnect } from '../live.js';

const LIMIT = 200;
const STATES: readonly ClipState[] = ['RECEIVED', 'VERIFIED', 'REJECTED'];

interface Search {
  device: string;
  camera: string;
  officer: string;
  decision: '' | Verdict;
  category: string;
  state: '' | ClipState;
  from: string;
  to: string;
}

const EMPTY: Search = { device: '', camera: '', officer: '', decision: '', category: '', state: '', from: '', to: '' };

function toQuery(s: Search): Query {
  return {
    device: s.device.trim(),
    camera: s.camera.trim(),
    officer: s.officer.trim(),
    decision: s.decision,
    category: s.category,
    state: s.state,
    from: dateInputToMs(s.from),
    to: dateInputToMs(s.to, true),
    limit: LIMIT,
  };
}

/** Whether a clip that arrived live belongs in the results of `s`. */
function matches(c: ClipJson, s: Search): boolean {
  const from = dateInputToMs(s.from);
  const to = dateInputToMs(s.to, true);
  const at = c.startedAt ?? c.receivedAt;
  return (
    (!s.device.trim() || c.deviceId === s.device.trim()) &&
    (!s.camera.trim() || c.cameraSerial === s.camera.trim()) &&
    (!s.officer.trim() || c.officerId === s.officer.trim()) &&
    (!s.decision || c.decision === s.decision) &&
    (!s.category || c.category === s.category) &&
    (!s.state || c.state === s.state) &&
    (from === null || at >= from) &&
    (to === null || at <= to)
  );
}

export function ClipsPage() {
  const [form, setForm] = useState<Search>(EMPTY);
  const [search, setSearch] = useState<Search>(EMPTY);
  const clips = useResource((s) => api.get<ClipsResponse>(`/api/v1/clips${query(toQuery(search))}`, s), [search]);
  useLiveEvent('clip', ({ clip }) => {
    clips.update((d) => {
      const known = d.clips.some((c) => c.manifestHash === clip.manifestHash);
      if (!known && !matches(clip, search)) return d;
      // A clip that no longer matches (verified while searching RECEIVED) leaves the list.
      if (known && !matches(clip, search)) return { clips: d.clips.filter((c) => c.manifestHash !== clip.manifestHash) };
      return { clips: upsertClip(d.clips, clip) };
    });
  });
  useOnReconnect(clips.reload);
  const [exhausted, setExhausted] = useState(false);
  // Older results: the same search, received before the oldest clip shown.
  const more = useAction(async () => {
    const shown = clips.data?.clips ?? [];
    const oldest = shown.reduce((min, c) => Math.min(min, c.receivedAt), Infinity);
    if (!Number.isFinite(oldest)) return;
    const r = await api.get<ClipsResponse>(`/api/v1/clips${query({ ...toQuery(search), before: oldest })}`);
    clips.update((d) => ({ clips: [...d.clips, ...r.clips.filter((c) => !d.clips.some((x) => x.manifestHash === c.manifestHash))] }));
    setExhausted(r.clips.length < LIMIT);
  });

  const set =
    <K extends keyof Search>(key: K) =>
    (value: string) =>
      setForm((f) => ({ ...f, [key]: value }));
  const submit = (e: Event) => {
    e.preventDefault();
    // A new object even for the same fields: searching again fetches again.
    setSearch({ ...form });
    setExhausted(false);
  };
  const reset = () => {
    setForm(EMPTY);
    setSearch(EMPTY);
    setExhausted(false);
  };
  const count = clips.data?.clips.length ?? 0;

  return (
    <Page title="Clips">
      <form class="search-form" onSubmit={submit} aria-label="Search clips">
        <div class="form-grid">
          <TextField label="Device" value={form.device} onInput={set('device')} />
          <TextField label="Camera" value={form.camera} onInput={set('camera')} />
          <TextField label="Officer" value={form.officer} onInput={set('officer')} />
          <SelectField label="Decision" value={form.decision} onChange={set('decision')} options={[{ value: '', label: 'any' }, ...VERDICTS]} />
          <SelectField
            label="Category"
            value={form.category}
            onChange={set('category')}
            options={[{ value: '', label: 'any' }, ...CATEGORIES.map((c) => ({ value: c, label: `${c} (${categoryClause(c)})` }))]}
          />
          <SelectField label="State" value={form.state} onChange={set('state')} options={[{ value: '', label: 'any' }, ...STATES]} />
          <TextField label="From date" type="date" value={form.from} onInput={set('from')} />
          <TextField label="To date" type="date" value={form.to} onInput={set('to')} />
        </div>
        <div class="actions">
          <button type="submit" class="btn btn-primary">
            Search
          </button>
          <button type="button" class="btn btn-quiet" onClick={reset}>
            Clear
          </button>
        </div>
      </form>
      <ErrorBanner error={clips.error} context="Could not search the clips" />
      {!clips.data && clips.loading ? <Loading what="clips" /> : null}
      {clips.data ? (
        <>
          <p class="muted" aria-live="polite">
            {count === 0 ? 'No clips match.' : `${count} clip${count === 1 ? '' : 's'}, newest first.`}
          </p>
          {count > 0 ? <ClipTable clips={clips.data.clips} caption="Clips found, newest first" /> : null}
          {count >= LIMIT && !exhausted ? (
            <div class="actions">
              <button type="button" class="btn" aria-disabled={more.busy} onClick={() => void more.run()}>
                {more.busy ? 'Loading…' : `Show ${LIMIT} older`}
              </button>
            </div>
          ) : null}
          <ErrorBanner error={more.error} context="Could not load older clips" />
        </>
      ) : null}
    </Page>
  );
}
