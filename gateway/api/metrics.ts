/**
 * The gateway's Prometheus metrics, on `prom-client` (its own Registry, not the process-global
 * one): counters, gauges (set directly, or read at scrape time through a collect callback) and
 * histograms, plus prom-client's default process metrics (CPU, memory, event-loop lag, GC, file
 * descriptors), rendered in the text exposition format 0.0.4. Why a library: gateway/README.md,
 * "Libraries".
 *
 * What this thin layer adds to prom-client:
 * - a metric is used with exactly its label names, every time (prom-client accepts a subset);
 * - label values must come from bounded sets (route patterns, status codes, reason codes), never
 *   from raw input; as a guard, a metric holds at most `maxSeries` label sets, and further ones are
 *   added to one series whose label values are all `_overflow`, so nothing is lost and it shows;
 * - a name is refused when a histogram already owns it as `NAME_bucket`, `_sum` or `_count`;
 * - collect callbacks all run before anything is rendered, in the order the gauges were made (a
 *   gauge's callback may fold counts into counters; prom-client would read those counters
 *   concurrently with the callbacks), and one that fails keeps its gauge's previous values, is
 *   reported, and the other metrics are still rendered (prom-client would fail the whole scrape).
 */
import client from 'prom-client';

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

type PromMetric = client.Counter<string> | client.Gauge<string> | client.Histogram<string>;

/** Label checks and the series guard, shared by every kind. */
abstract class Metric<P extends PromMetric> {
  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  protected abstract readonly prom: P;
  readonly #series = new Set<string>();
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

  /** The label set to record under: exactly the label names, or the overflow series when full. */
  protected labels(labels: Labels = {}): Record<string, string> {
    const given = Object.keys(labels);
    if (given.length !== this.labelNames.length || given.some((k) => !this.labelNames.includes(k))) {
      throw new MetricsError(`${this.name}: labels must be exactly {${this.labelNames.join(', ')}}, got {${given.join(', ')}}`);
    }
    const values = this.labelNames.map((k) => String(labels[k]));
    const key = JSON.stringify(values);
    if (!this.#series.has(key)) {
      if (this.#series.size >= this.#maxSeries) return Object.fromEntries(this.labelNames.map((k) => [k, OVERFLOW]));
      this.#series.add(key);
    }
    return Object.fromEntries(this.labelNames.map((k, i) => [k, values[i]!]));
  }

  protected forgetSeries(): void {
    this.#series.clear();
  }

  /** prom-client's values of one label set (reading never creates one). */
  protected async valuesOf(labels: Labels = {}): Promise<client.MetricValue<string>[]> {
    const want = this.labelNames.map((k) => String(labels[k]));
    const { values } = await this.prom.get();
    return values.filter((v) => this.labelNames.every((k, i) => String(v.labels[k]) === want[i]));
  }
}

/** A value that only goes up (requests served, failures seen). */
export class Counter extends Metric<client.Counter<string>> {
  readonly type = 'counter';
  protected readonly prom: client.Counter<string>;

  constructor(o: MetricOptions, maxSeries: number, registry: client.Registry) {
    super(o, maxSeries);
    this.prom = new client.Counter({ name: o.name, help: o.help, labelNames: [...this.labelNames], registers: [registry] });
  }

  inc(labels?: Labels, by = 1): void {
    if (!(by >= 0) || !Number.isFinite(by)) throw new MetricsError(`${this.name}: a counter only increases (by ${by})`);
    this.prom.inc(this.labels(labels), by);
  }

  async get(labels?: Labels): Promise<number> {
    return (await this.valuesOf(labels))[0]?.value ?? 0;
  }
}

export interface GaugeOptions extends MetricOptions {
  /** Called at every scrape before rendering, to set values read at that moment (e.g. from the database). */
  collect?: (gauge: Gauge) => void | Promise<void>;
}

/** A value that goes up and down (sessions open, queue depth). */
export class Gauge extends Metric<client.Gauge<string>> {
  readonly type = 'gauge';
  protected readonly prom: client.Gauge<string>;

  /** Run by `Metrics.expose` before anything is rendered (not by prom-client: see there). */
  readonly collect: ((gauge: Gauge) => void | Promise<void>) | undefined;

  constructor(o: GaugeOptions, maxSeries: number, registry: client.Registry) {
    super(o, maxSeries);
    this.collect = o.collect;
    this.prom = new client.Gauge({ name: o.name, help: o.help, labelNames: [...this.labelNames], registers: [registry] });
  }

  set(value: number, labels?: Labels): void;
  set(labels: Labels, value: number): void;
  set(a: number | Labels, b?: number | Labels): void {
    if (typeof a === 'number') this.prom.set(this.labels(b as Labels | undefined), a);
    else this.prom.set(this.labels(a), b as number);
  }

  inc(labels?: Labels, by = 1): void {
    this.prom.inc(this.labels(labels), by);
  }

  dec(labels?: Labels, by = 1): void {
    this.prom.dec(this.labels(labels), by);
  }

  async get(labels?: Labels): Promise<number> {
    return (await this.valuesOf(labels))[0]?.value ?? 0;
  }

  /** Forgets every label set (a collect callback that rebuilds the series from scratch calls this first). */
  reset(): void {
    this.prom.reset();
    this.forgetSeries();
  }
}

export interface HistogramOptions extends MetricOptions {
  /** Upper bounds, strictly increasing; `+Inf` is added (default DEFAULT_BUCKETS). */
  buckets?: readonly number[];
}

/** Observations counted into buckets (request durations), with their sum and count. */
export class Histogram extends Metric<client.Histogram<string>> {
  readonly type = 'histogram';
  readonly buckets: readonly number[];
  protected readonly prom: client.Histogram<string>;

  constructor(o: HistogramOptions, maxSeries: number, registry: client.Registry) {
    super(o, maxSeries, ['le']);
    const buckets = [...(o.buckets ?? DEFAULT_BUCKETS)];
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))) {
      throw new MetricsError(`${o.name}: buckets must be finite and strictly increasing`);
    }
    this.buckets = buckets;
    this.prom = new client.Histogram({ name: o.name, help: o.help, labelNames: [...this.labelNames], buckets, registers: [registry] });
  }

  observe(value: number, labels?: Labels): void;
  observe(labels: Labels, value: number): void;
  observe(a: number | Labels, b?: number | Labels): void {
    const [value, labels] = typeof a === 'number' ? [a, b as Labels | undefined] : [b as number, a];
    if (Number.isNaN(value)) throw new MetricsError(`${this.name}: cannot observe NaN`);
    this.prom.observe(this.labels(labels), value);
  }

  /** The count and sum of one label set (for tests and summaries). */
  async get(labels?: Labels): Promise<{ count: number; sum: number }> {
    const values = await this.valuesOf(labels);
    const pick = (suffix: string) => values.find((v) => (v as { metricName?: string }).metricName === `${this.name}${suffix}`)?.value ?? 0;
    return { count: pick('_count'), sum: pick('_sum') };
  }
}

export interface MetricsOptions {
  /** Label sets per metric before new ones go to the `_overflow` series (default 1000). */
  maxSeries?: number;
  /** prom-client's default process metrics (CPU, memory, event loop, GC); default true. */
  processMetrics?: boolean;
}

/** The registry: every metric is created here, under a unique name, and rendered together. */
export class Metrics {
  readonly registry = new client.Registry();
  readonly #metrics = new Map<string, Counter | Gauge | Histogram>();
  readonly #maxSeries: number;

  constructor(options: MetricsOptions = {}) {
    this.#maxSeries = options.maxSeries ?? 1000;
    if (options.processMetrics ?? true) client.collectDefaultMetrics({ register: this.registry });
  }

  counter(o: MetricOptions): Counter {
    this.#free(o.name, 'counter');
    return this.#add(new Counter(o, this.#maxSeries, this.registry));
  }

  gauge(o: GaugeOptions): Gauge {
    this.#free(o.name, 'gauge');
    return this.#add(new Gauge(o, this.#maxSeries, this.registry));
  }

  histogram(o: HistogramOptions): Histogram {
    this.#free(o.name, 'histogram');
    return this.#add(new Histogram(o, this.#maxSeries, this.registry));
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
    // prom-client 15 writes a NaN value as `Nan` (lib/util.js); the format says `NaN`. A value is
    // the last field of its line, so only a line's end is touched.
    return (await this.registry.metrics()).replace(/ Nan$/gm, ' NaN');
  }

  /** Refuses a name taken here or by prom-client's process metrics, including a histogram's series names. */
  #free(name: string, type: 'counter' | 'gauge' | 'histogram'): void {
    const owned = (n: string, t: string) => (t === 'histogram' ? [n, `${n}_bucket`, `${n}_sum`, `${n}_count`] : [n]);
    const wanted = owned(name, type);
    for (const m of this.registry.getMetricsAsArray()) {
      const taken = owned(m.name, (m as unknown as { type?: string }).type ?? '');
      if (wanted.some((n) => taken.includes(n))) throw new MetricsError(`metric already registered: ${name}`);
    }
  }

  #add<M extends Counter | Gauge | Histogram>(m: M): M {
    this.#metrics.set(m.name, m);
    return m;
  }
}
