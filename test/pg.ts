/**
 * A throw-away PostgreSQL cluster for tests: initdb into a temp dir, listen on 127.0.0.1 at a free
 * port (its unix socket inside the temp dir), no fsync. initdb refuses to run as root, so as root
 * the dir is given to the `postgres` user and the server tools run through `runuser`.
 * PostgreSQL missing is a failure with a clear message, never a skip: CI installs it (.ci/run).
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const PG_ROOT = '/usr/lib/postgresql';
const SUPERUSER = 'bwc';

export interface TestPostgres {
  /** A database of its own on the cluster: `postgres://bwc@127.0.0.1:PORT/bwc`. */
  readonly url: string;
  /** A new empty database on the same cluster; its URL. */
  newDatabase(): Promise<string>;
  /** Stops the server and removes its directory (idempotent). */
  stop(): Promise<void>;
}

/** The newest installed server's bin directory, or null. */
export function pgBinDir(): string | null {
  if (!existsSync(PG_ROOT)) return null;
  const versions = readdirSync(PG_ROOT)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(PG_ROOT, v, 'bin', 'initdb')) && existsSync(join(PG_ROOT, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? null : join(PG_ROOT, versions[0], 'bin');
}

export function pgAvailable(): boolean {
  return pgBinDir() !== null;
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = pgBinDir();
  if (!bin) {
    throw new Error(
      `PostgreSQL is not installed (no ${PG_ROOT}/*/bin/initdb): install the Debian package \`postgresql\` (.ci/run does) to run the gateway's PostgreSQL tests`,
    );
  }
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? postgresUser() : null;
  const dir = mkdtempSync(join(tmpdir(), 'bwc-pg-'));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const data = join(dir, 'data');
  const tool = (name: string, args: string[]) =>
    asRoot ? runTool('runuser', ['-u', 'postgres', '--', join(bin, name), ...args], dir) : runTool(join(bin, name), args, dir);

  let running = false;
  const stop = async () => {
    if (running) {
      running = false;
      await tool('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
    }
    process.removeListener('exit', stopAtExit);
    rmSync(dir, { recursive: true, force: true });
  };
  // A test file that never calls stop() must not leave a server behind.
  const stopAtExit = () => {
    if (!running) return;
    const args = ['-D', data, '-m', 'immediate', 'stop'];
    if (asRoot) spawnSync('runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), ...args], { cwd: dir, stdio: 'ignore' });
    else spawnSync(join(bin, 'pg_ctl'), args, { cwd: dir, stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', stopAtExit);

  try {
    await tool('initdb', ['-D', data, '-A', 'trust', '-U', SUPERUSER, '-E', 'UTF8', '--locale=C', '--no-sync']);
    // postgresql.conf keeps its owner when appended to, so the server can read it.
    appendFileSync(
      join(data, 'postgresql.conf'),
      [
        '',
        "listen_addresses = '127.0.0.1'",
        `unix_socket_directories = '${dir}'`,
        'fsync = off',
        'synchronous_commit = off',
        'full_page_writes = off',
        "deadlock_timeout = '100ms'",
        'max_connections = 100',
        '',
      ].join('\n'),
    );
    let port = 0;
    for (let attempt = 1; !running; attempt++) {
      port = await freePort();
      const started = await tool('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', `-p ${port}`, 'start']).then(
        () => true,
        (err: Error) => {
          // Another process may have taken the port between freePort() and the server's bind.
          if (attempt < 3 && /could not bind|already in use/i.test(serverLog(dir))) return false;
          throw new Error(`${err.message}\n${serverLog(dir)}`);
        },
      );
      running = started;
    }
    const base = `postgres://${SUPERUSER}@127.0.0.1:${port}`;
    let n = 0;
    const newDatabase = async () => {
      const name = `bwc_${++n}`;
      const admin = new pg.Client({ connectionString: `${base}/postgres` });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return `${base}/${name}`;
    };
    return { url: await newDatabase(), newDatabase, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function postgresUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) {
    throw new Error('running as root, but there is no `postgres` user to run the PostgreSQL cluster as (the Debian package `postgresql` creates it)');
  }
  return { uid: Number(uid), gid: Number(gid) };
}

function runTool(cmd: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    p.on('error', reject);
    p.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${output.trim()}`));
    });
  });
}

function serverLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'server.log'), 'utf8');
  } catch {
    return '(no server log)';
  }
}

/** A port nobody listens on now: bind port 0 on loopback, read it, close. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
