/**
 * Clips over HTTP, under `/api/v1/clips` (gateway/README.md "HTTP API"):
 *
 * | route | who |
 * |---|---|
 * | `GET /clips?device=&camera=&officer=&decision=&category=&state=&from=&to=&before=&limit=` | any signed-in user |
 * | `GET /clips/:hash` (the manifest's facts, the decision, the custody timeline) | any signed-in user |
 * | `GET /clips/:hash/report` (`bwc verify`'s report, run now on the clip held here) | any signed-in user |
 * | `GET /clips/:hash/content[?download=1]` (the clip itself, with `Range`; each viewing or download is audited once per session) | records officer, auditor, supervisor, opr |
 *
 * `from` and `to` (ms) bound when the clip was recorded, as its device claims, or, without a claim,
 * when the gateway received its manifest. `before` pages: the `receivedAt` of the last clip seen.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { ID_PATTERN } from '../../proto/topics.js';
import { CATEGORIES } from '../../proto/policy-vocab.js';
import { decodeManifest } from '../../proto/manifest.js';
import { decisionToJson } from '../../proto/decision.js';
import { trustPublicKey } from '../../proto/ed25519.js';
import { isInputError, verifyClip, type KeySource } from '../../proto/verify.js';
import type { Db } from '../store/db.js';
import type { Fleet } from '../fleet/registry.js';
import type { Ingest } from '../ingest/ingest.js';
import type { AuditAppender } from '../audit/log.js';
import { actorOf } from '../audit/log.js';
import { HttpError, type ApiServer } from './http.js';
import { byteRange, OncePerSession } from './byte-range.js';
import { SESSION_COOKIE } from './auth.js';
import type { Role } from './roles.js';
import { CLIP_COLUMNS, clipJson } from './views.js';
import { VERDICTS, type ClipDetailResponse, type ClipReportResponse, type ClipsResponse, type CustodyStep, type DecisionJson } from './types.js';

/** Who may read a clip's content (evidence): records officers, auditors, supervisors and OPR reviewing it. */
const CONTENT_READERS: readonly Role[] = ['records_officer', 'auditor', 'supervisor', 'opr'];

const Id = z.string().regex(ID_PATTERN, 'must be an id ([A-Za-z0-9][A-Za-z0-9._-]{0,63})');
const HashParam = z.strictObject({ hash: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters') });
const Time = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const EXTENSIONS: Readonly<Record<string, string>> = {
  'video/mp4': 'mp4',
  'video/quicktime': 'mov',
  'video/x-matroska': 'mkv',
  'video/webm': 'webm',
  'video/x-msvideo': 'avi',
  'audio/wav': 'wav',
  'audio/mp4': 'm4a',
  'audio/mpeg': 'mp3',
  'image/jpeg': 'jpg',
  'image/png': 'png',
};

/** Who is asking, for "once per session": the session cookie or the API token, hashed (never kept as is). */
function sessionKey(req: import('node:http').IncomingMessage, username: string): string {
  const cookie =
    (req.headers.cookie ?? '')
      .split(';')
      .map((c) => c.trim())
      .find((c) => c.startsWith(`${SESSION_COOKIE}=`)) ?? '';
  const credential = cookie || String(req.headers.authorization ?? '');
  return `${username}|${createHash('sha256').update(credential).digest('hex').slice(0, 32)}`;
}

export function registerClipRoutes(
  server: ApiServer,
  deps: { db: Db; ingest: Ingest; fleet: Fleet; blobPath: (sha256: string) => string; audit: AuditAppender | null },
): void {
  const { db, ingest, fleet, blobPath, audit } = deps;
  const audited = new OncePerSession();

  server.route({
    method: 'GET',
    path: '/api/v1/clips',
    roles: 'authenticated',
    query: z.object({
      device: Id.optional(),
      camera: Id.optional(),
      officer: Id.optional(),
      decision: z.enum(VERDICTS as [string, ...string[]]).optional(),
      category: z.enum(CATEGORIES).optional(),
      state: z.enum(['RECEIVED', 'VERIFIED', 'REJECTED']).optional(),
      from: Time.optional(),
      to: Time.optional(),
      before: Time.optional(),
      limit: z.coerce.number().int().min(1).max(1000).default(100),
    }),
    handle: async ({ query }) => {
      const where: string[] = [];
      const params: (string | number)[] = [];
      const eq = (column: string, v: string | undefined) => {
        if (v !== undefined) {
          where.push(`${column} = ?`);
          params.push(v);
        }
      };
      eq('device_id', query.device);
      eq('camera_serial', query.camera);
      eq('officer_id', query.officer);
      eq('decision', query.decision);
      eq('category', query.category);
      eq('state', query.state);
      if (query.from !== undefined) {
        where.push('COALESCE(started_at, received_at) >= ?');
        params.push(query.from);
      }
      if (query.to !== undefined) {
        where.push('COALESCE(started_at, received_at) <= ?');
        params.push(query.to);
      }
      if (query.before !== undefined) {
        where.push('received_at < ?');
        params.push(query.before);
      }
      params.push(query.limit);
      const rows = await db.all<Record<string, unknown>>(
        `SELECT ${CLIP_COLUMNS} FROM manifests ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY received_at DESC, manifest_hash LIMIT ?`,
        params,
      );
      return { body: { clips: rows.map(clipJson) } satisfies ClipsResponse };
    },
  });

  server.route({
    method: 'GET',
    path: '/api/v1/clips/:hash',
    roles: 'authenticated',
    params: HashParam,
    handle: async ({ params }) => {
      const row = await db.get<Record<string, unknown>>('SELECT * FROM manifests WHERE manifest_hash = ?', [params.hash]);
      if (!row) throw new HttpError(404, 'NOT_FOUND', `no manifest ${params.hash}`);
      const missing = row.state === 'RECEIVED' ? await ingest.missingChunks(params.hash, Number(row.chunk_count)) : [];
      const uploaded = await db.get<{ at: number | null }>('SELECT MAX(received_at) AS at FROM chunks WHERE manifest_hash = ?', [params.hash]);
      const { manifest: m } = decodeManifest(row.envelope as Buffer);
      const claimed = (v: unknown) => (Number(v) > 0 ? Number(v) : null);
      const observed = (v: unknown) => (v === null || v === undefined ? null : Number(v));
      const complete = Number(row.chunk_count) === 0 || (row.state === 'VERIFIED' && uploaded?.at == null) ? observed(row.verified_at) : observed(uploaded?.at);
      const timeline: CustodyStep[] = [
        { step: 'recorded', at: claimed(m.startedAtMs), source: 'device' },
        { step: 'stopped', at: claimed(m.endedAtMs), source: 'device' },
        { step: 'signed', at: claimed(m.header?.createdAtMs), source: 'device' },
        { step: 'received', at: observed(row.received_at), source: 'gateway' },
        { step: 'uploaded', at: missing.length === 0 ? complete : null, source: 'gateway' },
        { step: 'verified', at: observed(row.verified_at), source: 'gateway' },
        { step: 'released', at: observed(row.released_at), source: 'gateway' },
      ];
      // The current decision (a late tag may have replaced it), and the one the manifest signed
      // when it differs: the earlier decision stays visible as history (DESIGN §6).
      const current = row.decision_json ? (JSON.parse(String(row.decision_json)) as DecisionJson) : null;
      const signed = m.decision ? decisionToJson(m.decision) : null;
      const history = signed && current && (signed.decidedAt !== current.decidedAt || signed.decision !== current.decision) ? [signed] : [];
      const body: ClipDetailResponse = {
        clip: {
          ...clipJson(row),
          chunkCount: Number(row.chunk_count),
          chunkSize: Number(row.chunk_size),
          prevHash: String(row.prev_hash),
          keyId: String(row.key_id),
          decisionDetail: current,
          decisionHistory: history,
          missingChunks: missing,
          mediaType: m.mediaType,
          manifestEnvelope: Buffer.from(row.envelope as Buffer).toString('base64'),
          timeline,
          releasedAt: observed(row.released_at),
        },
      };
      return { body };
    },
  });

  // What an auditor runs with `bwc verify`, run here on the clip held, against the key the
  // device enrolled (the manifest names its key; an unknown key is said, never assumed).
  server.route({
    method: 'GET',
    path: '/api/v1/clips/:hash/report',
    roles: 'authenticated',
    params: HashParam,
    handle: async ({ params }) => {
      const row = await db.get<{
        device_id: string;
        envelope: Buffer;
        clip_sha256: string;
        state: string;
        received_at: number;
        disposition_id: string | null;
      }>(
        `SELECT m.device_id, m.envelope, m.clip_sha256, m.state, m.received_at, d.disposition_id
           FROM manifests m LEFT JOIN disposed_records d ON d.manifest_hash = m.manifest_hash WHERE m.manifest_hash = ?`,
        [params.hash],
      );
      if (!row) throw new HttpError(404, 'NOT_FOUND', `no manifest ${params.hash}`);
      const none = (why: string): { body: ClipReportResponse } => ({ body: { manifestHash: params.hash, report: null, why } });
      if (row.disposition_id) return none(`the content was disposed of (disposition ${row.disposition_id}); the manifest and its record remain`);
      if (row.state !== 'VERIFIED') return none(`the clip is ${row.state}: the gateway holds no complete content to check yet`);
      const keys = await fleet.keysOf(row.device_id);
      const source: KeySource = {
        judge(_m, keyId) {
          const k = keys.find((x) => x.key_id === keyId);
          if (!k) return { verdict: 'UNKNOWN_KEY', detail: `signed by key ${keyId.slice(0, 16)}…, which ${row.device_id} never enrolled` };
          const key = trustPublicKey(k.public_key, `key of ${row.device_id}`);
          if (k.revoked_at !== null && Number(k.revoked_at) <= Number(row.received_at)) {
            return {
              verdict: 'REVOKED_AT_RECORDING_TIME',
              key,
              detail: `key ${keyId.slice(0, 16)}… of ${row.device_id} was revoked before the manifest arrived`,
            };
          }
          return { verdict: 'OK', key, detail: `signed by ${row.device_id}'s enrolled key ${keyId.slice(0, 16)}…` };
        },
      };
      const r = await verifyClip(blobPath(row.clip_sha256), row.envelope, source);
      if (isInputError(r)) return none(`${r.error}: ${r.message}`);
      return {
        body: {
          manifestHash: params.hash,
          why: null,
          report: {
            verdict: r.verdict,
            content: r.content,
            key: r.key,
            keyDetail: r.keyDetail,
            signature: r.signature,
            chunkMap: r.chunkMap,
            chunks: r.chunks,
            problems: [...r.problems],
            summary: r.summary,
            checkedAt: Date.now(),
          },
        } satisfies ClipReportResponse,
      };
    },
  });

  server.route({
    method: 'GET',
    path: '/api/v1/clips/:hash/content',
    roles: CONTENT_READERS,
    params: HashParam,
    query: z.strictObject({ download: z.enum(['0', '1']).optional() }),
    handle: async ({ params, query, user, requestId, req, head }) => {
      const row = await db.get<{
        device_id: string;
        clip_id: string;
        camera_serial: string;
        clip_sha256: string;
        byte_length: number;
        state: string;
        envelope: Buffer;
        disposition_id: string | null;
      }>(
        `SELECT m.device_id, m.clip_id, m.camera_serial, m.clip_sha256, m.byte_length, m.state, m.envelope, d.disposition_id
           FROM manifests m LEFT JOIN disposed_records d ON d.manifest_hash = m.manifest_hash WHERE m.manifest_hash = ?`,
        [params.hash],
      );
      if (!row) throw new HttpError(404, 'NOT_FOUND', `no manifest ${params.hash}`);
      if (row.disposition_id) throw new HttpError(410, 'DISPOSED', `the content of this clip was disposed of (disposition ${row.disposition_id})`);
      if (row.state !== 'VERIFIED') throw new HttpError(409, 'NOT_VERIFIED', `the clip is ${row.state}; only verified content is served`);
      const path = blobPath(row.clip_sha256);
      const size = await stat(path).then(
        (s) => s.size,
        () => null,
      );
      if (size === null) throw new HttpError(410, 'NO_CONTENT', `the gateway holds no content for clip ${row.clip_sha256}`);
      const download = query.download === '1';
      const range = byteRange(typeof req.headers.range === 'string' ? req.headers.range : undefined, size);
      if (range.kind === 'unsatisfiable') {
        throw new HttpError(416, 'RANGE_NOT_SATISFIABLE', `the clip has ${size} bytes; the range asked for lies outside them`, {
          'content-range': `bytes */${size}`,
          'accept-ranges': 'bytes',
        });
      }
      // Evidence read: who, which clip, viewed or downloaded, when; once per session, not once per
      // range request (DESIGN §6), and recorded before the first byte leaves. A HEAD reads
      // nothing: it is not recorded, and the file is not opened.
      const kind = download ? 'download' : 'view';
      if (!head && audited.first(`${sessionKey(req, user.username)}|${params.hash}|${kind}`, Date.now())) {
        await audit?.append(db, {
          actor: actorOf.user(user.username),
          action: download ? 'clip.content_download' : 'clip.content_view',
          subject: params.hash,
          detail: { sha256: row.clip_sha256, bytes: size, requestId },
        });
      }
      const { manifest } = decodeManifest(row.envelope);
      const mediaType = /^[a-z]+\/[A-Za-z0-9.+-]+$/.test(manifest.mediaType) ? manifest.mediaType : 'application/octet-stream';
      // <camera>_<start>_<hash8>.<ext>: what the clip is, when it was recorded, which bytes.
      const started = manifest.startedAtMs
        ? new Date(manifest.startedAtMs)
            .toISOString()
            .replace(/[-:]/g, '')
            .replace(/\.\d{3}/, '')
        : 'unknown';
      const stem = `${row.camera_serial || row.device_id}_${started}_${row.clip_sha256.slice(0, 8)}`.replace(/[^A-Za-z0-9._-]/g, '_');
      const fileName = `${stem}.${EXTENSIONS[mediaType] ?? 'bin'}`;
      const headers = {
        'content-type': mediaType,
        'accept-ranges': 'bytes',
        'x-clip-sha256': row.clip_sha256,
        'content-disposition': `${download ? 'attachment' : 'inline'}; filename="${fileName}"`,
        'cache-control': 'private, no-store',
      };
      if (range.kind === 'part') {
        return {
          status: 206,
          ...(head ? {} : { stream: createReadStream(path, { start: range.start, end: range.end }) }),
          headers: {
            ...headers,
            'content-length': String(range.end - range.start + 1),
            'content-range': `bytes ${range.start}-${range.end}/${size}`,
          },
        };
      }
      return { ...(head ? { status: 200 } : { stream: createReadStream(path) }), headers: { ...headers, 'content-length': String(size) } };
    },
  });
}
