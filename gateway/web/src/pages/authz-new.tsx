/**
 * Filing a recording-authorization request: every field 1061.2 §5.2 asks a written request to
 * articulate. The form lists every missing field with its clause before sending; the gateway checks
 * again and names every problem it finds, and those are shown as they come.
 */
import { useState } from 'preact/hooks';
import type { AuthzRequestInput, AuthzRequestJson, AuthzRequestResponse, AuthzScope } from '../../../api/types.js';
import { CATEGORIES, categoryClause } from '../../../../proto/policy-vocab.js';
import { api } from '../api.js';
import { ErrorBanner, FormProblem } from '../components/ErrorBanner.js';
import { Checkbox, SelectField, TextArea, TextField } from '../components/Fields.js';
import { localInputToMs, splitIds } from '../format.js';
import { useAction } from '../hooks.js';
import { useUser } from '../session.js';

type Method = AuthzRequestInput['methods'][number];
const METHODS: readonly [Method, string][] = [
  ['video', 'Video'],
  ['audio', 'Audio'],
  ['photo', 'Photo'],
];

interface Draft {
  category: string;
  office: string;
  reason: string;
  purpose: string;
  methods: Method[];
  minimization: string;
  from: string;
  to: string;
  location: string;
  expiresAt: string;
  notBefore: string;
  officers: string;
  cameras: string;
  devices: string;
  offices: string;
}

const EMPTY: Draft = {
  category: 'prior_authorization',
  office: '',
  reason: '',
  purpose: '',
  methods: [],
  minimization: '',
  from: '',
  to: '',
  location: '',
  expiresAt: '',
  notBefore: '',
  officers: '',
  cameras: '',
  devices: '',
  offices: '',
};

/** A datetime-local value as ISO 8601; '' when empty, for the gateway to name as missing. */
function iso(value: string): string {
  const ms = localInputToMs(value);
  return ms === null ? '' : new Date(ms).toISOString();
}

export function toRequestInput(d: Draft): AuthzRequestInput {
  const scope: Partial<AuthzScope> = {};
  for (const k of ['officers', 'cameras', 'devices', 'offices'] as const) {
    const ids = splitIds(d[k]);
    if (ids.length) scope[k] = ids;
  }
  return {
    category: d.category,
    ...(d.office.trim() ? { office: d.office.trim() } : {}),
    reason: d.reason.trim(),
    purpose: d.purpose.trim(),
    methods: d.methods,
    minimization: d.minimization.trim(),
    anticipated: { from: iso(d.from), to: iso(d.to), location: d.location.trim() },
    expiresAt: iso(d.expiresAt),
    ...(d.notBefore ? { notBefore: iso(d.notBefore) } : {}),
    ...(Object.keys(scope).length ? { scope } : {}),
  };
}

/**
 * Everything missing from a draft, all at once, each with its clause (1061.2 §5.2). The gateway
 * checks again, and names every problem it finds too.
 */
export function draftProblems(d: Draft): string[] {
  const problems: string[] = [];
  const need = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
  };
  need(d.reason.trim() !== '', 'Reason is required (1061.2 §5.2(1)).');
  need(d.purpose.trim() !== '', 'Purpose is required (1061.2 §5.2(1)).');
  need(d.methods.length > 0, 'Choose at least one method (1061.2 §5.2(2)).');
  need(d.minimization.trim() !== '', 'Minimization is required (1061.2 §5.2(3)).');
  need(localInputToMs(d.from) !== null, 'Anticipated from is required (1061.2 §5.2(4)).');
  need(localInputToMs(d.to) !== null, 'Anticipated to is required (1061.2 §5.2(4)).');
  need(d.location.trim() !== '', 'Location is required (1061.2 §5.2(4)).');
  need(localInputToMs(d.expiresAt) !== null, 'Expires at is required (1061.2 §5.2(5)).');
  const from = localInputToMs(d.from);
  const to = localInputToMs(d.to);
  if (from !== null && to !== null && to < from) problems.push('Anticipated to is before Anticipated from.');
  return problems;
}

export function NewRequestForm({ onFiled }: { onFiled: (request: AuthzRequestJson) => void }) {
  const user = useUser();
  const [d, setD] = useState<Draft>(EMPTY);
  const [filed, setFiled] = useState<AuthzRequestJson | null>(null);
  const [problems, setProblems] = useState<string[]>([]);
  // The scope defaults to the requester alone; its four fields open on demand.
  const [scoped, setScoped] = useState(false);
  const file = useAction(() => api.post<AuthzRequestResponse>('/api/v1/authz/requests', toRequestInput(d)));
  const set =
    <K extends keyof Draft>(k: K) =>
    (v: Draft[K]) =>
      setD((x) => ({ ...x, [k]: v }));
  const toggle = (m: Method, on: boolean) => setD((x) => ({ ...x, methods: on ? [...x.methods.filter((y) => y !== m), m] : x.methods.filter((y) => y !== m) }));

  const submit = async (e: Event) => {
    e.preventDefault();
    setFiled(null);
    const found = draftProblems(d);
    setProblems(found);
    if (found.length > 0) return;
    const r = await file.run();
    if (!r) return;
    setFiled(r.value.request);
    setD(EMPTY);
    setScoped(false);
    onFiled(r.value.request);
  };

  return (
    <form class="authz-form" onSubmit={(e) => void submit(e)} aria-label="New request">
      <p class="muted">Fields marked * are required by 1061.2 §5.2. Times are in your local time zone.</p>
      <div class="form-grid form-grid-wide">
        <SelectField
          label="Category"
          value={d.category}
          onChange={set('category')}
          options={CATEGORIES.map((c) => ({ value: c, label: `${c} (${categoryClause(c)})` }))}
        />
        <TextField
          label="Office"
          value={d.office}
          onInput={set('office')}
          hint={user.offices[0] ? `Default: ${user.offices[0]}, your first office` : 'Decides which FRO may approve'}
        />
      </div>
      <TextArea label="Reason" needed value={d.reason} onInput={set('reason')} hint="§5.2(1): the reason for the request" />
      <TextArea label="Purpose" needed value={d.purpose} onInput={set('purpose')} hint="§5.2(1): the purpose of the recording sought" />
      <fieldset class="methods">
        <legend>
          Methods{' '}
          <span class="req" aria-hidden="true">
            *
          </span>{' '}
          <span class="hint">§5.2(2)</span>
        </legend>
        {METHODS.map(([m, label]) => (
          <Checkbox key={m} label={label} checked={d.methods.includes(m)} onChange={(on) => toggle(m, on)} />
        ))}
      </fieldset>
      <TextArea
        label="Minimization"
        needed
        value={d.minimization}
        onInput={set('minimization')}
        hint="§5.2(3): how ambient communications, sensitive information and unaware individuals are kept out"
      />
      <div class="form-grid">
        <TextField label="Anticipated from" needed type="datetime-local" value={d.from} onInput={set('from')} hint="§5.2(4)" />
        <TextField label="Anticipated to" needed type="datetime-local" value={d.to} onInput={set('to')} hint="§5.2(4)" />
        <TextField label="Location" needed value={d.location} onInput={set('location')} hint="§5.2(4)" />
        <TextField label="Expires at" needed type="datetime-local" value={d.expiresAt} onInput={set('expiresAt')} hint="§5.2(5)" />
        <TextField label="Not before" type="datetime-local" value={d.notBefore} onInput={set('notBefore')} hint="Optional: when the grant starts" />
      </div>
      <fieldset class="scope">
        <legend>
          Scope <span class="hint">§5.2(2): who and what may record</span>
        </legend>
        {scoped ? (
          <>
            <p class="hint">Comma-separated ids. Fields left empty do not narrow the scope.</p>
            <div class="form-grid">
              <TextField label="Officers" value={d.officers} onInput={set('officers')} />
              <TextField label="Cameras" value={d.cameras} onInput={set('cameras')} />
              <TextField label="Devices" value={d.devices} onInput={set('devices')} />
              <TextField label="Offices" value={d.offices} onInput={set('offices')} />
            </div>
            <button
              type="button"
              class="btn btn-small btn-quiet"
              aria-expanded="true"
              onClick={() => {
                setScoped(false);
                setD((x) => ({ ...x, officers: '', cameras: '', devices: '', offices: '' }));
              }}
            >
              Use the default scope
            </button>
          </>
        ) : (
          <p>
            The requester alone, with any camera and dock.{' '}
            <button type="button" class="btn btn-small" aria-expanded="false" onClick={() => setScoped(true)}>
              Set a scope
            </button>
          </p>
        )}
      </fieldset>
      <FormProblem message={problems} />
      <ErrorBanner error={file.error} context="The request was not filed" />
      {filed ? (
        <p class="notice notice-ok" role="status">
          Filed request <strong>{filed.id}</strong>: {filed.state}. It appears in the list below.
        </p>
      ) : null}
      <div class="actions">
        <button type="submit" class="btn btn-primary" aria-disabled={file.busy}>
          {file.busy ? 'Filing…' : 'File request'}
        </button>
      </div>
    </form>
  );
}
