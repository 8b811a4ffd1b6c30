/**
 * What a fresh `npm ci` must give: native modules built and loadable, generated code in step with
 * the schema, one version everywhere.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SOFTWARE_VERSION } from '../proto/version.js';
import { ROOT, run, tempDir } from './helpers.js';

const require = createRequire(import.meta.url);

describe('native modules built by npm install scripts', () => {
  it('better-sqlite3 opens a WAL database and runs a query', () => {
    const Database = require('better-sqlite3') as typeof import('better-sqlite3');
    const db = new Database(join(tempDir(), 't.db'));
    db.pragma('journal_mode = WAL');
    db.exec('create table t (x integer)');
    db.prepare('insert into t values (?)').run(42);
    expect(db.prepare('select x from t').get()).toEqual({ x: 42 });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('the serialport binding loads for this platform', async () => {
    const { autoDetect } = await import('@serialport/bindings-cpp');
    const binding = autoDetect();
    expect(typeof binding.open).toBe('function');
    expect(typeof binding.list).toBe('function');
  });

  it('onoff loads its epoll addon', () => {
    const { Gpio } = require('onoff') as typeof import('onoff');
    expect(typeof Gpio).toBe('function');
    expect(typeof Gpio.accessible).toBe('boolean');
  });

  it('usb loads its prebuilt native module (its WebUSB object answers, with devices or a reason)', async () => {
    const { usb } = await import('usb');
    expect(typeof usb.addEventListener).toBe('function');
    const answer = await usb.getDevices().then(
      (d) => `devices: ${d.length}`,
      (e: Error) => `error: ${e.message}`,
    );
    expect(answer).toMatch(/^(devices: \d+|error: getDevices error: .+)$/);
  });
});

describe('repository', () => {
  it('the committed generated code matches proto/bwc.proto', () => {
    const out = join(tempDir(), 'gen');
    const r = run(process.execPath, [join(ROOT, 'scripts', 'codegen.mjs'), '--out', out]);
    expect(r.code).toBe(0);
    for (const f of ['bwc.js', 'bwc.d.ts']) {
      expect(readFileSync(join(out, f), 'utf8'), `${f} is stale: run npm run codegen`).toBe(readFileSync(join(ROOT, 'proto', 'gen', f), 'utf8'));
    }
  });

  it('the generated code never parses .proto at run time', () => {
    const js = readFileSync(join(ROOT, 'proto', 'gen', 'bwc.js'), 'utf8');
    expect(js).toMatch(/from "protobufjs\/minimal\.js"/);
    expect(js).not.toMatch(/\.parse\(|\.load\(|loadSync/);
  });

  it('states one version in package.json and in the manifests', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(SOFTWARE_VERSION).toBe(pkg.version);
  });
});
