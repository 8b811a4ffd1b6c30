/**
 * The log line both programs write: pino, JSON lines, with the same field names (`device`,
 * `clip`, `manifestHash`, `camera`, `err`) and the same secrets removed by configuration
 * (`redact`), whatever a caller passes. The dock and the gateway each make one logger from this
 * (device/log.ts, gateway/log.ts) and give each part a child of it.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

/** Fields whose values never reach a log; each is written as `[redacted]`. */
export const LOG_REDACT: readonly string[] = [
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
];

/** A program's logger, named `name`, on `destination` (default stderr), redacting LOG_REDACT and `alsoRedact`. */
export function programLogger(o: { name: string; level: string; destination?: DestinationStream; alsoRedact?: readonly string[] }): Logger {
  return pino(
    {
      name: o.name,
      level: o.level,
      redact: { paths: [...LOG_REDACT, ...(o.alsoRedact ?? [])], censor: '[redacted]' },
      serializers: { err: pino.stdSerializers.err },
    },
    o.destination ?? pino.destination(2),
  );
}
