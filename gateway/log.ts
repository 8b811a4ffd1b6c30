/**
 * The gateway's one logger: pino, JSON lines on stderr, named `bwc-gateway`. Every part logs
 * through a child of it (`log.child({ part: 'ingest' })`) with the same field names: `device`,
 * `clip`, `manifestHash`, `camera`, `err` (an Error, written by pino's `err` serializer).
 * Secrets are removed by configuration (`redact`), whatever a caller passes.
 */
import type { DestinationStream, Logger } from 'pino';
import { programLogger } from '../proto/log.js';

/** The level: `BWC_LOG_LEVEL`, else `info`. */
export function gatewayLogLevel(env: NodeJS.ProcessEnv = process.env): string {
  return env.BWC_LOG_LEVEL || 'info';
}

/** Makes the gateway's logger; `destination` defaults to stderr. The secret gateway clients give the embedded broker is redacted too. */
export function gatewayLogger(o: { level?: string; destination?: DestinationStream } = {}): Logger {
  return programLogger({
    name: 'bwc-gateway',
    level: o.level ?? gatewayLogLevel(),
    ...(o.destination ? { destination: o.destination } : {}),
    alsoRedact: ['gatewaySecret', '*.gatewaySecret'],
  });
}
