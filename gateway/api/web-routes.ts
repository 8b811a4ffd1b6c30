/**
 * The dashboard's files (gateway/web/, built into dist/gateway/web/ by `npm run build`): `GET /`
 * answers index.html and `GET /assets/:file` the bundle. They are read once at start, kept in
 * memory with their gzip form and an ETag, and served with a Content-Security-Policy that allows
 * this origin's scripts, styles and API only: no inline script, nothing from elsewhere.
 *
 * A gateway started from a tree whose dashboard was never built answers `/` with a page that says
 * so; the API works regardless.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { HttpError, type ApiServer, type HandlerResult } from './http.js';

export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; media-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

interface WebFile {
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

/** Where the built dashboard is: beside this module in dist/, or dist/ of the source tree (tests). */
export function findWebDir(): string | null {
  for (const rel of ['../web/', '../../dist/gateway/web/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(join(dir, 'index.html')) && existsSync(join(dir, 'assets', 'app.js'))) return dir;
  }
  return null;
}

function load(path: string): WebFile {
  const body = readFileSync(path);
  return {
    type: TYPES[extname(path)] ?? 'application/octet-stream',
    body,
    gzip: gzipSync(body, { level: 9 }),
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
  };
}

export function registerWebRoutes(server: ApiServer, options: { dir: string | null }): { dir: string | null; files: number } {
  const files = new Map<string, WebFile>();
  const dir = options.dir;
  let index: WebFile | null = null;
  if (dir) {
    index = load(join(dir, 'index.html'));
    for (const name of readdirSync(join(dir, 'assets'))) {
      if (/^[A-Za-z0-9._-]+$/.test(name) && TYPES[extname(name)]) files.set(name, load(join(dir, 'assets', name)));
    }
  }

  const answer = (req: IncomingMessage, f: WebFile, cache: string, extra: Record<string, string> = {}): HandlerResult => {
    const headers: Record<string, string> = {
      'content-type': f.type,
      etag: f.etag,
      'cache-control': cache,
      vary: 'accept-encoding',
      ...extra,
    };
    if (req.headers['if-none-match'] === f.etag) return { status: 304, headers };
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) && f.gzip.length < f.body.length;
    return { status: 200, raw: gzip ? f.gzip : f.body, headers: gzip ? { ...headers, 'content-encoding': 'gzip' } : headers };
  };

  server.route({
    method: 'GET',
    path: '/',
    roles: 'public',
    handle: async ({ req }) => {
      if (!index) {
        return {
          status: 503,
          raw:
            '<!doctype html><html lang="en"><title>bwc gateway</title><h1>The dashboard is not built</h1>' +
            "<p>Run <code>npm run build</code> in the gateway's source tree and restart it. The HTTP API under /api/v1/ works without it.</p></html>",
          headers: { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': PAGE_CSP },
        };
      }
      return answer(req, index, 'no-cache', { 'content-security-policy': PAGE_CSP });
    },
  });

  server.route({
    method: 'GET',
    path: '/assets/:file',
    roles: 'public',
    params: z.strictObject({ file: z.string().max(100) }),
    handle: async ({ req, params }) => {
      const f = files.get(params.file);
      if (!f) throw new HttpError(404, 'NOT_FOUND', `no dashboard file ${params.file}`);
      // Fixed names: the browser revalidates with the ETag, and gets 304 until the gateway is rebuilt.
      return answer(req, f, 'no-cache');
    },
  });
  return { dir, files: files.size };
}
