/**
 * A throw-away Mosquitto broker for tests: the real peer our MQTT traffic must work with. It
 * listens on a free loopback port; as root it keeps running as root (`user root`), as DESIGN §9
 * says, so it can read its config in a temp dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { tempDir } from './helpers.js';

export interface TestMosquitto {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
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

export async function startMosquitto(): Promise<TestMosquitto> {
  const dir = tempDir('bwc-mosq-');
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
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
  const proc = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  // A test file that never calls stop() (a hook that timed out) must not leave a broker behind.
  const reap = () => { if (proc.exitCode === null) proc.kill('SIGKILL'); };
  process.once('exit', reap);
  await waitForPort(port, proc, () => err);
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    stop: () => new Promise<void>((resolve) => {
      if (proc.exitCode !== null) return resolve();
      process.off('exit', reap);
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
    }),
  };
}
