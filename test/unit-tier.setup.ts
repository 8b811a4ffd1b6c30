/**
 * The unit tier starts no process: every way node:child_process starts one throws, naming the
 * program, so a test that needs an outside peer fails here instead of running slowly or quietly.
 */
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { afterAll } from 'vitest';
import { cleanUpAfterFile } from './helpers.js';

// The unit tier runs its files in shared workers without isolation (vitest.unit.config.ts), so
// helpers.ts is evaluated once per worker: each file cleans up its own temp dirs here.
afterAll(cleanUpAfterFile);

const starters = ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'] as const;
for (const name of starters) {
  Object.defineProperty(childProcess, name, {
    configurable: true,
    writable: true,
    value: (program: unknown) => {
      throw new Error(`the unit tier starts no process (${name} ${String(program)}): this test belongs to the full tier (npm test) only`);
    },
  });
}
syncBuiltinESMExports();
