/**
 * The Admin and Audit pages in Chromium, against a real gateway: an auditor reads the audit log as
 * sentences naming who did what, filters it by user on the gateway and opens an entry's raw JSON;
 * an admin creates a user (a bad form shows every problem at once), creates an API token for them
 * (its secret shown once) and revokes it.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningGateway } from '../gateway/gateway.js';
import { launchChromium, signInAs } from './browser.js';
import { startTestGateway } from './gateway.http.js';

const password = (u: string) => `${u}-password-long-enough`;
let gw: RunningGateway;
let base: string;
let browser: Browser;
const pageErrors: string[] = [];

beforeAll(async () => {
  ({ gw, base } = await startTestGateway('bwc-ui-admin-'));
  await gw.auth.createUser({ username: 'ada', password: password('ada'), roles: ['admin'] });
  await gw.auth.createUser({ username: 'aldo', password: password('aldo'), roles: ['auditor'] });
  await gw.auth.createUser({ username: 'vic', password: password('vic'), roles: ['viewer'] });
  browser = await launchChromium();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await gw?.stop();
});

describe('the Admin and Audit pages in Chromium', () => {
  it('shows an auditor each entry as a sentence naming the user, filtered by user, with the raw entry on request', async () => {
    const vic = await signInAs(browser, base, 'vic', password('vic'), '#/overview', pageErrors);
    // Nobody but an admin is offered the Admin page.
    expect(await vic.page.getByRole('link', { name: 'Admin' }).count()).toBe(0);
    await vic.context.close();

    const { page, context } = await signInAs(browser, base, 'aldo', password('aldo'), '#/audit', pageErrors);
    const entries = page.getByRole('region', { name: 'Entries' });
    await entries.getByText(/^#\d+ vic \(viewer\) signed in from 127\.0\.0\.1 at \d{4}-\d\d-\d\d \d\d:\d\d$/).waitFor();

    await page.getByLabel('User', { exact: true }).fill('vic');
    await page.getByRole('button', { name: 'Apply' }).click();
    await entries.getByText(/matching the filters/).waitFor();
    const sentences = await entries.locator('.audit-sentence').allInnerTexts();
    expect(sentences.length).toBeGreaterThan(0);
    for (const s of sentences) expect(s).toMatch(/vic/);
    expect(sentences.some((s) => /aldo/.test(s))).toBe(false);

    const row = entries.locator('.audit-entry').filter({ hasText: 'vic (viewer) signed in' }).first();
    const raw = row.locator('.audit-raw pre');
    expect(await raw.isVisible()).toBe(false);
    await row.getByText('Raw entry').click();
    await raw.waitFor({ state: 'visible' });
    const json = JSON.parse((await raw.textContent()) ?? '') as { action: string; actor: string; detail: { ip: string } };
    expect(json).toMatchObject({ action: 'auth.sign_in', actor: 'user:vic', detail: { ip: '127.0.0.1' } });

    // "Verify chain" still works here.
    await page.getByRole('button', { name: 'Verify chain' }).click();
    await page
      .getByTestId('verify-result')
      .filter({ hasText: /Chain intact/ })
      .waitFor();
    await context.close();
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('lets an admin create a user (every problem shown at once), create a token for them and revoke it', async () => {
    const { page, context } = await signInAs(browser, base, 'ada', password('ada'), '#/overview', pageErrors);
    await page.getByRole('link', { name: 'Admin' }).click();
    const form = page.getByRole('form', { name: 'New user' });
    await form.getByLabel('Username').fill('New Person');
    await form.getByLabel('Initial password').fill('short');
    await form.getByRole('button', { name: 'Create user' }).click();
    const problems = form.getByRole('alert');
    await problems.waitFor();
    const text = (await problems.textContent()) ?? '';
    for (const rule of ['a username is 1 to 64', 'at least 12 characters', 'at least one role']) expect(text).toContain(rule);

    await form.getByLabel('Username').fill('nora');
    await form.getByLabel('Initial password').fill('nora-initial-password');
    await form.getByLabel('operator').check();
    await form.getByLabel('Offices').fill('SEA, PDX');
    await form.getByRole('button', { name: 'Create user' }).click();
    await form.getByRole('status').filter({ hasText: 'User nora created.' }).waitFor();
    await page.getByRole('region', { name: 'Users' }).locator('tr[data-username="nora"]').filter({ hasText: 'operator' }).waitFor();
    expect(await gw.auth.getUser('nora')).toMatchObject({ roles: ['operator'], offices: ['SEA', 'PDX'] });

    const tokens = page.getByRole('region', { name: 'API tokens' });
    await tokens.getByLabel('Owner').selectOption('nora');
    await tokens.getByLabel('Token name').fill('camera sync');
    await tokens.getByRole('button', { name: 'Create token' }).click();
    const secret = ((await tokens.getByTestId('secret-once').locator('code').textContent()) ?? '').trim();
    expect(secret).toMatch(/^bwc_[A-Za-z0-9_-]{43}$/);
    expect((await fetch(`${base}/api/v1/me`, { headers: { authorization: `Bearer ${secret}` } })).status).toBe(200);

    const row = tokens.locator('tr').filter({ hasText: 'camera sync' });
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.getByRole('button', { name: 'Revoke token camera sync' }).click();
    await row.filter({ hasText: 'Revoked' }).waitFor();
    expect((await fetch(`${base}/api/v1/me`, { headers: { authorization: `Bearer ${secret}` } })).status).toBe(401);
    const audited = await gw.db.all<{ action: string; actor: string; subject: string }>(
      `SELECT action, actor, subject FROM audit_log WHERE action IN ('user.created', 'token.created', 'token.revoked') AND subject = 'user:nora' ORDER BY seq`,
    );
    expect(audited).toEqual([
      { action: 'user.created', actor: 'user:ada', subject: 'user:nora' },
      { action: 'token.created', actor: 'user:ada', subject: 'user:nora' },
      { action: 'token.revoked', actor: 'user:ada', subject: 'user:nora' },
    ]);
    await context.close();
    expect(pageErrors).toEqual([]);
  }, 90_000);
});
