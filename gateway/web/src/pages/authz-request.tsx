/**
 * One authorization request: its §5.2 fields, the decision with the §5.3 factors the official
 * recorded, the grant and any revocation; and for the officials who may decide it, the approval
 * checklist, the denial and the revocation.
 */
import { useState } from 'preact/hooks';
import type { AuthzDecisionResponse, AuthzRequestJson, AuthzRequestResponse } from '../../../api/types.js';
import { hasAnyRole, inOffice } from '../../../api/roles.js';
import { FACTORS, categoryClause } from '../../../../proto/policy-vocab.js';
import { api, seg } from '../api.js';
import { RequestStateBadge } from '../components/Badges.js';
import { ConfirmAction } from '../components/Confirm.js';
import { ErrorBanner, FormProblem } from '../components/ErrorBanner.js';
import { Checkbox, FactList, TextArea, TextField } from '../components/Fields.js';
import { Time } from '../components/Time.js';
import { shortHash } from '../format.js';
import { useAction } from '../hooks.js';
import { useUser, WHO } from '../session.js';

type FactorCode = keyof typeof FACTORS;
const FACTOR_CODES = Object.keys(FACTORS) as FactorCode[];

function list(ids: readonly string[]): string {
  return ids.length ? ids.join(', ') : '—';
}

export function RequestCard({ request: r, onChanged }: { request: AuthzRequestJson; onChanged: (r: AuthzRequestJson) => void }) {
  const headingId = `req-${r.id}`;
  return (
    <article class={`request request-card-${r.state}`} data-request-id={r.id} aria-labelledby={headingId}>
      <header class="request-head">
        <h3 id={headingId}>{r.id}</h3>
        <RequestStateBadge state={r.state} />
        <span class="request-category">
          {r.category} <span class="clause">({categoryClause(r.category)})</span>
        </span>
      </header>
      <FactList
        items={[
          [
            'Requester',
            <>
              {r.requester}{' '}
              <span class="muted">
                (filed by {r.filedBy}, <Time at={r.filedAt} />)
              </span>
            </>,
          ],
          ['Office', r.office],
          ['Methods', r.methods.join(', ')],
          ['Reason', r.reason],
          ['Purpose', r.purpose],
          ['Minimization', r.minimization],
          [
            'Anticipated',
            <>
              <Time at={r.anticipated.from} /> – <Time at={r.anticipated.to} />, {r.anticipated.location}
            </>,
          ],
          ['Not before', <Time at={r.notBefore} />],
          ['Expires', <Time at={r.expiresAt} />],
          [
            'Scope',
            <>
              officers {list(r.scope.officers)}; cameras {list(r.scope.cameras)}; devices {list(r.scope.devices)}; offices {list(r.scope.offices)}
            </>,
          ],
          r.grant
            ? [
                'Grant',
                <>
                  {r.grant.id ?? 'no id'} · <code title={r.grant.hash}>{shortHash(r.grant.hash, 16)}</code>
                </>,
              ]
            : null,
          r.revocation
            ? [
                'Revoked',
                <>
                  <Time at={r.revocation.at} /> by {r.revocation.by ?? 'unknown'}: {r.revocation.reason ?? 'no reason given'} ·{' '}
                  <code title={r.revocation.hash}>{shortHash(r.revocation.hash, 16)}</code>
                </>,
              ]
            : null,
          r.contentDisposedBy ? ['Content disposed of', r.contentDisposedBy] : null,
        ]}
      />
      {r.decision ? <DecisionRecord decision={r.decision} state={r.state} /> : null}
      <RequestActions request={r} onChanged={onChanged} />
    </article>
  );
}

function DecisionRecord({ decision: d, state }: { decision: NonNullable<AuthzRequestJson['decision']>; state: AuthzRequestJson['state'] }) {
  const verb = state === 'DENIED' ? 'Denied' : 'Approved';
  return (
    <div class="request-decision">
      <p>
        <strong>{verb}</strong> <Time at={d.at} /> by {d.by ?? 'unknown'}
        {d.personId ? ` (${d.personId})` : ''}
        {d.role ? `, as ${d.role}` : ''}.{d.note ? <> Note: {d.note}</> : null}
      </p>
      {d.factorsConsidered && d.factorsConsidered.length > 0 ? (
        <details>
          <summary>Factors considered (1061.2 §5.3): {d.factorsConsidered.length}</summary>
          <ul class="factors">
            {d.factorsConsidered.map((f) => (
              <li key={f.factor}>
                {f.factor in FACTORS ? FACTORS[f.factor as FactorCode] : f.factor}
                {f.note ? (
                  <>
                    {' '}
                    — <em>{f.note}</em>
                  </>
                ) : null}
              </li>
            ))}
          </ul>
        </details>
      ) : null}
    </div>
  );
}

/**
 * Whether the signed-in official may act on this request: FROs within their offices only, HROs and
 * the Director on any; nobody approves or denies their own request except the Director (1061.2
 * §5.1). Revoking one's own request's grant is not barred: the gateway judges it.
 */
function useMayDecide(r: AuthzRequestJson): { role: boolean; own: boolean; inScope: boolean } {
  const user = useUser();
  const director = user.roles.includes('director');
  return {
    role: hasAnyRole(user, WHO.decideAuthz),
    own: !director && user.personId !== null && r.requester === user.personId,
    inScope: director || user.roles.includes('approver_hro') || inOffice(user, r.office),
  };
}

function RequestActions({ request: r, onChanged }: { request: AuthzRequestJson; onChanged: (r: AuthzRequestJson) => void }) {
  const may = useMayDecide(r);
  if (!may.role || (r.state !== 'PENDING' && r.state !== 'APPROVED')) return null;
  if (r.state === 'PENDING' && may.own) return <p class="notice">You cannot approve your own request (1061.2 §5.1)</p>;
  if (!may.inScope) return <p class="muted">Office {r.office} is not one of yours: an FRO of that office, an HRO or the Director decides it.</p>;
  if (r.state === 'PENDING') return <DecidePanel request={r} onChanged={onChanged} />;
  return (
    <div class="request-actions">
      <ConfirmAction
        label="Revoke"
        confirmLabel="Confirm revocation"
        danger
        prompt={<p>Revoke the grant of {r.id} from now on? Docks receive the signed revocation; recordings already made stay authorized.</p>}
        reason={{ label: 'Reason for revocation', required: true }}
        onConfirm={async (reason) => onChanged((await api.post<AuthzDecisionResponse>(`/api/v1/authz/requests/${seg(r.id)}/revoke`, { reason })).request)}
      />
    </div>
  );
}

function DecidePanel({ request: r, onChanged }: { request: AuthzRequestJson; onChanged: (r: AuthzRequestJson) => void }) {
  const [checked, setChecked] = useState<Partial<Record<FactorCode, boolean>>>({});
  const [notes, setNotes] = useState<Partial<Record<FactorCode, string>>>({});
  const [note, setNote] = useState('');
  const [denial, setDenial] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const count = FACTOR_CODES.filter((f) => checked[f]).length;
  const all = count === FACTOR_CODES.length;

  const approve = useAction(async () => {
    const factorsConsidered = FACTOR_CODES.map((factor) => ({ factor, note: (notes[factor] ?? '').trim() }));
    const res = await api.post<AuthzDecisionResponse>(`/api/v1/authz/requests/${seg(r.id)}/approve`, {
      factorsConsidered,
      note: note.trim(),
    });
    onChanged(res.request);
  });
  const deny = useAction(async () => {
    const res = await api.post<AuthzRequestResponse>(`/api/v1/authz/requests/${seg(r.id)}/deny`, { reason: denial.trim() });
    onChanged(res.request);
  });
  const doDeny = () => {
    if (denial.trim() === '') {
      setProblem('Give the reason for the denial: it is recorded with the decision.');
      return;
    }
    setProblem(null);
    void deny.run();
  };

  return (
    <div class="decide">
      <fieldset class="factors-check">
        <legend>
          Factors considered (1061.2 §5.3) — {count} of {FACTOR_CODES.length} checked
        </legend>
        {FACTOR_CODES.map((f) => (
          <div key={f} class="factor">
            <Checkbox label={FACTORS[f]} checked={checked[f] === true} onChange={(on) => setChecked((c) => ({ ...c, [f]: on }))} />
            <TextField
              label={`Note on ${FACTORS[f].split(' ')[0]}`}
              value={notes[f] ?? ''}
              onInput={(v) => setNotes((n) => ({ ...n, [f]: v }))}
              placeholder="optional"
            />
          </div>
        ))}
      </fieldset>
      <TextArea label="Decision note" value={note} onInput={setNote} hint="Recorded with the approval" />
      <ErrorBanner error={approve.error} context={`Could not approve ${r.id}`} />
      <div class="actions">
        <button
          type="button"
          class="btn btn-primary"
          disabled={!all}
          aria-disabled={approve.busy}
          onClick={() => void approve.run()}
          aria-describedby={all ? undefined : `approve-why-${r.id}`}
        >
          {approve.busy ? 'Approving…' : 'Approve'}
        </button>
        {all ? null : (
          <span id={`approve-why-${r.id}`} class="hint">
            Check all nine factors to approve.
          </span>
        )}
      </div>
      <div class="deny">
        <TextArea label="Reason for denial" needed value={denial} onInput={setDenial} />
        <FormProblem message={problem} />
        <ErrorBanner error={deny.error} context={`Could not deny ${r.id}`} />
        <div class="actions">
          <button type="button" class="btn btn-danger" aria-disabled={deny.busy} onClick={doDeny}>
            {deny.busy ? 'Denying…' : 'Deny'}
          </button>
        </div>
      </div>
    </div>
  );
}
