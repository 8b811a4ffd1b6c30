/**
 * Review (`#/review`, `#/review/:id`; DESIGN §6 "Review queue", 1061.2 §4.4): a supervisor's queue
 * of flagged recordings from the offices in their scope, and OPR's referrals. Waiting items come
 * first, oldest first. Selecting one shows the recording, the decision with its reasons and
 * clauses, the officer, camera and times, the clip's custody and the item's history, and the forms
 * to resolve it or refer it to OPR (a supervisor) or to close a referral (OPR), each with a note.
 * The gateway decides who may see and do what; the page offers only what it allows.
 */
import { useState } from 'preact/hooks';
import type {
  OprOutcome,
  ResolutionOutcome,
  ReviewDetailResponse,
  ReviewFlagKind,
  ReviewItemJson,
  ReviewListResponse,
  ReviewState,
} from '../../../api/types.js';
import { api, query } from '../api.js';
import { ClipStateBadge, VerdictBadge } from '../components/Badges.js';
import { ClipPlayer, isPlayable } from '../components/ClipPlayer.js';
import { DecisionView } from '../components/Decision.js';
import { ErrorBanner } from '../components/ErrorBanner.js';
import { FactList, SelectField, TextArea } from '../components/Fields.js';
import { Loading, Page, Panel } from '../components/Page.js';
import { RoleGate } from '../components/RoleGate.js';
import { Time } from '../components/Time.js';
import { useAction, useResource } from '../hooks.js';
import { useOnReconnect } from '../live.js';
import { href } from '../router.js';
import { WHO } from '../session.js';

type Item = ReviewDetailResponse['item'];

const KIND_TEXT: Record<ReviewFlagKind, string> = {
  UNAUTHORIZED: 'unauthorized',
  PROHIBITED: 'prohibited',
  UNCLASSIFIED: 'unclassified after the grace period',
  CLOCK_FLAGGED: 'clock flagged',
  GRANT_FILED_LATE: 'grant filed late',
};

const STATE_TEXT: Record<ReviewState, string> = {
  open: 'open',
  referred: 'referred to OPR',
  resolved: 'resolved',
  closed: 'closed by OPR',
  tagged_late: 'tagged late',
};

const RESOLUTIONS: readonly { value: ResolutionOutcome; label: string }[] = [
  { value: 'no_violation', label: 'No violation' },
  { value: 'counselled', label: 'Officer counselled' },
  { value: 'policy_clarified', label: 'Policy clarified' },
  { value: 'other', label: 'Other (say in the note)' },
];

const FINDINGS: readonly { value: OprOutcome; label: string }[] = [
  { value: 'sustained', label: 'Sustained' },
  { value: 'not_sustained', label: 'Not sustained' },
  { value: 'unfounded', label: 'Unfounded' },
  { value: 'exonerated', label: 'Exonerated' },
];

const FILTERS: readonly { value: string; label: string }[] = [
  { value: '', label: 'All (waiting first)' },
  ...(Object.keys(STATE_TEXT) as ReviewState[]).map((s) => ({ value: s, label: STATE_TEXT[s] })),
];

export function ReviewPage({ id }: { id: number | null }) {
  return (
    <Page title={id === null ? 'Review' : `Review item ${id}`}>
      <RoleGate roles={WHO.review} what="The review queue of flagged recordings">
        <Queue selected={id} />
        {id !== null ? <ItemView id={id} /> : null}
      </RoleGate>
    </Page>
  );
}

function StateBadge({ state }: { state: ReviewState }) {
  return (
    <>
      <span class={`badge review-${state}`}>{STATE_TEXT[state]}</span>{' '}
    </>
  );
}

function Queue({ selected }: { selected: number | null }) {
  const [state, setState] = useState('');
  const list = useResource((s) => api.get<ReviewListResponse>(`/api/v1/review${query({ state })}`, s), [state]);
  useOnReconnect(list.reload);
  const items = list.data?.items;
  return (
    <Panel
      title="Queue"
      id="review-queue"
      actions={
        <button type="button" class="btn" onClick={list.reload}>
          Refresh
        </button>
      }
    >
      <div class="filters">
        <SelectField label="State" value={state} onChange={setState} options={FILTERS} />
      </div>
      <ErrorBanner error={list.error} context="Could not load the review queue" />
      {!items && list.loading ? <Loading what="the review queue" /> : null}
      {items && items.length === 0 ? <p class="empty">Nothing to review{state ? ` in state ${STATE_TEXT[state as ReviewState]}` : ''}.</p> : null}
      {items && items.length > 0 ? (
        <div class="table-wrap">
          <table class="table review-queue">
            <thead>
              <tr>
                <th scope="col">Item</th>
                <th scope="col">State</th>
                <th scope="col">Why</th>
                <th scope="col">Officer</th>
                <th scope="col">Camera</th>
                <th scope="col">Clip</th>
                <th scope="col">Opened</th>
              </tr>
            </thead>
            <tbody>
              {items.map((i) => (
                <QueueRow key={i.id} item={i} selected={i.id === selected} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </Panel>
  );
}

function QueueRow({ item: i, selected }: { item: ReviewItemJson; selected: boolean }) {
  return (
    <tr class={selected ? 'selected' : undefined} aria-current={selected ? 'true' : undefined}>
      <th scope="row">
        <a href={href.review(i.id)}>#{i.id}</a>
      </th>
      <td>
        <StateBadge state={i.state} />
      </td>
      <td>{i.kinds.map((k) => KIND_TEXT[k]).join(', ')}</td>
      <td>
        {i.officerId || '—'}
        {i.offices.length ? <span class="muted"> ({i.offices.join(', ')})</span> : <span class="muted"> (no office)</span>}
      </td>
      <td>{i.cameraSerial || '—'}</td>
      <td>
        <code>{i.clipId || '—'}</code>
      </td>
      <td>
        <Time at={i.openedAt} compact />
      </td>
    </tr>
  );
}

function ItemView({ id }: { id: number }) {
  const detail = useResource((s) => api.get<ReviewDetailResponse>(`/api/v1/review/${id}`, s), [id]);
  const item = detail.data?.item;
  return (
    <>
      <ErrorBanner error={detail.error} context={`Could not load review item ${id}`} />
      {!item && detail.loading ? <Loading what={`review item ${id}`} /> : null}
      {item ? <ItemDetail item={item} onChanged={(next) => detail.update(() => ({ item: next }))} /> : null}
    </>
  );
}

function ItemDetail({ item: i, onChanged }: { item: Item; onChanged: (i: Item) => void }) {
  const c = i.custody;
  return (
    <div class="review-item">
      <Panel title={`Item #${i.id}: ${i.kinds.map((k) => KIND_TEXT[k]).join(', ')}`} id="review-item">
        <FactList
          items={[
            [
              'State',
              <>
                <StateBadge state={i.state} />
                {i.outcome && i.state !== 'tagged_late' ? <code>{i.outcome}</code> : null}
              </>,
            ],
            [
              'Officer',
              <>
                {i.officerId || '—'} <span class="muted">{i.offices.length ? `(office ${i.offices.join(', ')})` : '(no office on record)'}</span>
              </>,
            ],
            ['Camera', i.cameraSerial || '—'],
            ['Device', <a href={`#/devices/${encodeURIComponent(i.deviceId)}`}>{i.deviceId}</a>],
            ['Clip id', <code>{i.clipId || '—'}</code>],
            ['Recording started (claimed)', <Time at={c?.startedAt ?? null} />],
            ['Recording stopped (claimed)', <Time at={c?.endedAt ?? null} />],
            ['Opened', <Time at={i.openedAt} />],
            i.referredAt !== null
              ? [
                  'Referred to OPR',
                  <>
                    <Time at={i.referredAt} /> by {i.referredBy}
                  </>,
                ]
              : null,
            i.closedAt !== null
              ? [
                  i.state === 'tagged_late' ? 'Tagged late' : 'Closed',
                  <>
                    <Time at={i.closedAt} /> by {i.closedBy}
                  </>,
                ]
              : null,
          ]}
        />
        {i.own ? <p class="notice">This item is about your own recording: another supervisor acts on it.</p> : null}
      </Panel>
      <ReviewActions item={i} onChanged={onChanged} />
      {c && isPlayable(c.mediaType) ? (
        <Panel title="Recording" id="review-player">
          <ClipPlayer manifestHash={c.manifestHash} mediaType={c.mediaType} state={c.state} />
        </Panel>
      ) : null}
      <Panel title="Decision" id="review-decision">
        <DecisionView decision={i.decision} />
        <h3 class="h-small">Why it came here</h3>
        <ul class="review-reasons">
          {i.reasons.map((r) => (
            <li key={`${r.kind}-${r.decidedAt}`}>
              <strong>{KIND_TEXT[r.kind]}</strong> <VerdictBadge verdict={r.decision.decision} />{' '}
              <span class="muted">
                flagged <Time at={r.flaggedAt} />
              </span>
              <div class="reason-message">{r.message}</div>
            </li>
          ))}
        </ul>
      </Panel>
      <Panel title="Custody" id="review-custody">
        {c ? (
          <FactList
            items={[
              [
                'Manifest',
                <a href={href.clip(c.manifestHash)}>
                  <code class="hash">{c.manifestHash}</code>
                </a>,
              ],
              ['State', <ClipStateBadge state={c.state} />],
              ['Chain position', `seq ${c.seq} of ${i.deviceId}`],
              ['Previous manifest', <code class="hash">{c.prevHash || '(first)'}</code>],
              ['Content SHA-256', <code class="hash">{c.sha256}</code>],
              ['Received', <Time at={c.receivedAt} />],
              ['Verified', <Time at={c.verifiedAt} none="not yet" />],
              c.disposedBy ? ['Content disposed of', <code>{c.disposedBy}</code>] : null,
            ]}
          />
        ) : (
          <p class="empty">The gateway does not hold this clip's manifest yet: the dock has not offloaded it.</p>
        )}
      </Panel>
      <Panel title="History" id="review-history">
        <ol class="review-history">
          {i.history.map((s, n) => (
            <li key={n}>
              <Time at={s.at} /> <strong>{s.step.replace('_', ' ')}</strong> by <code>{s.actor}</code>
              {s.outcome ? (
                <>
                  {' '}
                  · <code>{s.outcome}</code>
                </>
              ) : null}
              {s.step === 'tagged_late' || s.step === 'tagged' ? (
                <>
                  {' '}
                  · tagged by {String(s.detail?.taggedBy ?? 'unknown')} at <Time at={Number(s.detail?.taggedAt)} />
                </>
              ) : null}
              {s.note ? <div class="review-note">{s.note}</div> : null}
            </li>
          ))}
        </ol>
      </Panel>
    </div>
  );
}

function ReviewActions({ item: i, onChanged }: { item: Item; onChanged: (i: Item) => void }) {
  if (i.actions.length === 0) return null;
  return (
    <Panel title={i.actions.includes('close') ? 'Close the referral' : 'Resolve or refer'} id="review-actions">
      {i.actions.includes('resolve') ? (
        <NoteForm
          id={i.id}
          action="resolve"
          title="Resolve"
          outcomes={RESOLUTIONS}
          button="Resolve"
          onChanged={onChanged}
          hint="1061.2 §4.4: what you found and any corrective action taken"
        />
      ) : null}
      {i.actions.includes('refer') ? (
        <NoteForm
          id={i.id}
          action="refer"
          title="Refer to OPR"
          outcomes={null}
          button="Refer to OPR"
          onChanged={onChanged}
          hint="The suspected violation, for OPR"
        />
      ) : null}
      {i.actions.includes('close') ? (
        <NoteForm
          id={i.id}
          action="close"
          title="OPR finding"
          outcomes={FINDINGS}
          button="Close referral"
          onChanged={onChanged}
          hint="The finding and its grounds"
        />
      ) : null}
    </Panel>
  );
}

interface NoteFormProps {
  id: number;
  action: 'resolve' | 'refer' | 'close';
  title: string;
  outcomes: readonly { value: string; label: string }[] | null;
  button: string;
  hint: string;
  onChanged: (i: Item) => void;
}

const NOTE_LABEL = { resolve: 'Resolution note', refer: 'Referral note', close: 'Finding note' } as const;

/** A note (always needed) and, for resolving and closing, an outcome; every problem is shown at once. */
function NoteForm(p: NoteFormProps) {
  const [outcome, setOutcome] = useState('');
  const [note, setNote] = useState('');
  const [problems, setProblems] = useState<string[]>([]);
  const send = useAction(async () => {
    const res = await api.post<ReviewDetailResponse>(`/api/v1/review/${p.id}/${p.action}`, {
      ...(p.outcomes ? { outcome } : {}),
      note: note.trim(),
    });
    p.onChanged(res.item);
  });
  const submit = (e: Event) => {
    e.preventDefault();
    const found: string[] = [];
    if (p.outcomes && !outcome) found.push(`Choose ${p.action === 'close' ? 'a finding' : 'an outcome'}.`);
    if (!note.trim()) found.push('Write a note: it is recorded with this step and in the audit log.');
    setProblems(found);
    if (found.length === 0) void send.run();
  };
  return (
    <form class={`review-form review-${p.action}`} onSubmit={submit} noValidate>
      <h3 class="h-small">{p.title}</h3>
      {p.outcomes ? (
        <SelectField
          label={p.action === 'close' ? 'Finding' : 'Outcome'}
          value={outcome}
          onChange={setOutcome}
          options={[{ value: '', label: 'Choose…' }, ...p.outcomes]}
        />
      ) : null}
      <TextArea label={NOTE_LABEL[p.action]} needed value={note} onInput={setNote} hint={p.hint} rows={3} />
      {problems.length ? (
        <div role="alert" class="alert alert-error">
          <ul class="form-problems">
            {problems.map((m) => (
              <li key={m}>{m}</li>
            ))}
          </ul>
        </div>
      ) : null}
      <ErrorBanner error={send.error} context={`Could not ${p.action} item ${p.id}`} />
      <div class="actions">
        <button type="submit" class={p.action === 'refer' ? 'btn' : 'btn btn-primary'} aria-disabled={send.busy}>
          {send.busy ? 'Saving…' : p.button}
        </button>
      </div>
    </form>
  );
}
