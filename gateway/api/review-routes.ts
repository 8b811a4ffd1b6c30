/**
 * The review queue over HTTP, under `/api/v1/review` (DESIGN §6 "Review queue"; 1061.2 §4.4;
 * gateway/review/README.md):
 *
 * | route | who |
 * |---|---|
 * | `GET /review[?state=]` (the caller's queue: waiting items first, oldest first) | supervisor (its offices), opr (referrals) |
 * | `GET /review/:id` (the item, the clip's decision, reasons, custody and history; the first view per session is recorded) | supervisor (its offices), opr (referrals) |
 * | `POST /review/:id/resolve` `{ outcome, note }` | supervisor of the officer's office, not the officer |
 * | `POST /review/:id/refer` `{ note }` | supervisor of the officer's office, not the officer |
 * | `POST /review/:id/close` `{ outcome, note }` | opr, on a referral, not the officer |
 *
 * Scope is the server's: an item outside the caller's scope is 403 `OUT_OF_SCOPE`; a step the
 * item's state does not allow is 409 `INVALID_TRANSITION`; acting on one's own recording is 403
 * `SELF_REVIEW`; a missing note or an unknown outcome is 400.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { decodeManifest } from '../../proto/manifest.js';
import type { DecisionJson } from '../../proto/decision.js';
import type { Db } from '../store/db.js';
import { NOTE_MAX, OPR_OUTCOMES, RESOLUTION_OUTCOMES, REVIEW_STATES, ReviewError, type ReviewQueue, type VisibleItem } from '../review/review.js';
import { HttpError, type ApiServer } from './http.js';
import { OncePerSession } from './byte-range.js';
import { SESSION_COOKIE, type AuthUser } from './auth.js';
import type { Role } from './roles.js';
import type { ReviewCustodyJson, ReviewDetailResponse, ReviewItemJson, ReviewListResponse, ReviewStepJson } from './types.js';

const REVIEWERS: readonly Role[] = ['supervisor', 'opr'];

const IdParam = z.strictObject({ id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER) });
const Note = z
  .string()
  .max(NOTE_MAX)
  .refine((s) => s.trim().length > 0, 'a note is required');

function reviewError(e: unknown): never {
  if (e instanceof ReviewError) {
    const status = { NOT_FOUND: 404, OUT_OF_SCOPE: 403, SELF_REVIEW: 403, INVALID_TRANSITION: 409, BAD_INPUT: 400 }[e.code];
    throw new HttpError(status, e.code, e.message);
  }
  throw e;
}

/** Who is asking, for "once per session": the session cookie or the API token, hashed (never kept as is). */
function sessionKey(req: IncomingMessage, username: string): string {
  const cookie =
    (req.headers.cookie ?? '')
      .split(';')
      .map((c) => c.trim())
      .find((c) => c.startsWith(`${SESSION_COOKIE}=`)) ?? '';
  const credential = cookie || String(req.headers.authorization ?? '');
  return `${username}|${createHash('sha256').update(credential).digest('hex').slice(0, 32)}`;
}

function itemJson(v: VisibleItem): ReviewItemJson {
  const i = v.item;
  return {
    id: i.id,
    state: i.state,
    kinds: v.kinds,
    deviceId: i.device_id,
    cameraSerial: i.camera_serial,
    clipId: i.clip_id,
    officerId: i.officer_id,
    offices: v.offices,
    manifestHash: v.manifestHash,
    verdict: (JSON.parse(i.decision_json) as DecisionJson).decision,
    openedAt: i.opened_at,
    updatedAt: i.updated_at,
    referredAt: i.referred_at,
    referredBy: i.referred_by,
    outcome: i.outcome,
    closedAt: i.closed_at,
    closedBy: i.closed_by,
    actions: v.actions,
    own: v.own,
  };
}

export function registerReviewRoutes(server: ApiServer, deps: { db: Db; review: ReviewQueue }): void {
  const { db, review } = deps;
  const viewed = new OncePerSession();

  const detail = async (user: AuthUser, id: number): Promise<ReviewDetailResponse> => {
    const v = await review.get(user, id).catch(reviewError);
    const custody = v.manifestHash ? await custodyOf(db, v.manifestHash) : null;
    return {
      item: {
        ...itemJson(v),
        decision: custody?.decision ?? (JSON.parse(v.item.decision_json) as DecisionJson),
        reasons: v.reasons.map((r) => ({
          kind: r.kind,
          message: r.message,
          decidedAt: r.decided_at,
          flaggedAt: r.flagged_at,
          decision: JSON.parse(r.decision_json) as DecisionJson,
        })),
        custody: custody?.custody ?? null,
        history: v.steps.map((s) => ({
          step: s.step as ReviewStepJson['step'],
          at: s.at,
          actor: s.actor,
          outcome: s.outcome,
          note: s.note,
          detail: s.detail_json ? (JSON.parse(s.detail_json) as Record<string, unknown>) : null,
        })),
      },
    };
  };

  server.route({
    method: 'GET',
    path: '/api/v1/review',
    roles: REVIEWERS,
    query: z.object({ state: z.enum(REVIEW_STATES).optional(), limit: z.coerce.number().int().min(1).max(1000).default(500) }),
    handle: async ({ user, query }) => ({
      body: {
        items: (await review.list(user, { ...(query.state ? { state: query.state } : {}), limit: query.limit })).map(itemJson),
      } satisfies ReviewListResponse,
    }),
  });

  server.route({
    method: 'GET',
    path: '/api/v1/review/:id',
    roles: REVIEWERS,
    params: IdParam,
    handle: async ({ user, params, req, head }) => {
      const body = await detail(user, params.id);
      // The first view per user per session is a step of the item's history (and an audit entry).
      if (!head && viewed.first(`${sessionKey(req, user.username)}|${params.id}`, Date.now())) {
        await review.viewed(user, params.id).catch(reviewError);
        return { body: await detail(user, params.id) };
      }
      return { body };
    },
  });

  server.route({
    method: 'POST',
    path: '/api/v1/review/:id/resolve',
    roles: ['supervisor'],
    params: IdParam,
    body: z.strictObject({ outcome: z.enum(RESOLUTION_OUTCOMES), note: Note }),
    handle: async ({ user, params, body }) => {
      await review.resolve(user, params.id, body.outcome, body.note).catch(reviewError);
      return { body: await detail(user, params.id) };
    },
  });

  server.route({
    method: 'POST',
    path: '/api/v1/review/:id/refer',
    roles: ['supervisor'],
    params: IdParam,
    body: z.strictObject({ note: Note }),
    handle: async ({ user, params, body }) => {
      await review.refer(user, params.id, body.note).catch(reviewError);
      return { body: await detail(user, params.id) };
    },
  });

  server.route({
    method: 'POST',
    path: '/api/v1/review/:id/close',
    roles: ['opr'],
    params: IdParam,
    body: z.strictObject({ outcome: z.enum(OPR_OUTCOMES), note: Note }),
    handle: async ({ user, params, body }) => {
      await review.close(user, params.id, body.outcome, body.note).catch(reviewError);
      return { body: await detail(user, params.id) };
    },
  });
}

/** The clip's custody and current decision, from its manifest row. */
async function custodyOf(db: Db, manifestHash: string): Promise<{ custody: ReviewCustodyJson; decision: DecisionJson | null } | null> {
  const r = await db.get<{
    manifest_hash: string;
    state: ReviewCustodyJson['state'];
    seq: number;
    prev_hash: string;
    clip_sha256: string;
    byte_length: number;
    envelope: Buffer;
    started_at: number | null;
    received_at: number;
    verified_at: number | null;
    decision_json: string | null;
    disposition_id: string | null;
  }>(
    `SELECT m.manifest_hash, m.state, m.seq, m.prev_hash, m.clip_sha256, m.byte_length, m.envelope, m.started_at, m.received_at, m.verified_at, m.decision_json,
        d.disposition_id FROM manifests m LEFT JOIN disposed_records d ON d.manifest_hash = m.manifest_hash WHERE m.manifest_hash = ?`,
    [manifestHash],
  );
  if (!r) return null;
  const { manifest } = decodeManifest(r.envelope);
  const n = (v: number | null) => (v === null ? null : Number(v));
  return {
    decision: r.decision_json ? (JSON.parse(r.decision_json) as DecisionJson) : null,
    custody: {
      manifestHash: r.manifest_hash,
      state: r.state,
      seq: Number(r.seq),
      prevHash: r.prev_hash,
      sha256: r.clip_sha256,
      byteLength: Number(r.byte_length),
      mediaType: manifest.mediaType,
      startedAt: n(r.started_at),
      endedAt: Number(manifest.endedAtMs) > 0 ? Number(manifest.endedAtMs) : null,
      receivedAt: Number(r.received_at),
      verifiedAt: n(r.verified_at),
      disposedBy: r.disposition_id,
    },
  };
}
