/**
 * What the dashboard reads from a running gateway, over real HTTP, on SQLite and PostgreSQL: the
 * device list with cameras and alert counts, a device's decoded events and decisions, clip search,
 * a clip's custody timeline and its verification report (run on the stored bytes, so altering
 * them shows), reading a clip's content (roles, and the audit log's record of it), "verify chain",
 * the charts' data, the live stream (devices, alerts, clips, and its end with the session), and
 * the dashboard's own files (CSP, gzip, ETag, the bundle-size budget).
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { pb, type bwc } from '../proto/wire.js';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { parseGatewayConfig } from '../gateway/config.js';
import { silentLogger } from '../gateway/api/http.js';
import { PAGE_CSP } from '../gateway/api/web-routes.js';
import { openSqlite } from '../gateway/store/sqlite.js';
import { migrate } from '../gateway/store/migrate.js';
import { MIGRATIONS } from '../gateway/store/schema.js';
import type { ClipDetailResponse, ClipReportResponse, DeviceEventsResponse, DevicesResponse, LiveEvents } from '../gateway/api/types.js';
import { TestDock, trustFiles, type TestClip } from './gateway.fixtures.js';
import { ROOT, tempDir, until, TEST_PASSWORD_COST } from './helpers.js';
import { engines } from './tiers.js';
import { startPostgres, type TestPostgres } from './pg.js';

const PASSWORD = 'correct horse battery staple';
const DAY = 86_400_000;

function decision(verdict: 'AUTHORIZED' | 'PROHIBITED', category: string | null, reasons: string[], clauses: string[]): bwc.v1.IActivationDecision {
  return {
    decision: verdict === 'AUTHORIZED' ? pb.Verdict.VERDICT_AUTHORIZED : pb.Verdict.VERDICT_PROHIBITED,
    ...(category ? { basis: { kind: pb.BasisKind.BASIS_KIND_TRIGGER, id: 'at_large_arrest', category } } : {}),
    reasons,
    clauses,
    policyVersion: 3,
    evaluatedAtMs: Date.now(),
    decidedAtMs: Date.now(),
  };
}

/** A text/event-stream read with fetch: the events as they arrive. */
class EventStream {
  readonly events: { event: string; data: unknown }[] = [];
  ended = false;
  readonly #abort = new AbortController();

  constructor(url: string, headers: Record<string, string>) {
    void (async () => {
      const res = await fetch(url, { headers, signal: this.#abort.signal });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const decoder = new TextDecoder();
      let buffer = '';
      try {
        for await (const chunk of res.body!) {
          buffer += decoder.decode(chunk as Uint8Array, { stream: true });
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = /^event: (.*)$/m.exec(frame)?.[1];
            const data = /^data: (.*)$/m.exec(frame)?.[1];
            if (event && data) this.events.push({ event, data: JSON.parse(data) });
          }
        }
      } catch {
        /* aborted */
      }
      this.ended = true;
    })();
  }

  async next<E extends keyof LiveEvents | 'signedout'>(
    event: E,
    match: (d: E extends keyof LiveEvents ? LiveEvents[E] : unknown) => boolean = () => true,
  ): Promise<E extends keyof LiveEvents ? LiveEvents[E] : unknown> {
    type D = E extends keyof LiveEvents ? LiveEvents[E] : unknown;
    const hit = await until(`live event ${event}`, () => this.events.find((e) => e.event === event && match(e.data as D)), 15_000);
    return hit.data as D;
  }

  close(): void {
    this.#abort.abort();
  }
}

let pg: TestPostgres;
beforeAll(async () => {
  if (engines().includes('postgres')) pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  await pg?.stop();
});

describe.each(engines())('the dashboard API on %s', (engine) => {
  let gw: RunningGateway;
  const tokens: Record<string, string> = {};
  const dock = new TestDock('dock-dash', 'f1', 808);
  let clip: TestClip;
  let prohibited: TestClip;

  beforeAll(async () => {
    const dataDir = tempDir();
    const trust = trustFiles(dataDir, { gatewayId: 'gw1', fleet: 'f1' });
    gw = await startGateway({
      passwordCost: TEST_PASSWORD_COST,
      liveFlushMs: 100, // the stream's coalescing is the same at any interval; the test need not wait seconds for it
      config: parseGatewayConfig({
        fleet: 'f1',
        gatewayId: 'gw1',
        dataDir,
        mqtt: { embedded: { port: 0 } },
        http: { port: 0 },
        sweepIntervalMs: 600_000,
        trust: { rootPublicKey: trust.rootPublicKey, certificate: trust.certificate },
        dashboard: { sampleIntervalMs: 1000, liveKeepAliveMs: 500 },
        ...(engine === 'postgres' ? { db: { url: await pg.newDatabase() } } : {}),
      }),
      log: process.env.DEBUG_LOG ? pino({ level: 'warn' }, pino.destination(2)) : silentLogger,
    });
    for (const [username, roles] of [
      ['vera', ['viewer']],
      ['rita', ['records_officer']],
      ['aldo', ['auditor']],
    ] as const) {
      await gw.auth.createUser({ username, password: PASSWORD, roles: [...roles], offices: [], personId: null });
      tokens[username] = (await gw.auth.createApiToken(username, 'test')).token;
    }
    await gw.fleet.enroll(dock.deviceId, dock.key.publicKey, 'test');
    const send = async (kind: Parameters<TestDock['topic']>[0], payload: Uint8Array) => {
      expect((await gw.ingest.handle(dock.topic(kind), payload)).status).toBe('accepted');
    };
    await send('birth', dock.birth({ cameras: [{ cameraSerial: 'CAM-1' }] }));
    await send('status', dock.status({ cameras: [{ cameraSerial: 'CAM-1', model: 'BWC-9' }] }));
    clip = dock.clip(200_000, {
      facts: { decision: decision('AUTHORIZED', 'directive_authorized', ['TRIGGER_ACTIVITY'], ['1061.2§2.1(2)']), officerId: 'O-17' },
    });
    await send('manifest', clip.manifest);
    for (let i = 0; i < clip.chunks.length; i++) await gw.ingest.handle(dock.topic('chunk'), dock.chunk(clip, i));
    await send('event', dock.event({ kind: pb.EventKind.EVENT_KIND_CLIP_RELEASED, cameraSerial: 'CAM-1', clipId: clip.clipId, manifestHash: clip.hash }));
    const p = decision('PROHIBITED', null, ['FIRST_AMENDMENT_ONLY'], ['BWC-2024:first-amendment']);
    prohibited = dock.clip(70_000, { facts: { decision: p, officerId: 'O-18', startedAtMs: Date.now() - 3 * DAY } });
    await send(
      'event',
      dock.event({
        kind: pb.EventKind.EVENT_KIND_ACTIVATION_DECIDED,
        cameraSerial: 'CAM-1',
        clipId: prohibited.clipId,
        officerId: 'O-18',
        decision: p,
      }),
    );
    await send('manifest', prohibited.manifest);
  });
  afterAll(async () => {
    await gw?.stop();
  });

  const url = (path: string) => `http://127.0.0.1:${gw.httpPort}${path}`;
  async function get(path: string, as = 'vera'): Promise<{ status: number; json: any; headers: Headers }> {
    const res = await fetch(url(path), { headers: { authorization: `Bearer ${tokens[as]}` } });
    const text = await res.text();
    return {
      status: res.status,
      json: text && res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : text,
      headers: res.headers,
    };
  }

  it("lists devices with their cameras and open alerts, and a device's events with each decision's reasons and clauses", async () => {
    const devices = (await get('/api/v1/devices')).json as DevicesResponse;
    expect(devices.devices).toMatchObject([{ deviceId: 'dock-dash', online: true, cameras: ['CAM-1'], alertsOpen: 1, agentVersion: '0.1.0' }]);
    expect((await get('/api/v1/devices/dock-dash')).json).toMatchObject({ device: { deviceId: 'dock-dash' }, chainGaps: [] });
    const events = (await get('/api/v1/devices/dock-dash/events')).json as DeviceEventsResponse;
    expect(events.events.map((e) => e.kind)).toEqual(['ACTIVATION_DECIDED', 'CLIP_RELEASED']);
    expect(events.events[0]).toMatchObject({
      clipId: prohibited.clipId,
      officerId: 'O-18',
      cameraSerial: 'CAM-1',
      decision: { decision: 'PROHIBITED', reasons: ['FIRST_AMENDMENT_ONLY'], clauses: ['BWC-2024:first-amendment'] },
    });
    expect((await get('/api/v1/devices/dock-dash/events?limit=5&before=2')).json.events.map((e: { kind: string }) => e.kind)).toEqual(['CLIP_RELEASED']);
    expect((await get('/api/v1/devices/dock-dash/events?limit=0')).status).toBe(400);
  });

  it('names the clip an alert is about: a recording report by its dock, camera and clip id, a rejected chunk by its manifest hash', async () => {
    const alerts = (await get('/api/v1/alerts?kind=PROHIBITED_RECORDING')).json.alerts as {
      subject: string;
      manifestHash: string | null;
    }[];
    expect(alerts).toMatchObject([{ subject: prohibited.clipId, manifestHash: prohibited.hashHex }]);
    const id = await gw.alerts.raise({
      kind: 'CHUNK_REJECTED',
      deviceId: 'dock-dash',
      subject: clip.hashHex,
      message: 'chunk 0 does not match',
      dedupeKey: null,
    });
    const other = await gw.alerts.raise({ kind: 'UPLOAD_OVERDUE', deviceId: 'dock-dash', message: 'overdue', dedupeKey: null });
    const listed = (await get('/api/v1/alerts')).json.alerts as { id: number; manifestHash: string | null }[];
    expect(listed.find((a) => a.id === id)?.manifestHash).toBe(clip.hashHex);
    expect(listed.find((a) => a.id === other)?.manifestHash).toBeNull();
    await gw.alerts.resolve(id, 'vera');
    await gw.alerts.resolve(other, 'vera');
  });

  it('searches clips by officer, decision, category, state and recording date', async () => {
    const hashes = async (q: string) => ((await get(`/api/v1/clips?${q}`)).json.clips as { manifestHash: string }[]).map((c) => c.manifestHash);
    expect(await hashes('officer=O-17')).toEqual([clip.hashHex]);
    expect(await hashes('decision=PROHIBITED')).toEqual([prohibited.hashHex]);
    expect(await hashes('category=directive_authorized')).toEqual([clip.hashHex]);
    expect(await hashes('state=VERIFIED')).toEqual([clip.hashHex]);
    expect(await hashes(`to=${Date.now() - DAY}`)).toEqual([prohibited.hashHex]);
    expect(await hashes(`from=${Date.now() - DAY}&device=dock-dash`)).toEqual([clip.hashHex]);
    const bad = await get('/api/v1/clips?category=nonsense');
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/^query\.category/);
  });

  it("shows a clip's custody timeline from recording to release", async () => {
    const detail = (await get(`/api/v1/clips/${clip.hashHex}`)).json as ClipDetailResponse;
    const steps = Object.fromEntries(detail.clip.timeline.map((s) => [s.step, s]));
    expect(detail.clip).toMatchObject({
      state: 'VERIFIED',
      category: 'directive_authorized',
      mediaType: 'video/mp4',
      missingChunks: [],
      decisionDetail: { decision: 'AUTHORIZED' },
    });
    for (const step of ['recorded', 'stopped', 'signed', 'received', 'uploaded', 'verified', 'released'])
      expect(steps[step]!.at, step).toEqual(expect.any(Number));
    expect(steps.recorded!.source).toBe('device');
    expect(steps.verified!.source).toBe('gateway');
    expect(steps.released!.at!).toBeGreaterThanOrEqual(steps.verified!.at!);
    // The prohibited clip's bytes never came: received, nothing after.
    const waiting = (await get(`/api/v1/clips/${prohibited.hashHex}`)).json as ClipDetailResponse;
    expect(waiting.clip.timeline.filter((s) => s.at === null).map((s) => s.step)).toEqual(['uploaded', 'verified', 'released']);
    expect(waiting.clip.missingChunks).toEqual([{ start: 0, end: prohibited.chunks.length }]);
  });

  it("hands a clip's content only to records officers, auditors, supervisors and OPR, and records each read in the audit log", async () => {
    expect((await get(`/api/v1/clips/${clip.hashHex}/content`, 'vera')).status).toBe(403);
    const res = await fetch(url(`/api/v1/clips/${clip.hashHex}/content`), { headers: { authorization: `Bearer ${tokens.rita}` } });
    expect(res.status).toBe(200);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(createHash('sha256').update(clip.bytes).digest('hex'));
    const detail = (await get(`/api/v1/clips/${clip.hashHex}`)).json as ClipDetailResponse;
    const started = new Date(detail.clip.startedAt!)
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
    // Named <camera>_<start>_<hash8>.<ext>; inline for the player, an attachment with ?download=1.
    expect(res.headers.get('content-disposition')).toBe(`inline; filename="${detail.clip.cameraSerial}_${started}_${bytesSha(clip.bytes).slice(0, 8)}.mp4"`);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    const dl = await fetch(url(`/api/v1/clips/${clip.hashHex}/content?download=1`), {
      headers: { authorization: `Bearer ${tokens.rita}` },
    });
    expect(dl.headers.get('content-disposition')).toMatch(/^attachment; filename="CAM-1_\d{8}T\d{6}Z_[0-9a-f]{8}\.mp4"$/);
    await dl.arrayBuffer();
    const entries = (await get(`/api/v1/audit/entries?subject=${clip.hashHex}`, 'aldo')).json.entries as {
      action: string;
      actor: string;
    }[];
    expect(entries).toContainEqual(expect.objectContaining({ action: 'clip.content_view', actor: 'user:rita' }));
    expect(entries).toContainEqual(expect.objectContaining({ action: 'clip.content_download', actor: 'user:rita' }));
    // HEAD tells the size and type without sending (or recording as read) a byte: the auditor's
    // first request for the clip is a HEAD, and no entry names the auditor.
    const head = await fetch(url(`/api/v1/clips/${clip.hashHex}/content`), {
      method: 'HEAD',
      headers: { authorization: `Bearer ${tokens.aldo}` },
    });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(clip.bytes.byteLength));
    expect(head.headers.get('accept-ranges')).toBe('bytes');
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    const after = (await get(`/api/v1/audit/entries?subject=${clip.hashHex}`, 'aldo')).json.entries as { action: string; actor: string }[];
    expect(after.filter((e) => e.actor === 'user:aldo' && e.action.startsWith('clip.content'))).toEqual([]);
    const notYet = await get(`/api/v1/clips/${prohibited.hashHex}/content`, 'rita');
    expect(notYet).toMatchObject({ status: 409, json: { error: { code: 'NOT_VERIFIED' } } });
  });

  // DESIGN §6: evidence is watched, not just stored. A player seeks with Range requests.
  it('answers Range with 206 and the exact bytes, 416 outside the clip, and audits a viewing once per session, not once per range', async () => {
    const auth = { authorization: `Bearer ${tokens.aldo}` };
    const size = clip.bytes.length;
    const part = async (range: string) => fetch(url(`/api/v1/clips/${clip.hashHex}/content`), { headers: { ...auth, range } });
    const cases: [string, number, number][] = [
      ['bytes=0-0', 0, 0],
      ['bytes=0-1023', 0, 1023],
      ['bytes=1000-', 1000, size - 1],
      ['bytes=-500', size - 500, size - 1],
      [`bytes=${size - 10}-${size + 1000}`, size - 10, size - 1],
      ['bytes=65536-196607', 65536, 196607],
    ];
    for (const [range, start, end] of cases) {
      const r = await part(range);
      expect(r.status, range).toBe(206);
      expect(r.headers.get('content-range')).toBe(`bytes ${start}-${end}/${size}`);
      expect(r.headers.get('content-length')).toBe(String(end - start + 1));
      expect(Buffer.from(await r.arrayBuffer()).equals(clip.bytes.subarray(start, end + 1)), range).toBe(true);
    }
    for (const range of [`bytes=${size}-`, `bytes=${size + 5}-${size + 10}`, 'bytes=-0']) {
      const r = await part(range);
      expect(r.status, range).toBe(416);
      expect(r.headers.get('content-range')).toBe(`bytes */${size}`);
      await r.arrayBuffer();
    }
    // Several ranges, or another unit: the whole clip (RFC 9110 §14.2 lets a server ignore Range).
    for (const range of ['bytes=0-1,5-6', 'items=0-1']) {
      const r = await part(range);
      expect(r.status, range).toBe(200);
      expect(Buffer.from(await r.arrayBuffer()).length).toBe(size);
    }
    const entries = (await get(`/api/v1/audit/entries?subject=${clip.hashHex}`, 'aldo')).json.entries as {
      action: string;
      actor: string;
    }[];
    expect(entries.filter((e) => e.actor === 'user:aldo' && e.action === 'clip.content_view')).toHaveLength(1);
  });

  it('reports on the stored clip with the enrolled key, chunk by chunk, and sees bytes altered on disk', async () => {
    const ok = (await get(`/api/v1/clips/${clip.hashHex}/report`)).json as ClipReportResponse;
    expect(ok.report).toMatchObject({
      content: 'AUTHENTIC',
      key: 'OK',
      signature: 'VALID',
      chunks: { total: clip.chunks.length, ok: clip.chunks.length },
    });
    expect(ok.report!.chunkMap).toBe('.'.repeat(clip.chunks.length));
    const none = (await get(`/api/v1/clips/${prohibited.hashHex}/report`)).json as ClipReportResponse;
    expect(none).toMatchObject({ report: null, why: expect.stringMatching(/RECEIVED/) });

    const blob = gw.store.blobPath(createHash('sha256').update(clip.bytes).digest('hex'));
    const original = readFileSync(blob);
    const altered = Buffer.from(original);
    altered[clip.chunkSize + 5]! ^= 0xff; // in chunk 1
    writeFileSync(blob, altered);
    try {
      const bad = (await get(`/api/v1/clips/${clip.hashHex}/report`)).json as ClipReportResponse;
      expect(bad.report).toMatchObject({ content: 'NOT_AUTHENTIC', chunks: { altered: 1 } });
      expect(bad.report!.chunkMap[1]).toBe('N');
    } finally {
      writeFileSync(blob, original);
    }
  });

  it('verifies the audit chain on request, and names the first entry altered in the database', async () => {
    expect((await fetch(url('/api/v1/audit/verify'), { method: 'POST', headers: { authorization: `Bearer ${tokens.vera}` } })).status).toBe(403);
    const verify = async () =>
      (await (await fetch(url('/api/v1/audit/verify'), { method: 'POST', headers: { authorization: `Bearer ${tokens.aldo}` } })).json()) as {
        ok: boolean;
        entries: number;
        firstBroken: { seq: number } | null;
      };
    const good = await verify();
    expect(good).toMatchObject({ ok: true, firstBroken: null });
    expect(good.entries).toBeGreaterThan(3);
    const row = await gw.db.get<{ detail_json: string }>('SELECT detail_json FROM audit_log WHERE seq = 2');
    await gw.db.run('UPDATE audit_log SET detail_json = ? WHERE seq = 2', [row!.detail_json.replace(/}$/, ',"x":1}')]);
    try {
      expect(await verify()).toMatchObject({ ok: false, firstBroken: { seq: 2 } });
    } finally {
      await gw.db.run('UPDATE audit_log SET detail_json = ? WHERE seq = 2', [row!.detail_json]);
    }
  });

  it('counts activations per day by decision and samples the fleet over time', async () => {
    const act = (await get('/api/v1/stats/activations?days=7')).json as { days: { day: string; counts: Record<string, number> }[] };
    expect(act.days).toHaveLength(7);
    const today = new Date().toISOString().slice(0, 10);
    const threeAgo = new Date(Date.now() - 3 * DAY).toISOString().slice(0, 10);
    expect(act.days.at(-1)).toEqual({ day: today, counts: { AUTHORIZED: 1, UNAUTHORIZED: 0, PROHIBITED: 0, PENDING_CLASSIFICATION: 0 } });
    expect(act.days.find((d) => d.day === threeAgo)!.counts.PROHIBITED).toBe(1);
    await gw.sweep();
    const hist = (await get('/api/v1/stats/history?hours=1')).json as {
      samples: { devicesOnline: number; devicesEnrolled: number; backlogClips: number; backlogBytes: number }[];
    };
    expect(hist.samples.at(-1)).toMatchObject({ devicesOnline: 1, devicesEnrolled: 1, backlogClips: 1, backlogBytes: 70_000 });
  });

  it('streams device, alert and clip changes live, and ends the stream when its session ends', async () => {
    const login = await fetch(url('/api/v1/login'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'vera', password: PASSWORD }),
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const { csrfToken } = (await login.json()) as { csrfToken: string };
    const live = new EventStream(url('/api/v1/live'), { cookie });
    try {
      expect(await live.next('hello')).toMatchObject({ username: 'vera' });
      await gw.ingest.handle(dock.topic('status'), dock.status({ outboxDepth: 42 }));
      const changed = await live.next('devices', (d) => d.devices.some((x) => x.outboxDepth === 42));
      expect(changed.devices).toHaveLength(1);
      const id = await gw.alerts.raise({ kind: 'TAMPER', deviceId: 'dock-dash', message: 'case opened', dedupeKey: null });
      expect((await live.next('alert', (d) => d.alert.id === id)).alert).toMatchObject({
        kind: 'TAMPER',
        severity: 'critical',
        resolvedAt: null,
      });
      await gw.alerts.resolve(id, 'vera', 'case inspected and resealed');
      expect((await live.next('alert', (d) => d.alert.id === id && d.alert.resolvedAt !== null)).alert).toMatchObject({
        resolvedBy: 'vera',
        resolutionNote: 'case inspected and resealed',
      });
      const more = dock.clip(10_000, { seed: 99 });
      await gw.ingest.handle(dock.topic('manifest'), more.manifest);
      expect((await live.next('clip', (d) => d.clip.manifestHash === more.hashHex)).clip.state).toBe('RECEIVED');
      await gw.ingest.handle(dock.topic('chunk'), dock.chunk(more, 0));
      expect((await live.next('clip', (d) => d.clip.manifestHash === more.hashHex && d.clip.state === 'VERIFIED')).clip.verifiedAt).toEqual(expect.any(Number));
      // Sign out: the stream says so and ends.
      expect((await fetch(url('/api/v1/logout'), { method: 'POST', headers: { cookie, 'x-csrf-token': csrfToken } })).status).toBe(204);
      await live.next('signedout');
      await until('the stream to end', () => live.ended);
    } finally {
      live.close();
    }
    expect((await fetch(url('/api/v1/live'))).status).toBe(401);
  });

  it('serves the dashboard with a strict CSP, gzip and ETags', async () => {
    const page = await fetch(url('/'), { headers: { 'accept-encoding': 'gzip' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(PAGE_CSP);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await page.text();
    expect(html).toContain('/assets/app.js');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    const js = await fetch(url('/assets/app.js'), { headers: { 'accept-encoding': 'gzip' } });
    expect(js.status).toBe(200);
    expect(js.headers.get('content-encoding')).toBe('gzip');
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const again = await fetch(url('/assets/app.js'), { headers: { 'if-none-match': js.headers.get('etag')! } });
    expect(again.status).toBe(304);
    expect((await fetch(url('/assets/nope.js'))).status).toBe(404);
    expect((await fetch(url('/assets/..%2Fpackage.json'))).status).toBe(404);
  });
});

const bytesSha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('the dashboard bundle', () => {
  it('keeps all its JavaScript within the 150 kB gzipped budget (gateway/web/README.md)', () => {
    const assets = join(ROOT, 'dist', 'gateway', 'web', 'assets');
    const js = readdirSync(assets).filter((f) => f.endsWith('.js'));
    expect(js).toContain('app.js');
    const gzipped = js.reduce((n, f) => n + gzipSync(readFileSync(join(assets, f)), { level: 9 }).length, 0);
    expect(gzipped).toBeLessThanOrEqual(150 * 1024);
  });
});

describe('migration 6 on a database of version 5', () => {
  it('fills in the category of clips received before it', async () => {
    const db = openSqlite(join(tempDir(), 'gateway.db'));
    try {
      await migrate(
        db,
        MIGRATIONS.filter((m) => m.version <= 5),
      );
      const d = JSON.stringify({
        decision: 'AUTHORIZED',
        basis: { kind: 'trigger', id: 'x', category: 'search_warrant' },
        reasons: [],
        clauses: [],
      });
      for (const [hash, json] of [
        ['a'.repeat(64), d],
        ['b'.repeat(64), null],
      ] as const) {
        await db.run(
          `INSERT INTO manifests (manifest_hash, device_id, seq, prev_hash, key_id, envelope, clip_sha256, byte_length, chunk_size, chunk_count,
          camera_serial, clip_id, officer_id, decision_json, received_at, state) VALUES (?, 'd', ?, '', 'k', ?, 'c', 1, 1, 1, 'C', ?, 'O', ?, 1, 'RECEIVED')`,
          [hash, hash === 'a'.repeat(64) ? 1 : 2, Buffer.alloc(1), hash.slice(0, 4), json],
        );
      }
      expect(
        (
          await migrate(
            db,
            MIGRATIONS.filter((m) => m.version <= 6),
          )
        ).applied,
      ).toEqual([6]);
      expect(await db.all('SELECT manifest_hash, category FROM manifests ORDER BY manifest_hash')).toEqual([
        { manifest_hash: 'a'.repeat(64), category: 'search_warrant' },
        { manifest_hash: 'b'.repeat(64), category: null },
      ]);
    } finally {
      await db.close();
    }
  });
});
