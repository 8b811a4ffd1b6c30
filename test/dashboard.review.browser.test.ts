/**
 * The supervisor's review page in Chromium (DESIGN §6 "Review queue", 1061.2 §4.4), against a
 * running gateway fed by verified ingest: a prohibited recording of a Seattle officer goes to the
 * Seattle supervisor's queue; she opens it, sees the decision with its reasons and clauses and
 * the recording playing, is told every missing field at once, and resolves it with a note.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pb } from '../proto/wire.js';
import { sampleVideo } from '../device/link/sim/clip-content.js';
import { parseGatewayConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { silentLogger } from '../gateway/api/http.js';
import { TestDock, type TestClip } from './gateway.fixtures.js';
import { launchChromium, signInAs } from './browser.js';
import { ROOT, tempDir, until } from './helpers.js';

const ARTIFACTS = process.env.BWC_ARTIFACTS_DIR ?? join(ROOT, 'dist', 'test-artifacts', 'dashboard');
const password = (u: string) => `${u}-password-long-enough`;

let gw: RunningGateway;
let browser: Browser;
let base = '';
let clip: TestClip;
const pageErrors: string[] = [];
const dock = new TestDock('dock-review-ui', 'f1', 5151);

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  gw = await startGateway({
    config: parseGatewayConfig({
      fleet: 'f1',
      gatewayId: 'gw1',
      dataDir: tempDir('bwc-review-ui-'),
      mqtt: { embedded: { port: 0 } },
      http: { port: 0 },
      sweepIntervalMs: 600_000,
    }),
    log: silentLogger,
  });
  base = `http://127.0.0.1:${gw.httpPort}`;
  await gw.auth.createUser({ username: 'sam', password: password('sam'), roles: ['supervisor'], offices: ['SEA'], personId: null });
  await gw.auth.createUser({ username: 'otto', password: password('otto'), roles: ['requester'], offices: ['SEA'], personId: 'O-17' });
  await gw.fleet.enroll(dock.deviceId, dock.key.publicKey, 'test');
  const send = async (kind: Parameters<TestDock['topic']>[0], payload: Uint8Array) => {
    expect((await gw.ingest.handle(dock.topic(kind), payload)).status).toBe('accepted');
  };
  await send('birth', dock.birth({ cameras: [{ cameraSerial: 'CAM-1' }] }));
  const at = Date.now() - 600_000;
  const prohibited = {
    decision: pb.Verdict.VERDICT_PROHIBITED,
    reasons: ['FIRST_AMENDMENT_ONLY'],
    clauses: ['BWC-2024:first-amendment'],
    policyVersion: 3,
    evaluatedAtMs: at,
    decidedAtMs: at,
  };
  clip = dock.clip(0, {
    bytes: sampleVideo(),
    facts: { clipId: 'clip-protest', cameraSerial: 'CAM-1', officerId: 'O-17', decision: prohibited },
  });
  await send(
    'event',
    dock.event({
      kind: pb.EventKind.EVENT_KIND_ACTIVATION_DECIDED,
      cameraSerial: 'CAM-1',
      clipId: 'clip-protest',
      officerId: 'O-17',
      decision: prohibited,
    }),
  );
  await send('manifest', clip.manifest);
  for (let i = 0; i < clip.chunks.length; i++) await send('chunk', dock.chunk(clip, i));
  browser = await launchChromium();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await gw?.stop();
});

interface Video {
  currentTime: number;
  muted: boolean;
  readonly error: { code: number } | null;
  play(): Promise<void>;
}

describe('the review page in Chromium', () => {
  it('shows a supervisor her queue, the item with its decision and a playing recording, and resolves it with a note', async () => {
    const { page } = await signInAs(browser, base, 'sam', password('sam'), '#/overview', pageErrors);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Review' }).click();
    const row = page.locator('table.review-queue tbody tr');
    await row.filter({ hasText: 'clip-protest' }).waitFor();
    expect(await row.count()).toBe(1);
    expect(await row.first().textContent()).toMatch(/open.*prohibited.*O-17 \(SEA\).*CAM-1/);
    await row.first().getByRole('link').click();

    const decision = page.locator('#review-decision-h').locator('..').locator('..');
    await decision.locator('code.reason-code', { hasText: 'FIRST_AMENDMENT_ONLY' }).waitFor();
    expect(await decision.textContent()).toContain('PROHIBITED');
    expect(await decision.textContent()).toContain('BWC-2024:first-amendment');
    expect(await page.locator('#review-custody-h').locator('../..').textContent()).toContain(clip.hashHex);

    const video = page.locator('video.clip-player');
    await video.waitFor();
    await video.evaluate(async (v: Video) => {
      v.muted = true;
      await v.play();
    });
    await until('the recording plays', async () => ((await video.evaluate((v: Video) => v.currentTime)) > 0.5 ? true : undefined), 20_000);
    expect(await video.evaluate((v: Video) => v.error?.code ?? null)).toBeNull();
    await page.screenshot({ path: join(ARTIFACTS, 'review-item.png'), fullPage: true });

    // Nothing filled in: both problems at once, and nothing sent.
    const form = page.locator('form.review-resolve');
    await form.getByRole('button', { name: 'Resolve' }).click();
    const problems = form.getByRole('alert');
    await problems.waitFor();
    expect(await problems.locator('li').allTextContents()).toEqual(['Choose an outcome.', 'Write a note: it is recorded with this step and in the audit log.']);
    expect((await gw.review.list({ username: 'sam', roles: ['supervisor'], offices: ['SEA'], personId: null }))[0]!.item.state).toBe('open');

    await form.getByLabel('Outcome').selectOption('counselled');
    await form.getByLabel('Resolution note').fill('Reviewed with the officer: protests are not recorded (BWC-2024).');
    await form.getByRole('button', { name: 'Resolve' }).click();
    await page.locator('#review-item-h').locator('../..').getByText('resolved').first().waitFor();
    await page.locator('#review-history-h').locator('../..').getByText('Reviewed with the officer: protests are not recorded (BWC-2024).').waitFor();
    expect(await page.locator('form.review-resolve').count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, 'review-resolved.png'), fullPage: true });

    const [item] = await gw.review.list({ username: 'sam', roles: ['supervisor'], offices: ['SEA'], personId: null });
    expect(item!.item).toMatchObject({ state: 'resolved', outcome: 'counselled', closed_by: 'user:sam' });
    const audit = await gw.db.all<{ actor: string; action: string }>(
      `SELECT actor, action FROM audit_log WHERE action LIKE 'review.%' OR action = 'clip.content_view' ORDER BY seq`,
    );
    expect(audit).toEqual([
      { actor: 'gateway:gw1', action: 'review.opened' },
      { actor: 'user:sam', action: 'review.viewed' },
      { actor: 'user:sam', action: 'clip.content_view' },
      { actor: 'user:sam', action: 'review.resolved' },
    ]);
    expect(pageErrors).toEqual([]);
  }, 90_000);
});
