/**
 * `npm run bench -- [name…] [--json] [--strict] [--no-save] [--list]`
 *
 * Runs the named benchmarks (all when none is named), prints one table on stdout, progress on
 * stderr, and writes each benchmark's results to scripts/bench/results/<name>-<timestamp>.json.
 *
 * To add a benchmark: write scripts/bench/<name>.ts exporting a `Benchmark` (harness.ts) and add
 * it to BENCHMARKS below. Nothing else changes.
 *
 * Exit status: 0 when every benchmark ran (a missed target is shown, not fatal, unless --strict),
 * 1 when a benchmark failed or found a wrong result, 2 for a usage error, 3 for a missed target
 * with --strict.
 */
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { arch, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import type { BenchOutcome, BenchRow, Benchmark } from './harness.js';
import { custody } from './custody.js';
import { fleet } from './fleet.js';
import { forged } from './forged.js';
import { gateway } from './gateway.js';
import { link } from './link.js';
import { offload } from './offload.js';
import { policy } from './policy.js';

/** The registry: one entry per benchmark module, run in this order by default. */
const BENCHMARKS: readonly Benchmark[] = [custody, fleet, forged, gateway, link, offload, policy];

const USAGE = `usage: npm run bench -- [name…] [--json] [--strict] [--no-save] [--list]
  name       benchmarks to run (default: all): ${BENCHMARKS.map((b) => b.name).join(', ')}
  --json     print the results as JSON on stdout instead of the table
  --strict   exit 3 when a row misses its target
  --no-save  do not write scripts/bench/results/<name>-<timestamp>.json
  --list     list the benchmarks and exit`;

/** The repository root: the nearest folder above this file with the project's package.json. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'bwc-companion') return dir;
      } catch {
        // not ours: keep climbing
      }
    }
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

function host(): Record<string, unknown> {
  let openssl = 'unavailable';
  try {
    openssl = execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim();
  } catch {
    // reported as unavailable
  }
  const cpu = cpus();
  return {
    node: process.version,
    platform: `${platform()} ${release()}`,
    arch: arch(),
    cpus: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    totalMemBytes: totalmem(),
    opensslCli: openssl,
    opensslNode: process.versions.openssl,
  };
}

function fmtNumber(n: number | null): string {
  if (n === null) return '—';
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(Math.abs(n) >= 10 ? 1 : 2);
}

function fmtRatio(n: number | null): string {
  return n === null ? '—' : `${n.toFixed(2)}×`;
}

function fmtTarget(n: number | null): string {
  return n === null ? '—' : `≥ ${n.toFixed(2)}×`;
}

function fmtPass(p: boolean | null): string {
  return p === null ? 'info' : p ? 'PASS' : 'MISS';
}

/** An aligned text table: text columns left-aligned, number columns right-aligned. */
export function renderTable(results: ReadonlyArray<{ bench: string; row: BenchRow }>): string {
  const header = ['benchmark', 'measure', 'ours', 'baseline', 'unit', 'ratio', 'spread (paired rounds)', 'target', 'result'];
  const right = [false, false, true, true, false, true, false, true, false];
  const lines = results.map(({ bench, row }) => [
    bench,
    row.name,
    fmtNumber(row.ours),
    fmtNumber(row.baseline),
    row.unit,
    fmtRatio(row.ratio),
    row.spread ? `${row.spread.min.toFixed(2)}–${row.spread.max.toFixed(2)}× (${row.spread.rounds})` : '',
    fmtTarget(row.target),
    fmtPass(row.pass),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}

function timestamp(d: Date): string {
  return d
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/:/g, '-');
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        strict: { type: 'boolean', default: false },
        'no-save': { type: 'boolean', default: false },
        list: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.list) {
    const w = Math.max(...BENCHMARKS.map((b) => b.name.length));
    for (const b of BENCHMARKS) process.stdout.write(`${b.name.padEnd(w)}  ${b.summary}\n`);
    return 0;
  }
  const unknown = positionals.filter((p) => !BENCHMARKS.some((b) => b.name === p));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}\n${USAGE}\n`);
    return 2;
  }
  const selected = positionals.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => positionals.includes(b.name));

  const root = repoRoot();
  const resultsDir = join(root, 'scripts', 'bench', 'results');
  const hostInfo = host();
  const table: Array<{ bench: string; row: BenchRow }> = [];
  const reports: Array<Record<string, unknown>> = [];
  let failed = false;

  for (const bench of selected) {
    const started = new Date();
    const t0 = performance.now();
    const progress = (message: string) =>
      process.stderr.write(`[bench ${bench.name} ${((performance.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${message}\n`);
    // The machine is shared: its load when the benchmark started and ended goes with the results.
    const loadBefore = loadavg();
    let outcome: BenchOutcome;
    try {
      progress('starting');
      outcome = await bench.run({ progress });
    } catch (e) {
      failed = true;
      process.stderr.write(`\nbenchmark ${bench.name} FAILED: ${(e as Error).stack ?? String(e)}\n\n`);
      continue;
    }
    const seconds = (performance.now() - t0) / 1000;
    const loadAfter = loadavg();
    const fmtLoad = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
    outcome = {
      ...outcome,
      notes: [...outcome.notes, `load average (1, 5, 15 min) at the start ${fmtLoad(loadBefore)}, at the end ${fmtLoad(loadAfter)}, on ${cpus().length} CPUs`],
    };
    progress(`done in ${seconds.toFixed(1)} s`);
    for (const r of outcome.rows) table.push({ bench: bench.name, row: r });
    const report = {
      benchmark: bench.name,
      startedAt: started.toISOString(),
      seconds,
      host: hostInfo,
      loadAverage: { start: loadBefore, end: loadAfter },
      rows: outcome.rows,
      notes: outcome.notes,
      details: outcome.details,
    };
    reports.push(report);
    if (!values['no-save']) {
      mkdirSync(resultsDir, { recursive: true });
      const file = join(resultsDir, `${bench.name}-${timestamp(started)}.json`);
      const tmp = join(resultsDir, `.${bench.name}-${process.pid}.tmp.json`); // *.json: gitignored too
      writeFileSync(tmp, `${JSON.stringify(report, null, 2)}\n`);
      renameSync(tmp, file);
      progress(`results written to ${relative(process.cwd(), file) || file}`);
    }
  }

  if (values.json) {
    process.stdout.write(`${JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2)}\n`);
  } else if (table.length > 0) {
    const out = [renderTable(table), ''];
    for (const r of reports) {
      for (const n of r.notes as string[]) out.push(`  ${r.benchmark}: ${n}`);
    }
    out.push('', `host: ${hostInfo.cpus} × ${hostInfo.cpuModel}, ${hostInfo.node}, ${hostInfo.opensslCli}`);
    process.stdout.write(`${out.join('\n')}\n`);
  }

  if (failed) return 1;
  const missed = table.filter((t) => t.row.pass === false);
  if (missed.length > 0) {
    process.stderr.write(`target missed: ${missed.map((m) => `${m.bench}/${m.row.name} ${fmtRatio(m.row.ratio)} < ${fmtTarget(m.row.target)}`).join('; ')}\n`);
    if (values.strict) return 3;
  }
  return 0;
}

// Run only as the entry point, so another script may import renderTable or BENCHMARKS' modules.
function isEntryPoint(): boolean {
  try {
    return realpathSync(resolve(process.argv[1] ?? '')) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
