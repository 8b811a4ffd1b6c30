/**
 * `bwc demo`: the whole system on one machine. Until the dock and the gateway exist it shows what
 * this build can already do, end to end, in a temporary directory.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { generateKeyDir, loadDeviceKey } from '../../device/custody/keys.js';
import { signManifest } from '../../device/custody/manifest.js';
import { hashClipFile } from '../../proto/clip-hash.js';
import { loadPublicKeyFile } from '../../proto/keyfile.js';
import { pinnedKey, verifyClip, isInputError } from '../../proto/verify.js';
import { pb } from '../../proto/wire.js';

async function demo(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-demo-'));
  try {
    const say = (s: string) => process.stdout.write(`${s}\n`);
    say('bwc-companion demo: key, signed manifest and verification (the dock, gateway and dashboard arrive in later releases)');
    const gen = generateKeyDir(join(dir, 'key'));
    say(`1. device key generated: key id ${gen.keyId}`);
    const clip = join(dir, 'clip-0001.mp4');
    writeFileSync(clip, randomBytes(5 * 1024 * 1024 + 1234));
    const digest = await hashClipFile(clip);
    const signed = signManifest({
      cameraSerial: 'CAM-0042', officerId: 'O1', clipId: 'clip-0001', mediaType: 'video/mp4',
      startedAtMs: Date.now() - 60_000, endedAtMs: Date.now(), clock: { source: pb.ClockSource.CLOCK_SOURCE_NTP, synced: true },
      trigger: pb.TriggerSource.TRIGGER_SOURCE_BUTTON, method: pb.RecordingMethod.RECORDING_METHOD_VIDEO, activity: 'at_large_arrest',
    }, digest, { deviceId: 'DOCK-DEMO', fleet: 'demo', seq: 1 }, loadDeviceKey(join(dir, 'key')));
    writeFileSync(join(dir, 'clip-0001.manifest'), signed.bytes);
    say(`2. clip hashed (${digest.chunks.length} chunks) and manifest signed: ${signed.hash.toString('hex')}`);
    const key = pinnedKey(loadPublicKeyFile(gen.files.publicHex));
    const ok = await verifyClip(clip, signed.bytes, key);
    say(`3. verified: ${isInputError(ok) ? ok.message : ok.summary}`);
    const fd = Buffer.from([0xff]);
    const { openSync, writeSync, closeSync } = await import('node:fs');
    const h = openSync(clip, 'r+');
    writeSync(h, fd, 0, 1, 2 * 1024 * 1024 + 7);
    closeSync(h);
    const bad = await verifyClip(clip, signed.bytes, key);
    say(`4. one byte changed in chunk 2: ${isInputError(bad) ? bad.message : `${bad.chunkMap}  ${bad.summary}`}`);
    say(`Try it yourself: bwc keygen --help, bwc manifest sign --help, bwc verify --help`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('Run the system on one machine (today: key, signed manifest and verification, end to end).')
    .action(demo);
}
