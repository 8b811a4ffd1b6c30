/**
 * The three Overview charts, each with its text alternative: a sentence that says what the chart
 * shows, and its data as a table behind a disclosure.
 */
import type { ComponentChildren } from 'preact';
import { useMemo } from 'preact/hooks';
import uPlot from 'uplot';
import type { ActivationsResponse, HistoryResponse, HistorySample, Verdict } from '../../../api/types.js';
import { VERDICTS } from '../../../api/types.js';
import { Chart } from '../components/Chart.js';
import { Time } from '../components/Time.js';
import { formatBytes, formatCount } from '../format.js';

/** Okabe–Ito colours: told apart with the common colour-vision deficiencies. */
export const VERDICT_COLOURS: Record<Verdict, string> = {
  AUTHORIZED: '#009e73',
  UNAUTHORIZED: '#e69f00',
  PROHIBITED: '#d55e00',
  PENDING_CLASSIFICATION: '#56b4e9',
};
const LINE_A = '#0072b2';
const LINE_B = '#cc79a7';

const AXIS = { stroke: '#4b5563', grid: { stroke: '#e5e7eb', width: 1 }, ticks: { stroke: '#d1d5db', width: 1 } };
/** A y axis as wide as its longest label (uPlot's default width cuts "10,000" short). */
const Y_AXIS: uPlot.Axis = { ...AXIS, size: (_u, values) => 16 + 7.5 * Math.max(2, ...(values ?? []).map((v) => String(v).length)) };

// Stacked bars: each series is the running total up to its verdict, drawn tallest first so the
// shorter ones paint over it; the legend shows each verdict's own count.
const TOP_FIRST = [...VERDICTS].reverse();

function dayStart(day: string): number {
  return Date.parse(`${day}T00:00:00Z`) / 1000;
}

export function ActivationsChart({ data }: { data: ActivationsResponse }) {
  const days = useMemo(() => [...data.days].sort((a, b) => a.day.localeCompare(b.day)), [data]);
  const raw = useMemo(() => Object.fromEntries(VERDICTS.map((v) => [v, days.map((d) => d.counts[v] ?? 0)])) as Record<Verdict, number[]>, [days]);
  const aligned = useMemo<uPlot.AlignedData>(() => {
    const xs = days.map((d) => dayStart(d.day));
    const stacks = TOP_FIRST.map((_, i) => days.map((_d, di) => TOP_FIRST.slice(i).reduce((n, v) => n + (raw[v][di] ?? 0), 0)));
    return [xs, ...stacks];
  }, [days, raw]);
  const options = useMemo<Omit<uPlot.Options, 'width' | 'height'>>(
    () => ({
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      scales: {
        x: { time: true, range: (_u, min, max) => [min - 43_200, max + 43_200] },
        y: { range: (_u, _min, max) => [0, Math.max(1, max)] },
      },
      axes: [AXIS, Y_AXIS],
      series: [
        { label: 'Day (UTC)', value: '{YYYY}-{MM}-{DD}' },
        ...TOP_FIRST.map((v) => ({
          label: v,
          fill: VERDICT_COLOURS[v],
          stroke: VERDICT_COLOURS[v],
          width: 0,
          paths: uPlot.paths.bars?.({ size: [0.7, 40] }),
          points: { show: false },
          value: (_u: uPlot, _v: number | null, _si: number, di: number | null) => (di === null ? '—' : formatCount(raw[v][di] ?? 0)),
        })),
      ],
    }),
    [raw],
  );

  const totals = VERDICTS.map((v) => [v, raw[v].reduce((a, b) => a + b, 0)] as const);
  const all = totals.reduce((n, [, c]) => n + c, 0);
  const busiest = days.reduce<{ day: string; n: number } | null>((best, d) => {
    const n = VERDICTS.reduce((s, v) => s + (d.counts[v] ?? 0), 0);
    return !best || n > best.n ? { day: d.day, n } : best;
  }, null);
  return (
    <Chart title="Activations per day, stacked by decision" options={options} data={aligned}>
      <p>
        {days.length === 0 ? (
          'No activations in this period.'
        ) : (
          <>
            {formatCount(all)} activations over {days.length} days (UTC): {totals.map(([v, n]) => `${formatCount(n)} ${v}`).join(', ')}.
            {busiest && busiest.n > 0 ? ` Busiest day ${busiest.day} with ${formatCount(busiest.n)}.` : ''}
          </>
        )}
      </p>
      <DataTable
        caption="Activations per day (UTC) by decision"
        head={['Day', ...VERDICTS]}
        rows={days.map((d) => [d.day, ...VERDICTS.map((v) => formatCount(d.counts[v] ?? 0))])}
      />
    </Chart>
  );
}

/** The last sample of each hour: a readable table for a day sampled every minute. */
function hourly(samples: readonly HistorySample[]): HistorySample[] {
  const byHour = new Map<number, HistorySample>();
  for (const s of samples) byHour.set(Math.floor(s.at / 3_600_000), s);
  return [...byHour.values()];
}

function useHistory(data: HistoryResponse) {
  return useMemo(() => [...data.samples].sort((a, b) => a.at - b.at), [data]);
}

function lineOptions(a: string, b: string, bDash = false): Omit<uPlot.Options, 'width' | 'height'> {
  return {
    scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
    axes: [AXIS, Y_AXIS],
    series: [
      { label: 'Time' },
      { label: a, stroke: LINE_A, width: 2, points: { show: false }, value: (_u, v) => (v === null ? '—' : formatCount(v)) },
      {
        label: b,
        stroke: LINE_B,
        width: 2,
        points: { show: false },
        ...(bDash ? { dash: [6, 4] } : {}),
        value: (_u, v) => (v === null ? '—' : formatCount(v)),
      },
    ],
  };
}

export function BacklogChart({ data }: { data: HistoryResponse }) {
  const samples = useHistory(data);
  const aligned = useMemo<uPlot.AlignedData>(
    () => [samples.map((s) => s.at / 1000), samples.map((s) => s.backlogClips), samples.map((s) => s.outboxDepth)],
    [samples],
  );
  const options = useMemo(() => lineOptions('Clips not yet verified', 'Messages in dock outboxes'), []);
  const last = samples[samples.length - 1];
  const peak = samples.reduce((m, s) => Math.max(m, s.backlogClips), 0);
  return (
    <Chart title="Upload backlog over the last 24 hours" options={options} data={aligned}>
      <p>
        {last ? (
          <>
            Latest (<Time at={last.at} />
            ): {formatCount(last.backlogClips)} clips not yet verified ({formatBytes(last.backlogBytes)}), {formatCount(last.outboxDepth)} messages waiting in
            dock outboxes. Highest backlog in the period: {formatCount(peak)} clips.
          </>
        ) : (
          'No samples yet: the gateway records one at each sampling interval.'
        )}
      </p>
      <DataTable
        caption="Upload backlog, last sample of each hour"
        head={['Time', 'Clips not verified', 'Backlog size', 'Outbox messages']}
        rows={hourly(samples).map((s) => [<Time at={s.at} />, formatCount(s.backlogClips), formatBytes(s.backlogBytes), formatCount(s.outboxDepth)])}
      />
    </Chart>
  );
}

export function DevicesOnlineChart({ data }: { data: HistoryResponse }) {
  const samples = useHistory(data);
  const aligned = useMemo<uPlot.AlignedData>(
    () => [samples.map((s) => s.at / 1000), samples.map((s) => s.devicesOnline), samples.map((s) => s.devicesEnrolled)],
    [samples],
  );
  const options = useMemo(() => lineOptions('Online', 'Enrolled', true), []);
  const last = samples[samples.length - 1];
  const low = samples.reduce<number | null>((m, s) => (m === null ? s.devicesOnline : Math.min(m, s.devicesOnline)), null);
  return (
    <Chart title="Devices online over the last 24 hours" options={options} data={aligned}>
      <p>
        {last ? (
          <>
            Latest (<Time at={last.at} />
            ): {formatCount(last.devicesOnline)} of {formatCount(last.devicesEnrolled)} enrolled docks online.
            {low !== null ? ` Fewest online in the period: ${formatCount(low)}.` : ''}
          </>
        ) : (
          'No samples yet: the gateway records one at each sampling interval.'
        )}
      </p>
      <DataTable
        caption="Devices online, last sample of each hour"
        head={['Time', 'Online', 'Enrolled']}
        rows={hourly(samples).map((s) => [<Time at={s.at} />, formatCount(s.devicesOnline), formatCount(s.devicesEnrolled)])}
      />
    </Chart>
  );
}

function DataTable({ caption, head, rows }: { caption: string; head: readonly string[]; rows: readonly (readonly ComponentChildren[])[] }) {
  return (
    <details class="chart-data">
      <summary>Show the data as a table</summary>
      <div class="table-wrap">
        <table class="table">
          <caption class="vh">{caption}</caption>
          <thead>
            <tr>
              {head.map((h, i) => (
                <th key={h} scope="col" class={i > 0 ? 'num' : undefined}>
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={i}>
                {r.map((c, j) =>
                  j === 0 ? (
                    <th key={j} scope="row">
                      {c}
                    </th>
                  ) : (
                    <td key={j} class="num">
                      {c}
                    </td>
                  ),
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}
