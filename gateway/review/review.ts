/**
 * The review queue (DESIGN §6 "Review queue"; 1061.2 §4.4: supervisors ensure compliance, take
 * corrective action and report suspected violations to OPR). A recording that goes to the
 * supervisor — unauthorized, prohibited (at once), unclassified after its grace period,
 * clock-flagged, or authorized by a grant filed late — becomes a review item: a record with a
 * history, each step of it also an audit-log entry naming the person.
 *
 * - One item per clip while it waits: a later flag about the same clip adds a reason to it.
 * - Routed to the supervisors of the officer's offices (the offices of the users whose person id
 *   is the officer's; read when the queue is read, so an officer given an office later is routed).
 *   An item whose officer has no office on record is shown to OPR until one is.
 * - A supervisor resolves it (an outcome and a note) or refers it to OPR (a note); OPR closes a
 *   referral (a finding and a note). Nobody acts on an item about their own recording.
 * - A late tag that authorizes the recording closes an open item as "tagged late", naming who
 *   tagged it and when, when every reason was that it lacked a basis (a tag cannot undo a
 *   prohibited recording, a clock flag or a late grant: those stay for the supervisor).
 * - While an item is open or referred, the clip is never eligible for disposition (records/).
 */
import { idKey, sameId, timeOrNull } from '../../proto/canonical.js';
import type { DecisionJson } from '../../proto/decision.js';
import type { Db, Queryable } from '../store/db.js';
import { actorOf, type AuditAppender } from '../audit/log.js';

/** Why a recording went to the supervisor. */
export const REVIEW_FLAGS = ['UNAUTHORIZED', 'PROHIBITED', 'UNCLASSIFIED', 'CLOCK_FLAGGED', 'GRANT_FILED_LATE'] as const;
export type ReviewFlag = (typeof REVIEW_FLAGS)[number];

export const REVIEW_STATES = ['open', 'referred', 'resolved', 'closed', 'tagged_late'] as const;
export type ReviewState = (typeof REVIEW_STATES)[number];
/** States in which an item waits for someone (and the clip's disposition waits with it). */
export const WAITING_STATES: readonly ReviewState[] = ['open', 'referred'];
/** SQL for "the item waits": used by records/ too. */
export const WAITING_SQL = `state IN ('open', 'referred')`;

/** A supervisor's resolution (1061.2 §4.4: corrective action as necessary). */
export const RESOLUTION_OUTCOMES = ['no_violation', 'counselled', 'policy_clarified', 'other'] as const;
/** OPR's finding on a referral. */
export const OPR_OUTCOMES = ['sustained', 'not_sustained', 'unfounded', 'exonerated'] as const;

/** Flags a late tag answers: the recording lacked a basis, and now has one. */
const TAG_CLEARS: ReadonlySet<ReviewFlag> = new Set(['UNAUTHORIZED', 'UNCLASSIFIED']);

export const NOTE_MAX = 4000;

export class ReviewError extends Error {
  override name = 'ReviewError';
  constructor(
    readonly code: 'NOT_FOUND' | 'OUT_OF_SCOPE' | 'SELF_REVIEW' | 'INVALID_TRANSITION' | 'BAD_INPUT',
    message: string,
  ) {
    super(message);
  }
}

/** A recording going to the supervisor. */
export interface FlagInput {
  kind: ReviewFlag;
  deviceId: string;
  camera: string | null;
  clipId: string;
  officerId: string;
  decision: DecisionJson;
  /** What the supervisor reads: the alert's message. */
  message: string;
}

/** The caller, as the API authenticated them. */
export interface Reviewer {
  readonly username: string;
  readonly roles: readonly string[];
  readonly offices: readonly string[];
  readonly personId: string | null;
}

export interface ItemRow {
  id: number;
  device_id: string;
  camera_serial: string;
  clip_id: string;
  officer_id: string;
  state: ReviewState;
  decision_json: string;
  opened_at: number;
  updated_at: number;
  referred_at: number | null;
  referred_by: string | null;
  outcome: string | null;
  closed_at: number | null;
  closed_by: string | null;
}

export interface ReasonRow {
  item_id: number;
  kind: ReviewFlag;
  decided_at: number;
  flagged_at: number;
  message: string;
  decision_json: string;
}
export interface StepRow {
  id: number;
  item_id: number;
  step: string;
  at: number;
  actor: string;
  outcome: string | null;
  note: string | null;
  detail_json: string | null;
}

/** An item with what the caller may do with it. */
export interface VisibleItem {
  item: ItemRow;
  /** The offices it is routed to (the officer's); empty: the officer has no office on record. */
  offices: string[];
  kinds: ReviewFlag[];
  manifestHash: string | null;
  actions: ('resolve' | 'refer' | 'close')[];
  /** The item is about the caller's own recording: they may read it, not act on it. */
  own: boolean;
}

export interface ReviewQueueOptions {
  db: Db;
  audit: AuditAppender | null;
  gatewayId: string;
  now?: () => number;
}

function num(v: number | string | null): number | null {
  return v === null ? null : Number(v);
}

function toItem(r: ItemRow): ItemRow {
  return {
    ...r,
    id: Number(r.id),
    opened_at: Number(r.opened_at),
    updated_at: Number(r.updated_at),
    referred_at: num(r.referred_at),
    closed_at: num(r.closed_at),
  };
}

export class ReviewQueue {
  readonly #db: Db;
  readonly #audit: AuditAppender | null;
  readonly #actor: string;
  readonly #now: () => number;

  constructor(o: ReviewQueueOptions) {
    this.#db = o.db;
    this.#audit = o.audit;
    this.#actor = actorOf.gateway(o.gatewayId);
    this.#now = o.now ?? Date.now;
  }

  // ── what sends a recording to the supervisor (in the caller's transaction) ──────────────────

  /**
   * A recording went to the supervisor: opens an item for its clip, or adds this reason to the
   * clip's waiting item. The same flag about the same decision again (a resend) changes nothing.
   */
  async flag(q: Queryable, f: FlagInput): Promise<void> {
    const at = this.#now();
    const camera = f.camera ?? '';
    const decidedAt = timeOrNull(f.decision.decidedAt) ?? at;
    const seen = await q.get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM review_reasons r JOIN review_items i ON i.id = r.item_id
        WHERE i.device_id = ? AND i.camera_serial = ? AND i.clip_id = ? AND r.kind = ? AND r.decided_at = ?`,
      [f.deviceId, camera, f.clipId, f.kind, decidedAt],
    );
    if (Number(seen?.n ?? 0) > 0) return;
    const decision = JSON.stringify(f.decision);
    let item = f.clipId ? await this.#waiting(q, f.deviceId, camera, f.clipId) : undefined;
    let opened = false;
    if (!item) {
      item = await q.get<ItemRow>(
        `INSERT INTO review_items (device_id, camera_serial, clip_id, officer_id, state, decision_json, opened_at, updated_at)
         VALUES (?, ?, ?, ?, 'open', ?, ?, ?) ON CONFLICT DO NOTHING RETURNING *`,
        [f.deviceId, camera, f.clipId, f.officerId, decision, at, at],
      );
      opened = item !== undefined;
      // Another replica opened it meanwhile: this flag joins that item.
      item ??= await this.#waiting(q, f.deviceId, camera, f.clipId);
      if (!item) throw new Error(`review: no waiting item for ${f.deviceId}/${camera}/${f.clipId} after opening one`);
    }
    const id = Number(item.id);
    await q.run('INSERT INTO review_reasons (item_id, kind, decided_at, flagged_at, message, decision_json) VALUES (?, ?, ?, ?, ?, ?)', [
      id,
      f.kind,
      decidedAt,
      at,
      f.message,
      decision,
    ]);
    if (!opened) {
      const held = JSON.parse(item.decision_json) as DecisionJson;
      const newer = decidedAt >= (timeOrNull(held.decidedAt) ?? 0);
      await q.run(`UPDATE review_items SET updated_at = ?${newer ? ', decision_json = ?' : ''}${item.officer_id ? '' : ', officer_id = ?'} WHERE id = ?`, [
        at,
        ...(newer ? [decision] : []),
        ...(item.officer_id ? [] : [f.officerId]),
        id,
      ]);
    }
    const step = opened ? 'opened' : 'flagged';
    await this.#step(q, id, step, at, this.#actor, {
      detail: { kind: f.kind, decision: f.decision.decision, reasons: f.decision.reasons },
    });
    await this.#audit?.append(q, {
      actor: this.#actor,
      action: `review.${step}`,
      subject: await this.#subject(q, item),
      detail: {
        reviewId: id,
        kind: f.kind,
        deviceId: f.deviceId,
        cameraSerial: camera,
        clipId: f.clipId,
        officerId: f.officerId,
        decision: f.decision.decision,
        reasons: f.decision.reasons,
      },
    });
  }

  /**
   * A newer decision authorized the recording (a late tag): its waiting item is closed as "tagged
   * late" when every reason was a missing basis; otherwise the tag is noted and the item stays.
   */
  async taggedLate(q: Queryable, t: { deviceId: string; camera: string | null; clipId: string; officerId: string; decision: DecisionJson }): Promise<void> {
    if (!t.clipId) return;
    const item = await this.#waiting(q, t.deviceId, t.camera ?? '', t.clipId);
    if (!item) return;
    const at = this.#now();
    const id = Number(item.id);
    const kinds = (await q.all<{ kind: ReviewFlag }>('SELECT DISTINCT kind FROM review_reasons WHERE item_id = ?', [id])).map((r) => r.kind);
    const taggedAt = timeOrNull(t.decision.decidedAt) ?? at;
    const taggedBy = t.officerId || t.decision.activation?.officerId || '';
    const detail = {
      taggedBy: taggedBy || null,
      taggedAt,
      decision: t.decision.decision,
      basis: t.decision.basis,
      reasons: t.decision.reasons,
    };
    const closes = item.state === 'open' && kinds.every((k) => TAG_CLEARS.has(k));
    const actor = actorOf.device(t.deviceId);
    if (closes) {
      const done = await q.run(
        `UPDATE review_items SET state = 'tagged_late', outcome = 'tagged_late', closed_at = ?, closed_by = ?, updated_at = ?, decision_json = ? WHERE id = ? AND state = 'open'`,
        [taggedAt, taggedBy ? `officer:${taggedBy}` : actor, at, JSON.stringify(t.decision), id],
      );
      if (done.changes !== 1) return;
    }
    const step = closes ? 'tagged_late' : 'tagged';
    await this.#step(q, id, step, at, actor, { detail });
    await this.#audit?.append(q, {
      actor,
      action: `review.${step}`,
      subject: await this.#subject(q, item),
      detail: { reviewId: id, ...detail },
    });
  }

  // ── the queue, as a person sees it ──────────────────────────────────────────────────────────

  /** The caller's queue: waiting items first, oldest first. */
  async list(user: Reviewer, o: { state?: ReviewState; limit?: number } = {}): Promise<VisibleItem[]> {
    const rows = await this.#db.all<ItemRow>(
      `SELECT * FROM review_items ${o.state ? 'WHERE state = ?' : ''}
        ORDER BY CASE WHEN ${WAITING_SQL} THEN 0 ELSE 1 END, opened_at, id LIMIT 5000`,
      o.state ? [o.state] : [],
    );
    const offices = await this.#officeMap(this.#db);
    const visible: VisibleItem[] = [];
    for (const r of rows.map(toItem)) {
      const v = this.#visible(user, r, offices);
      if (v) visible.push(v);
      if (visible.length >= (o.limit ?? 500)) break;
    }
    const kinds = await this.#kinds(
      this.#db,
      visible.map((v) => v.item.id),
    );
    const hashes = await this.#hashes(
      this.#db,
      visible.map((v) => v.item),
    );
    return visible.map((v) => ({ ...v, kinds: kinds.get(v.item.id) ?? [], manifestHash: hashes.get(v.item.id) ?? null }));
  }

  /** One item the caller may see, with its reasons and history; NOT_FOUND or OUT_OF_SCOPE otherwise. */
  async get(user: Reviewer, id: number, q: Queryable = this.#db): Promise<VisibleItem & { reasons: ReasonRow[]; steps: StepRow[] }> {
    const v = await this.#find(q, user, id);
    const reasons = (await q.all<ReasonRow>('SELECT * FROM review_reasons WHERE item_id = ? ORDER BY flagged_at, decided_at, kind', [id])).map((r) => ({
      ...r,
      item_id: Number(r.item_id),
      decided_at: Number(r.decided_at),
      flagged_at: Number(r.flagged_at),
    }));
    const steps = (await q.all<StepRow>('SELECT * FROM review_steps WHERE item_id = ? ORDER BY id', [id])).map((s) => ({
      ...s,
      id: Number(s.id),
      item_id: Number(s.item_id),
      at: Number(s.at),
    }));
    return {
      ...v,
      kinds: [...new Set(reasons.map((r) => r.kind))],
      manifestHash: (await this.#hashes(q, [v.item])).get(id) ?? null,
      reasons,
      steps,
    };
  }

  /** The caller opened the item (the API records this once per session). */
  async viewed(user: Reviewer, id: number): Promise<void> {
    await this.#db.tx(async (q) => {
      const v = await this.#find(q, user, id);
      const actor = actorOf.user(user.username);
      await this.#step(q, id, 'viewed', this.#now(), actor, {});
      await this.#audit?.append(q, { actor, action: 'review.viewed', subject: await this.#subject(q, v.item), detail: { reviewId: id } });
    });
  }

  /** A supervisor of the item's office resolves it (1061.2 §4.4). */
  async resolve(user: Reviewer, id: number, outcome: string, note: string): Promise<void> {
    if (!(RESOLUTION_OUTCOMES as readonly string[]).includes(outcome)) {
      throw new ReviewError('BAD_INPUT', `outcome ${JSON.stringify(outcome)} is not one of ${RESOLUTION_OUTCOMES.join(', ')}`);
    }
    await this.#act(
      user,
      id,
      'resolve',
      note,
      async (q, at, actor) =>
        q.run(`UPDATE review_items SET state = 'resolved', outcome = ?, closed_at = ?, closed_by = ?, updated_at = ? WHERE id = ? AND state = 'open'`, [
          outcome,
          at,
          actor,
          at,
          id,
        ]),
      { step: 'resolved', outcome },
    );
  }

  /** A supervisor of the item's office refers it to OPR (1061.2 §4.4: suspected violations). */
  async refer(user: Reviewer, id: number, note: string): Promise<void> {
    await this.#act(
      user,
      id,
      'refer',
      note,
      async (q, at, actor) =>
        q.run(`UPDATE review_items SET state = 'referred', referred_at = ?, referred_by = ?, updated_at = ? WHERE id = ? AND state = 'open'`, [
          at,
          actor,
          at,
          id,
        ]),
      { step: 'referred', outcome: null },
    );
  }

  /** OPR closes a referral with its finding. */
  async close(user: Reviewer, id: number, outcome: string, note: string): Promise<void> {
    if (!(OPR_OUTCOMES as readonly string[]).includes(outcome)) {
      throw new ReviewError('BAD_INPUT', `outcome ${JSON.stringify(outcome)} is not one of ${OPR_OUTCOMES.join(', ')}`);
    }
    await this.#act(
      user,
      id,
      'close',
      note,
      async (q, at, actor) =>
        q.run(`UPDATE review_items SET state = 'closed', outcome = ?, closed_at = ?, closed_by = ?, updated_at = ? WHERE id = ? AND state = 'referred'`, [
          outcome,
          at,
          actor,
          at,
          id,
        ]),
      { step: 'closed', outcome },
    );
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────────

  async #act(
    user: Reviewer,
    id: number,
    action: 'resolve' | 'refer' | 'close',
    note: string,
    write: (q: Queryable, at: number, actor: string) => Promise<{ changes: number }>,
    s: { step: string; outcome: string | null },
  ): Promise<void> {
    const text = note.trim();
    if (!text) throw new ReviewError('BAD_INPUT', `a note is required to ${action} a review item`);
    if (text.length > NOTE_MAX) throw new ReviewError('BAD_INPUT', `a note is at most ${NOTE_MAX} characters`);
    await this.#db.tx(async (q) => {
      const v = await this.#find(q, user, id);
      if (v.own)
        throw new ReviewError('SELF_REVIEW', `review item ${id} is about your own recording (officer ${v.item.officer_id}); another supervisor acts on it`);
      if (!v.actions.includes(action)) throw new ReviewError('INVALID_TRANSITION', transitionRefusal(v.item, action, user));
      const at = this.#now();
      const actor = actorOf.user(user.username);
      const w = await write(q, at, actor);
      if (w.changes !== 1) throw new ReviewError('INVALID_TRANSITION', `review item ${id} changed meanwhile; load it again`);
      await this.#step(q, id, s.step, at, actor, { outcome: s.outcome, note: text });
      await this.#audit?.append(q, {
        actor,
        action: `review.${s.step}`,
        subject: await this.#subject(q, v.item),
        detail: { reviewId: id, ...(s.outcome ? { outcome: s.outcome } : {}), note: text, from: v.item.state },
      });
    });
  }

  async #find(q: Queryable, user: Reviewer, id: number): Promise<VisibleItem> {
    const row = await q.get<ItemRow>('SELECT * FROM review_items WHERE id = ?', [id]);
    if (!row) throw new ReviewError('NOT_FOUND', `no review item ${id}`);
    const item = toItem(row);
    const v = this.#visible(user, item, await this.#officeMap(q));
    if (!v) throw new ReviewError('OUT_OF_SCOPE', `review item ${id} is not in your scope: it is routed to the supervisors of the officer's offices`);
    return v;
  }

  /** What `user` may see of and do with `item`; null when it is not theirs to see. */
  #visible(user: Reviewer, item: ItemRow, officeMap: Map<string, string[]>): VisibleItem | null {
    const offices = officesOf(officeMap, item.officer_id);
    const supervises = user.roles.includes('supervisor') && offices.some((o) => user.offices.includes(o));
    const opr = user.roles.includes('opr') && (item.referred_at !== null || offices.length === 0);
    if (!supervises && !opr) return null;
    const own = user.personId !== null && item.officer_id !== '' && sameId(user.personId, item.officer_id);
    const actions: VisibleItem['actions'] = [];
    if (!own && supervises && item.state === 'open') actions.push('resolve', 'refer');
    if (!own && user.roles.includes('opr') && item.state === 'referred') actions.push('close');
    return { item, offices, kinds: [], manifestHash: null, actions, own };
  }

  async #officeMap(q: Queryable): Promise<Map<string, string[]>> {
    const map = new Map<string, string[]>();
    for (const u of await q.all<{ person_id: string; offices: string }>(
      `SELECT person_id, offices FROM users WHERE person_id IS NOT NULL AND person_id <> ''`,
    )) {
      const key = idKey(u.person_id);
      map.set(key, [
        ...new Set([
          ...(map.get(key) ?? []),
          ...u.offices
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        ]),
      ]);
    }
    return map;
  }

  async #waiting(q: Queryable, deviceId: string, camera: string, clipId: string): Promise<ItemRow | undefined> {
    return q.get<ItemRow>(`SELECT * FROM review_items WHERE device_id = ? AND camera_serial = ? AND clip_id = ? AND ${WAITING_SQL}`, [
      deviceId,
      camera,
      clipId,
    ]);
  }

  async #kinds(q: Queryable, ids: number[]): Promise<Map<number, ReviewFlag[]>> {
    const out = new Map<number, ReviewFlag[]>();
    for (let i = 0; i < ids.length; i += 200) {
      const part = ids.slice(i, i + 200);
      const rows = await q.all<{ item_id: number; kind: ReviewFlag }>(
        `SELECT item_id, kind FROM review_reasons WHERE item_id IN (${part.map(() => '?').join(', ')}) ORDER BY flagged_at, kind`,
        part,
      );
      for (const r of rows) {
        const list = out.get(Number(r.item_id)) ?? [];
        if (!list.includes(r.kind)) list.push(r.kind);
        out.set(Number(r.item_id), list);
      }
    }
    return out;
  }

  /** The manifest of each item's clip, where the gateway holds it (the first received). */
  async #hashes(q: Queryable, items: readonly ItemRow[]): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    for (const i of items) {
      if (!i.clip_id) continue;
      const m = await q.get<{ manifest_hash: string }>(
        'SELECT manifest_hash FROM manifests WHERE device_id = ? AND camera_serial = ? AND clip_id = ? ORDER BY received_at, manifest_hash LIMIT 1',
        [i.device_id, i.camera_serial, i.clip_id],
      );
      if (m) out.set(Number(i.id), m.manifest_hash);
    }
    return out;
  }

  /** The audit subject: the clip's manifest hash when the gateway holds it (a clip's history is one query), else the item. */
  async #subject(q: Queryable, item: ItemRow): Promise<string> {
    return (await this.#hashes(q, [item])).get(Number(item.id)) ?? `review:${Number(item.id)}`;
  }

  async #step(
    q: Queryable,
    id: number,
    step: string,
    at: number,
    actor: string,
    o: { outcome?: string | null; note?: string; detail?: Record<string, unknown> },
  ): Promise<void> {
    await q.run('INSERT INTO review_steps (item_id, step, at, actor, outcome, note, detail_json) VALUES (?, ?, ?, ?, ?, ?, ?)', [
      id,
      step,
      at,
      actor,
      o.outcome ?? null,
      o.note ?? null,
      o.detail ? JSON.stringify(o.detail) : null,
    ]);
  }
}

/** The offices an officer belongs to: those of every user whose person id is the officer's. */
function officesOf(map: Map<string, string[]>, officerId: string): string[] {
  return officerId ? (map.get(idKey(officerId)) ?? []) : [];
}

/** Why `action` is refused on `item` in its state, for the 409. */
function transitionRefusal(item: ItemRow, action: 'resolve' | 'refer' | 'close', user: Reviewer): string {
  const is = `review item ${item.id} is ${item.state.replace('_', ' ')}`;
  switch (action) {
    case 'resolve':
      return user.roles.includes('supervisor') ? `${is}; only an open item can be resolved` : "only a supervisor of the officer's office resolves an item";
    case 'refer':
      return item.state === 'referred' ? `${is} already` : `${is}; only an open item can be referred to OPR`;
    case 'close':
      return user.roles.includes('opr') ? `${is}; OPR closes only an item referred to it` : 'only OPR closes a referral';
  }
}
