/**
 * The dashboard in Debian's Chromium, driven by playwright-core: launching it, and signing in by
 * keyboard as a person would, with every page error collected (none is allowed). The same steps
 * test/dashboard.browser.test.ts takes.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (.ci/run does)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A new browser context (its own cookies) signed in as `username` at the page for `hash`. Page
 * errors go to `errors`: uncaught exceptions, and console errors other than a refused request.
 */
export async function signInAs(
  browser: Browser,
  base: string,
  username: string,
  password: string,
  hash: string,
  errors: string[],
): Promise<{ page: Page; context: BrowserContext }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`${username}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of (400|401|403|409)/.test(m.text()))
      errors.push(`${username}: ${m.text()}`);
  });
  await page.goto(`${base}/${hash}`);
  await page.getByLabel('Username').focus();
  await page.keyboard.type(username);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return { page, context };
}
