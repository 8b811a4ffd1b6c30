/**
 * Audit (`#/audit`, 1061.2 §6): the gateway's hash-chained audit log, newest first, each entry read
 * as a sentence (who did what to which clip, device, request or person, when; the wording is
 * gateway/api/audit-sentences.ts) with its raw JSON a click away. The filters — user, kind of
 * action, subject, time range — are applied by the gateway. "Verify chain" has the gateway
 * recompute every link and check the signed checkpoints.
 */
import { useState } from 'preact/hooks';
import type { AuditEntryJson, AuditSearchResponse, AuditVerifyResponse } from '../../../api/types.js';
import { auditSentence } from '../../../api/audit-sentences.js';
import { api, query } from '../api.js';
import { ErrorBanner } from '../components/ErrorBanner.js';
import { SelectField, TextField } from '../components/Fields.js';
import { Loading, Page, Panel } from '../components/Page.js';
import { RoleGate } from '../components/RoleGate.js';
import { Time } from '../components/Time.js';
import { formatCount, localInputToMs, shortHash } from '../format.js';
import { useAction, useResource } from '../hooks.js';
import { WHO } from '../session.js';

const PAGE = 100;

export function AuditPage() {
  return (
    <Page title="Audit">
      <RoleGate roles={WHO.readAudit} what="The audit log and its verification">
        <VerifyChain />
        <Entries />
      </RoleGate>
    </Page>
  );
}

function VerifyChain() {
  const verify = useAction(() => api.post<AuditVerifyResponse>('/api/v1/audit/verify'));
  const [result, setResult] = useState<AuditVerifyResponse | null>(null);
  const run = async () => {
    const r = await verify.run();
    if (r) setResult(r.value);
  };
  return (
    <Panel
      title="Chain verification"
      id="audit-verify"
      actions={
        <button type="button" class="btn btn-primary" aria-disabled={verify.busy} onClick={() => void run()}>
          {verify.busy ? 'Verifying…' : 'Verify chain'}
        </button>
      }
    >
      <ErrorBanner error={verify.error} context="Could not verify the chain" />
      <div data-testid="verify-result" aria-live="polite" class={result ? (result.ok ? 'verify verify-ok' : 'verify verify-broken') : 'verify'}>
        {result ? (
          <>
            <p class="verify-headline">
              <span aria-hidden="true">{result.ok ? '✓ ' : '✗ '}</span>
              {result.ok
                ? `Chain intact: ${result.entries} entries, ${result.checkpoints.verified} checkpoints verified`
                : result.firstBroken
                  ? `Chain broken at entry ${result.firstBroken.seq}: ${result.firstBroken.reason}`
                  : `Chain not verified: ${result.problems[0] ?? 'see the problems below'}`}
            </p>
            <p class="muted">
              Intact through entry {result.intactThrough}; head <code title={result.head}>{shortHash(result.head, 16)}</code>
              {'; '}
              {result.checkpoints.verified} of {result.checkpoints.given} checkpoints verified
              {result.checkpoints.newest ? (
                <>
                  {' '}
                  (newest: {formatCount(result.checkpoints.newest.entryCount)} entries, <Time at={result.checkpoints.newest.at} />,{' '}
                  {result.checkpoints.newest.source})
                </>
              ) : null}
              {'; '}checked <Time at={result.checkedAt} /> in {result.ms} ms.
            </p>
            {result.problems.length > 0 ? (
              <>
                <h3 class="h-small">Problems</h3>
                <ul class="problems">
                  {result.problems.map((p, i) => (
                    <li key={i}>{p}</li>
                  ))}
                </ul>
              </>
            ) : null}
            {result.warnings.length > 0 ? (
              <>
                <h3 class="h-small">Warnings</h3>
                <ul class="warnings">
                  {result.warnings.map((w, i) => (
                    <li key={i}>{w}</li>
                  ))}
                </ul>
              </>
            ) : null}
          </>
        ) : (
          <p class="muted">Not verified in this session yet.</p>
        )}
      </div>
    </Panel>
  );
}

/** The kinds of action, as the gateway groups them (the part of an action before its dot). */
const KINDS: readonly { value: string; label: string }[] = [
  { value: '', label: 'Any action' },
  { value: 'auth', label: 'Sign-ins and sign-outs (auth)' },
  { value: 'user', label: 'Changes to users (user)' },
  { value: 'token', label: 'API tokens (token)' },
  { value: 'clip', label: 'Clips: viewing, download, ingest (clip)' },
  { value: 'records', label: 'Records: holds, disposition, export (records)' },
  { value: 'authz', label: 'Authorization requests (authz)' },
  { value: 'policy', label: 'Policy bundles (policy)' },
  { value: 'device', label: 'Devices (device)' },
  { value: 'camera', label: 'Cameras (camera)' },
  { value: 'alert', label: 'Alerts (alert)' },
  { value: 'api', label: 'API requests (api)' },
];

/** "2026-11-02 14:03", local time: how a sentence says when. */
function sentenceTime(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

interface Filters {
  user: string;
  action: string;
  subject: string;
  since: string;
  until: string;
}
const NO_FILTERS: Filters = { user: '', action: '', subject: '', since: '', until: '' };

function Entries() {
  const [input, setInput] = useState<Filters>(NO_FILTERS);
  const [applied, setApplied] = useState<Filters>(NO_FILTERS);
  // Newest first: a page is the entries below `before` (undefined: from the head), and `back` the pages above.
  const [page, setPage] = useState<{ before: number | undefined; back: (number | undefined)[] }>({ before: undefined, back: [] });
  const entries = useResource(
    (s) =>
      api.get<AuditSearchResponse>(
        `/api/v1/audit/entries${query({
          order: 'desc',
          limit: PAGE,
          before: page.before,
          user: applied.user,
          action: applied.action,
          subject: applied.subject,
          since: localInputToMs(applied.since),
          until: localInputToMs(applied.until),
        })}`,
        s,
      ),
    [page.before, applied],
  );
  const data = entries.data;
  const oldestSeq = data?.entries[data.entries.length - 1]?.seq;
  const headSeq = data?.head?.seq ?? 0;
  const filtered = Object.values(applied).some((v) => v !== '');
  const set = (k: keyof Filters) => (v: string) => setInput((f) => ({ ...f, [k]: v }));

  const apply = (e: Event) => {
    e.preventDefault();
    setApplied({ ...input, user: input.user.trim(), subject: input.subject.trim() });
    setPage({ before: undefined, back: [] });
  };
  const clear = () => {
    setInput(NO_FILTERS);
    setApplied(NO_FILTERS);
    setPage({ before: undefined, back: [] });
  };
  // While a page loads, the buttons wait (they page from the entries on screen).
  const older = () => !entries.loading && oldestSeq !== undefined && setPage((p) => ({ before: oldestSeq, back: [...p.back, p.before] }));
  const newer = () =>
    !entries.loading &&
    setPage((p) => {
      const back = [...p.back];
      return { before: back.pop(), back };
    });

  return (
    <Panel
      title="Entries"
      id="audit-entries"
      actions={
        <a class="btn" href="/api/v1/audit/export" download="">
          Export log (NDJSON)
        </a>
      }
    >
      <form class="toolbar" onSubmit={apply} aria-label="Audit filters">
        <TextField label="User" value={input.user} onInput={set('user')} hint="Entries by or about this username" />
        <SelectField label="Action" value={input.action} onChange={set('action')} options={KINDS} />
        <TextField label="Subject" value={input.subject} onInput={set('subject')} hint="Exact: a manifest hash, device id, request id, user:name" />
        <TextField label="From" type="datetime-local" value={input.since} onInput={set('since')} />
        <TextField label="Until" type="datetime-local" value={input.until} onInput={set('until')} />
        <button type="submit" class="btn">
          Apply
        </button>
        {filtered ? (
          <button type="button" class="btn btn-quiet" onClick={clear}>
            Clear filters
          </button>
        ) : null}
      </form>
      <ErrorBanner error={entries.error} context="Could not load the audit log" />
      {!data && entries.loading ? <Loading what="audit entries" /> : null}
      {data ? (
        <>
          <nav class="pager" aria-label="Audit log pages">
            <button type="button" class="btn btn-small" disabled={page.back.length === 0} aria-disabled={entries.loading} onClick={newer}>
              Newer
            </button>
            <span class="muted" aria-live="polite">
              {data.entries.length ? `Entries ${data.entries[0]!.seq}–${oldestSeq}` : 'No entries'} of {formatCount(headSeq)}
              {filtered ? ' matching the filters' : ''}
            </span>
            <button type="button" class="btn btn-small" disabled={data.entries.length < PAGE} aria-disabled={entries.loading} onClick={older}>
              Older
            </button>
          </nav>
          {data.entries.length === 0 ? (
            <p class="empty">No entries{filtered ? ' match the filters' : ''}.</p>
          ) : (
            <ol class="audit-entries" reversed>
              {data.entries.map((e) => (
                <EntryRow key={e.seq} entry={e} context={data.context} />
              ))}
            </ol>
          )}
        </>
      ) : null}
    </Panel>
  );
}

function EntryRow({ entry, context }: { entry: AuditEntryJson; context: AuditSearchResponse['context'] }) {
  return (
    <li class="audit-entry" data-seq={entry.seq} value={entry.seq}>
      <p class="audit-sentence">
        <span class="audit-seq muted">#{entry.seq}</span> {auditSentence(entry, { context, time: sentenceTime })}
      </p>
      <details class="audit-raw">
        <summary>
          Raw entry <code class="muted">{entry.action}</code> <Time at={entry.at} compact /> <code title={entry.hash}>{shortHash(entry.hash, 12)}</code>
        </summary>
        <pre>{JSON.stringify(entry, null, 2)}</pre>
      </details>
    </li>
  );
}
