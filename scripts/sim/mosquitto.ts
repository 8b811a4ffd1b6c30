/**
 * A throw-away Mosquitto broker on a free loopback port: the real peer our MQTT traffic must work
 * with, for tests, benchmarks and the simulated fleet. As root it keeps running as root
 * (`user root`, DESIGN §9), so it can read its config in a temp dir. `mosquitto` and
 * `mosquitto_passwd` come from the Debian package `mosquitto`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LocalMosquitto {
  readonly url: string;
  readonly port: number;
  /** The broker's process id (for RSS and CPU readings), or null while stopped. */
  pid(): number | null;
  stop(): Promise<void>;
  /** Starts the broker again on the same port (after stop()). */
  restart(): Promise<void>;
  /** Replaces the password file (and ACL) and makes the running broker reload them (SIGHUP). */
  setUsers(users: Record<string, string>): Promise<void>;
}

export interface MosquittoOptions {
  /** Users and passwords; with them anonymous clients are refused. */
  users?: Record<string, string>;
  /** The ACL file's content (mosquitto.conf(5), acl_file). */
  acl?: string;
  /** Where the config, password and ACL files go (default: a new temp dir). */
  dir?: string;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, proc: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) throw new Error(`mosquitto exited (${proc.exitCode}): ${log()}`);
    const ok = await new Promise<boolean>((r) => {
      const c = createConnection({ port, host: '127.0.0.1' }, () => { c.end(); r(true); });
      c.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`mosquitto did not listen on ${port}: ${log()}`);
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<LocalMosquitto> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'bwc-mosq-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  const passwd = join(dir, 'passwd');
  const acl = join(dir, 'acl');
  const writeUsers = (users: Record<string, string>) => {
    writeFileSync(passwd, '', { mode: 0o600 });
    for (const [u, pw] of Object.entries(users)) {
      const r = spawnSync('mosquitto_passwd', ['-b', passwd, u, pw], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`mosquitto_passwd: ${r.stderr}`);
    }
  };
  if (options.users) writeUsers(options.users);
  if (options.acl !== undefined) writeFileSync(acl, options.acl);
  writeFileSync(conf, [
    `listener ${port} 127.0.0.1`,
    ...(options.users ? ['allow_anonymous false', `password_file ${passwd}`] : ['allow_anonymous true']),
    ...(options.acl !== undefined ? [`acl_file ${acl}`] : []),
    'persistence false',
    'max_queued_messages 100000',
    'max_inflight_messages 100',
    'message_size_limit 16777216',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    ...(process.getuid?.() === 0 ? ['user root'] : []),
    '',
  ].join('\n'));
  let proc: ChildProcess;
  let err = '';
  // A caller that never calls stop() (a hook that timed out) must not leave a broker behind.
  const reap = () => { if (proc.exitCode === null) proc.kill('SIGKILL'); };
  const start = async () => {
    proc = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.once('error', (e) => { err += `${e.message}\n`; });
    proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    process.once('exit', reap);
    await waitForPort(port, proc, () => err);
  };
  await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    pid: () => (proc.exitCode === null ? proc.pid ?? null : null),
    stop: () => new Promise<void>((resolve) => {
      if (proc.exitCode !== null) return resolve();
      process.off('exit', reap);
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    }),
    restart: start,
    setUsers: async (users) => {
      writeUsers(users);
      proc.kill('SIGHUP');
      await new Promise((r) => setTimeout(r, 200));
    },
  };
}
