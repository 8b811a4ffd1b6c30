#!/usr/bin/env node
// Compiles the TypeScript into dist/ and copies the files tsc does not emit: the generated
// protobuf code (committed under proto/gen/), the plain-JavaScript worker modules and the simulated
// camera's sample footage (device/link/sim/assets/).
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit', cwd: root });

mkdirSync(join(root, 'dist', 'proto', 'gen'), { recursive: true });
cpSync(join(root, 'proto', 'gen', 'bwc.js'), join(root, 'dist', 'proto', 'gen', 'bwc.js'));
cpSync(join(root, 'proto', 'gen', 'bwc.d.ts'), join(root, 'dist', 'proto', 'gen', 'bwc.d.ts'));
for (const dir of ['proto', 'device', 'gateway']) {
  const copy = (rel) => {
    for (const entry of readdirSync(join(root, rel), { withFileTypes: true })) {
      const r = join(rel, entry.name);
      if (entry.isDirectory() && entry.name !== 'gen' && entry.name !== 'node_modules') copy(r);
      else if (entry.isFile() && (entry.name.endsWith('.mjs') || entry.name.endsWith('.mp4'))) {
        mkdirSync(join(root, 'dist', rel), { recursive: true });
        cpSync(join(root, r), join(root, 'dist', r));
      }
    }
  };
  copy(dir);
}
chmodSync(join(root, 'dist', 'scripts', 'bwc.js'), 0o755);

// The dashboard (gateway/web/): type-checked as a browser program of its own (DOM, no Node types),
// then bundled by esbuild (which does not type-check), and served by the gateway.
execFileSync(process.execPath, [tsc, '-p', join(root, 'gateway', 'web', 'tsconfig.json')], { stdio: 'inherit', cwd: root });
const { buildWeb } = await import('./build-web.mjs');
await buildWeb({ root, outdir: join(root, 'dist', 'gateway', 'web') });
