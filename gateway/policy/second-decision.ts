/**
 * The gateway decides again (DESIGN §5): for every manifest and every event that carries a dock's
 * decision about a recording (ACTIVATION_DECIDED, ACTIVITY_TAGGED), decide() runs here on the
 * recorded activation, as of its own time, with the dock's decidedAt, over the signed objects this
 * gateway holds (objects.ts). A dock running altered software, or a tampered or stale cache, cannot
 * make a recording look authorized:
 * - where the two decisions differ (verdict, or basis kind or id), the clip gets DECISION_MISMATCH
 *   for the supervisor (1061.2 §4), once per clip, showing both decisions;
 * - a basis object (or bundle) the dock's decision names by hash and this gateway lacks is asked of
 *   the dock with a signed PolicyObjectRequest; nothing is raised while it is outstanding, and after
 *   `objectWaitMs` the clip is decided without it (the alert then says the object never came);
 * - a grant that reached the gateway more than `grantFiledLateMs` after its claimed created-at and
 *   authorizes a recording that started before the gateway held it raises GRANT_FILED_LATE (the
 *   signer's clock is the only witness to created-at, DESIGN §5 whole-recording coverage), and
 *   opens a review item for the supervisor (gateway/review/, DESIGN §6).
 *
 * Off the ingest path: a manifest is queued in memory (the manifests table is the durable record; a
 * sweep catches up on any the queue missed, e.g. across a restart), an event's decision is written
 * as a PENDING row first. One drain at a time works through them in the background.
 */
import { decide } from '../../proto/decide.js';
import { activationFromJson, type Activation } from '../../proto/activation.js';
import { decisionToJson, type DecisionJson } from '../../proto/decision.js';
import { sameId } from '../../proto/canonical.js';
import { openEnvelope } from '../../proto/envelope.js';
import { toHex } from '../../proto/bytes.js';
import { pb, type bwc } from '../../proto/wire.js';
import type { Logger } from 'pino';
import type { Db, Queryable } from '../store/db.js';
import type { Alerts } from '../fleet/alerts.js';
import type { ReviewSink } from '../fleet/recording-reports.js';
import { PolicyObjectError, type PolicyObjects } from './objects.js';

export interface SecondDecisionOptions {
  db: Db;
  objects: PolicyObjects;
  alerts: Alerts;
  /** Sends the dock a signed PolicyObjectRequest for these hashes (hex). */
  request(deviceId: string, hashes: string[]): Promise<void>;
  /** How long objects asked of a dock are waited for before the clip is decided without them (default 10 min). */
  objectWaitMs?: number;
  /** A grant first held this long after its claimed created-at is filed late (default 24 h). */
  grantFiledLateMs?: number;
  now?: () => number;
  /** The `second-decision` part of the gateway's logger (gateway/log.ts). */
  log?: Logger;
  /** The review queue: a grant filed late sends the recording to the supervisor (DESIGN §6). */
  review?: Pick<ReviewSink, 'flag'> | null;
}

export const DEFAULT_OBJECT_WAIT_MS = 10 * 60_000;
export const DEFAULT_GRANT_FILED_LATE_MS = 24 * 3600_000;
/** Manifests the in-memory queue holds; beyond it the sweep's catch-up finds them in the manifests table. */
const MAX_QUEUED = 10_000;
/** Manifests older than this are surely committed: the catch-up reads up to now − this. */
const CATCH_UP_SETTLE_MS = 60_000;

/** One dock decision to decide again. `subject`: the hash of the manifest or event that carried it. */
interface Job {
  readonly subject: string;
  readonly deviceId: string;
  readonly camera: string;
  readonly clipId: string;
  readonly dock: DecisionJson;
  readonly receivedAt: number;
}

interface Row {
  subject: string;
  device_id: string;
  camera_serial: string;
  clip_id: string;
  received_at: number;
  dock_json: string;
  state: string;
  waiting_for: string | null;
  wait_until: number | null;
}

export interface SecondDecisionCounters {
  decided: number;
  agreed: number;
  mismatches: number;
  filedLate: number;
  requested: number;
  objectsHeld: number;
  objectsRefused: number;
  /** Manifests the full in-memory queue left to the sweep's catch-up. */
  overflowed: number;
}

export class SecondDecisions {
  readonly #o: SecondDecisionOptions;
  readonly #now: () => number;
  readonly #waitMs: number;
  readonly #lateMs: number;
  #queue: Job[] = [];
  #writes: ((q: Queryable) => Promise<void>)[] = [];
  #draining: Promise<void> | null = null;
  #again = false;
  #catchUpFrom: number | null = null;
  /** When each (device, hash) was last asked for: one request per wait window. */
  readonly #asked = new Map<string, number>();
  /** Why an object a dock sent was refused, by its hash (for the alert); bounded. */
  readonly #refused = new Map<string, string>();
  /** Objects that did not verify because their bundle was not held yet: tried again when one arrives. */
  readonly #orphans = new Map<string, { deviceId: string; bytes: Uint8Array; at: number }>();
  readonly counters: SecondDecisionCounters = {
    decided: 0,
    agreed: 0,
    mismatches: 0,
    filedLate: 0,
    requested: 0,
    objectsHeld: 0,
    objectsRefused: 0,
    overflowed: 0,
  };

  constructor(options: SecondDecisionOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#waitMs = options.objectWaitMs ?? DEFAULT_OBJECT_WAIT_MS;
    this.#lateMs = options.grantFiledLateMs ?? DEFAULT_GRANT_FILED_LATE_MS;
  }

  // ── what ingest accepted ──────────────────────────────────────────────────────────────────

  /** A manifest was stored: its embedded decision is decided again in the background. */
  noteManifest(deviceId: string, hash: string, m: bwc.v1.ClipManifest, receivedAt: number): void {
    if (!this.#o.objects.enabled || !m.decision?.activation) return;
    if (this.#queue.length >= MAX_QUEUED) {
      this.counters.overflowed++;
      return;
    }
    this.#queue.push({ subject: hash, deviceId, camera: m.cameraSerial, clipId: m.clipId, dock: decisionToJson(m.decision), receivedAt });
    this.#kick();
  }

  /**
   * An event was stored: a decision it carries about a clip (ACTIVATION_DECIDED, ACTIVITY_TAGGED)
   * is recorded as PENDING, then decided again in the background; a POLICY_OBJECT the gateway
   * asked for is verified and held.
   */
  async noteEvent(deviceId: string, hash: string, e: bwc.v1.Event, receivedAt: number): Promise<void> {
    if (!this.#o.objects.enabled) return;
    if (e.kind === pb.EventKind.EVENT_KIND_POLICY_OBJECT) {
      if (e.policyObject?.byteLength) await this.objectFromDock(deviceId, e.policyObject, receivedAt);
      return;
    }
    const decides = e.kind === pb.EventKind.EVENT_KIND_ACTIVATION_DECIDED || e.kind === pb.EventKind.EVENT_KIND_ACTIVITY_TAGGED;
    if (!decides || !e.decision?.activation) return;
    const dock = decisionToJson(e.decision);
    const camera = e.cameraSerial || dock.activation?.cameraSerial || '';
    const clipId = e.clipId || dock.activation?.clipId || '';
    await this.#o.db.run(
      `INSERT INTO second_decisions (subject, device_id, camera_serial, clip_id, received_at, dock_json, state) VALUES (?, ?, ?, ?, ?, ?, 'PENDING')
       ON CONFLICT DO NOTHING`,
      [hash, deviceId, camera, clipId, receivedAt, JSON.stringify(dock)],
    );
    this.#kick();
  }

  /** A signed policy object a dock sent: held if it verifies (with when it first reached the gateway). */
  async objectFromDock(deviceId: string, bytes: Uint8Array, receivedAt: number): Promise<boolean> {
    let hash = '';
    try {
      hash = toHex(openEnvelope(bytes).hash);
    } catch {
      /* refused below with the reason hold() gives */
    }
    try {
      const held = await this.#o.objects.hold(bytes, `device:${deviceId}`, receivedAt);
      this.counters.objectsHeld++;
      this.#refused.delete(held.hash);
      this.#orphans.delete(held.hash);
      if (held.type === 'PolicyBundle' && this.#orphans.size) {
        for (const [h, o] of [...this.#orphans]) {
          this.#orphans.delete(h);
          await this.objectFromDock(o.deviceId, o.bytes, o.at);
        }
      }
      this.#kick();
      return true;
    } catch (e) {
      if (!(e instanceof PolicyObjectError)) throw e;
      this.counters.objectsRefused++;
      if (hash) {
        if (this.#refused.size > 1000) this.#refused.clear();
        this.#refused.set(hash, e.message);
        if (/no cached policy bundle names/.test(e.message) && this.#orphans.size < 64) this.#orphans.set(hash, { deviceId, bytes, at: receivedAt });
      }
      this.#o.log?.warn({ device: deviceId, err: e }, `second decision: ${deviceId} sent a policy object that is not held: ${e.message}`);
      return false;
    }
  }

  // ── the background drain ──────────────────────────────────────────────────────────────────

  #kick(): void {
    if (this.#draining) {
      this.#again = true;
      return;
    }
    this.#draining = (async () => {
      try {
        do {
          this.#again = false;
          await this.#drain();
        } while (this.#again || this.#queue.length > 0);
      } catch (e) {
        this.#o.log?.warn({ err: e }, `second decision: ${(e as Error).message}; tried again at the next sweep`);
      }
    })().finally(() => {
      this.#draining = null;
    });
  }

  /** Resolves when nothing queued is left to decide (tests; shutdown). */
  async idle(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  async #drain(): Promise<void> {
    for (;;) {
      const jobs = this.#queue.splice(0, 100);
      for (const j of jobs) await this.#judge(j, null);
      await this.#flush();
      const pending = await this.#o.db.all<Row>(`SELECT * FROM second_decisions WHERE state = 'PENDING' ORDER BY received_at LIMIT 100`);
      for (const r of pending) await this.#judge(jobOf(r), null);
      await this.#flush();
      const ready = await this.#readyWaiting();
      for (const r of ready) await this.#judge(jobOf(r), r);
      await this.#flush();
      if (jobs.length + pending.length + ready.length === 0) return;
    }
  }

  /** Waiting clips whose objects have all arrived, or whose wait is over. */
  async #readyWaiting(): Promise<Row[]> {
    const now = this.#now();
    const rows = await this.#o.db.all<Row>(`SELECT * FROM second_decisions WHERE state = 'WAITING' ORDER BY wait_until LIMIT 500`);
    const ready: Row[] = [];
    for (const r of rows) {
      if (Number(r.wait_until) <= now) {
        ready.push(r);
        continue;
      }
      const wanted = (r.waiting_for ?? '').split(',').filter(Boolean);
      let all = true;
      for (const h of wanted)
        if (!(await this.#o.objects.get(h))) {
          all = false;
          break;
        }
      if (all) ready.push(r);
    }
    return ready;
  }

  /**
   * The periodic work: clips whose wait ended, then manifests the in-memory queue never saw
   * (received before a restart, or while it was full). Returns how many were decided.
   */
  async sweep(): Promise<number> {
    if (!this.#o.objects.enabled) return 0;
    const before = this.counters.decided;
    await this.idle();
    const now = this.#now();
    this.#catchUpFrom ??= Math.max(
      0,
      Number((await this.#o.db.get<{ m: number | null }>('SELECT MAX(received_at) AS m FROM second_decisions'))?.m ?? 0) - CATCH_UP_SETTLE_MS,
    );
    const upTo = now - CATCH_UP_SETTLE_MS;
    for (;;) {
      const missed = await this.#o.db.all<{
        manifest_hash: string;
        device_id: string;
        camera_serial: string;
        clip_id: string;
        decision_json: string;
        received_at: number;
      }>(
        `SELECT m.manifest_hash, m.device_id, m.camera_serial, m.clip_id, m.decision_json, m.received_at FROM manifests m
           LEFT JOIN second_decisions s ON s.subject = m.manifest_hash
          WHERE m.received_at >= ? AND m.received_at <= ? AND m.decision_json IS NOT NULL AND s.subject IS NULL
          ORDER BY m.received_at LIMIT 200`,
        [this.#catchUpFrom, upTo],
      );
      if (missed.length === 0) break;
      for (const m of missed) {
        const dock = JSON.parse(m.decision_json) as DecisionJson;
        const job = {
          subject: m.manifest_hash,
          deviceId: m.device_id,
          camera: m.camera_serial,
          clipId: m.clip_id,
          dock,
          receivedAt: Number(m.received_at),
        };
        // A decision without its activation (an older dock) has nothing to decide again from.
        if (dock.activation) await this.#judge(job, null);
        else this.#done(job, null, 'NO_ACTIVATION', async () => {});
      }
      await this.#flush();
    }
    this.#catchUpFrom = Math.max(this.#catchUpFrom, upTo);
    this.#kick();
    await this.idle();
    return this.counters.decided - before;
  }

  // ── one decision ──────────────────────────────────────────────────────────────────────────

  /** `waited`: the WAITING row, when the objects asked for arrived or their wait ended. */
  async #judge(j: Job, waited: Row | null): Promise<void> {
    const db = this.#o.db;
    const row = await db.get<{ state: string }>('SELECT state FROM second_decisions WHERE subject = ?', [j.subject]);
    if (row?.state === 'DONE' || (row?.state === 'WAITING' && !waited)) return;
    let activation: Activation;
    try {
      activation = activationFromJson({ ...j.dock.activation, deviceId: j.deviceId }, 'the recorded activation');
    } catch (e) {
      this.#done(j, null, 'UNREADABLE', async (q) => {
        if (j.dock.decision === 'AUTHORIZED') await this.#mismatch(j, null, [], `the gateway cannot read the recorded activation (${(e as Error).message})`, q);
      });
      return;
    }
    const named = [j.dock.bundleHash, j.dock.basis?.hash].filter((h): h is string => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h));
    const lacking: string[] = [];
    for (const h of [...new Set(named)]) if (!(await this.#o.objects.get(h))) lacking.push(h);
    if (lacking.length > 0 && !waited) {
      // DESIGN §5: a basis object the gateway lacks is asked of the dock; nothing is raised meanwhile.
      const until = this.#now() + this.#waitMs;
      await db.run(
        `INSERT INTO second_decisions (subject, device_id, camera_serial, clip_id, received_at, dock_json, state, waiting_for, wait_until) VALUES (?, ?, ?, ?, ?, ?, 'WAITING', ?, ?)
         ON CONFLICT (subject) DO UPDATE SET state = 'WAITING', waiting_for = excluded.waiting_for, wait_until = excluded.wait_until`,
        [j.subject, j.deviceId, j.camera, j.clipId, j.receivedAt, JSON.stringify(j.dock), lacking.join(','), until],
      );
      await this.#ask(j.deviceId, lacking);
      return;
    }
    const cache = await this.#o.objects.cache();
    const decidedAt = Date.parse(j.dock.decidedAt) || j.receivedAt;
    const gw = decide(activation, cache, decidedAt);
    const differs =
      gw.decision !== j.dock.decision || (gw.basis?.kind ?? null) !== (j.dock.basis?.kind ?? null) || !sameId(gw.basis?.id ?? '', j.dock.basis?.id ?? '');
    const late = await this.#filedLate(gw, activation);
    this.#done(j, gw, differs ? 'MISMATCH' : 'AGREE', async (q) => {
      if (differs) {
        const never = lacking.map(
          (h) =>
            `${h.slice(0, 16)}… ${this.#refused.has(h) ? `was sent but did not verify (${this.#refused.get(h)})` : `never came within ${Math.round(this.#waitMs / 1000)} s`}`,
        );
        await this.#mismatch(
          j,
          gw,
          lacking,
          never.length ? `the dock was asked for what its decision names and the gateway lacks: ${never.join('; ')}` : null,
          q,
        );
      }
      if (late) await this.#raiseFiledLate(j, gw, activation, late, q);
    });
  }

  /** Decided: the outcome and its alerts, written with the rest of the batch by #flush(). */
  #done(j: Job, gw: DecisionJson | null, outcome: 'AGREE' | 'MISMATCH' | 'UNREADABLE' | 'NO_ACTIVATION', alerts: (q: Queryable) => Promise<void>): void {
    const now = this.#now();
    this.#writes.push(async (q) => {
      const w = await q.run(
        `INSERT INTO second_decisions (subject, device_id, camera_serial, clip_id, received_at, dock_json, state, gateway_json, outcome, done_at) VALUES (?, ?, ?, ?, ?, ?, 'DONE', ?, ?, ?)
         ON CONFLICT (subject) DO UPDATE SET state = 'DONE', gateway_json = excluded.gateway_json, outcome = excluded.outcome, done_at = excluded.done_at
         WHERE second_decisions.state <> 'DONE'`,
        [j.subject, j.deviceId, j.camera, j.clipId, j.receivedAt, JSON.stringify(j.dock), gw ? JSON.stringify(gw) : null, outcome, now],
      );
      if (w.changes !== 1) return; // decided already (another replica)
      this.counters.decided++;
      if (outcome === 'AGREE') this.counters.agreed++;
      await alerts(q);
    });
  }

  /** One transaction (one commit, one fsync) for every outcome decided since the last flush. */
  async #flush(): Promise<void> {
    const writes = this.#writes.splice(0);
    if (writes.length === 0) return;
    await this.#o.db.tx(async (q) => {
      for (const w of writes) await w(q);
    });
  }

  async #ask(deviceId: string, hashes: string[]): Promise<void> {
    const now = this.#now();
    const fresh = hashes.filter((h) => now - (this.#asked.get(`${deviceId}|${h}`) ?? -Infinity) >= this.#waitMs);
    if (fresh.length === 0) return;
    if (this.#asked.size > 10_000) this.#asked.clear();
    for (const h of fresh) this.#asked.set(`${deviceId}|${h}`, now);
    this.counters.requested++;
    try {
      await this.#o.request(deviceId, fresh);
    } catch (e) {
      this.#o.log?.warn(
        { device: deviceId, err: e },
        `second decision: could not ask ${deviceId} for ${fresh.length} policy object(s): ${(e as Error).message}`,
      );
    }
  }

  /** DESIGN §5: the two decisions differ; the clip goes to the supervisor's review with both. */
  async #mismatch(j: Job, gw: DecisionJson | null, lacking: string[], note: string | null, q: Queryable): Promise<void> {
    this.counters.mismatches++;
    const officer = j.dock.activation?.officerId ?? '?';
    const dockClaimsMore = j.dock.decision === 'AUTHORIZED' && gw?.decision !== 'AUTHORIZED';
    await this.#o.alerts.raise(
      {
        kind: 'DECISION_MISMATCH',
        severity: dockClaimsMore ? 'critical' : 'warning',
        deviceId: j.deviceId,
        cameraSerial: j.camera || null,
        subject: j.clipId || null,
        message:
          `recording ${j.clipId || '?'} on camera ${j.camera || '?'} (officer ${officer}): the dock decided ${describeDecision(j.dock)}; ` +
          `the gateway, deciding again from the signed objects it holds, decides ${gw ? describeDecision(gw) : 'nothing'}` +
          `${note ? ` (${note})` : ''}; the clip is kept for the supervisor's review (1061.2 §4)`,
        detail: { dock: j.dock, gateway: gw, decidedFrom: j.subject, ...(lacking.length ? { objectsNeverReceived: lacking } : {}) },
        dedupeKey: `DECISION_MISMATCH|${j.deviceId}|${j.camera}|${j.clipId}`,
      },
      q,
    );
  }

  /** The grant that authorized the recording, when it reached the gateway late and after the recording started. */
  async #filedLate(gw: DecisionJson, a: Activation): Promise<{ hash: string; createdAt: number; receivedAt: number } | null> {
    if (gw.decision !== 'AUTHORIZED' || gw.basis?.kind !== 'grant' || !gw.basis.hash) return null;
    const held = await this.#o.objects.get(gw.basis.hash);
    if (held?.type !== 'AuthorizationGrant') return null;
    if (held.receivedAt - held.createdAt <= this.#lateMs || a.at >= held.receivedAt) return null;
    return { hash: held.hash, createdAt: held.createdAt, receivedAt: held.receivedAt };
  }

  async #raiseFiledLate(j: Job, gw: DecisionJson, a: Activation, g: { hash: string; createdAt: number; receivedAt: number }, q: Queryable): Promise<void> {
    this.counters.filedLate++;
    const hours = ((g.receivedAt - g.createdAt) / 3600_000).toFixed(1);
    const message =
      `grant ${gw.basis!.id} (${g.hash.slice(0, 16)}…) authorizes recording ${j.clipId || '?'} on camera ${j.camera || '?'} (officer ${a.officerId ?? '?'}), ` +
      `which started ${new Date(a.at).toISOString()}; the grant claims to be signed ${new Date(g.createdAt).toISOString()} but reached the gateway only ` +
      `${new Date(g.receivedAt).toISOString()} (${hours} h later), after the recording started: review whether it really came before the recording (1061.2 §5.1)`;
    await this.#o.alerts.raise(
      {
        kind: 'GRANT_FILED_LATE',
        deviceId: j.deviceId,
        cameraSerial: j.camera || null,
        subject: j.clipId || null,
        message,
        detail: {
          grant: { id: gw.basis!.id, hash: g.hash, createdAt: g.createdAt, receivedAt: g.receivedAt },
          decision: gw,
          recordingStartedAt: a.at,
        },
        dedupeKey: `GRANT_FILED_LATE|${j.deviceId}|${j.camera}|${j.clipId}`,
      },
      q,
    );
    await this.#o.review?.flag(q, {
      kind: 'GRANT_FILED_LATE',
      deviceId: j.deviceId,
      camera: j.camera || null,
      clipId: j.clipId,
      officerId: a.officerId ?? '',
      decision: gw,
      message,
    });
  }
}

function jobOf(r: Row): Job {
  return {
    subject: r.subject,
    deviceId: r.device_id,
    camera: r.camera_serial,
    clipId: r.clip_id,
    dock: JSON.parse(r.dock_json) as DecisionJson,
    receivedAt: Number(r.received_at),
  };
}

/** "AUTHORIZED on grant G6 (prior_authorization): GRANT" — verdict, basis and reasons. */
export function describeDecision(d: DecisionJson): string {
  const basis = d.basis ? ` on ${d.basis.kind} ${d.basis.id}${d.basis.category ? ` (${d.basis.category})` : ''}` : ' with no basis';
  return `${d.decision}${basis}: ${d.reasons.join(', ') || 'no reasons'}`;
}
