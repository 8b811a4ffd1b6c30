/**
 * The two test tiers. `npm test` runs everything, with every outside peer (Mosquitto, PostgreSQL,
 * Chromium, socat, openssl, protoc, the bwc CLI as a process). `npm run test:unit` runs the tests
 * that need no outside process, in under a minute: its setup (unit-tier.setup.ts) makes starting a
 * process fail, so a test that needs one cannot slip into it unnoticed.
 */
export const UNIT_TIER = process.env.BWC_TEST_TIER === 'unit';

/** The databases a gateway test runs on: both, except in the unit tier (no PostgreSQL server there). */
export function engines(): readonly ('sqlite' | 'postgres')[] {
  return UNIT_TIER ? ['sqlite'] : ['sqlite', 'postgres'];
}
