/** What every `bwc` command shares: one-line errors with an exit code, progress on a terminal. */
import { createRequire } from 'node:module';

/** An error the command prints as one line (no stack trace) before exiting with `exitCode`. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export const USAGE_EXIT = 2;

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

const MIN_BYTES_FOR_BAR = 32 * 1024 * 1024;

/**
 * A byte progress bar on stderr when it is a terminal and the work is large enough to wait for;
 * otherwise nothing (scripts and logs get the result line only).
 */
export function byteProgress(label: string, totalBytes: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY || totalBytes < MIN_BYTES_FOR_BAR) return { update: () => {}, stop: () => {} };
  // Loaded only when a bar is drawn: the dock service never draws one (its memory budget, device/README.md).
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof import('cli-progress');
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${label} [{bar}] {percentage}% {done}/{all} MiB {speed} MB/s`,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const mib = (n: number) => (n / 1048576).toFixed(0);
  const started = Date.now();
  bar.start(totalBytes, 0, { done: '0', all: mib(totalBytes), speed: '0' });
  return {
    update(done) {
      const s = (Date.now() - started) / 1000;
      bar.update(done, { done: mib(done), speed: s > 0 ? (done / 1e6 / s).toFixed(0) : '0' });
    },
    stop: () => bar.stop(),
  };
}

export function writeJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
