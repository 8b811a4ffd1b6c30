/**
 * Reading the audit log (gateway/api/audit-routes.ts, audit-sentences.ts): the gateway filters
 * entries by user (actor or subject), by kind or exact action, by subject and by time range, pages
 * newest first, and names the people and clips a page mentions, so that each entry reads as a
 * sentence — and an entry of a kind the wording does not know still names actor, action and subject.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../gateway/gateway.js';
import type { AuditEntryJson, AuditSearchResponse } from '../gateway/api/types.js';
import { auditSentence } from '../gateway/api/audit-sentences.js';
import { call, signIn, startTestGateway } from './gateway.http.js';

const HASH = `${'ab'.repeat(28)}12cd34ef`;
const STARTED = Date.UTC(2026, 10, 2, 14, 3);
let gw: RunningGateway;
let base: string;
let auditor: { token: string };
const utc = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');

beforeAll(async () => {
  ({ gw, base } = await startTestGateway('bwc-audit-filters-'));
  await gw.auth.createUser({ username: 'alice', password: 'alice-records-pw', roles: ['records_officer'] });
  await gw.auth.createUser({ username: 'aldo', password: 'aldo-auditor-pw1', roles: ['auditor'] });
  auditor = { token: (await gw.auth.createApiToken('aldo', 'reader')).token };
  await gw.db.run(
    `INSERT INTO manifests (manifest_hash, device_id, seq, prev_hash, key_id, envelope, clip_sha256, byte_length, chunk_size, chunk_count, camera_serial, clip_id, officer_id, started_at, received_at, state)
     VALUES (?, 'dock-7', 1, '', 'k', ?, ?, 10, 10, 1, 'CAM-7', 'clip-1', 'O1', ?, ?, 'VERIFIED')`,
    [HASH, Buffer.from('x'), 'ff'.repeat(32), STARTED, Date.now()],
  );
  await signIn(base, 'alice', 'alice-records-pw');
  await gw.audit.append(gw.db, { actor: 'user:alice', action: 'clip.content_view', subject: HASH, detail: { requestId: 'r1' } });
  await gw.audit.append(gw.db, { actor: 'user:aldo', action: 'clip.content_download', subject: HASH, detail: {} });
  await gw.audit.append(gw.db, { actor: 'device:dock-7', action: 'device.heartbeat_fancy', subject: 'dock-7', detail: {} });
}, 60_000);

afterAll(async () => {
  await gw?.stop();
});

async function search(q: string): Promise<AuditSearchResponse> {
  const r = await call(base, auditor, 'GET', `/api/v1/audit/entries?${q}`);
  expect(r.status, JSON.stringify(r.json)).toBe(200);
  return r.json as AuditSearchResponse;
}
const actions = (r: AuditSearchResponse) => r.entries.map((e) => e.action);

describe('audit entries, filtered on the gateway', () => {
  it('by user: what they did and what was done to them', async () => {
    const r = await search('user=alice');
    expect(actions(r)).toEqual(['user.created', 'auth.sign_in', 'clip.content_view']);
    expect(r.entries.every((e) => e.actor === 'user:alice' || e.subject === 'user:alice')).toBe(true);
  });

  it('by kind of action, or one action exactly', async () => {
    expect(actions(await search('action=clip'))).toEqual(['clip.content_view', 'clip.content_download']);
    expect(actions(await search('action=clip.content_download'))).toEqual(['clip.content_download']);
    expect((await call(base, auditor, 'GET', '/api/v1/audit/entries?action=clip%25')).status).toBe(400);
  });

  it('by subject and by time range', async () => {
    const bySubject = await search(`subject=${HASH}`);
    expect(actions(bySubject)).toEqual(['clip.content_view', 'clip.content_download']);
    const all = (await search('limit=1000')).entries;
    const view = all.find((e) => e.action === 'clip.content_view')!;
    const inRange = await search(`since=${view.at}&until=${view.at + 1}`);
    expect(inRange.entries.every((e) => e.at === view.at)).toBe(true);
    expect(actions(inRange)).toContain('clip.content_view');
    expect((await search(`since=${all.at(-1)!.at + 1}`)).entries).toEqual([]);
  });

  it('newest first, a page below `before`', async () => {
    const all = (await search('limit=1000')).entries.map((e) => e.seq);
    const newest = await search('order=desc&limit=2');
    expect(newest.entries.map((e) => e.seq)).toEqual(all.slice(-2).reverse());
    const older = await search(`order=desc&limit=2&before=${newest.entries[1]!.seq}`);
    expect(older.entries.map((e) => e.seq)).toEqual(all.slice(-4, -2).reverse());
  });

  it('names the people and clips on the page, and refuses a user who may not read the log', async () => {
    const r = await search(`subject=${HASH}`);
    expect(r.context.people).toEqual({ alice: { roles: ['records_officer'] }, aldo: { roles: ['auditor'] } });
    expect(r.context.clips[HASH]).toEqual({ deviceId: 'dock-7', cameraSerial: 'CAM-7', clipId: 'clip-1', startedAt: STARTED });
    const viewer = await gw.auth.createUser({ username: 'vera', password: 'vera-viewer-pw1', roles: ['viewer'] });
    const token = (await gw.auth.createApiToken(viewer.username, 't')).token;
    expect((await call(base, { token }, 'GET', '/api/v1/audit/entries?user=alice')).status).toBe(403);
  });
});

describe('entries as sentences', () => {
  it('says who did what to which clip, when', async () => {
    const r = await search(`subject=${HASH}`);
    const [view, download] = r.entries as [AuditEntryJson, AuditEntryJson];
    expect(auditSentence(view, { context: r.context, time: utc })).toBe(
      `alice (records officer) viewed clip CAM-7 2026-11-02 14:03 (…12cd34ef) at ${utc(view.at)}`,
    );
    expect(auditSentence(download, { context: r.context, time: utc })).toBe(
      `aldo (auditor) downloaded clip CAM-7 2026-11-02 14:03 (…12cd34ef) at ${utc(download.at)}`,
    );
  });

  it('says who signed in, and who failed as whom and why', async () => {
    expect((await call(base, null, 'POST', '/api/v1/login', { username: ' nobody ', password: 'not-a-password-1' })).status).toBe(401);
    const r = await search('action=auth');
    const sentences = r.entries.map((e) => auditSentence(e, { context: r.context, time: utc }).replace(/ at \d{4}-.*$/, ''));
    expect(sentences).toEqual(['alice (records officer) signed in from 127.0.0.1', 'someone at 127.0.0.1 failed to sign in as nobody: no such user']);
  });

  it('tells the steps of a review item (1061.2 §4.4) as sentences', () => {
    const context = { people: { sam: { roles: ['supervisor' as const] } }, clips: {} };
    const entry = (action: string, detail: Record<string, unknown>, subject = HASH) =>
      ({ seq: 1, at: Date.UTC(2026, 10, 3, 9, 0), actor: 'user:sam', action, subject, detail, prev: '', hash: '' }) as AuditEntryJson;
    const say = (e: AuditEntryJson) => auditSentence(e, { context, time: utc }).replace(/ at \d{4}-.*$/, '');
    expect(say(entry('review.resolved', { reviewId: 4, outcome: 'no_violation', note: 'n' }))).toBe(
      'sam (supervisor) resolved review item #4 for clip …12cd34ef as no violation',
    );
    expect(say(entry('review.referred', { reviewId: 4, note: 'n' }))).toBe('sam (supervisor) referred review item #4 for clip …12cd34ef to OPR');
    expect(say(entry('review.viewed', { reviewId: 5 }, 'review:5'))).toBe('sam (supervisor) looked at review item #5 for a clip not yet received');
  });

  it('still names actor, action and subject for a kind it has no words for', async () => {
    const r = await search('action=device');
    expect(auditSentence(r.entries[0]!, { context: r.context, time: utc })).toMatch(/^device dock-7 performed device\.heartbeat_fancy on device dock-7 at /);
  });
});
