/**
 * The dashboard in a real browser, shared by the Chromium tests: a real gateway with the agency's
 * trust (root, gateway certificate, policy bundle, issuer keys), users with their roles, Debian's
 * Chromium driven by playwright-core, and sign-in by keyboard as a person does it. Every page
 * error and every URL a page asks for is kept for the tests to check.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { expect } from 'vitest';
import { generateKeyDir } from '../proto/keydir.js';
import { parseGatewayConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { silentLogger } from '../gateway/api/http.js';
import type { Role } from '../gateway/api/roles.js';
import { ROOT, TEST_PASSWORD_COST } from './helpers.js';
import { agencyTrust, type AgencyTrust } from './dock.fixtures.js';
import { CHROMIUM, launchChromium } from './browser.js';

export { CHROMIUM };

/** Where screenshots go (BWC_ARTIFACTS_DIR overrides). */
export const ARTIFACTS = process.env.BWC_ARTIFACTS_DIR ?? join(ROOT, 'dist', 'test-artifacts', 'dashboard');

export const password = (username: string): string => `${username}-password-long-enough`;

/** username, roles, offices, person id. */
export type DashboardUser = readonly [string, Role[], string[], string | null];

export interface Viewport {
  width: number;
  height: number;
}

export interface Dashboard {
  readonly gw: RunningGateway;
  readonly base: string;
  readonly root: AgencyTrust['root'];
  readonly browser: Browser;
  /** An API token per user. */
  readonly tokens: Record<string, string>;
  /** Errors the pages raised (uncaught exceptions, CSP violations): none are allowed. */
  readonly pageErrors: string[];
  /** Every URL the pages asked for: all on the gateway's own origin. */
  readonly requested: Set<string>;
  /** The gateway's clock runs this far ahead of the real one. */
  readonly skew: { ms: number };
  /** A call to the API as `who`, with their token. */
  api(who: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, any> }>;
  /** A new browser context (its own cookies), signed in as `who`, at the page for `hash`. */
  signIn(who: string, hash?: string, viewport?: Viewport): Promise<{ page: Page; context: BrowserContext }>;
  /** A full-page screenshot under ARTIFACTS. */
  shot(page: Page, name: string): Promise<void>;
  stop(): Promise<void>;
}

export interface DashboardOptions {
  dir: string;
  fleet: string;
  gatewayId: string;
  users: readonly DashboardUser[];
  /** Officials the policy bundle trusts, each with a key made under `dir/issuer-keys/<personId>`. */
  issuers?: readonly { name: string; personId: string; roles: string[] }[];
  /** More gateway config (records schedules…), merged over the defaults. */
  config?: Record<string, unknown>;
}

export async function startDashboard(o: DashboardOptions): Promise<Dashboard> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium package (.ci/run does)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  const gwData = join(o.dir, 'gateway');
  const issuerKeysDir = join(o.dir, 'issuer-keys');
  const issuers = (o.issuers ?? []).map((i) => ({ ...i, publicKey: generateKeyDir(join(issuerKeysDir, i.personId)).publicKeyHex }));
  const { root } = agencyTrust(o.dir, gwData, { fleet: o.fleet, gatewayId: o.gatewayId, issuers });
  const skew = { ms: 0 };
  const gw = await startGateway({
    passwordCost: TEST_PASSWORD_COST,
    log: silentLogger,
    now: () => Date.now() + skew.ms,
    config: parseGatewayConfig({
      fleet: o.fleet,
      gatewayId: o.gatewayId,
      dataDir: gwData,
      http: { port: 0 },
      mqtt: { embedded: { port: 0 } },
      sweepIntervalMs: 500,
      trust: {
        rootPublicKey: join(o.dir, 'root.hex'),
        certificate: join(o.dir, `${o.gatewayId}.cert`),
        bundle: join(o.dir, 'policy.bundle'),
      },
      authz: { issuerKeysDir },
      dashboard: { sampleIntervalMs: 1000, liveKeepAliveMs: 2000 },
      ...o.config,
    }),
  });
  const base = `http://127.0.0.1:${gw.httpPort}`;
  const tokens: Record<string, string> = {};
  for (const [username, roles, offices, personId] of o.users) {
    await gw.auth.createUser({ username, password: password(username), roles, offices, personId });
    tokens[username] = (await gw.auth.createApiToken(username, 'test')).token;
  }
  const browser = await launchChromium();
  const pageErrors: string[] = [];
  const requested = new Set<string>();

  return {
    gw,
    base,
    root,
    browser,
    tokens,
    pageErrors,
    requested,
    skew,
    async api(who, method, path, body) {
      const r = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${tokens[who]}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: r.status, json: (await r.json().catch(() => ({}))) as Record<string, any> };
    },
    async signIn(who, hash = '#/overview', viewport = { width: 1280, height: 860 }) {
      const context = await browser.newContext({ viewport });
      const page = await context.newPage();
      page.on('pageerror', (e) => pageErrors.push(`${who}: ${e.message}`));
      page.on('request', (r) => requested.add(r.url()));
      page.on('console', (m) => {
        // A refused request (401 before sign-in, a 403 the test provokes) is logged by Chromium as a
        // failed resource load; anything else at error level is a fault of the page.
        if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of (400|401|403|409)/.test(m.text()))
          pageErrors.push(`${who}: ${m.text()}`);
      });
      await page.goto(`${base}/${hash}`);
      // By keyboard, as labelled: the username field, Tab to the password, Enter.
      await page.getByLabel('Username').focus();
      await page.keyboard.type(who);
      await page.keyboard.press('Tab');
      expect(await page.getByLabel('Password').evaluate((e) => e === e.ownerDocument.activeElement)).toBe(true);
      await page.keyboard.type(password(who));
      await page.keyboard.press('Enter');
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      await page
        .getByTestId('live-status')
        .filter({ hasText: /^live$/ })
        .waitFor();
      return { page, context };
    },
    async shot(page, name) {
      await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
    },
    async stop() {
      await browser.close();
      await gw.stop();
    },
  };
}
