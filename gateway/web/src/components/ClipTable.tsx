/**
 * A list of clips: one row per manifest, linking to its clip page. Clip, time, officer, Decision
 * and State always show; the other columns give way on narrower screens (style.css).
 */
import type { ClipJson } from '../../../api/types.js';
import { categoryClause } from '../../../../proto/policy-vocab.js';
import { formatBytes, shortHash } from '../format.js';
import { href } from '../router.js';
import { ClipStateBadge, VerdictBadge } from './Badges.js';
import { Time } from './Time.js';
import { CompactTimeline } from './Timeline.js';

/** Newest first; a live update replaces the row with the same manifest hash. */
export function upsertClip(list: readonly ClipJson[], clip: ClipJson): ClipJson[] {
  return [clip, ...list.filter((c) => c.manifestHash !== clip.manifestHash)].sort((a, b) => b.receivedAt - a.receivedAt);
}

export function ClipTable({ clips, caption, showDevice = true }: { clips: readonly ClipJson[]; caption: string; showDevice?: boolean }) {
  return (
    <div class="table-wrap">
      <table class="table clips">
        <caption class="vh">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Clip</th>
            <th scope="col">Recorded</th>
            <th scope="col" class="col-wide">
              Received
            </th>
            {showDevice ? (
              <th scope="col" class="col-mid">
                Device
              </th>
            ) : null}
            <th scope="col" class="col-mid">
              Camera
            </th>
            <th scope="col">Officer</th>
            <th scope="col">Decision</th>
            <th scope="col" class="col-wide">
              Category
            </th>
            <th scope="col">State</th>
            <th scope="col" class="num col-wide">
              Size
            </th>
            <th scope="col" class="col-wide">
              Custody
            </th>
          </tr>
        </thead>
        <tbody>
          {clips.map((c) => (
            <tr key={c.manifestHash} data-manifest-hash={c.manifestHash}>
              <th scope="row" class="id-cell">
                <a href={href.clip(c.manifestHash)} title={`manifest ${c.manifestHash}`}>
                  {c.clipId || shortHash(c.manifestHash)}
                </a>
                <div class="sub">
                  <code>{shortHash(c.manifestHash, 10)}</code>
                </div>
              </th>
              <td>
                <Time at={c.startedAt} compact />
              </td>
              <td class="col-wide">
                <Time at={c.receivedAt} compact />
              </td>
              {showDevice ? (
                <td class="col-mid id-cell">
                  <a href={href.device(c.deviceId)}>{c.deviceId}</a>
                </td>
              ) : null}
              <td class="col-mid id-cell">{c.cameraSerial}</td>
              <td>{c.officerId || <span class="muted">—</span>}</td>
              <td>
                <VerdictBadge verdict={c.decision} />
              </td>
              <td class="col-wide">
                {c.category ? (
                  <>
                    {c.category} <span class="clause">({categoryClause(c.category)})</span>
                  </>
                ) : (
                  <span class="muted">—</span>
                )}
              </td>
              <td>
                <ClipStateBadge state={c.state} />
                {c.rejectReason ? <div class="sub">{c.rejectReason}</div> : null}
              </td>
              <td class="num col-wide">{formatBytes(c.byteLength)}</td>
              <td class="col-wide">
                <CompactTimeline clip={c} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
