#!/usr/bin/env node
// Builds the operators' dashboard (gateway/web/) into {outdir}: index.html, assets/app.js (one ES
// module, minified, with an external source map) and assets/app.css (uPlot's stylesheet and ours).
// The gateway serves `GET /` from index.html and `GET /assets/:file` from assets/.
//
//   node scripts/build-web.mjs            # → dist/gateway/web
//   import { buildWeb } from './build-web.mjs'; await buildWeb({ root, outdir });
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

/** All JavaScript of the dashboard, gzipped, must stay under this (gateway/web/README.md). */
export const JS_BUDGET_GZIP_BYTES = 150 * 1024;

/**
 * Bundles the dashboard into `outdir` (its assets/ folder is replaced). Throws on a build error
 * and when the JavaScript exceeds the budget; prints esbuild's warnings and the sizes.
 * @param {{ root: string, outdir: string, log?: (line: string) => void }} options
 * @returns {Promise<{ files: { file: string, bytes: number, gzipBytes: number }[], jsGzipBytes: number }>}
 */
export async function buildWeb({ root, outdir, log = (line) => console.log(line) }) {
  const web = join(root, 'gateway', 'web');
  const assets = join(outdir, 'assets');
  rmSync(assets, { recursive: true, force: true });
  mkdirSync(assets, { recursive: true });

  const common = {
    absWorkingDir: root,
    bundle: true,
    minify: true,
    sourcemap: 'external',
    metafile: true,
    target: 'es2022',
    logLevel: 'silent',
    legalComments: 'none',
  };
  const js = esbuild.build({
    ...common,
    entryPoints: [join(web, 'src', 'main.tsx')],
    outfile: join(assets, 'app.js'),
    format: 'esm',
    platform: 'browser',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: join(web, 'tsconfig.json'),
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  // uPlot's own stylesheet first, so ours can adjust it.
  const css = esbuild.build({
    ...common,
    stdin: {
      contents: '@import "uplot/dist/uPlot.min.css";\n@import "./style.css";\n',
      resolveDir: join(web, 'src'),
      loader: 'css',
      sourcefile: 'app.css',
    },
    outfile: join(assets, 'app.css'),
    loader: { '.css': 'css' },
  });
  const results = await Promise.allSettled([js, css]);
  const failures = results.filter((r) => r.status === 'rejected');
  if (failures.length > 0) {
    const messages = await Promise.all(
      failures.map(async (f) => {
        const e = /** @type {{ errors?: esbuild.Message[], message?: string }} */ (f.reason);
        return e.errors ? (await esbuild.formatMessages(e.errors, { kind: 'error' })).join('\n') : String(e.message ?? e);
      }),
    );
    throw new Error(`dashboard build failed:\n${messages.join('\n')}`);
  }

  for (const r of results) {
    if (r.status === 'fulfilled' && r.value.warnings.length > 0) {
      log((await esbuild.formatMessages(r.value.warnings, { kind: 'warning' })).join('\n'));
    }
  }
  copyFileSync(join(web, 'index.html'), join(outdir, 'index.html'));

  const files = [];
  for (const r of results) {
    if (r.status !== 'fulfilled') continue;
    for (const out of Object.keys(r.value.metafile.outputs)) {
      if (out.endsWith('.map')) continue;
      const bytes = readFileSync(resolve(root, out));
      files.push({
        file: relative(outdir, resolve(root, out)),
        bytes: bytes.byteLength,
        gzipBytes: gzipSync(bytes, { level: 9 }).byteLength,
      });
    }
  }
  const jsGzipBytes = files.filter((f) => f.file.endsWith('.js')).reduce((n, f) => n + f.gzipBytes, 0);
  for (const f of files) log(`  ${f.file.padEnd(18)} ${kb(f.bytes).padStart(9)}  ${kb(f.gzipBytes).padStart(9)} gzipped`);
  log(`  JavaScript total ${kb(jsGzipBytes)} gzipped (budget ${kb(JS_BUDGET_GZIP_BYTES)})`);
  if (jsGzipBytes > JS_BUDGET_GZIP_BYTES) {
    throw new Error(`dashboard JavaScript is ${kb(jsGzipBytes)} gzipped, over the budget of ${kb(JS_BUDGET_GZIP_BYTES)}`);
  }
  return { files, jsGzipBytes };
}

function kb(n) {
  return `${(n / 1024).toFixed(1)} kB`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const outdir = join(root, 'dist', 'gateway', 'web');
  console.log(`dashboard → ${relative(root, outdir)}/`);
  buildWeb({ root, outdir }).catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
