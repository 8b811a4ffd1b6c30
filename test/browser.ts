/**
 * Chromium for the dashboard's browser tests: Debian's chromium driven by playwright-core, and
 * signing in through the dashboard's own form, by keyboard, as labelled.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import { expect } from 'vitest';

export const CHROMIUM = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * A new browser context (its own cookies) signed in as `who` at `base/hash`. Uncaught exceptions
 * and console errors other than refused requests are pushed to `errors`.
 */
export async function signInAs(browser: Browser, base: string, who: string, password: string, hash: string, errors: string[]): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`${who}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of (400|401|403|409)/.test(m.text())) errors.push(`${who}: ${m.text()}`);
  });
  await page.goto(`${base}/${hash}`);
  await page.getByLabel('Username').focus();
  await page.keyboard.type(who);
  await page.keyboard.press('Tab');
  expect(await page.getByLabel('Password').evaluate((e) => e === e.ownerDocument.activeElement)).toBe(true);
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return page;
}
