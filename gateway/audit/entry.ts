/**
 * The audit entry format and its hash, shared by the writer (log.ts), the verifier (verify.ts),
 * exports and BagIt audit extracts, so an auditor can recompute every hash from the JSON alone:
 *
 *   entry_hash = hex SHA-256( utf8("bwc/v1/AuditEntry\n") ‖ JCS({ seq, at, actor, action, subject, detail, prev }) )
 *
 * `prev` is the previous entry's `entry_hash` (GENESIS_HASH, 64 zeros, before entry 1); JCS is
 * RFC 8785 canonical JSON (canonical.ts). Checkpoints are `AuditCheckpoint` envelopes (proto)
 * signed by a gateway key: `entry_count` entries, the last of which has hash `head_hash`.
 */
import { createHash } from 'node:crypto';
import { canonicalHash, canonicalJson, type JsonObject } from './canonical.js';

export const GENESIS_HASH = '0'.repeat(64);
export const ENTRY_DOMAIN = 'bwc/v1/AuditEntry';

export interface AuditEntry {
  seq: number;
  /** Gateway-observed time, ms since the epoch. */
  at: number;
  /** `user:<username>`, `device:<deviceId>`, `gateway:<gatewayId>`, `token:<deviceId>` (an enrollment token) or `anonymous`. */
  actor: string;
  /** Dotted, e.g. `device.enrolled`, `clip.verified`, `records.hold_placed`, `api.request`. */
  action: string;
  /** What it is about ('' when nothing in particular): a manifest hash for a clip, a device id, a hold id… */
  subject: string;
  detail: JsonObject;
  /** The previous entry's hash. */
  prev: string;
  /** This entry's hash. */
  hash: string;
}

/** The hash an entry must carry. */
export function entryHash(e: Omit<AuditEntry, 'hash'>): string {
  return canonicalHash(ENTRY_DOMAIN, {
    seq: e.seq,
    at: e.at,
    actor: e.actor,
    action: e.action,
    subject: e.subject,
    detail: e.detail,
    prev: e.prev,
  });
}

/**
 * The same hash from the detail's canonical text (`canonicalJson(detail)`), for the writer, which
 * has that text already: the entry's JCS is its seven members in key order (action, actor, at,
 * detail, prev, seq, subject), so only the detail needs serializing, once.
 */
export function entryHashFromDetailText(e: Omit<AuditEntry, 'hash' | 'detail'>, detailText: string): string {
  const s = JSON.stringify;
  const text = `{"action":${s(e.action)},"actor":${s(e.actor)},"at":${canonicalJson(e.at)},"detail":${detailText},"prev":${s(e.prev)},"seq":${canonicalJson(e.seq)},"subject":${s(e.subject)}}`;
  return createHash('sha256').update(`${ENTRY_DOMAIN}\n`, 'utf8').update(text, 'utf8').digest('hex');
}

/** A stored row of `audit_log`. */
export interface AuditRow {
  seq: number;
  at: number;
  actor: string;
  action: string;
  subject: string;
  detail_json: string;
  prev_hash: string;
  entry_hash: string;
}

/** A row as an entry; a detail that is not JSON comes back as `{ "unparsable": text }` (and fails its hash). */
export function entryFromRow(r: AuditRow): AuditEntry {
  let detail: JsonObject;
  try {
    detail = JSON.parse(r.detail_json) as JsonObject;
  } catch {
    detail = { unparsable: r.detail_json };
  }
  return {
    seq: Number(r.seq),
    at: Number(r.at),
    actor: r.actor,
    action: r.action,
    subject: r.subject,
    detail,
    prev: r.prev_hash,
    hash: r.entry_hash,
  };
}

/** One line of an export (`GET /api/v1/audit/export`, NDJSON) or of a BagIt audit extract. */
export function entryLine(e: AuditEntry): string {
  return canonicalJson({ type: 'entry', ...e });
}

/** A signed checkpoint as exported (NDJSON line, checkpoint file, BagIt extract). */
export interface CheckpointJson {
  type: 'checkpoint';
  entryCount: number;
  headHash: string;
  at: number;
  gatewayId: string;
  keyId: string;
  /** The AuditCheckpoint envelope, base64. */
  envelope: string;
  /** The signing gateway's root-signed GatewayCertificate envelope, base64, or null. */
  certificate: string | null;
}
