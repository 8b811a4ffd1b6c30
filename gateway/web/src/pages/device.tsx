/**
 * A dock (`#/devices/:id`): its state and keys, the cameras last seen on it, its clips with their
 * custody, and the signed events it sent, including each policy decision with its reasons and the
 * clauses they rest on. Operators decommission a dock here (the gateway refuses while any of its
 * clips is not verified).
 */
import type {
  CamerasResponse,
  ChainGapJson,
  ClipsResponse,
  DecommissionResponse,
  DeviceDetailResponse,
  DeviceEventJson,
  DeviceEventsResponse,
  DeviceJson,
} from '../../../api/types.js';
import { alertWords } from '../alert-words.js';
import { api, query, seg } from '../api.js';
import { DeviceStateBadge } from '../components/Badges.js';
import { ClipTable, upsertClip } from '../components/ClipTable.js';
import { ConfirmAction } from '../components/Confirm.js';
import { DecisionView } from '../components/Decision.js';
import { ErrorBanner } from '../components/ErrorBanner.js';
import { FactList } from '../components/Fields.js';
import { KeyFingerprint } from '../components/KeyFingerprint.js';
import { Loading, Page, Panel } from '../components/Page.js';
import { Time } from '../components/Time.js';
import { formatBytes, formatCount, formatDuration } from '../format.js';
import { useNow, useResource } from '../hooks.js';
import { useLiveEvent, useOnReconnect } from '../live.js';
import { useHasRole, WHO } from '../session.js';
import { CameraTable } from './cameras.js';
import { clockText } from './fleet.js';

export function DevicePage({ deviceId }: { deviceId: string }) {
  const id = seg(deviceId);
  const detail = useResource((s) => api.get<DeviceDetailResponse>(`/api/v1/devices/${id}`, s), [id]);
  const cameras = useResource((s) => api.get<CamerasResponse>('/api/v1/cameras', s), []);
  const clips = useResource((s) => api.get<ClipsResponse>(`/api/v1/clips${query({ device: deviceId, limit: 200 })}`, s), [deviceId]);
  const events = useResource((s) => api.get<DeviceEventsResponse>(`/api/v1/devices/${id}/events?limit=200`, s), [id]);
  const canOperate = useHasRole(WHO.operate);

  useLiveEvent('devices', ({ devices }) => {
    const mine = devices.find((d) => d.deviceId === deviceId);
    if (mine) detail.update((d) => ({ ...d, device: mine }));
  });
  useLiveEvent('clip', ({ clip }) => {
    if (clip.deviceId === deviceId) clips.update((d) => ({ clips: upsertClip(d.clips, clip) }));
  });
  useOnReconnect(() => {
    detail.reload();
    cameras.reload();
    clips.reload();
    events.reload();
  });

  const device = detail.data?.device;
  const docked = (cameras.data?.cameras ?? []).filter((c) => c.lastDock === deviceId);

  return (
    <Page
      title={`Device ${deviceId}`}
      actions={
        device && canOperate && device.status !== 'decommissioned' ? (
          <ConfirmAction
            label="Decommission"
            confirmLabel="Confirm decommission"
            danger
            prompt={
              <p>
                Decommission <strong>{deviceId}</strong>? Its keys stop being accepted and it cannot sync again without a new enrollment. The gateway refuses
                while any of its clips is not verified.
              </p>
            }
            onConfirm={async () => {
              await api.post<DecommissionResponse>(`/api/v1/devices/${id}/decommission`);
              detail.reload();
            }}
          />
        ) : null
      }
    >
      <ErrorBanner error={detail.error} context={`Could not load device ${deviceId}`} />
      {!detail.data && detail.loading ? <Loading what="the device" /> : null}
      {device ? <DeviceFacts device={device} /> : null}
      {detail.data ? (
        <Panel title="Keys" id="dev-keys">
          {detail.data.keys.length === 0 ? (
            <p class="empty">No keys on record.</p>
          ) : (
            <div class="table-wrap">
              <table class="table">
                <thead>
                  <tr>
                    <th scope="col">Fingerprint (key id)</th>
                    <th scope="col">Valid from</th>
                    <th scope="col">Revoked</th>
                  </tr>
                </thead>
                <tbody>
                  {detail.data.keys.map((k) => (
                    <tr key={k.keyId}>
                      <td class="wrap">
                        <KeyFingerprint keyId={k.keyId} publicKey={k.publicKey} label={`${deviceId}'s key`} />
                      </td>
                      <td>
                        <Time at={k.validFrom} />
                      </td>
                      <td>{k.revokedAt === null ? <span class="muted">no</span> : <Time at={k.revokedAt} />}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Panel>
      ) : null}
      {detail.data && detail.data.chainGaps.length > 0 ? <ChainGaps gaps={detail.data.chainGaps} /> : null}
      <Panel title="Cameras" id="dev-cameras">
        <ErrorBanner error={cameras.error} context="Could not load the cameras" />
        {cameras.data ? (
          docked.length === 0 ? (
            <p class="empty">No camera was last seen on this dock.</p>
          ) : (
            <CameraTable cameras={docked} onChanged={cameras.reload} />
          )
        ) : cameras.error ? null : (
          <Loading what="cameras" />
        )}
      </Panel>
      <Panel title="Clips" id="dev-clips">
        <ErrorBanner error={clips.error} context="Could not load the clips" />
        {clips.data ? (
          clips.data.clips.length === 0 ? (
            <p class="empty">No clips from this dock.</p>
          ) : (
            <>
              <ClipTable clips={clips.data.clips} caption={`Clips from ${deviceId}, newest first`} showDevice={false} />
              {clips.data.clips.length >= 200 ? <p class="muted">The newest 200 clips; the Clips page searches all of them.</p> : null}
            </>
          )
        ) : clips.error ? null : (
          <Loading what="clips" />
        )}
      </Panel>
      <Panel title="Events and decisions" id="dev-events">
        <ErrorBanner error={events.error} context="Could not load the events" />
        {events.data ? <EventTable events={events.data.events} /> : events.error ? null : <Loading what="events" />}
      </Panel>
    </Page>
  );
}

function DeviceFacts({ device: d }: { device: DeviceJson }) {
  const now = useNow();
  const s = d.state;
  return (
    <Panel title="State" id="dev-state">
      <FactList
        items={[
          ['State', <DeviceStateBadge device={d} />],
          ['Last seen', <Time at={d.lastSeen} relativeTo={now} none="never" />],
          ['Fleet', d.fleet],
          [
            'Enrolled',
            <>
              <Time at={d.enrolledAt} /> by {d.enrolledBy}
            </>,
          ],
          d.decommissionedAt !== null ? ['Decommissioned', <Time at={d.decommissionedAt} />] : null,
          ['Agent version', d.agentVersion ?? '—'],
          ['Firmware', d.firmware ?? '—'],
          ['Policy version', d.policyVersion ?? '—'],
          ['Outbox', s ? `${formatCount(s.outboxDepth)} messages, ${formatBytes(s.outboxBytes)}` : formatCount(d.outboxDepth)],
          ['Storage free', formatBytes(d.storageFree)],
          ['Clock', clockText(d)],
          ['Open alerts', d.alertsOpen > 0 ? <a href="#/alerts">{formatCount(d.alertsOpen)}</a> : '0'],
          s ? ['Clips not verified', formatCount(s.clipsUnverified)] : null,
          s ? ['CPU temperature', s.cpuTemperatureC === null ? '—' : `${s.cpuTemperatureC.toFixed(1)} °C`] : null,
          s ? ['Uptime', formatDuration(s.uptimeS)] : null,
          s ? ['Status reported', <Time at={s.statusAt} relativeTo={now} />] : null,
          ['Session sequence', d.bdSeq ?? '—'],
          ['Cameras seen', d.cameras.length ? d.cameras.join(', ') : 'none'],
        ]}
      />
    </Panel>
  );
}

function EventTable({ events }: { events: readonly DeviceEventJson[] }) {
  if (events.length === 0) return <p class="empty">No events from this dock.</p>;
  const sorted = [...events].sort((a, b) => b.seq - a.seq);
  return (
    <div class="table-wrap">
      <table class="table events">
        <caption class="vh">Signed events from the dock, newest first</caption>
        <thead>
          <tr>
            <th scope="col" class="num">
              Seq
            </th>
            <th scope="col">Kind</th>
            <th scope="col">Occurred (claimed)</th>
            <th scope="col">Received</th>
            <th scope="col">Camera</th>
            <th scope="col">Clip</th>
            <th scope="col">Officer</th>
            <th scope="col">Details</th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((e) => (
            <tr key={e.hash}>
              <td class="num">{e.seq}</td>
              <th scope="row">
                <code>{e.kind}</code>
              </th>
              <td>
                <Time at={e.occurredAt} compact />
              </td>
              <td>
                <Time at={e.receivedAt} compact />
              </td>
              <td>{e.cameraSerial ?? <span class="muted">—</span>}</td>
              <td>
                {e.manifestHash ? (
                  <a href={`#/clips/${e.manifestHash}`}>{e.clipId ?? e.manifestHash.slice(0, 12)}</a>
                ) : (
                  (e.clipId ?? <span class="muted">—</span>)
                )}
              </td>
              <td>{e.officerId ?? <span class="muted">—</span>}</td>
              <td class="wrap details-cell">
                {e.decision ? <DecisionView decision={e.decision} compact /> : null}
                {e.tamper ? (
                  <p>
                    <strong>Tamper:</strong> {alertWords(`TAMPER_KIND_${e.tamper.toUpperCase()}`)} <code class="code-aside">{e.tamper}</code>
                  </p>
                ) : null}
                {e.alert ? (
                  <p>
                    <strong>Alert:</strong> {alertWords(e.alert)} <code class="code-aside">{e.alert}</code>
                  </p>
                ) : null}
                {e.detail ? <p>{e.detail}</p> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Manifests the gateway is missing from this dock's chain, how long, and how often it asked. */
function ChainGaps({ gaps }: { gaps: ChainGapJson[] }) {
  const now = useNow();
  return (
    <Panel title="Chain gaps" id="dev-gaps">
      <p class="muted">
        Manifests missing from this dock's chain. The gateway asks the dock to resend them, waiting twice as long after each request (at most an hour).
      </p>
      <div class="table-wrap">
        <table class="table">
          <thead>
            <tr>
              <th scope="col">Manifests</th>
              <th scope="col">Missing for</th>
              <th scope="col">Requests</th>
              <th scope="col">Last asked</th>
              <th scope="col">Next</th>
            </tr>
          </thead>
          <tbody>
            {gaps.map((g) => (
              <tr key={`${g.fromSeq}-${g.toSeq}`}>
                <th scope="row">{g.fromSeq === g.toSeq ? `seq ${g.fromSeq}` : `seq ${g.fromSeq}–${g.toSeq}`}</th>
                <td>{formatDuration(Math.max(0, Math.floor((now - g.firstSeenAt) / 1000)))}</td>
                <td>{formatCount(g.requests)}</td>
                <td>{g.lastRequestAt === null ? <span class="muted">not yet</span> : <Time at={g.lastRequestAt} />}</td>
                <td>
                  <Time at={g.nextRequestAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Panel>
  );
}
