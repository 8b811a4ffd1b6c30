/**
 * Records management at the gateway (4007.1; 1061.2 §6; DESIGN §6): litigation holds, the
 * disposition of eligible temporary records (a dry run with a hash, then an execution that names
 * it), and the BagIt export of a record. Every change is recorded in the audit log in its own
 * transaction; a disposition's statement is signed by the gateway key.
 *
 * What goes and what stays is decided by retention.ts (pure); this file reads the database, writes
 * the outcome and deletes blobs. A blob (content-addressed: several manifests may name the same
 * SHA-256) is deleted only when no record that still needs it refers to it: every manifest naming
 * it, other than refused ones, has had its content disposed of.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { pb } from '../../proto/wire.js';
import type { Signer } from '../../proto/envelope.js';
import { trustPublicKey } from '../../proto/ed25519.js';
import { pinnedKey, verifyClip, isInputError } from '../../proto/verify.js';
import { SOFTWARE_VERSION } from '../../proto/version.js';
import type { DecisionJson } from '../../proto/decision.js';
import type { Db, Queryable } from '../store/db.js';
import { canonicalJson } from '../audit/canonical.js';
import { entryLine } from '../audit/entry.js';
import { checkpointJson, type AuditLog } from '../audit/log.js';
import { clipRecordClass, RECORD_KINDS, scheduleForClip, scheduleForKind, type RecordsConfig, type RecordsSchedule } from './schedules.js';
import { WAITING_SQL } from '../review/review.js';
import {
  WAITING_FOR_REVIEW,
  assess,
  assessPaperwork,
  dispositionList,
  type Assessment,
  type ClipRecord,
  type DispositionItem,
  type LitigationHold,
  type PaperworkItem,
  type PaperworkRecord,
} from './retention.js';
import { makeBag, type Bag, type PayloadFile } from './bagit.js';

export const DISPOSITION_DOMAIN = 'bwc/v1/Disposition';
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const HEX64 = /^[0-9a-f]{64}$/;

export class RecordsError extends Error {
  override name = 'RecordsError';
  constructor(
    readonly code: 'BAD_INPUT' | 'NOT_FOUND' | 'CONFLICT' | 'ELIGIBLE_SET_CHANGED' | 'NOTHING_ELIGIBLE' | 'NO_CONTENT',
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface HoldInput {
  reason: string;
  holdId?: string;
  manifestHash?: string;
  deviceId?: string;
  officerId?: string;
  cameraSerial?: string;
  fromAt?: number;
  toAt?: number;
}

export interface DispositionReport {
  /** When it was computed (gateway time). */
  asOf: number;
  /** Exactly what an execution now would take: clips, sorted by manifest hash… */
  items: DispositionItem[];
  /** …and authorization paperwork (1061.2 §6), sorted by request id. */
  paperwork: PaperworkItem[];
  /** What execution must name. */
  hash: string;
  bytes: number;
  /** Records not taken, by status. */
  kept: Record<string, number>;
  /** Clips left out while their review waits (DESIGN §6), sorted by manifest hash. */
  skipped: { manifestHash: string; reason: typeof WAITING_FOR_REVIEW; reviewId: number; schedule: string }[];
}

export interface DispositionResult {
  dispositionId: string;
  listHash: string;
  records: number;
  blobsDeleted: string[];
  blobsKept: string[];
  statement: Record<string, unknown>;
  signature: { keyId: string; publicKey: string; sig: string };
  auditSeq: number;
}

interface ManifestRecordRow {
  manifest_hash: string;
  device_id: string;
  officer_id: string;
  camera_serial: string;
  clip_sha256: string;
  byte_length: number;
  state: string;
  decision_json: string | null;
  received_at: number;
  verified_at: number | null;
  started_at: number | null;
  disposition_id: string | null;
  review_id: number | null;
}

interface HoldRow {
  hold_id: string;
  reason: string;
  manifest_hash: string | null;
  device_id: string | null;
  officer_id: string | null;
  camera_serial: string | null;
  from_at: number | null;
  to_at: number | null;
  placed_at: number;
  placed_by: string;
  released_at: number | null;
  released_by: string | null;
  release_reason: string | null;
}

interface PaperworkRow {
  id: string;
  state: string;
  requester: string;
  scope_json: string;
  filed_at: number;
  decided_at: number | null;
  revoked_at: number | null;
  expires_at: number;
  disposition_id: string | null;
}

/** What a request became, as a schedule kind; and when it closed (null: pending, or a grant still in force). */
function toPaperwork(r: PaperworkRow, now: number): PaperworkRecord {
  const kind =
    ({ PENDING: 'authz_request', APPROVED: 'authz_approval', DENIED: 'authz_denial', REVOKED: 'authz_revocation' } as Record<string, string>)[r.state] ??
    'authz_request';
  const expires = Number(r.expires_at);
  const closedAt =
    r.state === 'DENIED' ? Number(r.decided_at) : r.state === 'REVOKED' ? Number(r.revoked_at) : r.state === 'APPROVED' && expires <= now ? expires : null;
  let scope: { devices?: string[]; cameras?: string[] } = {};
  try {
    scope = JSON.parse(r.scope_json) as typeof scope;
  } catch {
    scope = {};
  }
  return {
    requestId: r.id,
    kind,
    requester: r.requester,
    devices: scope.devices ?? [],
    cameras: scope.cameras ?? [],
    filedAt: Number(r.filed_at),
    closedAt,
    disposedBy: r.disposition_id,
  };
}

const RECORD_COLS = `m.manifest_hash, m.device_id, m.officer_id, m.camera_serial, m.clip_sha256, m.byte_length, m.state, m.decision_json,
  m.received_at, m.verified_at, m.started_at, d.disposition_id,
  (SELECT MIN(ri.id) FROM review_items ri WHERE ri.device_id = m.device_id AND ri.camera_serial = m.camera_serial AND ri.clip_id = m.clip_id
     AND ri.${WAITING_SQL}) AS review_id`;

function toRecord(r: ManifestRecordRow): ClipRecord {
  let decision: Pick<DecisionJson, 'decision' | 'basis'> | null = null;
  try {
    decision = r.decision_json ? (JSON.parse(r.decision_json) as DecisionJson) : null;
  } catch {
    decision = null;
  }
  return {
    manifestHash: r.manifest_hash,
    deviceId: r.device_id,
    officerId: r.officer_id,
    cameraSerial: r.camera_serial,
    clipSha256: r.clip_sha256,
    byteLength: Number(r.byte_length),
    state: r.state,
    decision,
    receivedAt: Number(r.received_at),
    verifiedAt: r.verified_at === null ? null : Number(r.verified_at),
    startedAt: r.started_at === null ? null : Number(r.started_at),
    disposedBy: r.disposition_id,
    reviewId: r.review_id === null ? null : Number(r.review_id),
  };
}

function toHold(r: HoldRow): LitigationHold & { releasedBy: string | null; releaseReason: string | null } {
  const n = (v: number | null) => (v === null ? null : Number(v));
  return {
    holdId: r.hold_id,
    reason: r.reason,
    manifestHash: r.manifest_hash,
    deviceId: r.device_id,
    officerId: r.officer_id,
    cameraSerial: r.camera_serial,
    fromAt: n(r.from_at),
    toAt: n(r.to_at),
    placedAt: Number(r.placed_at),
    placedBy: r.placed_by,
    releasedAt: n(r.released_at),
    releasedBy: r.released_by,
    releaseReason: r.release_reason,
  };
}

export interface RecordsOptions {
  db: Db;
  audit: AuditLog;
  config: RecordsConfig;
  /** The gateway key: signs disposition statements. */
  signer: Signer;
  gatewayId: string;
  /** Where a clip's content is (the clip store's blob path). */
  blobPath(sha256: string): string;
  /**
   * Tells the docks of a hold placed or released, after it is committed (the gateway sends a
   * signed HoldNotice). A failure is the caller's to log: the hold stands either way.
   */
  notify?: (hold: LitigationHold) => Promise<void>;
  now?: () => number;
}

interface Assessed {
  clips: { record: ClipRecord; assessment: Assessment }[];
  paperwork: { record: PaperworkRecord; assessment: Assessment }[];
}

export class Records {
  readonly #o: Required<RecordsOptions>;

  constructor(o: RecordsOptions) {
    this.#o = { now: Date.now, notify: async () => {}, ...o };
  }

  get config(): RecordsConfig {
    return this.#o.config;
  }

  /** The schedules, the mapping, and what each known class and kind resolves to. */
  schedules(): {
    schedules: RecordsConfig['schedules'];
    mapping: RecordsConfig['mapping'];
    kinds: Record<string, RecordsSchedule>;
    unnamed: string;
  } {
    const kinds = Object.fromEntries(RECORD_KINDS.map((k) => [k, scheduleForKind(this.#o.config, k)]));
    return {
      schedules: this.#o.config.schedules,
      mapping: this.#o.config.mapping,
      kinds,
      unnamed: 'a category, decision or kind the mapping does not name is UNSCHEDULED: kept indefinitely, never disposed of',
    };
  }

  // ── holds ──────────────────────────────────────────────────────────────────────────────────

  async placeHold(input: HoldInput, by: string): Promise<LitigationHold> {
    const reason = input.reason?.trim();
    if (!reason) throw new RecordsError('BAD_INPUT', 'a hold needs a reason (the matter it is for)');
    if (input.holdId !== undefined && !ID.test(input.holdId)) throw new RecordsError('BAD_INPUT', 'holdId must be an id ([A-Za-z0-9][A-Za-z0-9._-]{0,63})');
    if (input.manifestHash !== undefined && !HEX64.test(input.manifestHash))
      throw new RecordsError('BAD_INPUT', 'manifestHash must be 64 lowercase hex characters');
    for (const f of ['deviceId', 'officerId', 'cameraSerial'] as const) {
      if (input[f] !== undefined && !ID.test(input[f]!)) throw new RecordsError('BAD_INPUT', `${f} must be an id`);
    }
    const { fromAt = null, toAt = null } = input;
    if (fromAt !== null && toAt !== null && toAt < fromAt) throw new RecordsError('BAD_INPUT', 'the date range ends before it begins');
    const criteria = [input.manifestHash, input.deviceId, input.officerId, input.cameraSerial, input.fromAt, input.toAt].filter((v) => v !== undefined);
    if (criteria.length === 0) throw new RecordsError('BAD_INPUT', 'a hold names a clip, a device, an officer, a camera or a date range (at least one)');
    const holdId = input.holdId ?? `hold-${new Date(this.#o.now()).toISOString().slice(0, 10)}-${randomBytes(4).toString('hex')}`;
    const at = this.#o.now();
    const row = await this.#o.db.tx(async (q) => {
      const exists = await q.get('SELECT 1 AS x FROM litigation_holds WHERE hold_id = ?', [holdId]);
      if (exists) throw new RecordsError('CONFLICT', `hold ${holdId} already exists`);
      const r = (await q.get<HoldRow>(
        `INSERT INTO litigation_holds (hold_id, reason, manifest_hash, device_id, officer_id, camera_serial, from_at, to_at, placed_at, placed_by)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
        [holdId, reason, input.manifestHash ?? null, input.deviceId ?? null, input.officerId ?? null, input.cameraSerial ?? null, fromAt, toAt, at, by],
      ))!;
      const h = toHold(r);
      await this.#o.audit.append(q, {
        actor: `user:${by}`,
        action: 'records.hold_placed',
        subject: holdId,
        detail: {
          reason,
          manifestHash: h.manifestHash,
          deviceId: h.deviceId,
          officerId: h.officerId,
          cameraSerial: h.cameraSerial,
          fromAt,
          toAt,
        },
      });
      if (h.manifestHash) await this.#o.audit.append(q, { actor: `user:${by}`, action: 'records.held', subject: h.manifestHash, detail: { holdId } });
      return h;
    });
    await this.#o.notify(row);
    return row;
  }

  async releaseHold(holdId: string, reason: string, by: string): Promise<LitigationHold> {
    if (!reason?.trim()) throw new RecordsError('BAD_INPUT', 'releasing a hold needs a reason');
    const released = await this.#o.db.tx(async (q) => {
      const cur = await q.get<HoldRow>('SELECT * FROM litigation_holds WHERE hold_id = ?', [holdId]);
      if (!cur) throw new RecordsError('NOT_FOUND', `no hold ${holdId}`);
      if (cur.released_at !== null) throw new RecordsError('CONFLICT', `hold ${holdId} was already released`);
      const r = (await q.get<HoldRow>('UPDATE litigation_holds SET released_at = ?, released_by = ?, release_reason = ? WHERE hold_id = ? RETURNING *', [
        this.#o.now(),
        by,
        reason.trim(),
        holdId,
      ]))!;
      await this.#o.audit.append(q, {
        actor: `user:${by}`,
        action: 'records.hold_released',
        subject: holdId,
        detail: { reason: reason.trim() },
      });
      return toHold(r);
    });
    await this.#o.notify(released);
    return released;
  }

  async holds(o: { active?: boolean } = {}, q: Queryable = this.#o.db): Promise<ReturnType<typeof toHold>[]> {
    const where = o.active === true ? 'WHERE released_at IS NULL' : o.active === false ? 'WHERE released_at IS NOT NULL' : '';
    return (await q.all<HoldRow>(`SELECT * FROM litigation_holds ${where} ORDER BY placed_at, hold_id`)).map(toHold);
  }

  // ── records and disposition ────────────────────────────────────────────────────────────────

  #schedule(r: ClipRecord): RecordsSchedule {
    return scheduleForClip(this.#o.config, r.decision);
  }

  /** One clip record: its class, schedule, status, holds and disposition. */
  async record(manifestHash: string): Promise<{ record: ClipRecord; recordClass: string; assessment: Assessment } | null> {
    const row = await this.#o.db.get<ManifestRecordRow>(
      `SELECT ${RECORD_COLS} FROM manifests m LEFT JOIN disposed_records d ON d.manifest_hash = m.manifest_hash WHERE m.manifest_hash = ?`,
      [manifestHash],
    );
    if (!row) return null;
    const record = toRecord(row);
    const holds = await this.holds({ active: true });
    return {
      record,
      recordClass: clipRecordClass(record.decision),
      assessment: assess(record, this.#schedule(record), holds, this.#o.now()),
    };
  }

  async #assessAll(q: Queryable, now: number): Promise<Assessed> {
    const rows = await q.all<ManifestRecordRow>(
      `SELECT ${RECORD_COLS} FROM manifests m LEFT JOIN disposed_records d ON d.manifest_hash = m.manifest_hash ORDER BY m.manifest_hash`,
    );
    const holds = (await q.all<HoldRow>('SELECT * FROM litigation_holds WHERE released_at IS NULL')).map(toHold);
    const paperwork = await q.all<PaperworkRow>(
      'SELECT id, state, requester, scope_json, filed_at, decided_at, revoked_at, expires_at, disposition_id FROM authz_requests ORDER BY id',
    );
    return {
      clips: rows.map((r) => {
        const record = toRecord(r);
        return { record, assessment: assess(record, this.#schedule(record), holds, now) };
      }),
      paperwork: paperwork.map((r) => {
        const record = toPaperwork(r, now);
        return { record, assessment: assessPaperwork(record, scheduleForKind(this.#o.config, record.kind), holds, now) };
      }),
    };
  }

  #report(assessed: Assessed, now: number): DispositionReport {
    const { items, paperwork, hash } = dispositionList(assessed.clips, assessed.paperwork);
    const kept: Record<string, number> = {};
    for (const a of assessed.clips) if (a.assessment.status !== 'ELIGIBLE') kept[a.assessment.status] = (kept[a.assessment.status] ?? 0) + 1;
    for (const a of assessed.paperwork)
      if (a.assessment.status !== 'ELIGIBLE') kept[`paperwork ${a.assessment.status}`] = (kept[`paperwork ${a.assessment.status}`] ?? 0) + 1;
    const skipped = assessed.clips
      .filter((a) => a.assessment.status === 'IN_REVIEW')
      .map(({ record: r, assessment: a }) => ({
        manifestHash: r.manifestHash,
        reason: WAITING_FOR_REVIEW,
        reviewId: r.reviewId!,
        schedule: a.schedule.name,
      }));
    return { asOf: now, items, paperwork, hash, bytes: items.reduce((n, i) => n + i.byteLength, 0), kept, skipped };
  }

  /** The dry run: exactly what a disposition now would take, and the hash execution must name. */
  async dryRun(): Promise<DispositionReport> {
    const now = this.#o.now();
    return this.#report(await this.#assessAll(this.#o.db, now), now);
  }

  /**
   * Executes the disposition whose dry run had `listHash`; refused (ELIGIBLE_SET_CHANGED) when
   * the eligible set is not that list any more. Marks the records' content disposed of (metadata
   * stays), deletes the blobs no remaining record needs, and writes the signed statement in the
   * audit log; then removes those blobs' files.
   */
  async dispose(listHash: string, by: string, reason = ''): Promise<DispositionResult> {
    const signer = this.#o.signer;
    const result = await this.#o.db.tx(async (q) => {
      const now = this.#o.now();
      const report = this.#report(await this.#assessAll(q, now), now);
      const count = report.items.length + report.paperwork.length;
      if (report.hash !== listHash) {
        throw new RecordsError(
          'ELIGIBLE_SET_CHANGED',
          `the eligible set changed since that dry run: it is now ${count} record(s) with hash ${report.hash}; run the dry run again and check it`,
          { currentHash: report.hash, records: count },
        );
      }
      if (count === 0) throw new RecordsError('NOTHING_ELIGIBLE', 'no record is eligible for disposition');
      const dispositionId = `disp-${new Date(now).toISOString().slice(0, 10)}-${randomBytes(4).toString('hex')}`;
      for (const i of report.items) {
        await q.run('INSERT INTO disposed_records (manifest_hash, disposition_id, disposed_at, schedule) VALUES (?, ?, ?, ?)', [
          i.manifestHash,
          dispositionId,
          now,
          i.schedule,
        ]);
      }
      const blobsDeleted: string[] = [];
      const blobsKept: string[] = [];
      for (const sha of [...new Set(report.items.map((i) => i.clipSha256))].sort()) {
        // Every other manifest naming this content, except refused ones, still needs it until its own content is disposed of.
        const needed = await q.get<{ n: number }>(
          `SELECT COUNT(*) AS n FROM manifests m WHERE m.clip_sha256 = ? AND m.state <> 'REJECTED'
             AND NOT EXISTS (SELECT 1 FROM disposed_records d WHERE d.manifest_hash = m.manifest_hash)`,
          [sha],
        );
        if (Number(needed?.n ?? 0) > 0) {
          blobsKept.push(sha);
          continue;
        }
        await q.run('UPDATE blobs SET deleted_at = ? WHERE sha256 = ? AND deleted_at IS NULL', [now, sha]);
        blobsDeleted.push(sha);
      }
      const statement = {
        type: 'bwc-disposition',
        version: 1,
        dispositionId,
        gatewayId: this.#o.gatewayId,
        at: now,
        by: `user:${by}`,
        reason,
        listHash,
        records: report.items.map((i) => ({
          manifestHash: i.manifestHash,
          clipSha256: i.clipSha256,
          byteLength: i.byteLength,
          schedule: i.schedule,
          dueAt: i.dueAt,
        })),
        paperwork: report.paperwork.map((i) => ({ requestId: i.requestId, kind: i.kind, schedule: i.schedule, dueAt: i.dueAt })),
        blobsDeleted,
        blobsKept,
      };
      // Paperwork: the request's words, the decision's note and factors and the signed grant and
      // revocation go; who asked, who decided, when, and the hashes stay (metadata).
      for (const i of report.paperwork) {
        await q.run(
          `UPDATE authz_requests SET reason = '', purpose = '', minimization = '', location = '', decision_note = NULL, factors_json = NULL,
             revocation_reason = NULL, grant_envelope = NULL, revocation_envelope = NULL, disposition_id = ? WHERE id = ? AND disposition_id IS NULL`,
          [dispositionId, i.requestId],
        );
        await this.#o.audit.append(q, {
          actor: `user:${by}`,
          action: 'records.content_disposed',
          subject: i.requestId,
          detail: { dispositionId, schedule: i.schedule, kind: i.kind },
        });
      }
      const signedInput = Buffer.concat([Buffer.from(`${DISPOSITION_DOMAIN}\n`, 'utf8'), Buffer.from(canonicalJson(statement), 'utf8')]);
      const sig = Buffer.from(signer.sign(signedInput));
      const signature = { keyId: signer.keyId, publicKey: Buffer.from(signer.publicKey).toString('hex'), sig: sig.toString('base64') };
      for (const i of report.items) {
        await this.#o.audit.append(q, {
          actor: `user:${by}`,
          action: 'records.content_disposed',
          subject: i.manifestHash,
          detail: { dispositionId, schedule: i.schedule, clipSha256: i.clipSha256, blobDeleted: blobsDeleted.includes(i.clipSha256) },
        });
      }
      const entry = await this.#o.audit.append(q, {
        actor: `user:${by}`,
        action: 'records.disposition_executed',
        subject: dispositionId,
        detail: { statement, signature },
      });
      await q.run(
        'INSERT INTO dispositions (disposition_id, at, disposed_by, list_hash, record_count, statement_json, key_id, signature, audit_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        [dispositionId, now, by, listHash, count, canonicalJson(statement), signer.keyId, sig, entry.seq],
      );
      return { dispositionId, listHash, records: count, blobsDeleted, blobsKept, statement, signature, auditSeq: entry.seq };
    });
    await this.removeDeletedBlobs(result.blobsDeleted);
    return result;
  }

  /**
   * Removes the files of blobs marked deleted (after the commit: no file I/O in a transaction).
   * A blob stored again since (the same content uploaded anew) is live again and stays.
   */
  async removeDeletedBlobs(shas: readonly string[]): Promise<number> {
    let removed = 0;
    for (const sha of shas) {
      const row = await this.#o.db.get<{ deleted_at: number | null }>('SELECT deleted_at FROM blobs WHERE sha256 = ?', [sha]);
      if (!row || row.deleted_at === null) continue;
      await rm(this.#o.blobPath(sha), { force: true });
      removed++;
    }
    return removed;
  }

  async dispositions(limit = 100): Promise<
    {
      dispositionId: string;
      at: number;
      by: string;
      listHash: string;
      records: number;
      statement: unknown;
      signature: { keyId: string; sig: string };
      auditSeq: number;
    }[]
  > {
    const rows = await this.#o.db.all<{
      disposition_id: string;
      at: number;
      disposed_by: string;
      list_hash: string;
      record_count: number;
      statement_json: string;
      key_id: string;
      signature: Buffer;
      audit_seq: number;
    }>('SELECT * FROM dispositions ORDER BY at DESC LIMIT ?', [limit]);
    return rows.map((r) => ({
      dispositionId: r.disposition_id,
      at: Number(r.at),
      by: r.disposed_by,
      listHash: r.list_hash,
      records: Number(r.record_count),
      statement: JSON.parse(r.statement_json) as unknown,
      signature: { keyId: r.key_id, sig: Buffer.from(r.signature).toString('base64') },
      auditSeq: Number(r.audit_seq),
    }));
  }

  // ── export ─────────────────────────────────────────────────────────────────────────────────

  /**
   * The BagIt package of a clip record (the export is recorded first, so the extract holds it):
   * the clip, its manifest envelope, the signer's public key, the verification report and the
   * audit extract. Refused for a record whose content is not held (not VERIFIED, or disposed of).
   */
  async exportBag(manifestHash: string, by: string): Promise<Bag> {
    const found = await this.record(manifestHash);
    if (!found) throw new RecordsError('NOT_FOUND', `no record ${manifestHash}`);
    const { record, assessment } = found;
    if (record.disposedBy) throw new RecordsError('NO_CONTENT', `the content of ${manifestHash} was disposed of (${record.disposedBy}); its metadata stays`);
    if (record.state !== 'VERIFIED') throw new RecordsError('NO_CONTENT', `${manifestHash} is ${record.state}: the gateway holds no verified content for it`);
    const m = (await this.#o.db.get<{ envelope: Buffer; key_id: string; clip_id: string }>(
      'SELECT envelope, key_id, clip_id FROM manifests WHERE manifest_hash = ?',
      [manifestHash],
    ))!;
    const key = await this.#o.db.get<{ public_key: Buffer; device_id: string; revoked_at: number | null }>(
      'SELECT public_key, device_id, revoked_at FROM device_keys WHERE key_id = ?',
      [m.key_id],
    );
    if (!key) throw new RecordsError('NOT_FOUND', `the key ${m.key_id} that signed ${manifestHash} is not on record`);
    const exportedAt = this.#o.now();
    await this.#o.audit.append(this.#o.db, {
      actor: `user:${by}`,
      action: 'records.exported',
      subject: manifestHash,
      detail: { format: 'BagIt 1.0', schedule: assessment.schedule.name, status: assessment.status },
    });
    const blob = this.#o.blobPath(record.clipSha256);
    const report = await verifyClip(blob, m.envelope, pinnedKey(trustPublicKey(key.public_key)));
    if (isInputError(report)) throw new RecordsError('CONFLICT', `the stored record does not verify: ${report.message}`);
    if (report.clip.sha256 !== record.clipSha256)
      throw new RecordsError('CONFLICT', `the stored content of ${manifestHash} no longer matches its SHA-256 (${report.content})`);
    const decoded = pb.ClipManifest.decode(pb.Envelope.decode(m.envelope).body);
    const base = (m.clip_id || 'clip').replace(/[^A-Za-z0-9._-]/g, '_').replace(/^[._-]+/, '') || 'clip';
    const ext =
      { 'video/mp4': '.mp4', 'video/quicktime': '.mov', 'audio/mpeg': '.mp3', 'audio/wav': '.wav', 'image/jpeg': '.jpg' }[decoded.mediaType] ?? '.bin';
    const clipPath = `clip/${base}${ext}`;
    const manifestPath = `clip/${base}.manifest`;
    const entries = await this.#o.audit.entries({ subject: manifestHash, limit: 10_000 });
    const checkpoint = (await this.#o.audit.checkpoints({ limit: 1 }))[0];
    const extract = [...entries.map(entryLine), ...(checkpoint ? [canonicalJson(checkpointJson(checkpoint))] : [])].join('\n');
    const verification = { ...report, clip: { ...report.clip, path: `data/${clipPath}` }, manifestPath: `data/${manifestPath}` };
    const payload: PayloadFile[] = [
      { path: clipPath, file: { path: blob, size: record.byteLength, sha256: record.clipSha256 } },
      { path: manifestPath, data: Buffer.from(m.envelope) },
      { path: 'clip/signer-public-key.hex', data: Buffer.from(`${Buffer.from(key.public_key).toString('hex')}\n`) },
      { path: 'verification.json', data: Buffer.from(`${JSON.stringify(verification, null, 2)}\n`) },
      { path: 'audit-extract.ndjson', data: Buffer.from(`${extract}\n`) },
    ];
    return makeBag(
      `bwc-record-${manifestHash.slice(0, 16)}`,
      payload,
      [
        ['Source-Organization', `bwc-companion gateway ${this.#o.gatewayId}`],
        ['External-Identifier', manifestHash],
        [
          'External-Description',
          `Body-worn camera clip ${m.clip_id} (camera ${record.cameraSerial}, officer ${record.officerId}, device ${record.deviceId}), its signed manifest, verification report (${report.verdict}) and audit extract`,
        ],
        ['Bag-Software-Agent', `bwc-companion ${SOFTWARE_VERSION}`],
        ['BWC-Manifest-Hash', manifestHash],
        ['BWC-Clip-SHA256', record.clipSha256],
        ['BWC-Record-Schedule', `${assessment.schedule.name} (${assessment.schedule.type})`],
        [
          'BWC-Verification',
          `${report.verdict}; signer key ${m.key_id}${key.revoked_at !== null ? ` (revoked ${new Date(Number(key.revoked_at)).toISOString()})` : ''}`,
        ],
        ['BWC-Audit-Entries', String(entries.length)],
      ],
      exportedAt,
    );
  }
}
