import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * `npm run test:unit`: the tests that need no outside process (tiers.ts). Each file listed here
 * runs with process starting disabled, so the list cannot hold a test that needs a peer.
 */
export const UNIT_FILES = [
  'dock.forged-traffic',
  'dock.sync',
  'dock.units',
  'gateway.api',
  'gateway.authz-rules',
  'gateway.broker',
  'gateway.crypto',
  'gateway.proxy',
  'io.indicator',
  'link.codec',
  'link.endpoint',
  'link.sim-video',
  'policy.decide',
  'policy.properties',
  'policy.second-round',
  'policy.store',
  'proto.ed25519',
  'proto.envelope',
  'proto.fuzz',
  'proto.merkle',
  'proto.topics',
  'dashboard.words',
  'gateway.sweeper',
  // Gateway tests on SQLite; their PostgreSQL halves run in the full tier (tiers.ts engines()).
  'gateway.audit',
  'gateway.dashboard-api',
  'gateway.fleet-races',
  'gateway.fleet',
  'gateway.ingest',
  'gateway.late-tag',
  'gateway.records',
  'gateway.second-decision',
  'gateway.store',
];

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: UNIT_FILES.map((f) => `test/${f}.test.ts`),
    setupFiles: ['test/unit-tier.setup.ts'],
    globalSetup: ['test/unit-tier.global.ts'],
    // Two files at once on two cores (vitest's default in a run is one fewer than the cores):
    // the gateway files spend much of their time waiting (timers, threads), which the other fills.
    maxWorkers: 2,
    // Each worker process runs file after file with the modules it has loaded: starting a process
    // and loading the gateway's modules again for every file was half the tier's CPU. These files
    // keep no state in modules between files (none mocks a module or changes a global it does
    // not restore); a file that must start clean belongs in the full tier, which isolates files.
    isolate: false,
    env: { BWC_TEST_TIER: 'unit' },
  },
});
