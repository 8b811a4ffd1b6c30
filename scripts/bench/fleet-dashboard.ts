/**
 * The dashboard's fleet page timed in Debian's Chromium, from a process of its own (run by
 * fleet.ts): the process that runs the fleet simulator has its event loop full of simulated docks,
 * and playwright's end of the browser connection would wait behind them — measuring the simulator,
 * and at 10,000 docks losing the page. Prints one JSON line: `{ firstRenderMs, domRows }`.
 *
 *   node fleet-dashboard.js BASE_URL USERNAME DEVICES   (the password on stdin)
 */
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [base, username, devicesArg] = process.argv.slice(2);
const devices = Number(devicesArg);
if (!base || !username || !(devices >= 1)) {
  process.stderr.write('usage: fleet-dashboard BASE_URL USERNAME DEVICES  (password on stdin)\n');
  process.exit(2);
}
const password = readFileSync(0, 'utf8').trim();

// --disable-dev-shm-usage: a container's small /dev/shm is not enough for Chromium beside a 10,000-dock simulator.
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
});
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  page.setDefaultTimeout(120_000);
  await page.goto(`${base}/#/overview`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  const r0 = performance.now();
  await page.goto(`${base}/#/fleet`);
  await page.getByText(`Showing ${devices.toLocaleString('en-US')} of ${devices.toLocaleString('en-US')} devices`).waitFor();
  await page.locator('[data-device-id]').first().waitFor();
  const firstRenderMs = performance.now() - r0;
  const domRows = await page.locator('[data-device-id]').count();
  // Still responsive: a search narrows the whole fleet to the one device it names.
  const last = await page.locator('[data-device-id]').first().getAttribute('data-device-id');
  const s0 = performance.now();
  await page.getByLabel('Search devices').fill(last ?? '');
  await page.getByText(`Showing 1 of ${devices.toLocaleString('en-US')} devices`).waitFor();
  const searchMs = performance.now() - s0;
  process.stdout.write(`${JSON.stringify({ firstRenderMs, domRows, searchMs })}\n`);
} finally {
  await browser.close();
}
