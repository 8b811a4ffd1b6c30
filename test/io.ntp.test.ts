/**
 * The dock's clock state (device/io/ntp.ts; DESIGN §5: a decision made before NTP answers carries
 * CLOCK_UNSYNCED). `auto` believes systemd-timesyncd's marker file first, then timedated
 * (`timedatectl show -p NTPSynchronized --value`); neither answering means not synchronized. The
 * answer is refreshed every 30 s without blocking the caller.
 */
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { clockSyncSource } from '../device/io/ntp.js';
import { tempDir, until } from './helpers.js';

/** A stand-in for timedatectl that prints `answer` (and records that it was asked). */
function fakeTimedatectl(dir: string, answer: string): string {
  const path = join(dir, 'timedatectl');
  writeFileSync(path, `#!/bin/sh\n[ "$*" = "show -p NTPSynchronized --value" ] || exit 3\necho ${answer}\n`);
  chmodSync(path, 0o755);
  return path;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('clockSyncSource', () => {
  it('takes the configured answer as given when the mode is synced or unsynced', () => {
    expect(clockSyncSource('synced').synced()).toBe(true);
    expect(clockSyncSource('unsynced').synced()).toBe(false);
  });

  it("auto: synchronized as soon as systemd-timesyncd's marker exists, without asking timedated", () => {
    const dir = tempDir('bwc-ntp-');
    const marker = join(dir, 'synchronized');
    writeFileSync(marker, '');
    const s = clockSyncSource('auto', { marker, timedatectl: fakeTimedatectl(dir, 'no') });
    expect(s.synced()).toBe(true);
    s.close();
  });

  it('auto: without the marker, what timedated says (yes), learned in the background', async () => {
    const dir = tempDir('bwc-ntp-');
    const s = clockSyncSource('auto', { marker: join(dir, 'absent'), timedatectl: fakeTimedatectl(dir, 'yes') });
    expect(s.synced()).toBe(false); // not yet known: never blocks, never guesses synchronized
    await until('timedated answered yes', () => s.synced() || undefined);
    s.close();
  });

  it('auto: not synchronized when timedated says no, or cannot be run (containers, CI)', async () => {
    const dir = tempDir('bwc-ntp-');
    const no = clockSyncSource('auto', { marker: join(dir, 'absent'), timedatectl: fakeTimedatectl(dir, 'no') });
    const missing = clockSyncSource('auto', { marker: join(dir, 'absent'), timedatectl: join(dir, 'no-such-program') });
    // The answer "no" arrives like "yes" would; give both the time a "yes" needs (the test above).
    const probe = clockSyncSource('auto', { marker: join(dir, 'absent'), timedatectl: fakeTimedatectl(tempDir('bwc-ntp-'), 'yes') });
    await until('a timedated answer arrived', () => probe.synced() || undefined);
    expect(no.synced()).toBe(false);
    expect(missing.synced()).toBe(false);
    for (const s of [no, missing, probe]) s.close();
  });

  it('auto: notices every 30 s that the clock became synchronized, and stops asking once closed', () => {
    vi.useFakeTimers();
    const dir = tempDir('bwc-ntp-');
    const marker = join(dir, 'synchronized');
    const s = clockSyncSource('auto', { marker, timedatectl: join(dir, 'no-such-program') });
    expect(s.synced()).toBe(false);
    writeFileSync(marker, '');
    vi.advanceTimersByTime(29_000);
    expect(s.synced()).toBe(false); // cached between refreshes
    vi.advanceTimersByTime(1_000);
    expect(s.synced()).toBe(true);
    s.close();
    rmSync(marker);
    const other = clockSyncSource('auto', { marker, timedatectl: join(dir, 'no-such-program') });
    writeFileSync(marker, '');
    other.close();
    vi.advanceTimersByTime(60_000);
    expect(other.synced()).toBe(false); // closed: no refresh ran
  });
});
