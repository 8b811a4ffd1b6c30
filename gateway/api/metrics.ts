/**
 * A small Prometheus registry: counters, gauges (set directly, or read at scrape time through a
 * collect callback) and histograms, each with a fixed set of label names, rendered in the text
 * exposition format 0.0.4 (HELP and TYPE lines, escaped label values, cumulative `le` buckets).
 *
 * Label values must come from bounded sets (route patterns, status codes, reason codes), never from
 * raw input. As a guard, a metric holds at most `maxSeries` label sets; further ones are added to
 * one series whose label values are all `_overflow`, so nothing is lost and the overflow shows.
 */
import type { ApiServer, RouteRoles } from './http.js';

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Histogram buckets for request durations in seconds. */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const OVERFLOW = '_overflow';

export type Labels = Readonly<Record<string, string | number>>;

export interface MetricOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

export class MetricsError extends Error {
  override name = 'MetricsError';
}

abstract class Metric<S> {
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  protected readonly series = new Map<string, { labels: string[]; state: S }>();
  readonly #maxSeries: number;

  constructor(o: MetricOptions, maxSeries: number, reserved: readonly string[] = []) {
    if (!METRIC_NAME.test(o.name)) throw new MetricsError(`invalid metric name: ${o.name}`);
    const labelNames = o.labelNames ?? [];
    for (const l of labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith('__') || reserved.includes(l)) throw new MetricsError(`${o.name}: invalid label name: ${l}`);
    }
    if (new Set(labelNames).size !== labelNames.length) throw new MetricsError(`${o.name}: duplicate label name`);
    this.name = o.name;
    this.help = o.help;
    this.labelNames = [...labelNames];
    this.#maxSeries = maxSeries;
  }

  protected abstract initial(): S;

  /** The label values in label-name order; every label name must be given, and no other. */
  #values(labels: Labels): string[] {
    const given = Object.keys(labels);
    if (given.length !== this.labelNames.length || given.some((k) => !this.labelNames.includes(k))) {
      throw new MetricsError(`${this.name}: labels must be exactly {${this.labelNames.join(', ')}}, got {${given.join(', ')}}`);
    }
    return this.labelNames.map((k) => String(labels[k]));
  }

  /** The series for a label set, created on first use. */
  protected at(labels: Labels = {}): S {
    let values = this.#values(labels);
    let key = JSON.stringify(values);
    let s = this.series.get(key);
    if (!s && this.series.size >= this.#maxSeries) {
      values = this.labelNames.map(() => OVERFLOW);
      key = JSON.stringify(values);
      s = this.series.get(key);
    }
    if (!s) {
      s = { labels: values, state: this.initial() };
      this.series.set(key, s);
    }
    return s.state;
  }

  /** The series for a label set if it exists (reading never creates one). */
  protected peek(labels: Labels = {}): S | undefined {
    return this.series.get(JSON.stringify(this.#values(labels)))?.state;
  }

  abstract render(): string[];

  protected labelText(values: readonly string[], extra?: [string, string]): string {
    const pairs = this.labelNames.map((n, i) => `${n}="${escapeLabelValue(values[i]!)}"`);
    if (extra) pairs.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
    return pairs.length ? `{${pairs.join(',')}}` : '';
  }

  protected header(): string[] {
    return [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
  }
}

/** A value that only goes up (requests served, failures seen). */
export class Counter extends Metric<{ value: number }> {
  readonly type = 'counter';

  protected initial() {
    return { value: 0 };
  }

  inc(labels?: Labels, by = 1): void {
    if (!(by >= 0) || !Number.isFinite(by)) throw new MetricsError(`${this.name}: a counter only increases (by ${by})`);
    this.at(labels).value += by;
  }

  get(labels?: Labels): number {
    return this.peek(labels)?.value ?? 0;
  }

  render(): string[] {
    const lines = this.header();
    for (const { labels, state } of this.series.values()) lines.push(`${this.name}${this.labelText(labels)} ${formatValue(state.value)}`);
    return lines;
  }
}

export interface GaugeOptions extends MetricOptions {
  /** Called at every scrape before rendering, to set values read at that moment (e.g. from the database). */
  collect?: (gauge: Gauge) => void | Promise<void>;
}

/** A value that goes up and down (sessions open, queue depth). */
export class Gauge extends Metric<{ value: number }> {
  readonly type = 'gauge';
  readonly collect: ((gauge: Gauge) => void | Promise<void>) | undefined;

  constructor(o: GaugeOptions, maxSeries: number) {
    super(o, maxSeries);
    this.collect = o.collect;
  }

  protected initial() {
    return { value: 0 };
  }

  set(value: number, labels?: Labels): void;
  set(labels: Labels, value: number): void;
  set(a: number | Labels, b?: number | Labels): void {
    if (typeof a === 'number') this.at(b as Labels | undefined).value = a;
    else this.at(a).value = b as number;
  }

  inc(labels?: Labels, by = 1): void {
    this.at(labels).value += by;
  }

  dec(labels?: Labels, by = 1): void {
    this.at(labels).value -= by;
  }

  get(labels?: Labels): number {
    return this.peek(labels)?.value ?? 0;
  }

  /** Forgets every label set (a collect callback that rebuilds the series from scratch calls this first). */
  reset(): void {
    this.series.clear();
  }

  render(): string[] {
    const lines = this.header();
    for (const { labels, state } of this.series.values()) lines.push(`${this.name}${this.labelText(labels)} ${formatValue(state.value)}`);
    return lines;
  }
}

export interface HistogramOptions extends MetricOptions {
  /** Upper bounds, strictly increasing; `+Inf` is added (default DEFAULT_BUCKETS). */
  buckets?: readonly number[];
}

/** Observations counted into buckets (request durations), with their sum and count. */
export class Histogram extends Metric<{ counts: number[]; sum: number; count: number }> {
  readonly type = 'histogram';
  readonly buckets: readonly number[];

  constructor(o: HistogramOptions, maxSeries: number) {
    super(o, maxSeries, ['le']);
    const buckets = [...(o.buckets ?? DEFAULT_BUCKETS)];
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))) {
      throw new MetricsError(`${o.name}: buckets must be finite and strictly increasing`);
    }
    this.buckets = buckets;
  }

  protected initial() {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }

  observe(value: number, labels?: Labels): void;
  observe(labels: Labels, value: number): void;
  observe(a: number | Labels, b?: number | Labels): void {
    const [value, labels] = typeof a === 'number' ? [a, b as Labels | undefined] : [b as number, a];
    if (Number.isNaN(value)) throw new MetricsError(`${this.name}: cannot observe NaN`);
    const s = this.at(labels);
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  /** The count and sum of one label set (for tests and summaries). */
  get(labels?: Labels): { count: number; sum: number } {
    const s = this.peek(labels);
    return { count: s?.count ?? 0, sum: s?.sum ?? 0 };
  }

  render(): string[] {
    const lines = this.header();
    for (const { labels, state } of this.series.values()) {
      this.buckets.forEach((b, i) => {
        lines.push(`${this.name}_bucket${this.labelText(labels, ['le', formatValue(b)])} ${state.counts[i]}`);
      });
      lines.push(`${this.name}_bucket${this.labelText(labels, ['le', '+Inf'])} ${state.count}`);
      lines.push(`${this.name}_sum${this.labelText(labels)} ${formatValue(state.sum)}`);
      lines.push(`${this.name}_count${this.labelText(labels)} ${state.count}`);
    }
    return lines;
  }
}

export interface MetricsOptions {
  /** Label sets per metric before new ones go to the `_overflow` series (default 1000). */
  maxSeries?: number;
}

/** The registry: every metric is created here, under a unique name, and rendered together. */
export class Metrics {
  readonly #metrics = new Map<string, Counter | Gauge | Histogram>();
  readonly #maxSeries: number;

  constructor(options: MetricsOptions = {}) {
    this.#maxSeries = options.maxSeries ?? 1000;
  }

  counter(o: MetricOptions): Counter {
    return this.#add(new Counter(o, this.#maxSeries));
  }

  gauge(o: GaugeOptions): Gauge {
    return this.#add(new Gauge(o, this.#maxSeries));
  }

  histogram(o: HistogramOptions): Histogram {
    return this.#add(new Histogram(o, this.#maxSeries));
  }

  get(name: string): Counter | Gauge | Histogram | undefined {
    return this.#metrics.get(name);
  }

  /**
   * The exposition text. Collect callbacks run first; one that fails keeps its gauge's previous
   * values and is reported through `onCollectError`, and the other metrics are still rendered.
   */
  async expose(onCollectError?: (metric: string, err: unknown) => void): Promise<string> {
    for (const m of this.#metrics.values()) {
      if (m instanceof Gauge && m.collect) {
        try {
          await m.collect(m);
        } catch (err) {
          onCollectError?.(m.name, err);
        }
      }
    }
    const lines: string[] = [];
    for (const m of this.#metrics.values()) lines.push(...m.render());
    return lines.length ? `${lines.join('\n')}\n` : '';
  }

  #add<M extends Counter | Gauge | Histogram>(m: M): M {
    for (const existing of this.#metrics.values()) {
      // A histogram owns NAME_bucket, NAME_sum and NAME_count too.
      const taken = existing.type === 'histogram' ? [existing.name, `${existing.name}_bucket`, `${existing.name}_sum`, `${existing.name}_count`] : [existing.name];
      const wanted = m.type === 'histogram' ? [m.name, `${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name];
      if (wanted.some((n) => taken.includes(n))) throw new MetricsError(`metric already registered: ${m.name}`);
    }
    this.#metrics.set(m.name, m);
    return m;
  }
}

/** Label values escape backslash, double quote and line feed (exposition format 0.0.4). */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes backslash and line feed. */
export function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  return String(v);
}

export interface MetricsRouteOptions {
  /** Who may scrape (default `authenticated`: any signed-in user or API token). */
  roles?: RouteRoles;
  path?: string;
}

/**
 * `GET /metrics`. It requires authentication by default: Prometheus scrapes with an API token
 * (`authorization: { credentials_file: … }` in its scrape config).
 */
export function registerMetricsRoute(server: ApiServer, metrics: Metrics, options: MetricsRouteOptions = {}): void {
  server.route({
    method: 'GET',
    path: options.path ?? '/metrics',
    roles: options.roles ?? 'authenticated',
    handle: async (ctx) => ({
      raw: await metrics.expose((metric, err) => ctx.log.error({ metric, err: String(err) }, 'metrics collect failed')),
      headers: { 'content-type': EXPOSITION_CONTENT_TYPE },
    }),
  });
}
