/**
 * The dock agent's one logger: pino, JSON lines on stderr, named `bwc-dock`. Every part logs
 * through a child of it (`log.child({ part: 'sync' })`) with the same field names: `device`,
 * `clip`, `manifestHash`, `camera`, `err` (an Error, written by pino's `err` serializer).
 * Secrets are removed by configuration (`redact`), whatever a caller passes.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { LOG_REDACT, programLogger } from '../proto/log.js';

/** Makes the dock's logger. The level: `BWC_LOG_LEVEL`, else `level` (config `log.level`), else `info`. */
export function dockLogger(o: { level?: string; destination?: DestinationStream; env?: NodeJS.ProcessEnv } = {}): Logger {
  return programLogger({
    name: 'bwc-dock',
    level: (o.env ?? process.env).BWC_LOG_LEVEL || o.level || 'info',
    ...(o.destination ? { destination: o.destination } : {}),
  });
}

/**
 * A dock logger for a terminal (the `bwc` commands, the simulator): each line reaches `write` as
 * its level name and message, secrets redacted as above.
 */
export function textLogger(write: (level: string, msg: string) => void, level = 'info'): Logger {
  return pino(
    {
      level,
      base: null,
      timestamp: false,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...LOG_REDACT], censor: '[redacted]' },
    },
    {
      write(line: string) {
        const j = JSON.parse(line) as { level: string; msg?: string };
        write(j.level, j.msg ?? '');
      },
    },
  );
}
