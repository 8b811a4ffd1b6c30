/**
 * The shared shape of a benchmark and the measuring helpers every benchmark uses.
 *
 * A benchmark is a module that exports one `Benchmark`; scripts/bench/index.ts lists them. It
 * measures our code and a baseline in the same process, in the same run, interleaved, and reports
 * rows of `ours / baseline` against a target ratio, so a number never depends on how fast the
 * machine of the day is. Benchmarks are not tests: they never run under test/.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** One line of the results table. */
export interface BenchRow {
  /** What is measured, e.g. "clip hashing (1 GiB, page cache)". */
  readonly name: string;
  /** Our throughput, in `unit` (higher is better). */
  readonly ours: number;
  /** The baseline's throughput in the same unit, or null when there is nothing to compare with. */
  readonly baseline: number | null;
  /** e.g. "MB/s", "sig/s". */
  readonly unit: string;
  /** ours / baseline, or null without a baseline. */
  readonly ratio: number | null;
  /** The ratio we must reach, or null for a row that only informs. */
  readonly target: number | null;
  /** ratio >= target; null without a target. */
  readonly pass: boolean | null;
  /**
   * For a paired row: the lowest and highest of the per-round ratios (the ratio itself is their
   * median) and how many rounds were paired.
   */
  readonly spread?: { readonly min: number; readonly max: number; readonly rounds: number };
}

/** What a benchmark hands back: its rows, free-form details for the JSON, notes for the reader. */
export interface BenchOutcome {
  readonly rows: BenchRow[];
  readonly details: Record<string, unknown>;
  /** Short lines printed under the table (checks made, memory, caveats). */
  readonly notes: string[];
}

export interface BenchContext {
  /** A progress line on stderr (never on stdout, which holds the results). */
  progress(message: string): void;
}

export interface Benchmark {
  /** The name on the command line and in the results file name: lowercase, no spaces. */
  readonly name: string;
  /** One line for `--list`. */
  readonly summary: string;
  run(ctx: BenchContext): Promise<BenchOutcome>;
}

/** Builds a row, computing the ratio and the verdict. */
export function row(name: string, ours: number, baseline: number | null, unit: string, target: number | null): BenchRow {
  const ratio = baseline === null || baseline <= 0 ? null : ours / baseline;
  const pass = target === null || ratio === null ? null : ratio >= target;
  return { name, ours, baseline, unit, ratio, target, pass };
}

/**
 * The ratio of two contenders round by round. Each round of `interleave` runs them one right after
 * the other (adjacent in the contender list, so in every round's order too), so each round's ratio
 * compares the two under the same load; the median of those ratios is steadier than the ratio of
 * the two medians on a shared machine. `ours` and `base` are milliseconds per round (lower is
 * better): a round's throughput ratio is base / ours.
 */
export function pairedRatios(ours: readonly number[], base: readonly number[]): { median: number; min: number; max: number; ratios: number[] } {
  const n = Math.min(ours.length, base.length);
  const ratios = Array.from({ length: n }, (_, i) => base[i]! / ours[i]!);
  const sorted = [...ratios].sort((a, b) => a - b);
  const median = n === 0 ? NaN : n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  return { median, min: sorted[0] ?? NaN, max: sorted[n - 1] ?? NaN, ratios };
}

/**
 * A throughput row whose ratio is the median of per-round paired ratios (`pairedRatios`), with
 * their spread; `ours` and `baseline` are shown as the medians of the two sides' throughputs.
 */
export function pairedRow(
  name: string,
  ours: number,
  baseline: number,
  unit: string,
  target: number | null,
  paired: { median: number; min: number; max: number; ratios: readonly number[] },
): BenchRow {
  const ratio = Number.isFinite(paired.median) ? paired.median : null;
  const pass = target === null || ratio === null ? null : ratio >= target;
  return { name, ours, baseline, unit, ratio, target, pass, spread: { min: paired.min, max: paired.max, rounds: paired.ratios.length } };
}

/**
 * A row where lower is better (a latency) against a limit: the ratio is limit / ours, so 1.0 or
 * more means within the limit, and the table reads the same way as for throughput rows.
 */
export function limitRow(name: string, ours: number, limit: number, unit: string): BenchRow {
  const ratio = ours > 0 ? limit / ours : null;
  return { name, ours, baseline: limit, unit, ratio, target: 1, pass: ratio === null ? null : ratio >= 1 };
}

/** The q-quantile (0..1) of a list of numbers. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Thrown when a benchmark finds a wrong result (not a slow one): the run must stop loudly. */
export class BenchCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BenchCheckError';
  }
}

export function now(): number {
  return performance.now();
}

/** Milliseconds taken by a synchronous loop of `iterations` calls. */
export function timeLoop(iterations: number, body: (i: number) => void): number {
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) body(i);
  return performance.now() - t0;
}

/**
 * How many iterations of `body` fill about `targetMs`: runs doubling batches until one takes at
 * least 50 ms (which also warms the JIT), then scales.
 */
export function calibrate(body: (i: number) => void, targetMs: number): number {
  let n = 16;
  for (;;) {
    const ms = timeLoop(n, body);
    if (ms >= 50 || n >= 1 << 24) return Math.max(1, Math.ceil((n * targetMs) / Math.max(ms, 0.001)));
    n *= 2;
  }
}

/** A contender in an interleaved comparison: one round runs it once and returns its milliseconds. */
export interface Contender {
  readonly name: string;
  round(): Promise<number> | number;
}

export interface InterleavedResult {
  /** Milliseconds of every round, per contender, in run order. */
  readonly times: Record<string, number[]>;
  readonly best: Record<string, number>;
  readonly median: Record<string, number>;
}

/**
 * Runs `rounds` rounds of every contender, alternating which goes first (A B, B A, A B, …) so
 * neither always runs on a warmer or cooler machine, and keeps every time.
 */
export async function interleave(
  contenders: readonly Contender[],
  rounds: number,
  onRound?: (contender: string, round: number, rounds: number) => void,
): Promise<InterleavedResult> {
  const times: Record<string, number[]> = {};
  for (const c of contenders) times[c.name] = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? contenders : [...contenders].reverse();
    for (const c of order) {
      onRound?.(c.name, r + 1, rounds);
      times[c.name]!.push(await c.round());
    }
  }
  const best: Record<string, number> = {};
  const median: Record<string, number> = {};
  for (const c of contenders) {
    const sorted = [...times[c.name]!].sort((a, b) => a - b);
    best[c.name] = sorted[0]!;
    median[c.name] = sorted[Math.floor((sorted.length - 1) / 2)]!;
  }
  return { times, best, median };
}

/** Samples process RSS (which includes worker threads) while something runs. */
export class RssSampler {
  #timer: NodeJS.Timeout | undefined;
  #peak = 0;
  #samples = 0;
  readonly start: number;

  constructor(readonly everyMs = 20) {
    this.start = process.memoryUsage.rss();
    this.#peak = this.start;
  }

  begin(): this {
    this.#timer = setInterval(() => this.sample(), this.everyMs);
    return this;
  }

  /** Takes one sample now and returns it (also called from progress callbacks). */
  sample(): number {
    const rss = process.memoryUsage.rss();
    this.#samples++;
    if (rss > this.#peak) this.#peak = rss;
    return rss;
  }

  end(): { startBytes: number; peakBytes: number; endBytes: number; samples: number } {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    const endBytes = this.sample();
    return { startBytes: this.start, peakBytes: this.#peak, endBytes, samples: this.#samples };
  }
}

/** Deterministic pseudo-random bytes (xorshift32): benchmarks and tests repeat exactly. */
export function pseudoRandomBytes(length: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export const MB = 1e6;
export const MiB = 1024 * 1024;

export function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

/** VmRSS of a process in bytes (all its threads), or null once it is gone. */
export function rssOf(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) a /proc stat file reports: utime and stime in clock ticks (USER_HZ = 100). */
function statCpu(statPath: string): number | null {
  try {
    const stat = readFileSync(statPath, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
}

/** CPU seconds (user + system, all threads) a process has used so far, or null once it is gone. */
export function cpuOf(pid: number): number | null {
  return statCpu(`/proc/${pid}/stat`);
}

/** CPU seconds (user + system) of each thread of this process so far, by OS thread id (Linux; empty elsewhere). */
export function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const tid of tids) {
    const s = statCpu(`/proc/self/task/${tid}/stat`);
    if (s !== null) out.set(tid, s);
  }
  return out;
}

/**
 * CPU µs between two `threadCpu()` readings, split three ways: the main thread, the busiest other
 * thread (a benchmark's worker), and all the rest. Null where /proc is not there.
 */
export function threadSplit(before: Map<string, number>, after: Map<string, number>): { main: number; busiest: number; other: number } | null {
  if (after.size === 0) return null;
  let main = 0;
  let busiest = 0;
  let other = 0;
  for (const [tid, s] of after) {
    const d = s - (before.get(tid) ?? 0);
    if (tid === String(process.pid)) main += d;
    else if (d > busiest) {
      other += busiest;
      busiest = d;
    } else other += d;
  }
  return { main: main * 1e6, busiest: busiest * 1e6, other: other * 1e6 };
}

/**
 * How scripts/deploy/systemd/bwc-dock.service starts the dock: node's own flags on ExecStart (before
 * the script) and in NODE_OPTIONS, and the unit's other Environment= variables. The dock is
 * measured as it is deployed.
 */
export function deployedDock(): { nodeArgs: string[]; env: Record<string, string> } {
  const unit = readFileSync(new URL('../../../scripts/deploy/systemd/bwc-dock.service', import.meta.url), 'utf8');
  const env: Record<string, string> = {};
  for (const line of unit.match(/^Environment=.*$/gm) ?? []) {
    for (const m of line.slice('Environment='.length).matchAll(/"([^"=]+)=([^"]*)"|([^\s"=]+)=(\S*)/g)) env[m[1] ?? m[3]!] = m[2] ?? m[4]!;
  }
  const exec = /^ExecStart=\S*node((?:\s+--\S+)*)\s/m.exec(unit);
  const words = (s: string | undefined) => (s ?? '').trim().split(/\s+/).filter(Boolean);
  const nodeArgs = [...words(exec?.[1]), ...words(env.NODE_OPTIONS)];
  delete env.NODE_OPTIONS;
  return { nodeArgs, env };
}
