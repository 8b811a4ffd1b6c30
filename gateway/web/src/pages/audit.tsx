/**
 * Audit (`#/audit`, 1061.2 §6): the gateway's hash-chained audit log, page by page in sequence
 * order, filtered by subject on the gateway and by action or actor here; "Verify chain" has the
 * gateway recompute every link and check the signed checkpoints.
 */
import { useState } from 'preact/hooks';
import type { AuditEntriesResponse, AuditVerifyResponse } from '../../../api/types.js';
import { api, query } from '../api.js';
import { ErrorBanner } from '../components/ErrorBanner.js';
import { TextField } from '../components/Fields.js';
import { Loading, Page, Panel } from '../components/Page.js';
import { RoleGate } from '../components/RoleGate.js';
import { Time } from '../components/Time.js';
import { formatCount, shortHash, summarize } from '../format.js';
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
    <Panel title="Chain verification" id="audit-verify" actions={
      <button type="button" class="btn btn-primary" aria-disabled={verify.busy} onClick={() => void run()}>{verify.busy ? 'Verifying…' : 'Verify chain'}</button>
    }>
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
              Intact through entry {result.intactThrough}; head <code title={result.head}>{shortHash(result.head, 16)}</code>;
              {' '}{result.checkpoints.verified} of {result.checkpoints.given} checkpoints verified
              {result.checkpoints.newest ? <> (newest: {formatCount(result.checkpoints.newest.entryCount)} entries, <Time at={result.checkpoints.newest.at} />, {result.checkpoints.newest.source})</> : null};
              {' '}checked <Time at={result.checkedAt} /> in {result.ms} ms.
            </p>
            {result.problems.length > 0 ? <><h3 class="h-small">Problems</h3><ul class="problems">{result.problems.map((p, i) => <li key={i}>{p}</li>)}</ul></> : null}
            {result.warnings.length > 0 ? <><h3 class="h-small">Warnings</h3><ul class="warnings">{result.warnings.map((w, i) => <li key={i}>{w}</li>)}</ul></> : null}
          </>
        ) : <p class="muted">Not verified in this session yet.</p>}
      </div>
    </Panel>
  );
}

function Entries() {
  const [subjectInput, setSubjectInput] = useState('');
  const [fromInput, setFromInput] = useState('');
  const [filter, setFilter] = useState('');
  const [page, setPage] = useState<{ from: number; subject: string; back: number[] }>({ from: 1, subject: '', back: [] });
  const entries = useResource(
    (s) => api.get<AuditEntriesResponse>(`/api/v1/audit/entries${query({ from: page.from, limit: PAGE, subject: page.subject })}`, s),
    [page.from, page.subject],
  );
  const data = entries.data;
  const f = filter.trim().toLowerCase();
  const shown = (data?.entries ?? []).filter((e) => !f || e.action.toLowerCase().includes(f) || e.actor.toLowerCase().includes(f));
  const lastSeq = data?.entries[data.entries.length - 1]?.seq;
  const headSeq = data?.head?.seq ?? 0;

  const apply = (e: Event) => {
    e.preventDefault();
    const from = Number.parseInt(fromInput, 10);
    setPage({ from: Number.isFinite(from) && from >= 1 ? from : 1, subject: subjectInput.trim(), back: [] });
  };
  // While a page loads, the buttons wait (they page from the entries on screen).
  const next = () => !entries.loading && lastSeq !== undefined && setPage((p) => ({ ...p, from: lastSeq + 1, back: [...p.back, p.from] }));
  const previous = () => !entries.loading && setPage((p) => {
    const back = [...p.back];
    const from = back.pop() ?? Math.max(1, p.from - PAGE);
    return { ...p, from, back };
  });
  const newest = () => !entries.loading && setPage((p) => ({ ...p, from: Math.max(1, headSeq - PAGE + 1), back: [...p.back, p.from] }));

  return (
    <Panel title="Entries" id="audit-entries" actions={<a class="btn" href="/api/v1/audit/export" download="">Export log (NDJSON)</a>}>
      <form class="toolbar" onSubmit={apply} aria-label="Audit filters">
        <TextField label="Subject" value={subjectInput} onInput={setSubjectInput} hint="Exact subject, e.g. a request id or manifest hash" />
        <TextField label="From seq" type="number" inputMode="numeric" value={fromInput} onInput={setFromInput} />
        <button type="submit" class="btn">Apply</button>
        <TextField label="Filter by action or actor" type="search" value={filter} onInput={setFilter} hint="On this page only" />
      </form>
      <ErrorBanner error={entries.error} context="Could not load the audit log" />
      {!data && entries.loading ? <Loading what="audit entries" /> : null}
      {data ? (
        <>
          <nav class="pager" aria-label="Audit log pages">
            <button type="button" class="btn btn-small" disabled={page.from <= 1} aria-disabled={entries.loading} onClick={previous}>Previous</button>
            <span class="muted" aria-live="polite">
              {data.entries.length ? `Entries ${data.entries[0]!.seq}–${lastSeq}` : 'No entries'} of {formatCount(headSeq)}{page.subject ? ` (subject ${page.subject})` : ''}
              {f ? `; ${shown.length} match the filter` : ''}
            </span>
            <button type="button" class="btn btn-small" disabled={data.entries.length < PAGE} aria-disabled={entries.loading} onClick={next}>Next</button>
            <button type="button" class="btn btn-small btn-quiet" disabled={lastSeq === headSeq} aria-disabled={entries.loading} onClick={newest}>Newest</button>
          </nav>
          {shown.length === 0 ? <p class="empty">No entries{f ? ' match the filter on this page' : ''}.</p> : (
            <div class="table-wrap">
              <table class="table audit">
                <thead>
                  <tr><th scope="col" class="num">Seq</th><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Subject</th><th scope="col">Detail</th><th scope="col">Hash</th></tr>
                </thead>
                <tbody>
                  {shown.map((e) => (
                    <tr key={e.seq}>
                      <th scope="row" class="num">{e.seq}</th>
                      <td><Time at={e.at} compact /></td>
                      <td>{e.actor}</td>
                      <td><code>{e.action}</code></td>
                      <td class="wrap"><code>{e.subject}</code></td>
                      <td class="wrap detail" title={summarize(e.detail, 2000)}>{summarize(e.detail)}</td>
                      <td><code title={e.hash}>{shortHash(e.hash, 12)}</code></td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      ) : null}
    </Panel>
  );
}
