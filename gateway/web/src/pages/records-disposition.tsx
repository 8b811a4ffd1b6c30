/**
 * Disposition: the dry run lists exactly what is due and covered by no hold, with the hash an
 * execution must name; the gateway refuses the execution (409 ELIGIBLE_SET_CHANGED) if the list
 * changed since. Execution deletes the content and signs a statement of what went.
 */
import { useState } from 'preact/hooks';
import type { DispositionDryRun, DispositionExecuted } from '../../../api/types.js';
import { api } from '../api.js';
import { ConfirmAction } from '../components/Confirm.js';
import { ErrorBanner } from '../components/ErrorBanner.js';
import { FactList } from '../components/Fields.js';
import { Panel } from '../components/Page.js';
import { Time } from '../components/Time.js';
import { formatBytes, formatCount, shortHash } from '../format.js';
import { useAction } from '../hooks.js';
import { href } from '../router.js';
import { useHasRole, WHO } from '../session.js';

export function DispositionPanel({ onExecuted }: { onExecuted: () => void }) {
  const mayExecute = useHasRole(WHO.manageRecords);
  const [dry, setDry] = useState<DispositionDryRun | null>(null);
  const [done, setDone] = useState<DispositionExecuted | null>(null);
  const dryRun = useAction(() => api.get<DispositionDryRun>('/api/v1/records/disposition'));
  const run = async () => {
    setDone(null);
    const r = await dryRun.run();
    if (r) setDry(r.value);
  };

  return (
    <Panel
      title="Disposition"
      id="rec-disposition"
      actions={
        <button type="button" class="btn" aria-disabled={dryRun.busy} onClick={() => void run()}>
          {dryRun.busy ? 'Running…' : 'Dry run'}
        </button>
      }
    >
      <p class="muted">
        A dry run changes nothing: it lists the verified clips and authorization paperwork that are due under a temporary schedule and covered by no active
        hold.
      </p>
      <ErrorBanner error={dryRun.error} context="Could not run the dry run" />
      {dry ? <DryRunView dry={dry} /> : null}
      {dry && mayExecute && (dry.items.length > 0 || dry.paperwork.length > 0) ? (
        <ConfirmAction
          label="Execute disposition"
          confirmLabel="Dispose of these records"
          danger
          prompt={
            <p>
              Delete the content of the {formatCount(dry.items.length)} clips ({formatBytes(dry.bytes)}) and {formatCount(dry.paperwork.length)} paperwork
              records listed above (list <code>{shortHash(dry.hash, 16)}</code>)? Manifests and their signatures are kept; this cannot be undone.
            </p>
          }
          reason={{ label: 'Reason for the disposition', required: false }}
          onConfirm={async (reason) => {
            const r = await api.post<DispositionExecuted>('/api/v1/records/dispositions', { hash: dry.hash, reason });
            setDone(r);
            setDry(null);
            onExecuted();
          }}
        />
      ) : null}
      {done ? <ExecutedView done={done} /> : null}
    </Panel>
  );
}

function DryRunView({ dry }: { dry: DispositionDryRun }) {
  const kept = Object.entries(dry.kept).sort(([a], [b]) => a.localeCompare(b));
  return (
    <div class="dryrun" data-testid="disposition-dryrun">
      <p>
        As of <Time at={dry.asOf} />: {formatCount(dry.items.length)} clip{dry.items.length === 1 ? '' : 's'} ({formatBytes(dry.bytes)}) and{' '}
        {formatCount(dry.paperwork.length)} paperwork record{dry.paperwork.length === 1 ? '' : 's'} are due for disposition.
      </p>
      <FactList items={[['List hash', <code class="hash">{dry.hash}</code>]]} />
      {dry.items.length > 0 ? (
        <div class="table-wrap">
          <table class="table">
            <caption>Clips</caption>
            <thead>
              <tr>
                <th scope="col">Manifest</th>
                <th scope="col">Schedule</th>
                <th scope="col">Due</th>
                <th scope="col" class="num">
                  Size
                </th>
              </tr>
            </thead>
            <tbody>
              {dry.items.map((i) => (
                <tr key={i.manifestHash} data-manifest-hash={i.manifestHash}>
                  <th scope="row">
                    <a href={href.clip(i.manifestHash)}>
                      <code>{shortHash(i.manifestHash, 16)}</code>
                    </a>
                  </th>
                  <td>{i.schedule}</td>
                  <td>
                    <Time at={i.dueAt} />
                  </td>
                  <td class="num">{formatBytes(i.byteLength)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {dry.paperwork.length > 0 ? (
        <div class="table-wrap">
          <table class="table">
            <caption>Authorization paperwork</caption>
            <thead>
              <tr>
                <th scope="col">Request</th>
                <th scope="col">Kind</th>
                <th scope="col">Schedule</th>
                <th scope="col">Due</th>
              </tr>
            </thead>
            <tbody>
              {dry.paperwork.map((p) => (
                <tr key={p.requestId}>
                  <th scope="row">
                    <code>{p.requestId}</code>
                  </th>
                  <td>{p.kind}</td>
                  <td>{p.schedule}</td>
                  <td>
                    <Time at={p.dueAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {dry.items.length === 0 && dry.paperwork.length === 0 ? <p class="empty">Nothing is due for disposition.</p> : null}
      <h3 class="h-small">Records kept, by status</h3>
      {kept.length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        <ul class="kept">
          {kept.map(([status, n]) => (
            <li key={status}>
              {status}: {n}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function ExecutedView({ done }: { done: DispositionExecuted }) {
  return (
    <div class="notice notice-ok" role="status">
      <p>
        <strong>Disposition {done.dispositionId} executed.</strong>
      </p>
      <FactList
        items={[
          ['Records disposed of', formatCount(done.records)],
          ['Content files deleted', formatCount(done.blobsDeleted.length)],
          ['Content files kept', done.blobsKept.length ? `${formatCount(done.blobsKept.length)} (still named by other manifests)` : '0'],
          ['List hash', <code class="hash">{done.listHash}</code>],
          ['Signed by key', <code>{done.signature.keyId}</code>],
          ['Audit entry', `#${done.auditSeq}`],
        ]}
      />
    </div>
  );
}
