/**
 * Is the dock's clock synchronized? A Raspberry Pi has no real-time clock: right after boot its
 * time may be hours off until NTP answers. Decisions made before that carry CLOCK_UNSYNCED and the
 * manifest records the clock state (DESIGN §5).
 *
 * `auto` asks systemd: /run/systemd/timesync/synchronized exists once systemd-timesyncd has
 * synchronized; otherwise `timedatectl show -p NTPSynchronized --value` (which also covers chrony
 * and ntpd through timedated). Neither available (containers, CI): not synchronized. The answer is
 * cached for 30 s and refreshed in the background, so asking never blocks event handling.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

export type NtpMode = 'auto' | 'synced' | 'unsynced';

export interface ClockSyncSource {
  synced(): boolean;
  close(): void;
}

const REFRESH_MS = 30_000;

export function clockSyncSource(mode: NtpMode, o: { marker?: string; timedatectl?: string } = {}): ClockSyncSource {
  if (mode !== 'auto') return { synced: () => mode === 'synced', close: () => {} };
  const marker = o.marker ?? '/run/systemd/timesync/synchronized';
  let value = existsSync(marker);
  const refresh = () => {
    if (existsSync(marker)) {
      value = true;
      return;
    }
    execFile(o.timedatectl ?? 'timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { timeout: 5000 }, (err, stdout) => {
      value = !err && stdout.trim() === 'yes';
    });
  };
  refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  timer.unref();
  return { synced: () => value, close: () => clearInterval(timer) };
}
