/**
 * The dashboard in a real browser: Debian's Chromium (headless), driven by playwright-core, against
 * a real gateway with a real `bwc dock` and `bwc sim camera` on a socat pty. People sign in with
 * their roles and see a dock come online live, an alert appear for a prohibited activation, file a
 * request and approve it as the FRO of its office (with the nine §5.3 factors), find that neither
 * the page nor the server lets the FRO approve its own request, place a litigation hold and see
 * the disposition dry run skip the held clip, and run "verify chain". The fleet table stays
 * virtualized with 10,000 devices. A screenshot of every page is saved under
 * dist/test-artifacts/dashboard/ (BWC_ARTIFACTS_DIR overrides).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FACTORS } from '../proto/policy-vocab.js';
import { bundleFromSource, signPolicyObject } from '../proto/policy.js';
import type { RunningGateway } from '../gateway/gateway.js';
import { ptyPair, runBwcAsync, tempDir, until } from './helpers.js';
import { exited, killAll, spawnBwc, OFFICER, type AgencyTrust } from './dock.fixtures.js';
import { startDashboard, type Dashboard, type DashboardUser } from './dashboard.fixtures.js';

const FLEET = 'ui';
const DEVICE = 'dock-ui-1';
const CAMERA = 'CAM-UI-1';

const dir = tempDir('bwc-ui-');
const stateDir = join(dir, 'dock-state');
const storage = join(dir, 'camera-storage');
let dash: Dashboard;
let gw: RunningGateway;
let root: AgencyTrust['root'];
let base: string;
let camPort = '';

const api: Dashboard['api'] = (...a) => dash.api(...a);
const signIn: Dashboard['signIn'] = (...a) => dash.signIn(...a);
const shot: Dashboard['shot'] = (...a) => dash.shot(...a);

/** Everyone the dashboard tests sign in as. */
const DASHBOARD_USERS: readonly DashboardUser[] = [
  ['otto', ['operator', 'supervisor'], [], null],
  ['olive', ['requester'], ['SEA'], OFFICER],
  ['fred', ['approver_fro', 'requester'], ['SEA'], 'U7'],
  ['rita', ['records_officer'], [], 'R1'],
  ['aldo', ['auditor'], [], 'A1'],
  ['dora', ['director'], ['HQ'], 'D1'],
];

async function record(clip: string, activity: string): Promise<void> {
  const scenario = join(dir, `${clip}.json`);
  writeFileSync(
    scenario,
    JSON.stringify({
      camera: { serial: CAMERA, model: 'SIM-1', firmware: 'sim-1.0.0' },
      steps: [{ start: { clip, activity, preEventBufferS: 0 } }, { stop: { clip } }, { ready: { clip, size: 120_000 } }],
    }),
  );
  const cam = spawnBwc(
    ['sim', 'camera', '--port', camPort, '--storage', storage, '--scenario', scenario, '--until-released', '60', '--json'],
    `camera ${clip}`,
  );
  expect(await exited(cam, 90_000), cam.output()).toBe(0);
}

const clipHash = async (clipId: string): Promise<string> =>
  until(
    `manifest of ${clipId}`,
    async () =>
      (
        await gw.db.get<{ manifest_hash: string }>("SELECT manifest_hash FROM manifests WHERE device_id = ? AND clip_id = ? AND state = 'VERIFIED'", [
          DEVICE,
          clipId,
        ])
      )?.manifest_hash,
    30_000,
  );

beforeAll(async () => {
  mkdirSync(storage, { recursive: true });
  dash = await startDashboard({
    dir,
    fleet: FLEET,
    gatewayId: 'gw-ui',
    users: DASHBOARD_USERS,
    issuers: [{ name: 'FRO Seattle', personId: 'U7', roles: ['FRO'] }],
    config: {
      // Routine recordings may go at once here, so that a disposition has something to take.
      records: {
        schedules: {
          'test-routine': {
            type: 'temporary',
            retentionDays: 0,
            cutoff: 'verified',
            description: 'routine recordings (test: no retention)',
          },
          'authz-paperwork': { type: 'temporary', retentionDays: 2190, cutoff: 'calendar_year' },
        },
        mapping: {
          categories: { directive_authorized: 'test-routine' },
          decisions: {},
          kinds: {
            authz_request: 'authz-paperwork',
            authz_approval: 'authz-paperwork',
            authz_denial: 'authz-paperwork',
            authz_revocation: 'authz-paperwork',
          },
        },
      },
    },
  });
  ({ gw, base, root } = dash);
  await gw.fleet.assign(CAMERA, OFFICER, 'otto', 'operator');
  const { token } = await gw.fleet.createEnrollmentToken(DEVICE, 'otto');
  const e = await runBwcAsync([
    'dock',
    'enroll',
    '--state-dir',
    stateDir,
    '--gateway',
    base,
    '--token',
    token,
    '--device-id',
    DEVICE,
    '--root-fingerprint',
    root.keyId,
  ]);
  expect(e.code, e.stderr).toBe(0);
}, 90_000);

afterAll(async () => {
  killAll();
  await dash?.stop();
});

describe('the dashboard in Chromium', () => {
  it('signs in, sees the dock come online live, and an alert appear for a prohibited activation', async () => {
    const { page, context } = await signIn('otto', '#/fleet');
    expect(await page.locator(`[data-device-id="${DEVICE}"]`).count()).toBeLessThanOrEqual(1);
    // The dock starts while the page is open: its row turns online without a reload.
    const pty = await ptyPair(dir, 'ui');
    camPort = pty.cam;
    const config = join(dir, 'dock.json');
    writeFileSync(
      config,
      JSON.stringify({
        stateDir,
        link: { ports: [pty.dock] },
        storage: { mounts: { [CAMERA]: storage } },
        clock: { ntp: 'synced' },
        sync: { statusIntervalS: 2, ackTimeoutMs: 5000 },
        mqtt: { backoffMinMs: 100, backoffMaxMs: 2000 },
      }),
    );
    spawnBwc(['dock', '--config', config], 'dock');
    const row = page.locator(`[data-device-id="${DEVICE}"]`);
    await row.filter({ hasText: /\bonline\b/ }).waitFor({ timeout: 30_000 });
    // Its Status reports the free space of its state directory (statfs), shown in the row.
    const free = await until(
      "the dock's free space",
      async () =>
        Number((await gw.db.get<{ storage_free: number | null }>('SELECT storage_free FROM devices WHERE device_id = ?', [DEVICE]))?.storage_free) || undefined,
    );
    expect(free).toBeGreaterThan(0);
    await row.filter({ hasText: /\d(\.\d+)? (GiB|MiB|TiB)/ }).waitFor();
    await shot(page, 'fleet');

    await page.getByRole('link', { name: 'Alerts' }).click();
    await page
      .getByRole('heading', { name: /Alerts/ })
      .first()
      .waitFor();
    await record('ui-protest', 'first_amendment_activity');
    const alert = page.locator('[data-alert-id]').filter({ hasText: 'PROHIBITED_RECORDING' });
    await alert.waitFor({ timeout: 30_000 });
    await expect(alert.textContent()).resolves.toMatch(/critical/i);
    await shot(page, 'alerts');
    await alert.getByRole('button', { name: 'Acknowledge' }).click();
    await until('the alert acknowledged', async () => (await gw.alerts.list({ kind: 'PROHIBITED_RECORDING' }))[0]?.acked_by === 'otto');
    expect((await gw.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM audit_log WHERE action = 'alert.acknowledged' AND actor = 'user:otto'`))!.n).toBe(1);

    // The device page: the decision with its reason and clause.
    await page.goto(`${base}/#/devices/${DEVICE}`);
    await page.getByText('FIRST_AMENDMENT_ONLY').first().waitFor();
    await page.getByText('BWC-2024:first-amendment').first().waitFor();
    await shot(page, 'device');
    // Cameras: unassign, then assign the officer again; both are in the camera's history.
    await page.getByRole('link', { name: 'Cameras' }).click();
    const cam = page.locator(`[data-camera-serial="${CAMERA}"]`);
    await cam.filter({ hasText: OFFICER }).waitFor();
    await cam.getByRole('button', { name: 'Unassign' }).click();
    await until('the camera unassigned', async () => (await gw.fleet.assignmentHistory(CAMERA)).every((a) => a.to_at !== null));
    await cam.getByLabel(`Officer id for ${CAMERA}`).fill(OFFICER);
    await cam.getByRole('button', { name: 'Assign', exact: true }).click();
    await cam.filter({ hasText: OFFICER }).waitFor();
    const history = await gw.fleet.assignmentHistory(CAMERA);
    expect(history.map((a) => [a.officer_id, a.assigned_by, a.to_at === null])).toEqual([
      [OFFICER, 'otto', false],
      [OFFICER, 'otto', true],
    ]);
    await shot(page, 'cameras');
    await context.close();
  }, 180_000);

  it("files a request as an officer and approves it as the FRO with the nine §5.3 factors; the FRO's own request offers no approval, and the server refuses it", async () => {
    const officer = await signIn('olive', '#/authz');
    const p = officer.page;
    const local = (ms: number) => new Date(ms - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    const fill = async (page: Page, reason: string, expiresAt = Date.now() + 2 * 3600_000) => {
      await page.getByLabel('Office').fill('SEA');
      await page.getByLabel('Reason', { exact: true }).fill(reason);
      await page.getByLabel('Purpose').fill('evidence of the transaction');
      await page.getByLabel('Video').check();
      await page.getByLabel('Minimization').fill('camera on only inside the meeting room; no bystanders');
      await page.getByLabel('Anticipated from').fill(local(Date.now()));
      await page.getByLabel('Anticipated to').fill(local(Date.now() + 3600_000));
      await page.getByLabel('Location').fill('Seattle field office, room 4');
      await page.getByLabel('Expires at').fill(local(expiresAt));
      await page.getByRole('button', { name: 'File request' }).click();
    };
    // A missing field is refused by the server, naming the field and its clause.
    await p.getByRole('button', { name: 'File request' }).click();
    await p.getByRole('alert').filter({ hasText: /§5\.2/ }).first().waitFor();
    // So is a grant that would expire before its own anticipated recording ends (1061.2 §5.2(4)–(5)).
    await fill(p, 'buy-bust meeting with a cooperating witness', Date.now() + 1800_000);
    await p
      .getByRole('alert')
      .filter({ hasText: /anticipated\.to: is after expiresAt/ })
      .first()
      .waitFor();
    expect((await api('olive', 'GET', '/api/v1/authz/requests')).json.requests).toEqual([]);
    await fill(p, 'buy-bust meeting with a cooperating witness');
    const filed = await until(
      "the officer's request",
      async () => (await api('olive', 'GET', '/api/v1/authz/requests')).json.requests?.[0] as { id: string } | undefined,
    );
    await p.locator(`[data-request-id="${filed.id}"]`).filter({ hasText: 'PENDING' }).waitFor();
    await shot(p, 'authz-officer');
    await officer.context.close();

    const fro = await signIn('fred', '#/authz');
    const f = fro.page;
    await fill(f, "the FRO's own meeting");
    const own = await until("the FRO's own request", async () =>
      ((await api('fred', 'GET', '/api/v1/authz/requests')).json.requests as { id: string; requester: string }[]).find((r) => r.requester === 'U7'),
    );
    const ownCard = f.locator(`[data-request-id="${own.id}"]`);
    await ownCard.getByText('You cannot approve your own request').waitFor();
    expect(await ownCard.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    const refused = await api('fred', 'POST', `/api/v1/authz/requests/${own.id}/approve`, { factorsConsidered: Object.keys(FACTORS) });
    expect([refused.status, refused.json.error.code]).toEqual([403, 'SELF_DECISION']);

    const card = f.locator(`[data-request-id="${filed.id}"]`);
    const approve = card.getByRole('button', { name: 'Approve' });
    for (const text of Object.values(FACTORS)) {
      expect(await approve.isEnabled(), 'Approve waits for all nine factors').toBe(false);
      await card.getByLabel(text).check();
    }
    await shot(f, 'authz-approver');
    await approve.click();
    await card.filter({ hasText: 'APPROVED' }).waitFor();
    const approved = (await api('fred', 'GET', `/api/v1/authz/requests/${filed.id}`)).json.request as {
      state: string;
      decision: { personId: string; factorsConsidered: unknown[] };
      grant: { id: string };
    };
    expect(approved).toMatchObject({ state: 'APPROVED', decision: { personId: 'U7' }, grant: { id: `G-${filed.id}` } });
    expect(approved.decision.factorsConsidered).toHaveLength(9);
    await fro.context.close();
  }, 120_000);

  it('publishes the next policy bundle as the Director: drafted from the one in force, signed offline, put in force and sent to the dock', async () => {
    const { page, context } = await signIn('dora', '#/authz');
    const [draftDownload] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download draft' }).click()]);
    const draftFile = join(dir, 'draft.json');
    await draftDownload.saveAs(draftFile);
    const draft = JSON.parse(readFileSync(draftFile, 'utf8')) as Record<string, unknown>;
    expect(draft.version).toBe(4);
    // Signed offline with the root key (bwc authz sign-bundle does the same), then uploaded.
    const signed = signPolicyObject('PolicyBundle', bundleFromSource(draft as never), root);
    const file = join(dir, 'v4.bundle');
    writeFileSync(file, signed.bytes);
    await page.getByLabel('Signed bundle file').setInputFiles(file);
    await page.getByRole('button', { name: 'Publish bundle' }).click();
    await page.getByRole('status').filter({ hasText: 'Bundle version 4 is in force' }).waitFor();
    expect((await api('otto', 'GET', '/api/v1/policy/bundle')).json).toMatchObject({ version: 4, hash: signed.hash });
    await until(
      'the dock on policy version 4',
      async () =>
        Number((await gw.db.get<{ policy_version: number }>('SELECT policy_version FROM devices WHERE device_id = ?', [DEVICE]))?.policy_version) === 4,
      30_000,
    );
    await shot(page, 'authz-director');
    await context.close();
  }, 90_000);

  it('places a hold as a records officer and sees the disposition dry run skip the held clip', async () => {
    await record('ui-arrest-1', 'at_large_arrest');
    await record('ui-arrest-2', 'at_large_arrest');
    const [held, free] = [await clipHash('ui-arrest-1'), await clipHash('ui-arrest-2')];
    // Routine recordings are kept to the end of the day they were verified (retention 0 days): the
    // gateway's clock moves on two days.
    dash.skew.ms = 2 * 86_400_000;
    const before = (await api('rita', 'GET', '/api/v1/records/disposition')).json as { items: { manifestHash: string }[] };
    expect(before.items.map((i) => i.manifestHash).sort(), JSON.stringify(before)).toEqual([held, free].sort());
    const { page, context } = await signIn('rita', '#/records');
    // 4007.1 schedules in years and months: the paperwork's 2190 days are six years.
    await page.getByRole('cell', { name: 'destroyed 6 years after cutoff' }).waitFor();
    await page.getByRole('cell', { name: 'destroyed at cutoff' }).waitFor();
    await page.getByLabel('Reason', { exact: true }).fill('Doe v. Agency, preservation letter of 2026-11-20');
    await page.getByLabel('Hold id').fill('HOLD-DOE');
    await page.getByLabel('Manifest hash').fill(held);
    await page.getByRole('button', { name: 'Place hold' }).click();
    await page.locator('[data-hold-id="HOLD-DOE"]').waitFor();
    await page.getByRole('button', { name: 'Dry run' }).click();
    const dry = page.getByTestId('disposition-dryrun');
    await dry.locator(`[data-manifest-hash="${free}"]`).waitFor();
    expect(await dry.locator(`[data-manifest-hash="${held}"]`).count()).toBe(0);
    await expect(dry.textContent()).resolves.toMatch(/HELD: 1/);
    await shot(page, 'records');
    // The server agrees: the held clip is kept.
    const server = (await api('rita', 'GET', '/api/v1/records/disposition')).json as {
      items: { manifestHash: string }[];
      kept: Record<string, number>;
    };
    expect(server.items.map((i) => i.manifestHash)).toEqual([free]);
    expect(server.kept.HELD).toBe(1);

    await page.goto(`${base}/#/clips/${held}`);
    await page.getByRole('button', { name: 'Verify now' }).click();
    await page.getByText('AUTHENTIC', { exact: true }).first().waitFor();
    await shot(page, 'clip');
    // A records officer downloads the clip: the bytes are the ones the manifest signed.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download clip' }).click()]);
    const saved = join(dir, 'downloaded.clip');
    await download.saveAs(saved);
    const sha = (await gw.db.get<{ clip_sha256: string }>('SELECT clip_sha256 FROM manifests WHERE manifest_hash = ?', [held]))!.clip_sha256;
    expect(createHash('sha256').update(readFileSync(saved)).digest('hex')).toBe(sha);
    await page.getByRole('link', { name: 'Clips' }).click();
    await page.locator(`[data-manifest-hash="${held}"]`).waitFor();
    await shot(page, 'clips');
    await context.close();
  }, 180_000);

  /** What the test uses of an HTMLVideoElement (the tests' TypeScript has no DOM library). */
  type Video = {
    currentTime: number;
    readonly duration: number;
    readonly error: { code: number } | null;
    readonly readyState: number;
    muted: boolean;
    play(): Promise<void>;
    pause(): void;
    addEventListener(type: string, f: () => void, o?: { once: boolean }): void;
  };
  // DESIGN §6: evidence is watched. The simulated camera records real H.264 video (device/link/sim/clip-content.ts).
  it('plays a verified clip on its page: the video advances and seeks (Range), and the viewing is audited once', async () => {
    await record('ui-video', 'at_large_arrest');
    const hash = await clipHash('ui-video');
    const { page, context } = await signIn('rita', `#/clips/${hash}`);
    const video = page.locator('video.clip-player');
    await video.waitFor({ timeout: 30_000 });
    const state = () => video.evaluate((v: Video) => ({ t: v.currentTime, d: v.duration, err: v.error?.code ?? null, ready: v.readyState }));
    await video.evaluate(async (v: Video) => {
      v.muted = true;
      await v.play();
    });
    await until('the video advances', async () => ((await state()).t > 0.5 ? true : undefined), 20_000);
    const played = await state();
    expect(played.err).toBeNull();
    expect(played.d).toBeGreaterThan(3.5);
    await video.evaluate((v: Video) => {
      v.pause();
    });
    const seeked = await video.evaluate(
      (v: Video) =>
        new Promise<number>((resolve) => {
          v.addEventListener('seeked', () => resolve(v.currentTime), { once: true });
          v.currentTime = 3;
        }),
    );
    expect(seeked).toBeGreaterThan(2.9);
    expect(seeked).toBeLessThan(3.1);
    await shot(page, 'clip-player');
    await context.close();
    const views = await gw.db.all<{ actor: string }>(`SELECT actor FROM audit_log WHERE action = 'clip.content_view' AND subject = ?`, [hash]);
    expect(views.map((v) => v.actor)).toEqual(['user:rita']);
  }, 120_000);

  it('runs "verify chain" as an auditor', async () => {
    const { page, context } = await signIn('aldo', '#/audit');
    await page.getByRole('button', { name: 'Verify chain' }).click();
    const result = page.getByTestId('verify-result');
    await result.filter({ hasText: /Chain intact/ }).waitFor();
    await shot(page, 'audit');
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('heading', { name: 'Activations per day' }).waitFor();
    await page.getByRole('heading', { name: 'Devices online' }).waitFor();
    await page.getByRole('heading', { name: 'Upload backlog' }).waitFor();
    await shot(page, 'overview');
    await context.close();
  }, 60_000);

  it('keeps the fleet table virtualized with 10,000 devices, on a tablet-sized screen', async () => {
    await gw.db.tx(async (q) => {
      for (let i = 0; i < 10_000; i++) {
        await q.run(
          `INSERT INTO devices (device_id, fleet, status, enrolled_at, enrolled_by, online, last_seen, agent_version, outbox_depth, storage_free)
          VALUES (?, ?, 'enrolled', ?, 'load', ?, ?, '0.1.0', ?, ?)`,
          [`dock-${String(i).padStart(5, '0')}`, FLEET, Date.now(), i % 3 === 0 ? 1 : 0, Date.now() - i * 1000, i % 50, 8e9],
        );
      }
    });
    const { page, context } = await signIn('otto', '#/fleet', { width: 768, height: 1024 });
    await page.locator('[data-device-id="dock-00000"]').waitFor();
    const rendered = await page.locator('[data-device-id]').count();
    expect(rendered).toBeGreaterThan(5);
    expect(rendered).toBeLessThan(200);
    await shot(page, 'fleet-10k-tablet');
    await page.getByLabel('Search devices').fill('dock-09999');
    await page.locator('[data-device-id="dock-09999"]').waitFor();
    expect(await page.locator('[data-device-id]').count()).toBe(1);
    await context.close();
    expect(dash.pageErrors).toEqual([]);
    const elsewhere = [...dash.requested].filter((u) => !u.startsWith(`${base}/`) && !u.startsWith('data:'));
    expect(elsewhere).toEqual([]);
    expect([...dash.requested].some((u) => u.endsWith('/assets/app.js'))).toBe(true);
  }, 120_000);
});
