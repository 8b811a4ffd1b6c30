/**
 * A pty pair made by socat (Debian package `socat`), as a camera appears on a dock: `cam` for the
 * simulated camera, `dock` for the dock agent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export interface PtyPair {
  readonly cam: string;
  readonly dock: string;
  /** Kills socat: both ttys vanish, as when a USB cable is pulled. */
  kill(): Promise<void>;
  /** Starts socat again with the same paths. */
  restart(): Promise<void>;
}

export async function socatPtyPair(dir: string, name = 'pty'): Promise<PtyPair> {
  const cam = join(dir, `${name}-cam`);
  const dock = join(dir, `${name}-dock`);
  let proc: ChildProcess | null = null;
  const start = async () => {
    rmSync(cam, { force: true });
    rmSync(dock, { force: true });
    const p = spawn('socat', ['-d', '-d', `pty,rawer,link=${cam}`, `pty,rawer,link=${dock}`], { stdio: 'ignore' });
    let failed: Error | null = null;
    p.once('error', (e) => {
      failed = e;
    });
    proc = p;
    for (let i = 0; i < 100 && !failed && !(existsSync(cam) && existsSync(dock)); i++) await new Promise((r) => setTimeout(r, 20));
    if (failed) throw new Error(`socat: ${(failed as Error).message}`);
    if (!existsSync(cam) || !existsSync(dock)) throw new Error('socat did not create the pty pair');
  };
  const kill = async () => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((r) => {
      p.once('exit', () => r());
      p.kill('SIGTERM');
    });
  };
  await start();
  return { cam, dock, kill, restart: start };
}
