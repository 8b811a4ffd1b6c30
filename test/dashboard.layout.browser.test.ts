/**
 * The dashboard fits the screens operators use: at 1280×800, 1440×900 and a tablet held upright
 * (820×1180), no page scrolls sideways (the document is no wider than the window) and every
 * primary action is on screen without scrolling sideways, including the buttons in table rows.
 * Every page in DASHBOARD_PAGES is visited, signed in as a user whose roles show its actions, with
 * devices, cameras, clips, long alerts, a pending request and the policy bundle's issuers to show.
 * Screenshots go under dist/test-artifacts/dashboard/layout-*.png.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pb, type bwc } from '../proto/wire.js';
import { TestDock } from './gateway.fixtures.js';
import { tempDir } from './helpers.js';
import { OFFICER } from './dock.fixtures.js';
import { startDashboard, type Dashboard } from './dashboard.fixtures.js';
import { DASHBOARD_PAGES, VIEWPORTS, type Seeded } from './dashboard.pages.js';

const FLEET = 'lay';
const dir = tempDir('bwc-layout-');
let dash: Dashboard;
let seeded: Seeded;

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

beforeAll(async () => {
  dash = await startDashboard({
    dir,
    fleet: FLEET,
    gatewayId: 'gw-layout',
    users: [
      ['otto', ['operator', 'supervisor'], [], null],
      ['olive', ['requester'], ['SEA'], OFFICER],
      ['fred', ['approver_fro', 'requester'], ['SEA'], 'U7'],
      ['rita', ['records_officer'], [], 'R1'],
      ['aldo', ['auditor'], [], 'A1'],
      ['dora', ['director'], ['HQ'], 'D1'],
      ['ada', ['admin'], [], null],
    ],
    issuers: [{ name: 'FRO Seattle', personId: 'U7', roles: ['FRO'] }],
  });
  const { gw } = dash;
  // A dock with a long id, two cameras and a verified clip; a prohibited activation on another.
  const dock = new TestDock('dock-seattle-central-precinct-017', FLEET, 808);
  await gw.fleet.enroll(dock.deviceId, dock.key.publicKey, 'otto');
  const send = async (kind: Parameters<TestDock['topic']>[0], payload: Uint8Array) => {
    expect((await gw.ingest.handle(dock.topic(kind), payload)).status).toBe('accepted');
  };
  await send('birth', dock.birth({ cameras: [{ cameraSerial: 'CAM-LAYOUT-0001' }, { cameraSerial: 'CAM-LAYOUT-0002' }] }));
  await send(
    'status',
    dock.status({
      cameras: [
        { cameraSerial: 'CAM-LAYOUT-0001', model: 'BWC-9000 Pro' },
        { cameraSerial: 'CAM-LAYOUT-0002', model: 'BWC-9000 Pro' },
      ],
    }),
  );
  const clip = dock.clip(200_000, {
    facts: {
      cameraSerial: 'CAM-LAYOUT-0001',
      decision: decision('AUTHORIZED', 'directive_authorized', ['TRIGGER_ACTIVITY'], ['1061.2§2.1(2)']),
      officerId: 'O-1234567',
    },
  });
  await send('manifest', clip.manifest);
  for (let i = 0; i < clip.chunks.length; i++) await gw.ingest.handle(dock.topic('chunk'), dock.chunk(clip, i));
  const p = decision('PROHIBITED', null, ['FIRST_AMENDMENT_ONLY'], ['BWC-2024:first-amendment']);
  const prohibited = dock.clip(70_000, { seed: 5, facts: { cameraSerial: 'CAM-LAYOUT-0001', decision: p, officerId: 'O-7654321' } });
  await send(
    'event',
    dock.event({
      kind: pb.EventKind.EVENT_KIND_ACTIVATION_DECIDED,
      cameraSerial: 'CAM-LAYOUT-0001',
      clipId: prohibited.clipId,
      officerId: 'O-7654321',
      decision: p,
    }),
  );
  await send('manifest', prohibited.manifest);
  await send(
    'event',
    dock.event({
      kind: pb.EventKind.EVENT_KIND_TAMPER,
      tamper: pb.TamperKind.TAMPER_KIND_CASE_OPENED,
      cameraSerial: 'CAM-LAYOUT-0002',
      detail: 'rear screw seal broken; the case was opened while docked',
    }),
  );
  await gw.fleet.assign('CAM-LAYOUT-0001', OFFICER, 'otto', 'operator');
  // Alerts with long words and a large count.
  for (let i = 0; i < 5; i++) {
    await gw.alerts.raise({
      kind: 'BAD_SIGNATURE',
      deviceId: dock.deviceId,
      dedupeKey: 'layout-bad-signature',
      message: `Status for ${dock.deviceId} signed by an unknown key 9f3a0c55d1e2b7a4c0ffee00deadbeef0123456789abcdef0123456789abcdef…`,
    });
  }
  await gw.alerts.raise({
    kind: 'UPLOAD_OVERDUE',
    deviceId: dock.deviceId,
    message: `${dock.deviceId} has 12 clip(s) not uploaded 24 h after their manifests arrived`,
    dedupeKey: null,
  });
  // A pending request in Seattle, for the FRO's queue.
  const local = Date.now();
  const filed = await dash.api('olive', 'POST', '/api/v1/authz/requests', {
    category: 'prior_authorization',
    office: 'SEA',
    reason: 'buy-bust meeting with a cooperating witness',
    purpose: 'evidence of the transaction',
    methods: ['video'],
    minimization: 'camera on only inside the meeting room; no bystanders',
    anticipated: {
      from: new Date(local + 600_000).toISOString(),
      to: new Date(local + 3_600_000).toISOString(),
      location: 'Seattle field office, room 4',
    },
    expiresAt: new Date(local + 7_200_000).toISOString(),
  });
  expect(filed.status, JSON.stringify(filed.json)).toBe(201);
  seeded = { deviceId: dock.deviceId, manifestHash: clip.hashHex };
}, 90_000);

afterAll(async () => {
  await dash?.stop();
});

/** The document's width against the window's, and each shown button's left and right edges. */
async function measure(page: Page, actions: readonly (string | RegExp)[], columns: readonly string[]) {
  const doc = (await page.evaluate('({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth })')) as {
    scrollWidth: number;
    clientWidth: number;
  };
  const offscreen: string[] = [];
  const missing: string[] = [];
  const check = async (what: string, boxes: ({ x: number; width: number } | null)[]) => {
    const shown = boxes.filter((b): b is { x: number; width: number } => b !== null && b.width > 0);
    if (shown.length === 0) missing.push(what);
    for (const b of shown) if (b.x < 0 || b.x + b.width > doc.clientWidth + 0.5) offscreen.push(`${what} at x ${Math.round(b.x)}–${Math.round(b.x + b.width)}`);
  };
  for (const name of actions) {
    const buttons = await page.getByRole('button', { name, exact: typeof name === 'string' }).all();
    await check(`button ${String(name)}`, await Promise.all(buttons.map((b) => b.boundingBox())));
  }
  for (const name of columns) {
    const headers = await page.getByRole('columnheader', { name, exact: true }).all();
    await check(`column ${name}`, await Promise.all(headers.map((h) => h.boundingBox())));
  }
  return { ...doc, offscreen, missing };
}

describe("the dashboard's layout in Chromium", () => {
  const users = [...new Set(DASHBOARD_PAGES.map((p) => p.who))];
  for (const who of users) {
    it(`fits every page ${who} sees at ${VIEWPORTS.map((v) => v.name).join(', ')}: no sideways scrolling, every action on screen`, async () => {
      const first = VIEWPORTS[0];
      const { page, context } = await dash.signIn(who, '#/overview', { width: first.width, height: first.height });
      const problems: string[] = [];
      for (const p of DASHBOARD_PAGES.filter((x) => x.who === who)) {
        for (const v of VIEWPORTS) {
          await page.setViewportSize({ width: v.width, height: v.height });
          // From a blank page, so the page loads afresh (a same-address hash navigation would not).
          await page.goto('about:blank');
          await page.goto(`${dash.base}/${p.hash(seeded)}`);
          await p.ready(page);
          await p.open?.(page);
          const m = await measure(page, p.actions, p.columns ?? []);
          const where = `${p.name} at ${v.name}`;
          if (m.scrollWidth > m.clientWidth) problems.push(`${where}: the page scrolls sideways (${m.scrollWidth} > ${m.clientWidth})`);
          for (const o of m.offscreen) problems.push(`${where}: ${o} is off screen`);
          for (const x of m.missing) problems.push(`${where}: ${x} is not shown`);
          await dash.shot(page, `layout-${p.name.replace(/\W+/g, '-')}-${v.name}`);
        }
      }
      await context.close();
      expect(problems).toEqual([]);
      expect(dash.pageErrors).toEqual([]);
    }, 180_000);
  }

  it("copies a dock's full public key from its fingerprint, shown in groups of four", async () => {
    const { page, context } = await dash.signIn('otto', `#/devices/${encodeURIComponent(seeded.deviceId)}`);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: dash.base });
    const key = (await dash.api('otto', 'GET', `/api/v1/devices/${encodeURIComponent(seeded.deviceId)}`)).json.keys[0] as {
      keyId: string;
      publicKey: string;
    };
    const shown = page.locator(`[data-key-id="${key.keyId}"]`);
    await expect(shown.locator('.fingerprint').textContent()).resolves.toBe(key.keyId.match(/.{4}/g)!.join(' '));
    await shown.getByRole('button', { name: /^Copy the public key/ }).click();
    await shown.getByRole('status').filter({ hasText: 'Copied.' }).waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(key.publicKey);
    await context.close();
  }, 60_000);

  it("asks for a note before resolving a critical alert, shows the gateway's answer, then the note with the alert", async () => {
    const { page, context } = await dash.signIn('otto', '#/alerts');
    const tamper = page.locator('[data-alert-id]').filter({ hasText: 'Camera case opened' });
    await expect(tamper.textContent()).resolves.toMatch(/TAMPER_KIND_CASE_OPENED/);
    await expect(tamper.getByRole('link', { name: `Device ${seeded.deviceId}` }).getAttribute('href')).resolves.toBe(`#/devices/${seeded.deviceId}`);
    const prohibited = page.locator('[data-alert-id]').filter({ hasText: 'Prohibited recording' });
    await expect(prohibited.getByRole('link', { name: /^Clip / }).getAttribute('href')).resolves.toMatch(/^#\/clips\/[0-9a-f]{64}$/);
    await expect(page.locator('[data-alert-id]').filter({ hasText: 'Signature does not verify' }).textContent()).resolves.toMatch(
      /Raised 5 times, first .*, last /,
    );

    await tamper.getByRole('button', { name: 'Resolve' }).click();
    const form = page.getByRole('form', { name: /Camera case opened/ });
    await form.getByText('Required: this alert is critical').waitFor();
    await form.getByRole('button', { name: 'Resolve alert' }).click();
    await form.getByRole('alert').filter({ hasText: 'A critical alert is resolved only with a note' }).waitFor();
    const id = Number(await tamper.getAttribute('data-alert-id'));
    expect((await dash.gw.alerts.get(id))?.resolved_at).toBeNull();
    await form.getByLabel('Resolution note').fill('Seal checked at the dock: camera swapped, case sent to the vendor.');
    await form.getByRole('button', { name: 'Resolve alert' }).click();
    await tamper.waitFor({ state: 'detached' });
    expect(await dash.gw.alerts.get(id)).toMatchObject({
      resolved_by: 'otto',
      resolution_note: 'Seal checked at the dock: camera swapped, case sent to the vendor.',
    });
    await page.getByLabel('Show resolved').check();
    await page.locator(`[data-alert-id="${id}"]`).getByText('Seal checked at the dock').waitFor();
    await context.close();
  }, 60_000);
});
