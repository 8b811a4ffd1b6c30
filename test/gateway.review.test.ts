/**
 * The review queue (DESIGN §6 "Review queue"; 1061.2 §4.4: supervisors ensure compliance, take
 * corrective action and report suspected violations to OPR), on SQLite and PostgreSQL, through a
 * running gateway fed by verified ingest: every recording that goes to the supervisor opens one
 * item per clip, routed to the supervisors of the officer's office; supervisors resolve or refer,
 * OPR closes referrals, each step in the item's history and in the audit log with the username; a
 * late tag closes an item as "tagged late"; and disposition waits for review. A grant filed late
 * (the gateway's second decision) opens an item too.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pb, type bwc } from '../proto/wire.js';
import { trustPublicKey } from '../proto/ed25519.js';
import { bundleFromSource, grantFromSource, signPolicyObject, verifyBundle, verifyGrant } from '../proto/policy.js';
import { DEFAULT_TRIGGERS } from '../proto/policy-vocab.js';
import { MemoryPolicyCache } from '../proto/policy-cache.js';
import { decide } from '../proto/decide.js';
import { decisionToProto } from '../proto/decision.js';
import type { Activation } from '../proto/activation.js';
import { signerFromSeed } from '../device/custody/keys.js';
import { openGatewayDb } from '../gateway/store/open.js';
import type { Db } from '../gateway/store/db.js';
import { Alerts } from '../gateway/fleet/alerts.js';
import { PolicyObjects } from '../gateway/policy/objects.js';
import { SecondDecisions } from '../gateway/policy/second-decision.js';
import { ReviewQueue } from '../gateway/review/review.js';
import { parseGatewayConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { silentLogger } from '../gateway/api/http.js';
import type { Role } from '../gateway/api/roles.js';
import type { DispositionDryRun, ReviewDetailResponse, ReviewItemJson, ReviewListResponse } from '../gateway/api/types.js';
import { TestDock } from './gateway.fixtures.js';
import { startPostgres, type TestPostgres } from './pg.js';
import { pseudoRandomBytes, runBwc, tempDir } from './helpers.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;

type Verdict = 'AUTHORIZED' | 'UNAUTHORIZED' | 'PROHIBITED';
const VERDICT = {
  AUTHORIZED: pb.Verdict.VERDICT_AUTHORIZED,
  UNAUTHORIZED: pb.Verdict.VERDICT_UNAUTHORIZED,
  PROHIBITED: pb.Verdict.VERDICT_PROHIBITED,
};

function decision(verdict: Verdict, at: number, reasons: string[], category: string | null = null): bwc.v1.IActivationDecision {
  return {
    decision: VERDICT[verdict],
    ...(category ? { basis: { kind: pb.BasisKind.BASIS_KIND_TRIGGER, id: 'search_warrant', category } } : {}),
    reasons,
    clauses: verdict === 'PROHIBITED' ? ['BWC-2024:first-amendment'] : ['1061.2§2'],
    policyVersion: 3,
    evaluatedAtMs: at,
    decidedAtMs: at,
  };
}

let pg: TestPostgres;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  await pg?.stop();
});

describe.each(['sqlite', 'postgres'] as const)('the review queue on %s', (engine) => {
  let gw: RunningGateway;
  const clock = { now: Date.now() };
  const t0 = clock.now;
  const dock = new TestDock('dock-rev', 'f1', 4242);
  const tokens: Record<string, string> = {};
  /** Review item ids by the clip they are about. */
  const itemOf: Record<string, number> = {};

  const users: [string, Role[], string[], string | null][] = [
    ['sam', ['supervisor'], ['SEA'], null], // supervisor at Seattle
    ['pat', ['supervisor'], ['PDX'], null], // supervisor at Portland
    ['sue', ['supervisor'], ['SEA'], 'O-18'], // a Seattle supervisor who records too
    ['olga', ['opr'], [], null],
    ['otto', ['requester'], ['SEA'], 'O-17'], // the officer: his office routes his recordings
    ['rita', ['records_officer'], [], null],
  ];

  beforeAll(async () => {
    const dataDir = tempDir();
    gw = await startGateway({
      config: parseGatewayConfig({
        fleet: 'f1',
        gatewayId: 'gw1',
        dataDir,
        mqtt: { embedded: { port: 0 } },
        http: { port: 0 },
        sweepIntervalMs: 600_000,
        ...(engine === 'postgres' ? { db: { url: await pg.newDatabase() } } : {}),
      }),
      log: silentLogger,
      now: () => clock.now,
    });
    for (const [username, roles, offices, personId] of users) {
      await gw.auth.createUser({ username, password: 'correct horse battery staple', roles, offices, personId });
      tokens[username] = (await gw.auth.createApiToken(username, 'test')).token;
    }
    await gw.fleet.enroll(dock.deviceId, dock.key.publicKey, 'test');
    await send('birth', dock.birth({ cameras: [{ cameraSerial: 'CAM-1' }] }));
  }, 60_000);
  afterAll(async () => {
    await gw?.stop();
  });

  async function send(kind: Parameters<TestDock['topic']>[0], payload: Uint8Array): Promise<void> {
    const r = await gw.ingest.handle(dock.topic(kind), payload);
    expect(r.status, JSON.stringify(r)).toBe('accepted');
  }

  /** The dock's decision about a clip, as an ACTIVATION_DECIDED (or ACTIVITY_TAGGED) event. */
  async function decided(clipId: string, d: bwc.v1.IActivationDecision, officerId = 'O-17', kind = pb.EventKind.EVENT_KIND_ACTIVATION_DECIDED): Promise<void> {
    await send('event', dock.event({ kind, cameraSerial: 'CAM-1', clipId, officerId, decision: d }));
  }

  async function call<T = Record<string, unknown>>(
    who: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: T & { error?: { code: string; message: string } } }> {
    const r = await fetch(`http://127.0.0.1:${gw.httpPort}${path}`, {
      method,
      headers: { authorization: `Bearer ${tokens[who]}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: r.status, json: (await r.json()) as T & { error?: { code: string; message: string } } };
  }

  async function queue(who: string, state = ''): Promise<ReviewItemJson[]> {
    const r = await call<ReviewListResponse>(who, 'GET', `/api/v1/review${state ? `?state=${state}` : ''}`);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    return r.json.items;
  }

  async function item(who: string, id: number): Promise<ReviewDetailResponse['item']> {
    const r = await call<ReviewDetailResponse>(who, 'GET', `/api/v1/review/${id}`);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    return r.json.item;
  }

  async function audited(action: string): Promise<{ actor: string; subject: string; detail: Record<string, unknown> }[]> {
    const rows = await gw.db.all<{ actor: string; subject: string; detail_json: string }>(
      'SELECT actor, subject, detail_json FROM audit_log WHERE action = ? ORDER BY seq',
      [action],
    );
    return rows.map((r) => ({ actor: r.actor, subject: r.subject, detail: JSON.parse(r.detail_json) as Record<string, unknown> }));
  }

  it('opens an item for an unauthorized and, at once, for a prohibited recording; an unclassified one only after its grace period; a clock-flagged one too (1061.2 §4.4)', async () => {
    await decided('clip-unauth', decision('UNAUTHORIZED', t0 - 50 * 60_000, ['NO_BASIS']));
    await decided('clip-prohib', decision('PROHIBITED', t0 - 40 * 60_000, ['FIRST_AMENDMENT_ONLY']));
    await decided('clip-unclass', decision('UNAUTHORIZED', t0 - 30 * 60_000, ['NO_BASIS', 'UNCLASSIFIED']));
    await decided('clip-clock', decision('AUTHORIZED', t0 - 20 * 60_000, ['TRIGGER_ACTIVITY', 'CLOCK_UNSYNCED'], 'directive_authorized'));

    let items = await queue('sam');
    expect(items.map((i) => [i.clipId, i.kinds, i.state])).toEqual([
      ['clip-unauth', ['UNAUTHORIZED'], 'open'],
      ['clip-prohib', ['PROHIBITED'], 'open'],
      ['clip-clock', ['CLOCK_FLAGGED'], 'open'],
    ]);
    expect(items[0]).toMatchObject({
      officerId: 'O-17',
      offices: ['SEA'],
      deviceId: dock.deviceId,
      cameraSerial: 'CAM-1',
      verdict: 'UNAUTHORIZED',
      openedAt: clock.now,
    });

    // The grace period (72 h without a bundle) ends with no tag: now it goes to the supervisor.
    clock.now += 73 * HOUR;
    await gw.fleet.sweep();
    items = await queue('sam');
    expect(items.map((i) => i.clipId)).toEqual(['clip-unauth', 'clip-prohib', 'clip-clock', 'clip-unclass']);
    expect(items[3]!.kinds).toEqual(['UNCLASSIFIED']);
    for (const i of items) itemOf[i.clipId] = i.id;
    expect((await audited('review.opened')).map((e) => [e.actor, e.detail.clipId, e.detail.kind])).toEqual([
      ['gateway:gw1', 'clip-unauth', 'UNAUTHORIZED'],
      ['gateway:gw1', 'clip-prohib', 'PROHIBITED'],
      ['gateway:gw1', 'clip-clock', 'CLOCK_FLAGGED'],
      ['gateway:gw1', 'clip-unclass', 'UNCLASSIFIED'],
    ]);
  });

  it('keeps one item per clip: a newer flag adds a reason to the open item, and a resend adds nothing', async () => {
    await decided('clip-unauth', decision('PROHIBITED', t0 - 10 * 60_000, ['FIRST_AMENDMENT_ONLY']));
    await decided('clip-unauth', decision('PROHIBITED', t0 - 10 * 60_000, ['FIRST_AMENDMENT_ONLY']));
    const items = (await queue('sam')).filter((i) => i.clipId === 'clip-unauth');
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ id: itemOf['clip-unauth'], kinds: ['UNAUTHORIZED', 'PROHIBITED'], verdict: 'PROHIBITED' });
    const detail = await item('sam', itemOf['clip-unauth']!);
    expect(detail.reasons.map((r) => [r.kind, r.decision.decision])).toEqual([
      ['UNAUTHORIZED', 'UNAUTHORIZED'],
      ['PROHIBITED', 'PROHIBITED'],
    ]);
    expect(detail.reasons[1]!.message).toMatch(/prohibited recording clip-unauth on camera CAM-1 \(officer O-17\): FIRST_AMENDMENT_ONLY/);
    expect(detail.history.filter((s) => s.step !== 'viewed').map((s) => s.step)).toEqual(['opened', 'flagged']);
  });

  it("routes items to the supervisors of the officer's office only: another office's supervisor sees nothing and is refused (403)", async () => {
    const id = itemOf['clip-prohib']!;
    expect(await queue('pat')).toEqual([]);
    expect(await call('pat', 'GET', `/api/v1/review/${id}`)).toMatchObject({ status: 403, json: { error: { code: 'OUT_OF_SCOPE' } } });
    expect(await call('pat', 'POST', `/api/v1/review/${id}/resolve`, { outcome: 'no_violation', note: 'not mine' })).toMatchObject({
      status: 403,
      json: { error: { code: 'OUT_OF_SCOPE' } },
    });
    expect(await call('pat', 'POST', `/api/v1/review/${id}/refer`, { note: 'not mine' })).toMatchObject({ status: 403 });
    // OPR sees no item that was not referred to it; other roles have no queue at all.
    expect(await queue('olga')).toEqual([]);
    expect((await call('rita', 'GET', '/api/v1/review')).status).toBe(403);
    expect((await call('otto', 'GET', `/api/v1/review/${id}`)).status).toBe(403);
    expect(await call('sam', 'GET', '/api/v1/review/99999')).toMatchObject({ status: 404, json: { error: { code: 'NOT_FOUND' } } });
    // An officer with no office on record: no supervisor sees the item; OPR does, until one is given.
    await decided('clip-nobody', decision('UNAUTHORIZED', t0 - 5 * 60_000, ['NO_BASIS']), 'O-99');
    expect((await queue('sam')).map((i) => i.clipId)).not.toContain('clip-nobody');
    expect((await queue('olga')).map((i) => [i.clipId, i.offices, i.actions])).toEqual([['clip-nobody', [], []]]);
  });

  it("shows the item with the clip's decision, its reasons and clauses, officer, camera, custody and history; the first view is a step, audited with the username", async () => {
    const clip = dock.clip(4096, {
      facts: {
        clipId: 'clip-prohib',
        cameraSerial: 'CAM-1',
        officerId: 'O-17',
        decision: decision('PROHIBITED', t0 - 40 * 60_000, ['FIRST_AMENDMENT_ONLY']),
      },
    });
    await send('manifest', clip.manifest);
    for (let i = 0; i < clip.chunks.length; i++) await send('chunk', dock.chunk(clip, i));
    const d = await item('sam', itemOf['clip-prohib']!);
    expect(d).toMatchObject({
      state: 'open',
      officerId: 'O-17',
      cameraSerial: 'CAM-1',
      clipId: 'clip-prohib',
      manifestHash: clip.hashHex,
      actions: ['resolve', 'refer'],
      own: false,
      decision: { decision: 'PROHIBITED', reasons: ['FIRST_AMENDMENT_ONLY'], clauses: ['BWC-2024:first-amendment'] },
      custody: {
        manifestHash: clip.hashHex,
        state: 'VERIFIED',
        seq: clip.seq,
        sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        verifiedAt: clock.now,
        disposedBy: null,
      },
    });
    expect(d.history.map((s) => [s.step, s.actor])).toEqual([
      ['opened', 'gateway:gw1'],
      ['viewed', 'user:sam'],
    ]);
    await item('sam', itemOf['clip-prohib']!); // the same session again: not another step
    expect((await item('sam', itemOf['clip-prohib']!)).history.filter((s) => s.step === 'viewed')).toHaveLength(1);
    expect((await audited('review.viewed')).filter((e) => e.detail.reviewId === itemOf['clip-prohib'])).toEqual([
      { actor: 'user:sam', subject: clip.hashHex, detail: { reviewId: itemOf['clip-prohib'] } },
    ]);
  });

  it("refuses an empty note, an unknown outcome and acting on one's own recording", async () => {
    const id = itemOf['clip-unauth']!;
    expect(await call('sam', 'POST', `/api/v1/review/${id}/resolve`, { outcome: 'counselled', note: '   ' })).toMatchObject({
      status: 400,
    });
    expect(JSON.stringify((await call('sam', 'POST', `/api/v1/review/${id}/resolve`, { outcome: 'counselled', note: '' })).json)).toMatch(/a note is required/);
    expect(await call('sam', 'POST', `/api/v1/review/${id}/resolve`, { outcome: 'fired', note: 'x' })).toMatchObject({ status: 400 });
    expect(await call('sam', 'POST', `/api/v1/review/${id}/refer`, {})).toMatchObject({ status: 400 });
    expect(await call('sam', 'POST', `/api/v1/review/${id}/close`, { outcome: 'sustained', note: 'x' })).toMatchObject({ status: 403 }); // supervisors do not close referrals
    // Sue records too (O-18): she may read her own item, never act on it.
    await decided('clip-sue', decision('UNAUTHORIZED', t0 - 3 * 60_000, ['NO_BASIS']), 'O-18');
    const own = (await queue('sue')).find((i) => i.clipId === 'clip-sue')!;
    expect(own).toMatchObject({ own: true, actions: [] });
    expect(await call('sue', 'POST', `/api/v1/review/${own.id}/resolve`, { outcome: 'no_violation', note: 'fine by me' })).toMatchObject({
      status: 403,
      json: { error: { code: 'SELF_REVIEW' } },
    });
    expect(await call('sue', 'POST', `/api/v1/review/${own.id}/refer`, { note: 'fine by me' })).toMatchObject({
      status: 403,
      json: { error: { code: 'SELF_REVIEW' } },
    });
    expect((await item('sam', own.id)).state).toBe('open');
  });

  it('resolves with an outcome and a note, refers to OPR with a note, and OPR closes the referral: each step in the history and audited with the username; other moves are refused (409)', async () => {
    const unauth = itemOf['clip-unauth']!;
    const prohib = itemOf['clip-prohib']!;
    const resolved = await call<ReviewDetailResponse>('sam', 'POST', `/api/v1/review/${unauth}/resolve`, {
      outcome: 'counselled',
      note: 'Talked the officer through §2.1 categories.',
    });
    expect(resolved.status).toBe(200);
    expect(resolved.json.item).toMatchObject({
      state: 'resolved',
      outcome: 'counselled',
      closedBy: 'user:sam',
      closedAt: clock.now,
      actions: [],
    });
    expect(resolved.json.item.history.at(-1)).toMatchObject({
      step: 'resolved',
      actor: 'user:sam',
      outcome: 'counselled',
      note: 'Talked the officer through §2.1 categories.',
    });
    expect(await call('sam', 'POST', `/api/v1/review/${unauth}/resolve`, { outcome: 'other', note: 'again' })).toMatchObject({
      status: 409,
      json: { error: { code: 'INVALID_TRANSITION' } },
    });
    expect(await call('sam', 'POST', `/api/v1/review/${unauth}/refer`, { note: 'after all' })).toMatchObject({ status: 409 });

    expect(await call('olga', 'POST', `/api/v1/review/${prohib}/close`, { outcome: 'sustained', note: 'not referred yet' })).toMatchObject({
      status: 403,
      json: { error: { code: 'OUT_OF_SCOPE' } },
    });
    const referred = await call<ReviewDetailResponse>('sam', 'POST', `/api/v1/review/${prohib}/refer`, {
      note: 'Recorded a protest only: suspected violation.',
    });
    expect(referred.json.item).toMatchObject({ state: 'referred', referredBy: 'user:sam', actions: [] });
    expect(await call('sam', 'POST', `/api/v1/review/${prohib}/refer`, { note: 'twice' })).toMatchObject({
      status: 409,
      json: { error: { code: 'INVALID_TRANSITION', message: expect.stringMatching(/already/) } },
    });
    expect(await call('sam', 'POST', `/api/v1/review/${prohib}/resolve`, { outcome: 'no_violation', note: 'never mind' })).toMatchObject({
      status: 409,
    });

    expect((await queue('olga')).map((i) => [i.clipId, i.state, i.actions])).toEqual([
      ['clip-prohib', 'referred', ['close']],
      ['clip-nobody', 'open', []],
    ]);
    expect(await call('olga', 'POST', `/api/v1/review/${prohib}/close`, { outcome: 'dismissed', note: 'x' })).toMatchObject({
      status: 400,
    });
    const closed = await call<ReviewDetailResponse>('olga', 'POST', `/api/v1/review/${prohib}/close`, {
      outcome: 'sustained',
      note: 'Sustained; referred for discipline.',
    });
    expect(closed.json.item).toMatchObject({ state: 'closed', outcome: 'sustained', closedBy: 'user:olga' });
    expect(closed.json.item.history.map((s) => [s.step, s.actor, s.outcome])).toEqual([
      ['opened', 'gateway:gw1', null],
      ['viewed', 'user:sam', null],
      ['referred', 'user:sam', null],
      ['closed', 'user:olga', 'sustained'],
    ]);
    expect(await call('olga', 'POST', `/api/v1/review/${prohib}/close`, { outcome: 'unfounded', note: 'again' })).toMatchObject({
      status: 409,
    });

    const steps = [...(await audited('review.resolved')), ...(await audited('review.referred')), ...(await audited('review.closed'))];
    expect(steps.map((e) => [e.actor, e.detail.reviewId, e.detail.outcome ?? null, e.detail.note])).toEqual([
      ['user:sam', unauth, 'counselled', 'Talked the officer through §2.1 categories.'],
      ['user:sam', prohib, null, 'Recorded a protest only: suspected violation.'],
      ['user:olga', prohib, 'sustained', 'Sustained; referred for discipline.'],
    ]);
    // The sam's queue: waiting items first, oldest first, then the finished ones.
    expect((await queue('sam')).map((i) => i.state)).toEqual(['open', 'open', 'open', 'resolved', 'closed']);
    expect((await queue('sam', 'resolved')).map((i) => i.clipId)).toEqual(['clip-unauth']);
  });

  it('closes an open item as "tagged late" when a newer decision authorizes the recording, naming who tagged it and when', async () => {
    const id = itemOf['clip-unclass']!;
    const taggedAt = t0 + 74 * HOUR;
    await decided(
      'clip-unclass',
      decision('AUTHORIZED', taggedAt, ['TRIGGER_ACTIVITY'], 'directive_authorized'),
      'O-17',
      pb.EventKind.EVENT_KIND_ACTIVITY_TAGGED,
    );
    const d = await item('sam', id);
    expect(d).toMatchObject({ state: 'tagged_late', outcome: 'tagged_late', closedBy: 'officer:O-17', closedAt: taggedAt, actions: [] });
    expect(d.history.find((s) => s.step === 'tagged_late')).toMatchObject({
      actor: `device:${dock.deviceId}`,
      detail: { taggedBy: 'O-17', taggedAt, decision: 'AUTHORIZED' },
    });
    expect((await audited('review.tagged_late')).map((e) => [e.actor, e.detail.reviewId, e.detail.taggedBy, e.detail.taggedAt])).toEqual([
      [`device:${dock.deviceId}`, id, 'O-17', taggedAt],
    ]);
    expect(await call('sam', 'POST', `/api/v1/review/${id}/resolve`, { outcome: 'other', note: 'late' })).toMatchObject({ status: 409 });
  });

  it('never disposes of a clip whose review is open: the dry run skips it "waiting for review", and includes it once resolved', async () => {
    const clip = dock.clip(4096, {
      seed: 77,
      facts: {
        clipId: 'clip-clock',
        cameraSerial: 'CAM-1',
        officerId: 'O-17',
        decision: decision('AUTHORIZED', t0 - 20 * 60_000, ['TRIGGER_ACTIVITY', 'CLOCK_UNSYNCED'], 'directive_authorized'),
      },
    });
    await send('manifest', clip.manifest);
    for (let i = 0; i < clip.chunks.length; i++) await send('chunk', dock.chunk(clip, i));
    clock.now += 182 * DAY; // bwc-routine: 180 days after verification
    const dry = await call<DispositionDryRun>('rita', 'GET', '/api/v1/records/disposition');
    expect(dry.json.items.map((i) => i.manifestHash)).not.toContain(clip.hashHex);
    expect(dry.json.skipped).toContainEqual({
      manifestHash: clip.hashHex,
      reason: 'waiting for review',
      reviewId: itemOf['clip-clock'],
      schedule: 'bwc-routine',
    });
    expect(dry.json.kept.IN_REVIEW).toBeGreaterThanOrEqual(1);
    expect((await call<{ record: { status: string } }>('rita', 'GET', `/api/v1/records/clips/${clip.hashHex}`)).json.record.status).toBe('IN_REVIEW');

    expect(
      (
        await call('sam', 'POST', `/api/v1/review/${itemOf['clip-clock']}/resolve`, {
          outcome: 'no_violation',
          note: 'The dock clock was off by 40 s; times checked against the CAD log.',
        })
      ).status,
    ).toBe(200);
    const after = await call<DispositionDryRun>('rita', 'GET', '/api/v1/records/disposition');
    expect(after.json.items.map((i) => i.manifestHash)).toContain(clip.hashHex);
    expect(after.json.skipped.map((s) => s.manifestHash)).not.toContain(clip.hashHex);
  });
});

describe('bwc gateway user add', () => {
  it('creates an OPR user (role opr)', () => {
    const data = tempDir();
    const r = runBwc(['gateway', 'user', 'add', 'olga', '--role', 'opr', '--data-dir', data], { input: 'correct horse battery staple' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('user olga created with roles opr\n');
  });
});

// ── a grant filed late (the gateway's second decision) ──────────────────────────────────────────

const T0 = Math.floor(Date.now() / HOUR) * HOUR;
const iso = (t: number) => new Date(t).toISOString();
const root = signerFromSeed(pseudoRandomBytes(32, 7101));
const rootKey = trustPublicKey(root.publicKey);
const fro = signerFromSeed(pseudoRandomBytes(32, 7102));
const BUNDLE = signPolicyObject(
  'PolicyBundle',
  bundleFromSource({
    version: 4,
    issuedAt: iso(T0 - 10 * DAY),
    expiresAt: iso(T0 + 60 * DAY),
    triggers: [...DEFAULT_TRIGGERS],
    officersIssued: ['O-4'],
    issuers: [{ name: 'FRO Seattle', personId: 'U7', publicKey: fro.publicKeyHex, roles: ['FRO'], scope: { offices: ['SEA'] } }],
  }),
  root,
  T0 - 10 * DAY,
).bytes;
const bundle = verifyBundle(BUNDLE, rootKey);
/** Claims to be signed 30 h ago; the gateway first holds it now, after the recording started. */
const LATE = signPolicyObject(
  'AuthorizationGrant',
  grantFromSource({
    id: 'G-LATE',
    category: 'prior_authorization',
    requester: 'O-4',
    approver: 'U7',
    approverRole: 'FRO',
    scope: { officers: ['O-4'], cameras: [], devices: [], offices: ['SEA'] },
    methods: ['video'],
    notBefore: iso(T0 - 30 * HOUR),
    expiresAt: iso(T0 + DAY),
    reason: 'document the intake of seized property',
    purpose: 'chain of custody',
    minimization: 'only the intake counter is in view',
    anticipated: { from: iso(T0 - 30 * HOUR), to: iso(T0 + DAY), location: 'SEA intake room' },
    factorsConsidered: ['reason_need', 'minimization', 'privacy_impact'],
  }),
  fro,
  T0 - 30 * HOUR,
).bytes;
const late = verifyGrant(LATE, [bundle]);

describe.each(['sqlite', 'postgres'] as const)('a grant filed late on %s', (engine) => {
  let db: Db;
  beforeAll(async () => {
    const dir = tempDir();
    db = await openGatewayDb(engine === 'sqlite' ? join(dir, 'gateway.db') : await pg.newDatabase());
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it('opens a review item for the recording the late grant authorizes (DESIGN §5, §6)', async () => {
    const now = () => T0;
    const objects = new PolicyObjects({ db, root: rootKey, now });
    await objects.hold(BUNDLE, 'config', T0 - 10 * DAY);
    await objects.hold(LATE, 'workflow', T0);
    const review = new ReviewQueue({ db, audit: null, gatewayId: 'gw1', now });
    const second = new SecondDecisions({
      db,
      objects,
      alerts: new Alerts(db, now),
      now,
      review,
      grantFiledLateMs: DAY,
      request: async () => {},
    });
    const a: Activation = {
      cameraSerial: 'CAM-7',
      officerId: 'O-4',
      deviceId: 'dock-1',
      deviceRole: 'bwc',
      trigger: 'button',
      activity: null,
      purposes: [],
      method: 'video',
      office: 'SEA',
      at: T0 - 2 * HOUR,
      stoppedAt: T0 - HOUR,
      clock: { synced: true, offsetMs: 3 },
      replayed: false,
      clipId: 'clip-late',
    };
    const dockDecision = decide(a, new MemoryPolicyCache({ bundles: [bundle], grants: [late], revocations: [], plans: [], updatedAt: T0 - HOUR }), T0 - HOUR);
    expect(dockDecision).toMatchObject({ decision: 'AUTHORIZED', basis: { id: 'G-LATE' } });
    second.noteManifest(
      'dock-1',
      'ab'.repeat(32),
      pb.ClipManifest.create({ cameraSerial: 'CAM-7', clipId: 'clip-late', officerId: 'O-4', decision: decisionToProto(dockDecision) }),
      T0,
    );
    await second.idle();
    const items = await db.all<{
      id: number;
      device_id: string;
      camera_serial: string;
      clip_id: string;
      officer_id: string;
      state: string;
    }>('SELECT id, device_id, camera_serial, clip_id, officer_id, state FROM review_items');
    expect(items).toMatchObject([{ device_id: 'dock-1', camera_serial: 'CAM-7', clip_id: 'clip-late', officer_id: 'O-4', state: 'open' }]);
    expect(await db.all('SELECT kind FROM review_reasons')).toEqual([{ kind: 'GRANT_FILED_LATE' }]);
  });
});
