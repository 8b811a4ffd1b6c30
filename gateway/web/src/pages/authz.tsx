/**
 * Authorizations (`#/authz`, 1061.2 §5): filing requests, the queue of requests with their
 * decisions (for an approving official, the queue with its pending requests comes first), and the
 * policy bundle. Live: an `authz` event fetches the request that changed.
 */
import { useState } from 'preact/hooks';
import type { AuthzRequestJson, AuthzRequestResponse, AuthzRequestsResponse, RequestState } from '../../../api/types.js';
import { api, query, seg, toApiError } from '../api.js';
import { ErrorBanner } from '../components/ErrorBanner.js';
import { SelectField } from '../components/Fields.js';
import { Loading, Page, Panel } from '../components/Page.js';
import { RoleGate } from '../components/RoleGate.js';
import { useResource } from '../hooks.js';
import { useLiveEvent, useOnReconnect } from '../live.js';
import { useHasRole, WHO } from '../session.js';
import { NewRequestForm } from './authz-new.js';
import { RequestCard } from './authz-request.js';
import { PolicyBundlePanel } from './policy-bundle.js';

const STATES: readonly RequestState[] = ['PENDING', 'APPROVED', 'DENIED', 'REVOKED'];

/** Pending first (they need someone), then the most recently filed. */
function order(requests: readonly AuthzRequestJson[]): AuthzRequestJson[] {
  return [...requests].sort((a, b) => Number(b.state === 'PENDING') - Number(a.state === 'PENDING') || b.filedAt.localeCompare(a.filedAt));
}

export function AuthzPage() {
  return (
    <Page title="Authorizations">
      <RoleGate roles={WHO.readAuthz} what="Recording authorization requests">
        <Requests />
      </RoleGate>
      <PolicyBundlePanel />
    </Page>
  );
}

function Requests() {
  const mayFile = useHasRole(WHO.fileAuthz);
  const mayDecide = useHasRole(WHO.decideAuthz);
  const [state, setState] = useState<'' | RequestState>('');
  const requests = useResource((s) => api.get<AuthzRequestsResponse>(`/api/v1/authz/requests${query({ state })}`, s), [state]);
  const [liveError, setLiveError] = useState<ReturnType<typeof toApiError> | null>(null);

  const upsert = (r: AuthzRequestJson) =>
    requests.update((d) => {
      const rest = d.requests.filter((x) => x.id !== r.id);
      return { requests: state && r.state !== state ? rest : [...rest, r] };
    });
  useLiveEvent('authz', ({ id }) => {
    api.get<AuthzRequestResponse>(`/api/v1/authz/requests/${seg(id)}`).then(
      (r) => upsert(r.request),
      (e: unknown) => {
        const err = toApiError(e);
        // Not visible to this user (another office's request): nothing to show.
        if (err.status === 404) requests.update((d) => ({ requests: d.requests.filter((x) => x.id !== id) }));
        else setLiveError(err);
      },
    );
  });
  useOnReconnect(requests.reload);
  const list = requests.data ? order(requests.data.requests) : [];

  const form = mayFile ? (
    <Panel title="New request" id="authz-new">
      <NewRequestForm onFiled={upsert} />
    </Panel>
  ) : null;
  const pending = list.filter((r) => r.state === 'PENDING').length;
  const queue = (
    <Panel
      title={mayDecide ? 'Requests to decide and filed' : 'Requests'}
      id="authz-queue"
      actions={
        <SelectField label="State" value={state} onChange={(v) => setState(v as '' | RequestState)} options={[{ value: '', label: 'all' }, ...STATES]} />
      }
    >
      {mayDecide && requests.data ? (
        <p class="muted" aria-live="polite">
          {pending === 0 ? 'Nothing is waiting for a decision.' : `${pending} pending, shown first.`}
        </p>
      ) : null}
      <ErrorBanner error={requests.error} context="Could not load the requests" />
      <ErrorBanner error={liveError} context="Could not fetch a request that changed" />
      {!requests.data && requests.loading ? <Loading what="requests" /> : null}
      {requests.data && list.length === 0 ? <p class="empty">No requests{state ? ` in state ${state}` : ''}.</p> : null}
      <div class="requests">
        {list.map((r) => (
          <RequestCard key={r.id} request={r} onChanged={upsert} />
        ))}
      </div>
    </Panel>
  );

  // An approving official's work is the queue: it comes first, the form for their own requests after.
  return mayDecide ? (
    <>
      {queue}
      {form}
    </>
  ) : (
    <>
      {form}
      {queue}
    </>
  );
}
