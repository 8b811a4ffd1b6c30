/**
 * What each alert the gateway raises is called on screen: one table for every alert kind
 * (gateway/fleet/alerts.ts) and every tamper kind a dock reports (proto TamperKind), with the code
 * kept beside the words for searching the logs and the guides. A code the table does not know
 * (a newer gateway) is turned into words as it stands.
 */
import type { AlertKind } from '../../fleet/alert-kinds.js';

/** Every alert kind: the type makes a new kind without wording a compile error. */
export const ALERT_KIND_WORDS: Readonly<Record<AlertKind, string>> = {
  DEVICE_OFFLINE: 'Dock offline',
  UNAUTHORIZED_RECORDING: 'Unauthorized recording',
  CLOCK_FLAGGED_RECORDING: 'Recording decided on an unsynchronized clock',
  DECISION_MISMATCH: 'Dock and gateway decided differently',
  GRANT_FILED_LATE: 'Authorization reached the gateway late',
  PROHIBITED_RECORDING: 'Prohibited recording',
  TAMPER: 'Tampering reported',
  CHAIN_GAP: 'Manifests missing from a dock',
  CHAIN_FORK: 'Dock history forked',
  UNKNOWN_DEVICE: 'Messages from an unknown device',
  BAD_SIGNATURE: 'Signature does not verify',
  ID_MISMATCH: 'Message signed for another device',
  SEQ_REUSED: 'Sequence number reused',
  MALFORMED_MESSAGE: 'Malformed message',
  CHUNK_REJECTED: 'Clip chunk rejected',
  CLIP_REJECTED: 'Clip failed verification',
  CLOCK_DRIFT: 'Dock clock off',
  STORAGE_LOW: 'Storage low',
  UPLOAD_OVERDUE: 'Upload overdue',
  COMMAND_REFUSED: 'Dock refused a command',
  DOCK_SYNC_ERROR: 'Dock sync error',
};

/** Every tamper kind a dock reports, by its protobuf name (the TAMPER alert's subject). */
export const TAMPER_KIND_WORDS: Readonly<Record<string, string>> = {
  TAMPER_KIND_CASE_OPENED: 'Camera case opened',
  TAMPER_KIND_STORAGE_REMOVED: 'Camera storage removed',
  TAMPER_KIND_CLOCK_RESET: 'Camera clock reset',
  TAMPER_KIND_FIRMWARE_MODIFIED: 'Camera firmware modified',
  TAMPER_KIND_LENS_COVERED: 'Camera lens covered',
  TAMPER_KIND_FILE_DELETED: 'Recording deleted on the camera',
  TAMPER_KIND_OTHER: 'Tampering of another kind',
};

const PREFIXES = ['TAMPER_KIND_', 'ALERT_KIND_'];

/** An unknown code as words: `SOLAR_FLARE_DETECTED` → "Solar flare detected". */
export function codeToWords(code: string): string {
  let rest = code.trim();
  for (const p of PREFIXES) if (rest.startsWith(p) && rest.length > p.length) rest = rest.slice(p.length);
  const words = rest
    .replace(/[_\-.]+/g, ' ')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .trim()
    .toLowerCase()
    .replace(/\s+/g, ' ');
  return words ? `${words[0]!.toUpperCase()}${words.slice(1)}` : code;
}

/** The words for an alert kind or a tamper kind, from the table or else from the code itself. */
export function alertWords(code: string): string {
  return own(ALERT_KIND_WORDS, code) ?? own(TAMPER_KIND_WORDS, code) ?? codeToWords(code);
}

function own(table: object, key: string): string | undefined {
  return Object.hasOwn(table, key) ? (table as Record<string, string>)[key] : undefined;
}

/** What an alert is titled and the code shown beside it: a tamper alert by what was tampered with. */
export function alertTitle(a: { kind: string; subject: string | null }): { words: string; code: string } {
  if (a.kind === 'TAMPER' && a.subject && /^TAMPER_KIND_/.test(a.subject)) return { words: alertWords(a.subject), code: a.subject };
  return { words: alertWords(a.kind), code: a.kind };
}
