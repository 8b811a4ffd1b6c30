/**
 * Every kind of alert the gateway raises, with its default severity: a file of its own, free of
 * Node, so the dashboard names each kind from the same list (gateway/web/src/alert-words.ts).
 */

export const ALERT_KINDS = {
  DEVICE_OFFLINE: 'warning',
  UNAUTHORIZED_RECORDING: 'warning', // 1061.2 §4: supervisor report
  CLOCK_FLAGGED_RECORDING: 'warning', // an authorized recording decided on an unsynchronized clock: its time, for the supervisor's review (DESIGN §6)
  DECISION_MISMATCH: 'warning', // DESIGN §5: the gateway, deciding again, disagrees with the dock (critical when only the dock says AUTHORIZED)
  GRANT_FILED_LATE: 'warning', // DESIGN §5: a grant reached the gateway long after its claimed signing, and after the recording it authorizes started
  PROHIBITED_RECORDING: 'critical', // 1061.2 §4 and BWC-2024: first-amendment-only, to the supervisor at once
  TAMPER: 'critical',
  CHAIN_GAP: 'warning',
  CHAIN_FORK: 'critical',
  UNKNOWN_DEVICE: 'warning', // 2013 memo §1: only enrolled, government-issued equipment
  BAD_SIGNATURE: 'critical',
  ID_MISMATCH: 'critical',
  SEQ_REUSED: 'critical',
  MALFORMED_MESSAGE: 'warning',
  CHUNK_REJECTED: 'warning',
  CLIP_REJECTED: 'critical',
  CLOCK_DRIFT: 'warning',
  STORAGE_LOW: 'warning',
  UPLOAD_OVERDUE: 'warning',
  COMMAND_REFUSED: 'critical', // a dock refused a command: unsigned, forged or altered on the way
  DOCK_SYNC_ERROR: 'warning', // a dock refused an ack or could not apply something from the gateway
} as const;
export type AlertKind = keyof typeof ALERT_KINDS;

export type Severity = 'info' | 'warning' | 'critical';
