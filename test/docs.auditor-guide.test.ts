/**
 * The auditor's guide (proto/README.md, "For auditors: verifying a clip"), followed literally: each
 * shell block it marks `<!-- auditor-guide: NAME -->` is run as written, with bash, in a fresh
 * directory, against a clip a real gateway verified — the three files fetched the ways the guide
 * says (a BagIt export with `bwc records export`; the HTTP API with curl) — with `bwc` on the PATH
 * and the variables the guide names (BWC_GATEWAY_URL, BWC_TOKEN, H, PROTO) set. Then one byte of
 * the clip is changed and the same blocks must say so.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { parseGatewayConfig } from '../gateway/config.js';
import { silentLogger } from '../gateway/api/http.js';
import { TestDock, trustFiles, type TestClip } from './gateway.fixtures.js';
import { BWC, ROOT, tempDir, until, type RunResult } from './helpers.js';

const README = readFileSync(join(ROOT, 'proto', 'README.md'), 'utf8');
const PROTO = join(ROOT, 'proto', 'bwc.proto');

/** The body of the one fenced sh block marked `<!-- auditor-guide: name -->`. */
function block(name: string): string {
  const found = [...README.matchAll(new RegExp(`<!-- auditor-guide: ${name} -->\\n\`\`\`sh\\n([\\s\\S]*?)\`\`\`\\n`, 'g'))];
  expect(found, `proto/README.md has one block marked auditor-guide: ${name}`).toHaveLength(1);
  return found[0]![1]!;
}

const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const HAVE_CURL = has('curl') && has('python3');

/** A `bwc` on the PATH that runs this checkout's build, as an installed `bwc` would. */
function bwcShim(): string {
  const dir = tempDir('bwc-shim-');
  const shim = join(dir, 'bwc');
  writeFileSync(shim, `#!/bin/sh\nexec '${process.execPath}' '${BWC}' "$@"\n`);
  chmodSync(shim, 0o755);
  return dir;
}

let gw: RunningGateway;
let env: NodeJS.ProcessEnv;
const dock = new TestDock('dock-sea-07', 'f1', 4711);
let clip: TestClip;

/**
 * Runs guide text with bash (strict: an unset variable or a failing command stops it) in `cwd`,
 * without blocking the event loop: the gateway answering the guide's requests runs in this process.
 * The variables the guide sets (CLIP, MANIFEST, PUBKEY) are kept in `.guide-state` between runs, as
 * in one terminal session.
 */
function bash(cwd: string, script: string): Promise<RunResult> {
  const full = `set -euo pipefail\n[ -f .guide-state ] && . ./.guide-state\n${script}\ndeclare -p CLIP MANIFEST PUBKEY > .guide-state 2>/dev/null || true\n`;
  return new Promise((resolve) => {
    const p = spawn('bash', ['-c', full], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The variables the guide set in `cwd`, read back through bash. */
async function guideVar(cwd: string, name: 'CLIP' | 'MANIFEST' | 'PUBKEY'): Promise<string> {
  const r = await bash(cwd, `printf %s "$${name}"`);
  expect(r.code, r.stderr).toBe(0);
  return join(cwd, r.stdout);
}

beforeAll(async () => {
  const dataDir = tempDir();
  const trust = trustFiles(dataDir, { gatewayId: 'gw1', fleet: 'f1' });
  gw = await startGateway({
    config: parseGatewayConfig({
      fleet: 'f1',
      gatewayId: 'gw1',
      dataDir,
      mqtt: { embedded: { port: 0 } },
      http: { port: 0 },
      sweepIntervalMs: 600_000,
      trust: { rootPublicKey: trust.rootPublicKey, certificate: trust.certificate },
    }),
    log: silentLogger,
  });
  await gw.auth.createUser({
    username: 'audra',
    password: 'correct horse battery staple',
    roles: ['auditor'],
    offices: [],
    personId: null,
  });
  const token = (await gw.auth.createApiToken('audra', 'guide')).token;
  await gw.fleet.enroll(dock.deviceId, dock.key.publicKey, 'test');
  expect((await gw.ingest.handle(dock.topic('birth'), dock.birth())).status).toBe('accepted');
  // Three 1 MiB chunks, the last one short, as a dock hashes a clip.
  clip = dock.clip(2 * 1024 * 1024 + 123_457, { chunkSize: 1024 * 1024 });
  expect((await gw.ingest.handle(dock.topic('manifest'), clip.manifest)).status).toBe('accepted');
  for (let i = 0; i < clip.chunks.length; i++) await gw.ingest.handle(dock.topic('chunk'), dock.chunk(clip, i));
  const base = `http://127.0.0.1:${gw.httpPort}`;
  await until('the clip VERIFIED at the gateway', async () => {
    const res = await fetch(`${base}/api/v1/clips/${clip.hashHex}`, { headers: { authorization: `Bearer ${token}` } });
    return res.ok && ((await res.json()) as { clip: { state: string } }).clip.state === 'VERIFIED';
  });
  env = { ...process.env, PATH: `${bwcShim()}:${process.env.PATH ?? ''}`, BWC_GATEWAY_URL: base, BWC_TOKEN: token, H: clip.hashHex, PROTO };
});

afterAll(async () => {
  await gw?.stop();
});

describe('the auditor guide names the ways to the three files', () => {
  it('points at the dashboard buttons, the API routes and the BagIt paths the gateway serves', () => {
    const guide = README.slice(README.indexOf('## For auditors: verifying a clip'), README.indexOf('## Files'));
    for (const s of [
      '**Download clip**',
      '**Download manifest**',
      '**Export BagIt**',
      '`GET /api/v1/clips/:hash/content`',
      '`clip.manifestEnvelope`',
      '`GET /api/v1/devices/:id`',
      '`data/clip/signer-public-key.hex`',
    ])
      expect(guide).toContain(s);
  });
});

const sources = [
  { name: 'bagit', what: 'a BagIt export (bwc records export)', run: true },
  { name: 'api', what: 'the HTTP API (curl)', run: HAVE_CURL },
] as const;

describe.each(sources)('with the files from $what', ({ name, run }) => {
  const cwd = tempDir('bwc-auditor-');

  it.skipIf(!run)("gets the clip, its signed manifest and the signer's public key", async () => {
    const r = await bash(cwd, block(name));
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(readFileSync(await guideVar(cwd, 'CLIP')).equals(clip.bytes)).toBe(true);
    expect(Buffer.from(readFileSync(await guideVar(cwd, 'MANIFEST'))).equals(Buffer.from(clip.manifest))).toBe(true);
    expect(readFileSync(await guideVar(cwd, 'PUBKEY'), 'utf8').trim()).toBe(Buffer.from(dock.key.publicKey).toString('hex'));
    if (name === 'bagit') expect(r.stdout).toMatch(/^data\/clip\/.*\.manifest: OK$/m);
  });

  it.skipIf(!run)('bwc verify says AUTHENTIC and exits 0', async () => {
    const r = await bash(cwd, block('verify'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^content +AUTHENTIC$/m);
    expect(r.stdout).toMatch(/^signature VALID$/m);
    expect(r.stdout).toMatch(/^ +\.\.\.$/m);
    expect(r.stdout).toMatch(/^AUTHENTIC: all 3 chunks and the whole-file SHA-256 match/m);
  });

  it.skipIf(!run)("OpenSSL alone verifies the signature, and the clip's SHA-256 and length match the manifest", async () => {
    const r = await bash(cwd, block('openssl'));
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain(`${dock.key.keyId}  -`);
    expect(r.stdout).toMatch(/^ClipManifest$/m);
    expect(r.stdout).toMatch(new RegExp(`^${dock.key.keyId}$`, 'm'));
    expect(r.stdout).toMatch(/^(\d+) bytes = \1$/m);
    expect(r.stdout).toMatch(/^Signature Verified Successfully$/m);
    expect(r.stdout).toContain(`${clip.hashHex} *signed-input.bin`);
    expect(r.stdout).toMatch(new RegExp(`^signed length ${clip.bytes.length}, clip ${clip.bytes.length} bytes$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^SHA-256 match: ${createHash('sha256').update(clip.bytes).digest('hex')}$`, 'm'));
  });

  it.skipIf(!run)("with another dock's public key, bwc verify exits 4 and OpenSSL refuses the signature", async () => {
    const other = new TestDock('dock-other', 'f1', 99);
    mkdirSync(join(cwd, 'other'), { recursive: true });
    writeFileSync(join(cwd, 'other', 'public.hex'), `${Buffer.from(other.key.publicKey).toString('hex')}\n`);
    const verify = await bash(cwd, `PUBKEY=other/public.hex\n${block('verify')}`);
    expect(verify.code).toBe(4);
    expect(verify.stdout).toMatch(/^key +UNKNOWN_KEY: /m);
    const openssl = await bash(cwd, `PUBKEY=other/public.hex\n${block('openssl')}`);
    expect(openssl.code).not.toBe(0);
    expect(openssl.stdout + openssl.stderr).toMatch(/Signature Verification Failure/);
    expect(openssl.stdout).not.toMatch(/Signature Verified Successfully/);
  });

  it.skipIf(!run)('after one byte of the clip is changed, bwc verify says NOT_AUTHENTIC, marks the chunk, and exits 1', async () => {
    const path = await guideVar(cwd, 'CLIP');
    const bytes = readFileSync(path);
    bytes[1024 * 1024 + 4242]! ^= 0x01;
    writeFileSync(path, bytes);
    const r = await bash(cwd, block('verify'));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^content +NOT_AUTHENTIC$/m);
    expect(r.stdout).toMatch(/^ +\.N\.$/m);
    expect(r.stdout).toMatch(/^NOT_AUTHENTIC: 2 of 3 chunks verified; 1 chunk altered: 1$/m);
  });

  it.skipIf(!run)('after one byte of the clip is changed, the signature still verifies with OpenSSL but the SHA-256 comparison fails', async () => {
    const r = await bash(cwd, block('openssl'));
    expect(r.stdout).toMatch(/^Signature Verified Successfully$/m);
    expect(r.stdout).toMatch(/^SHA-256 MISMATCH: clip [0-9a-f]{64}, manifest [0-9a-f]{64}$/m);
    expect(r.stdout).not.toMatch(/^SHA-256 match/m);
    expect(r.code).not.toBe(0);
  });
});
