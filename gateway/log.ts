/**
 * The gateway's one logger: pino, JSON lines on stderr, named `bwc-gateway`. Every part logs
 * through a child of it (`log.child({ part: 'ingest' })`) with the same field names: `device`,
 * `clip`, `manifestHash`, `camera`, `err` (an Error, written by pino's `err` serializer).
 * Secrets are removed by configuration (`redact`), whatever a caller passes.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

/** Fields whose values never reach the log; each is written as `[redacted]`. */
export const GATEWAY_REDACT: readonly string[] = [
  'password',
  '*.password',
  'token',
  '*.token',
  'mqttPassword',
  '*.mqttPassword',
  'authorization',
  '*.authorization',
  'cookie',
  '*.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'csrfToken',
  '*.csrfToken',
  'secret',
  '*.secret',
  'gatewaySecret',
  '*.gatewaySecret',
];

/** The level: `BWC_LOG_LEVEL`, else `info`. */
export function gatewayLogLevel(env: NodeJS.ProcessEnv = process.env): string {
  return env.BWC_LOG_LEVEL || 'info';
}

/** Makes the gateway's logger; `destination` defaults to stderr. */
export function gatewayLogger(o: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      name: 'bwc-gateway',
      level: o.level ?? gatewayLogLevel(),
      redact: { paths: [...GATEWAY_REDACT], censor: '[redacted]' },
      serializers: { err: pino.stdSerializers.err },
    },
    o.destination ?? pino.destination(2),
  );
}
