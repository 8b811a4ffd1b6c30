/**
 * A late-tagged clip shows its current decision everywhere (DESIGN §6; 1061.2 §4.4): a recording
 * still untagged when it stopped is UNAUTHORIZED / UNCLASSIFIED in its signed manifest; a tag that
 * arrives later (a signed ACTIVITY_TAGGED event with a fresh decision) authorizes it. The Clips
 * list, the clip page and Records then show the current decision and its category, with the
 * decision the manifest signed kept as history, and the supervisor's report is over.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pb, type bwc } from '../proto/wire.js';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { parseGatewayConfig } from '../gateway/config.js';
import { silentLogger } from '../gateway/api/http.js';
import type { ClipDetailResponse, ClipsResponse } from '../gateway/api/types.js';
import { TestDock, trustFiles, type TestClip } from './gateway.fixtures.js';
import { tempDir, TEST_PASSWORD_COST } from './helpers.js';
import { engines } from './tiers.js';
import { startPostgres, type TestPostgres } from './pg.js';

function decision(verdict: 'AUTHORIZED' | 'UNAUTHORIZED', at: number, category: string | null, reasons: string[]): bwc.v1.IActivationDecision {
  return {
    decision: verdict === 'AUTHORIZED' ? pb.Verdict.VERDICT_AUTHORIZED : pb.Verdict.VERDICT_UNAUTHORIZED,
    ...(category ? { basis: { kind: pb.BasisKind.BASIS_KIND_TRIGGER, id: 'search_warrant', category } } : {}),
    reasons,
    clauses: [],
    policyVersion: 3,
    evaluatedAtMs: at,
    decidedAtMs: at,
  };
}

describe.each(engines())('a late tag on %s', (engine) => {
  let pg: TestPostgres | null = null;
  let gw: RunningGateway;
  let clip: TestClip;
  let token = '';
  const dock = new TestDock('dock-late', 'f1', 909);
  const stoppedAt = Date.now() - 3_600_000;

  beforeAll(async () => {
    if (engine === 'postgres') pg = await startPostgres();
    const dataDir = tempDir();
    const trust = trustFiles(dataDir, { gatewayId: 'gw1', fleet: 'f1' });
    gw = await startGateway({
      passwordCost: TEST_PASSWORD_COST,
      config: parseGatewayConfig({
        fleet: 'f1',
        gatewayId: 'gw1',
        dataDir,
        mqtt: { embedded: { port: 0 } },
        http: { port: 0 },
        sweepIntervalMs: 600_000,
        trust: { rootPublicKey: trust.rootPublicKey, certificate: trust.certificate },
        ...(pg ? { db: { url: await pg.newDatabase() } } : {}),
      }),
      log: silentLogger,
    });
    await gw.auth.createUser({
      username: 'rita',
      password: 'correct horse battery staple',
      roles: ['records_officer'],
      offices: [],
      personId: null,
    });
    token = (await gw.auth.createApiToken('rita', 'test')).token;
    await gw.fleet.enroll(dock.deviceId, dock.key.publicKey, 'test');
    const send = async (kind: Parameters<TestDock['topic']>[0], payload: Uint8Array) => {
      expect((await gw.ingest.handle(dock.topic(kind), payload)).status).toBe('accepted');
    };
    await send('birth', dock.birth({ cameras: [{ cameraSerial: 'CAM-1' }] }));
    const untagged = decision('UNAUTHORIZED', stoppedAt, null, ['NO_BASIS', 'UNCLASSIFIED']);
    clip = dock.clip(90_000, { facts: { decision: untagged, officerId: 'O-17' } });
    await send(
      'event',
      dock.event({
        kind: pb.EventKind.EVENT_KIND_ACTIVATION_DECIDED,
        cameraSerial: 'CAM-1',
        clipId: clip.clipId,
        officerId: 'O-17',
        decision: untagged,
      }),
    );
    await send('manifest', clip.manifest);
    for (let i = 0; i < clip.chunks.length; i++) await gw.ingest.handle(dock.topic('chunk'), dock.chunk(clip, i));
  }, 60_000);
  afterAll(async () => {
    await gw?.stop();
    await pg?.stop();
  });

  const get = async <T>(path: string): Promise<T> => {
    const r = await fetch(`http://127.0.0.1:${gw.httpPort}${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status, path).toBe(200);
    return (await r.json()) as T;
  };

  it('shows the current decision in Clips, on the clip page and in Records, with the signed one as history', async () => {
    const before = await get<ClipsResponse>('/api/v1/clips');
    expect(before.clips[0]).toMatchObject({ manifestHash: clip.hashHex, decision: 'UNAUTHORIZED', category: null });
    const unscheduled = await get<{ record: { schedule: unknown } }>(`/api/v1/records/clips/${clip.hashHex}`);

    const tagged = decision('AUTHORIZED', stoppedAt + 60_000, 'directive_authorized', ['TRIGGER_ACTIVITY']);
    expect(
      (
        await gw.ingest.handle(
          dock.topic('event'),
          dock.event({
            kind: pb.EventKind.EVENT_KIND_ACTIVITY_TAGGED,
            cameraSerial: 'CAM-1',
            clipId: clip.clipId,
            officerId: 'O-17',
            activity: 'search_warrant',
            manifestHash: clip.hash,
            decision: tagged,
          }),
        )
      ).status,
    ).toBe('accepted');

    const after = await get<ClipsResponse>('/api/v1/clips');
    expect(after.clips[0]).toMatchObject({ manifestHash: clip.hashHex, decision: 'AUTHORIZED', category: 'directive_authorized' });
    const detail = await get<ClipDetailResponse>(`/api/v1/clips/${clip.hashHex}`);
    expect(detail.clip.decisionDetail).toMatchObject({ decision: 'AUTHORIZED', basis: { category: 'directive_authorized' } });
    expect(detail.clip.decisionHistory).toMatchObject([{ decision: 'UNAUTHORIZED', reasons: ['NO_BASIS', 'UNCLASSIFIED'] }]);
    const scheduled = await get<{ record: { schedule: { name?: string } | null } }>(`/api/v1/records/clips/${clip.hashHex}`);
    expect(scheduled.record.schedule).not.toEqual(unscheduled.record.schedule);
    expect(JSON.stringify(scheduled.record)).toMatch(/bwc-routine/);

    // An older decision arriving late (a resend) never replaces the newer one.
    expect(
      (
        await gw.ingest.handle(
          dock.topic('event'),
          dock.event({
            kind: pb.EventKind.EVENT_KIND_ACTIVATION_DECIDED,
            cameraSerial: 'CAM-1',
            clipId: clip.clipId,
            officerId: 'O-17',
            decision: decision('UNAUTHORIZED', stoppedAt - 1000, null, ['NO_BASIS', 'PENDING_ACTIVITY']),
          }),
        )
      ).status,
    ).toBe('accepted');
    expect((await get<ClipsResponse>('/api/v1/clips')).clips[0]).toMatchObject({ decision: 'AUTHORIZED' });
  });
});
