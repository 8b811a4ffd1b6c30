/**
 * Every page of the dashboard, as the layout test visits it: who signs in to see it (a user with
 * the roles its actions need), how to know it has loaded, and its primary actions (the buttons a
 * person comes to the page to press). A new page is one more entry here.
 */
import type { Page } from 'playwright-core';

/** What the layout test seeded: ids for the pages that show one thing. */
export interface Seeded {
  deviceId: string;
  manifestHash: string;
}

export interface DashboardPage {
  name: string;
  /** The address, from what was seeded. */
  hash: (s: Seeded) => string;
  /** Who signs in to see it. */
  who: string;
  /** Buttons by accessible name: every one shown must be on screen horizontally, and at least one must be shown. */
  actions: readonly (string | RegExp)[];
  /** Column headers that must be on screen too (the Clips list keeps Decision and State). */
  columns?: readonly string[];
  /** Waits until the page shows what it is about. */
  ready: (page: Page) => Promise<void>;
  /** Opens what the page's actions lead to (a form shown on demand), so its buttons are checked too. */
  open?: (page: Page) => Promise<void>;
}

const heading = (name: string | RegExp) => async (page: Page) => {
  await page.getByRole('heading', { name }).first().waitFor();
};
const button = (name: string | RegExp) => async (page: Page) => {
  await page.getByRole('button', { name }).first().waitFor();
};

export const DASHBOARD_PAGES: readonly DashboardPage[] = [
  { name: 'overview', hash: () => '#/overview', who: 'otto', actions: [], ready: heading('Activations per day') },
  {
    name: 'fleet',
    hash: () => '#/fleet',
    who: 'otto',
    actions: [],
    ready: async (page) => {
      await page.locator('[data-device-id]').first().waitFor();
    },
  },
  {
    name: 'device',
    hash: (s) => `#/devices/${encodeURIComponent(s.deviceId)}`,
    who: 'otto',
    actions: ['Decommission', /^Copy the public key/, 'History'],
    ready: button('Decommission'),
  },
  {
    name: 'cameras',
    hash: () => '#/cameras',
    who: 'otto',
    actions: ['Refresh', 'History', 'Assign', 'Unassign'],
    ready: button('Unassign'),
  },
  {
    name: 'alerts',
    hash: () => '#/alerts',
    who: 'otto',
    actions: ['Refresh', 'Acknowledge', 'Resolve', 'Resolve alert', 'Cancel'],
    ready: button('Acknowledge'),
    open: async (page) => {
      await page.locator('[data-alert-id]').first().getByRole('button', { name: 'Resolve' }).click();
      await button('Resolve alert')(page);
    },
  },
  {
    name: 'clips',
    hash: () => '#/clips',
    who: 'otto',
    actions: ['Search', 'Clear'],
    columns: ['Decision', 'State'],
    ready: async (page) => {
      await page.locator('[data-manifest-hash]').first().waitFor();
    },
  },
  {
    name: 'clip',
    hash: (s) => `#/clips/${s.manifestHash}`,
    who: 'rita',
    actions: ['Verify now', 'Download manifest'],
    ready: button('Verify now'),
  },
  {
    name: 'authorizations (approver)',
    hash: () => '#/authz',
    who: 'fred',
    actions: ['Approve', 'Deny', 'File request', 'Download draft', /^Copy the public key/],
    ready: button('Approve'),
  },
  {
    name: 'authorizations (director)',
    hash: () => '#/authz',
    who: 'dora',
    actions: ['File request', 'Publish bundle', 'Download draft'],
    ready: button('Publish bundle'),
  },
  { name: 'records', hash: () => '#/records', who: 'rita', actions: ['Place hold', 'Dry run'], ready: button('Place hold') },
  { name: 'audit', hash: () => '#/audit', who: 'aldo', actions: ['Verify chain', 'Apply'], ready: button('Verify chain') },
  { name: 'review', hash: () => '#/review', who: 'otto', actions: ['Refresh'], ready: heading('Queue') },
  { name: 'admin', hash: () => '#/admin', who: 'ada', actions: ['Create user', 'Create token'], ready: button('Create token') },
];

/** The screen sizes every page must fit: two laptops and a tablet held upright. */
export const VIEWPORTS = [
  { name: '1280x800', width: 1280, height: 800 },
  { name: '1440x900', width: 1440, height: 900 },
  { name: 'tablet-820x1180', width: 820, height: 1180 },
] as const;
