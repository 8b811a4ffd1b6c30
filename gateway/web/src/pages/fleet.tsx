/**
 * Fleet (`#/fleet`): every dock in one table, searchable, filterable and sortable, kept current
 * by the live `devices` event. Only the rows in view are in the DOM (a fixed row height and
 * @tanstack/virtual-core), so ten thousand docks scroll as smoothly as ten.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { DeviceJson } from '../../../api/types.js';
import { DeviceStateBadge, deviceState, type DeviceState } from '../components/Badges.js';
import { ErrorBanner } from '../components/ErrorBanner.js';
import { SelectField, TextField } from '../components/Fields.js';
import { Loading, Page } from '../components/Page.js';
import { SortHeader, nextSort, type SortDir } from '../components/SortHeader.js';
import { Time } from '../components/Time.js';
import { useFleet } from '../devices.js';
import { formatBytes, formatCount } from '../format.js';
import { useNow } from '../hooks.js';
import { href } from '../router.js';
import { useVirtualRows } from '../virtual.js';

/** Pixel heights the stylesheet gives `.fleet-table` rows and its header (style.css). */
const ROW_HEIGHT = 40;
const HEAD_HEIGHT = 44;

type Column =
  | 'deviceId'
  | 'state'
  | 'lastSeen'
  | 'storageFree'
  | 'agentVersion'
  | 'firmware'
  | 'policyVersion'
  | 'outboxDepth'
  | 'alertsOpen'
  | 'clock'
  | 'cameras';
type StateFilter = 'all' | DeviceState;

const STATE_RANK: Record<DeviceState, number> = { online: 0, offline: 1, decommissioned: 2 };

/** The value a column sorts by; null sorts last in either direction. */
function sortValue(d: DeviceJson, c: Column): string | number | null {
  switch (c) {
    case 'deviceId':
      return d.deviceId;
    case 'state':
      return STATE_RANK[deviceState(d)];
    case 'lastSeen':
      return d.lastSeen;
    case 'storageFree':
      return d.storageFree;
    case 'agentVersion':
      return d.agentVersion;
    case 'firmware':
      return d.firmware;
    case 'policyVersion':
      return d.policyVersion;
    case 'outboxDepth':
      return d.outboxDepth;
    case 'alertsOpen':
      return d.alertsOpen;
    case 'clock':
      return d.clockSynced === null ? null : d.clockSynced ? Math.abs(d.clockOffsetMs ?? 0) : Number.MAX_SAFE_INTEGER;
    case 'cameras':
      return d.cameras.length;
  }
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

export function selectDevices(devices: readonly DeviceJson[], search: string, state: StateFilter, sort: { column: Column; dir: SortDir }): DeviceJson[] {
  const q = search.trim().toLowerCase();
  const rows = devices.filter((d) => {
    if (state !== 'all' && deviceState(d) !== state) return false;
    if (!q) return true;
    return d.deviceId.toLowerCase().includes(q) || (d.agentVersion ?? '').toLowerCase().includes(q) || d.cameras.some((c) => c.toLowerCase().includes(q));
  });
  const sign = sort.dir === 'ascending' ? 1 : -1;
  return rows.sort((a, b) => {
    const x = sortValue(a, sort.column);
    const y = sortValue(b, sort.column);
    if (x === null || y === null) return x === y ? collator.compare(a.deviceId, b.deviceId) : x === null ? 1 : -1;
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : collator.compare(String(x), String(y));
    return c !== 0 ? sign * c : collator.compare(a.deviceId, b.deviceId);
  });
}

export function clockText(d: DeviceJson): string {
  if (d.clockSynced === null) return 'unknown';
  const off = d.clockOffsetMs ?? 0;
  const offset = Math.abs(off) >= 1000 ? `${(off / 1000).toFixed(1)} s` : `${off} ms`;
  return `${d.clockSynced ? 'synced' : 'NOT synced'} (${off > 0 ? '+' : ''}${offset})`;
}

const HEADERS: readonly [Column, string, string?][] = [
  ['deviceId', 'Device'],
  ['state', 'State'],
  ['lastSeen', 'Last seen'],
  ['storageFree', 'Storage free', 'num'],
  ['agentVersion', 'Agent'],
  ['firmware', 'Firmware'],
  ['policyVersion', 'Policy', 'num'],
  ['outboxDepth', 'Outbox', 'num'],
  ['alertsOpen', 'Alerts', 'num'],
  ['clock', 'Clock'],
  ['cameras', 'Cameras'],
];

export function FleetPage() {
  const fleet = useFleet();
  const now = useNow(15_000);
  const [search, setSearch] = useState('');
  const [state, setState] = useState<StateFilter>('all');
  const [sort, setSort] = useState<{ column: Column; dir: SortDir }>({ column: 'deviceId', dir: 'ascending' });
  const rows = useMemo(() => selectDevices(fleet.devices, search, state, sort), [fleet.devices, search, state, sort]);

  const scrollRef = useRef<HTMLDivElement>(null);
  const virtual = useVirtualRows({ count: rows.length, rowHeight: ROW_HEIGHT, scrollRef, paddingStart: HEAD_HEIGHT, overscan: 10 });
  useEffect(() => {
    if (scrollRef.current) scrollRef.current.scrollTop = 0;
  }, [search, state, sort]);

  const items = virtual.getVirtualItems();
  const first = items[0];
  const last = items[items.length - 1];
  const padTop = first ? first.start - HEAD_HEIGHT : 0;
  const padBottom = last ? virtual.getTotalSize() - last.end : 0;

  return (
    <Page title="Fleet">
      <div class="toolbar">
        <TextField label="Search devices" type="search" value={search} onInput={setSearch} hint="Device id, agent version or camera serial" />
        <SelectField
          label="State"
          value={state}
          onChange={(v) => setState(v as StateFilter)}
          options={[
            { value: 'all', label: 'all' },
            { value: 'online', label: 'online' },
            { value: 'offline', label: 'offline' },
            { value: 'decommissioned', label: 'decommissioned' },
          ]}
        />
      </div>
      <p class="muted count-note" aria-live="polite">
        {fleet.loaded ? `Showing ${formatCount(rows.length)} of ${formatCount(fleet.devices.length)} devices` : ''}
      </p>
      <ErrorBanner error={fleet.error} context="Could not load the devices" />
      {!fleet.loaded && fleet.loading ? <Loading what="devices" /> : null}
      <section class="table-wrap vscroll" ref={scrollRef} tabIndex={0} aria-label="Devices table">
        <table class="table fleet-table" aria-rowcount={rows.length + 1}>
          <thead>
            <tr aria-rowindex={1}>
              {HEADERS.map(([c, label, cls]) => (
                <SortHeader
                  key={c}
                  column={c}
                  label={label}
                  sort={sort}
                  onSort={(col) => setSort(nextSort(sort, col))}
                  class={`col-${c}${cls ? ` ${cls}` : ''}`}
                />
              ))}
            </tr>
          </thead>
          <tbody>
            {padTop > 0 ? (
              <tr class="spacer">
                <td colSpan={HEADERS.length} style={{ height: `${padTop}px` }} />
              </tr>
            ) : null}
            {items.map((item) => {
              const d = rows[item.index];
              return d ? <DeviceRow key={d.deviceId} device={d} index={item.index} now={now} /> : null;
            })}
            {padBottom > 0 ? (
              <tr class="spacer">
                <td colSpan={HEADERS.length} style={{ height: `${padBottom}px` }} />
              </tr>
            ) : null}
          </tbody>
        </table>
        {fleet.loaded && rows.length === 0 ? (
          <p class="empty">{fleet.devices.length === 0 ? 'No devices are enrolled yet.' : 'No devices match the search and filter.'}</p>
        ) : null}
      </section>
    </Page>
  );
}

function DeviceRow({ device: d, index, now }: { device: DeviceJson; index: number; now: number }) {
  return (
    <tr data-device-id={d.deviceId} aria-rowindex={index + 2} class="vrow">
      <th scope="row">
        <a href={href.device(d.deviceId)}>{d.deviceId}</a>
      </th>
      <td>
        <DeviceStateBadge device={d} />
      </td>
      <td>
        <Time at={d.lastSeen} relativeTo={now} none="never" />
      </td>
      <td class="num">{formatBytes(d.storageFree)}</td>
      <td>{d.agentVersion ?? <span class="muted">—</span>}</td>
      <td>{d.firmware ?? <span class="muted">—</span>}</td>
      <td class="num">{d.policyVersion ?? <span class="muted">—</span>}</td>
      <td class="num">{formatCount(d.outboxDepth)}</td>
      <td class={d.alertsOpen > 0 ? 'num has-alerts' : 'num'}>{formatCount(d.alertsOpen)}</td>
      <td class={d.clockSynced === false ? 'clock-bad' : undefined}>{clockText(d)}</td>
      <td title={d.cameras.join(', ')}>{d.cameras.length ? d.cameras.join(', ') : <span class="muted">none</span>}</td>
    </tr>
  );
}
