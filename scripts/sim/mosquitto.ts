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
  /** With `tls`: the TLS listener (`mqtts://127.0.0.1:PORT`), else null. */
  readonly tlsUrl: string | null;
  readonly tlsPort: number | null;
  /** What the broker logged on stderr (the last MB). */
  log(): string;
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
  /**
   * A second listener with TLS that requires a client certificate signed by `cafile` and takes
   * its CN as the username (`use_identity_as_username`; no password asked there). The password
   * file and ACL apply to both listeners (`per_listener_settings false`).
   */
  tls?: { cafile: string; certfile: string; keyfile: string };
  /** Log connections and notices too (for tests that read the log). */
  verbose?: boolean;
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
      const c = createConnection({ port, host: '127.0.0.1' }, () => {
        c.end();
        r(true);
      });
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
  let tlsPort: number | null = null;
  if (options.tls)
    do tlsPort = await freePort();
    while (tlsPort === port);
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
  writeFileSync(
    conf,
    [
      ...(options.tls ? ['per_listener_settings false'] : []),
      ...(options.users ? ['allow_anonymous false', `password_file ${passwd}`] : ['allow_anonymous true']),
      ...(options.acl !== undefined ? [`acl_file ${acl}`] : []),
      `listener ${port} 127.0.0.1`,
      ...(options.tls
        ? [
            `listener ${tlsPort} 127.0.0.1`,
            `cafile ${options.tls.cafile}`,
            `certfile ${options.tls.certfile}`,
            `keyfile ${options.tls.keyfile}`,
            'require_certificate true',
            'use_identity_as_username true',
          ]
        : []),
      'persistence false',
      'max_queued_messages 100000',
      'max_inflight_messages 100',
      'message_size_limit 16777216',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      ...(options.verbose ? ['log_type notice', 'log_type information', 'connection_messages true'] : []),
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      '',
    ].join('\n'),
  );
  let proc: ChildProcess;
  let err = '';
  // A caller that never calls stop() (a hook that timed out) must not leave a broker behind.
  const reap = () => {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  };
  const start = async () => {
    proc = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.once('error', (e) => {
      err += `${e.message}\n`;
    });
    proc.stderr!.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-1_000_000);
    });
    process.once('exit', reap);
    await waitForPort(port, proc, () => err);
    if (tlsPort !== null) await waitForPort(tlsPort, proc, () => err);
  };
  await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    tlsUrl: tlsPort === null ? null : `mqtts://127.0.0.1:${tlsPort}`,
    tlsPort,
    log: () => err,
    pid: () => (proc.exitCode === null ? (proc.pid ?? null) : null),
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        process.off('exit', reap);
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
    restart: start,
    setUsers: async (users) => {
      writeUsers(users);
      const before = err.length;
      proc.kill('SIGHUP');
      // Mosquitto says so when it logs notices; otherwise give it a moment.
      for (let i = 0; i < 100 && options.verbose && !err.slice(before).includes('Reloading config'); i++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 200));
    },
  };
}

/** The Mosquitto ACL of device/README.md: each device its own prefix and direction; the gateway all. */
export function mosquittoAcl(fleet: string, gatewayUser: string): string {
  const up = ['birth', 'death', 'status', 'event', 'manifest', 'chunk', 'log'];
  return [
    `pattern read bwc/v1/${fleet}/_gateway/+/state`,
    ...up.map((k) => `pattern write bwc/v1/${fleet}/%u/${k}`),
    `pattern read bwc/v1/${fleet}/%u/cmd`,
    `pattern read bwc/v1/${fleet}/%u/ack`,
    `user ${gatewayUser}`,
    `topic readwrite bwc/v1/${fleet}/#`,
    '',
  ].join('\n');
}
