/**
 * A clip (`#/clips/:hash`): its manifest, the policy decision with reasons and clauses, its custody
 * step by step, and on demand the gateway's `bwc verify` report with the per-chunk map. Downloads:
 * the signed manifest (everyone), the content (records officers, auditors, supervisors, OPR) and a
 * BagIt export (records officers and auditors).
 */
import { useState } from 'preact/hooks';
import type { ClipDetailJson, ClipDetailResponse, ClipReportResponse } from '../../../api/types.js';
import { categoryClause } from '../../../../proto/policy-vocab.js';
import { api, seg } from '../api.js';
import { ClipStateBadge, VerdictBadge } from '../components/Badges.js';
import { ChunkMap } from '../components/ChunkMap.js';
import { ClipPlayer, isPlayable } from '../components/ClipPlayer.js';
import { DecisionView } from '../components/Decision.js';
import { ErrorBanner } from '../components/ErrorBanner.js';
import { FactList } from '../components/Fields.js';
import { Loading, Page, Panel } from '../components/Page.js';
import { Time } from '../components/Time.js';
import { CustodyTimeline } from '../components/Timeline.js';
import { base64ToBytes, saveBlob } from '../download.js';
import { formatBytes, formatCount, formatFingerprint } from '../format.js';
import { useAction, useResource } from '../hooks.js';
import { useLiveEvent, useOnReconnect } from '../live.js';
import { href } from '../router.js';
import { useHasRole, WHO } from '../session.js';

export function ClipPage({ manifestHash }: { manifestHash: string }) {
  const h = seg(manifestHash);
  const detail = useResource((s) => api.get<ClipDetailResponse>(`/api/v1/clips/${h}`, s), [h]);
  useLiveEvent('clip', ({ clip }) => {
    if (clip.manifestHash === manifestHash) detail.reload();
  });
  useOnReconnect(detail.reload);
  const clip = detail.data?.clip;

  return (
    <Page title={clip ? `Clip ${clip.clipId}` : 'Clip'}>
      <ErrorBanner error={detail.error} context="Could not load the clip" />
      {!detail.data && detail.loading ? <Loading what="the clip" /> : null}
      {clip ? <ClipDetail clip={clip} /> : null}
    </Page>
  );
}

/** "12 chunks: 3–5, 9–17" from ranges [start, end). */
function missing(ranges: ClipDetailJson['missingChunks']): string {
  const count = ranges.reduce((n, r) => n + (r.end - r.start), 0);
  const shown = ranges.slice(0, 20).map((r) => (r.end - r.start === 1 ? String(r.start) : `${r.start}–${r.end - 1}`));
  return `${formatCount(count)}: ${shown.join(', ')}${ranges.length > 20 ? ', …' : ''}`;
}

function ClipDetail({ clip: c }: { clip: ClipDetailJson }) {
  return (
    <>
      <Downloads clip={c} />
      <Player clip={c} />
      <Panel title="Manifest" id="clip-manifest">
        <FactList
          items={[
            ['Manifest hash', <code class="hash">{c.manifestHash}</code>],
            [
              'State',
              <>
                <ClipStateBadge state={c.state} />
                {c.rejectReason ? <> — {c.rejectReason}</> : null}
              </>,
            ],
            ['Clip id', c.clipId],
            ['Device', <a href={href.device(c.deviceId)}>{c.deviceId}</a>],
            ['Camera', c.cameraSerial],
            ['Officer', c.officerId || '—'],
            ['Sequence', String(c.seq)],
            ['Size', `${formatBytes(c.byteLength)} (${formatCount(c.byteLength)} bytes)`],
            ['Content SHA-256', <code class="hash">{c.sha256}</code>],
            ['Chunks', `${formatCount(c.chunkCount)} of ${formatBytes(c.chunkSize)}`],
            c.missingChunks.length ? ['Chunks not yet uploaded', missing(c.missingChunks)] : null,
            ['Media type', <code>{c.mediaType}</code>],
            [
              'Signing key (fingerprint)',
              <>
                <code class="fingerprint" title={`key id ${c.keyId}`}>
                  {formatFingerprint(c.keyId)}
                </code>{' '}
                <a href={href.device(c.deviceId)}>the dock's keys</a>
              </>,
            ],
            ['Previous manifest', <code class="hash">{c.prevHash}</code>],
            ['Decision', <VerdictBadge verdict={c.decision} />],
            [
              'Category',
              c.category ? (
                <>
                  {c.category} <span class="clause">({categoryClause(c.category)})</span>
                </>
              ) : (
                '—'
              ),
            ],
            ['Recording started (claimed)', <Time at={c.startedAt} />],
            ['Received', <Time at={c.receivedAt} />],
            ['Verified', <Time at={c.verifiedAt} none="not yet" />],
            ['Released by the camera', <Time at={c.releasedAt} none="not yet" />],
          ]}
        />
      </Panel>
      <Panel title="Decision" id="clip-decision">
        {c.decisionDetail ? <DecisionView decision={c.decisionDetail} /> : <p class="empty">The manifest carries no decision.</p>}
        {c.decisionHistory.length ? (
          <details class="decision-history" open>
            <summary>Earlier decisions ({c.decisionHistory.length}): replaced by the one above</summary>
            {c.decisionHistory.map((d) => (
              <DecisionView key={d.decidedAt} decision={d} compact />
            ))}
          </details>
        ) : null}
      </Panel>
      <Panel title="Custody" id="clip-custody">
        <CustodyTimeline steps={c.timeline} rejectReason={c.state === 'REJECTED' ? c.rejectReason : null} />
      </Panel>
      <Verification manifestHash={c.manifestHash} />
    </>
  );
}

function Downloads({ clip: c }: { clip: ClipDetailJson }) {
  const canDownload = useHasRole(WHO.downloadClip);
  const canExport = useHasRole(WHO.exportRecord);
  const h = seg(c.manifestHash);
  const bag = useAction(async () => {
    const { blob, filename } = await api.blob('POST', `/api/v1/records/clips/${h}/export`, `bwc-record-${c.manifestHash.slice(0, 16)}.tar`);
    saveBlob(blob, filename);
  });
  const manifest = () =>
    saveBlob(new Blob([base64ToBytes(c.manifestEnvelope)], { type: 'application/octet-stream' }), `${c.clipId || c.manifestHash}.manifest`);
  return (
    <div class="downloads">
      <button type="button" class="btn" onClick={manifest}>
        Download manifest
      </button>
      {canDownload ? (
        <a class="btn" href={`/api/v1/clips/${h}/content?download=1`} download="">
          Download clip
        </a>
      ) : null}
      {canExport ? (
        <button type="button" class="btn" aria-disabled={bag.busy} onClick={() => void bag.run()}>
          {bag.busy ? 'Exporting…' : 'Export BagIt'}
        </button>
      ) : null}
      <ErrorBanner error={bag.error} context="Could not export the record" />
    </div>
  );
}

/** The recording itself, beside its decision, for the roles that may read its content. */
function Player({ clip: c }: { clip: ClipDetailJson }) {
  const canView = useHasRole(WHO.downloadClip);
  if (!canView || !isPlayable(c.mediaType)) return null;
  return (
    <Panel title="Recording" id="clip-player">
      <ClipPlayer manifestHash={c.manifestHash} mediaType={c.mediaType} state={c.state} />
    </Panel>
  );
}

function Verification({ manifestHash }: { manifestHash: string }) {
  const verify = useAction(() => api.get<ClipReportResponse>(`/api/v1/clips/${seg(manifestHash)}/report`));
  const [result, setResult] = useState<ClipReportResponse | null>(null);
  const run = async () => {
    const r = await verify.run();
    if (r) setResult(r.value);
  };
  const report = result?.report;
  return (
    <Panel
      title="Verification"
      id="clip-verify"
      actions={
        <button type="button" class="btn btn-primary" aria-disabled={verify.busy} onClick={() => void run()}>
          {verify.busy ? 'Verifying…' : 'Verify now'}
        </button>
      }
    >
      <p class="muted">
        Runs <code>bwc verify</code> on the gateway against the content it holds and the device key it enrolled.
      </p>
      <ErrorBanner error={verify.error} context="Could not verify the clip" />
      <div aria-live="polite">
        {result && !report ? <p class="notice">No report: {result.why ?? 'the gateway holds no content for this clip.'}</p> : null}
        {report ? (
          <div class={`report report-${report.content}`}>
            <p class="report-summary">
              <strong>{report.summary}</strong>
            </p>
            <FactList
              items={[
                ['Verdict', report.verdict],
                ['Content', <span class={`badge content-${report.content}`}>{report.content}</span>],
                [
                  'Key',
                  <>
                    <span class={`badge key-${report.key}`}>{report.key}</span> {report.keyDetail}
                  </>,
                ],
                ['Signature', <span class={`badge sig-${report.signature}`}>{report.signature}</span>],
                ['Checked', <Time at={report.checkedAt} />],
              ]}
            />
            <h3>Chunks</h3>
            <ChunkMap report={report} />
            {report.problems.length > 0 ? (
              <>
                <h3>Problems</h3>
                <ul class="problems">
                  {report.problems.map((p, i) => (
                    <li key={i}>{p}</li>
                  ))}
                </ul>
              </>
            ) : (
              <p>No problems found.</p>
            )}
          </div>
        ) : null}
      </div>
    </Panel>
  );
}
