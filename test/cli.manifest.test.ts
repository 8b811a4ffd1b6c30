import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BWC, runBwc, tempDir, writeClip } from './helpers.js';

const dir = tempDir();
let key: string;
let clip: string;

beforeAll(() => {
  key = join(dir, 'key');
  expect(runBwc(['keygen', '--out', key]).code).toBe(0);
  clip = writeClip(dir, 'clip.mp4', 1_500_000, 21);
});

describe('bwc manifest sign', () => {
  it('signs a chain: seq 2 names the hash of seq 1, and both verify', () => {
    const m1 = join(dir, 'm1.manifest');
    const first = runBwc(['manifest', 'sign', clip, '--key', key, '--device-id', 'WEAR-01', '--out', m1, '--json']);
    expect(first.code).toBe(0);
    const h1 = (JSON.parse(first.stdout) as { manifestHash: string }).manifestHash;
    const m2 = join(dir, 'm2.manifest');
    const second = runBwc(['manifest', 'sign', clip, '--key', key, '--device-id', 'WEAR-01', '--seq', '2', '--prev', h1, '--out', m2]);
    expect(second.code).toBe(0);
    const shown = JSON.parse(runBwc(['manifest', 'show', m2, '--json']).stdout);
    expect(shown.manifest.seq).toBe(2);
    expect(shown.manifest.prevManifestHash).toBe(h1);
    for (const m of [m1, m2]) expect(runBwc(['verify', clip, m, '--pubkey', join(key, 'public.hex')]).code).toBe(0);
  });

  it('never overwrites an existing output file', () => {
    const out = join(dir, 'exists.manifest');
    writeFileSync(out, 'keep me');
    const r = runBwc(['manifest', 'sign', clip, '--key', key, '--device-id', 'WEAR-01', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/already exists; refusing to overwrite/);
    expect(readFileSync(out, 'utf8')).toBe('keep me');
  });

  it.each([
    [['--seq', '2'], /seq 2 needs the previous manifest's hash/],
    [['--seq', '0'], /--seq must be a whole number ≥ 1/],
    [['--prev', 'abc'], /--prev must be the 64-hex-character SHA-256/],
    [['--device-id', 'bad/id'], /device id "bad\/id" must match/],
    [['--chunk-size', '100'], /chunk size 100 must be/],
  ])('refuses %j with a one-line reason', (extra, message) => {
    const args = ['manifest', 'sign', clip, '--key', key, '--device-id', 'WEAR-01', '--out', join(dir, `x-${Math.random()}.manifest`)];
    const at = args.indexOf(extra[0]!);
    if (at >= 0) args.splice(at, 2, ...extra);
    else args.push(...extra);
    const r = runBwc(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('validates the meta file and names the field', () => {
    const meta = join(dir, 'bad-meta.json');
    writeFileSync(meta, JSON.stringify({ trigger: 'telepathy' }));
    const r = runBwc(['manifest', 'sign', clip, '--key', key, '--device-id', 'WEAR-01', '--meta', meta, '--out', join(dir, 'bm.manifest')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/meta file .*bad-meta\.json: trigger: must be one of: button, holster, vehicle, sensor, other/);
    writeFileSync(meta, JSON.stringify({ officer: 'O1' }));
    expect(runBwc(['manifest', 'sign', clip, '--key', key, '--device-id', 'WEAR-01', '--meta', meta, '--out', join(dir, 'bm2.manifest')]).stderr).toMatch(
      /Unrecognized key.*officer/i,
    );
  });

  it('embeds a decision given in the DESIGN §5 JSON form', () => {
    const meta = join(dir, 'decision.json');
    writeFileSync(
      meta,
      JSON.stringify({
        cameraSerial: 'CAM-0042',
        officerId: 'O1',
        activity: 'at_large_arrest',
        decision: {
          decision: 'AUTHORIZED',
          basis: { kind: 'trigger', id: 'at_large_arrest', category: 'directive_authorized' },
          reasons: ['BWC_TRIGGER'],
          clauses: ['1061.2§2.1(2)'],
          policyVersion: 5,
          cacheAgeMs: 0,
          evaluatedAt: '2026-11-22T14:03:00Z',
          decidedAt: '2026-11-22T14:03:01Z',
          activation: {
            cameraSerial: 'CAM-0042',
            officerId: 'O1',
            deviceRole: 'bwc',
            trigger: 'button',
            activity: 'at_large_arrest',
            method: 'video',
            at: '2026-11-22T14:03:00Z',
            clock: { synced: true, offsetMs: 120 },
          },
        },
      }),
    );
    const out = join(dir, 'dec.manifest');
    expect(runBwc(['manifest', 'sign', clip, '--key', key, '--device-id', 'DOCK-7', '--meta', meta, '--out', out]).code).toBe(0);
    const shown = JSON.parse(runBwc(['manifest', 'show', out, '--json']).stdout);
    expect(shown.manifest.decision).toMatchObject({
      decision: 'AUTHORIZED',
      basis: { kind: 'trigger', id: 'at_large_arrest' },
      clauses: ['1061.2§2.1(2)'],
      policyVersion: 5,
      activation: { deviceRole: 'bwc', trigger: 'button', officerId: 'O1', at: '2026-11-22T14:03:00.000Z' },
    });
    const human = runBwc(['manifest', 'show', out]);
    expect(human.stdout).toMatch(/^decision +AUTHORIZED \[BWC_TRIGGER\] 1061\.2§2\.1\(2\)$/m);
    expect(human.stdout).toMatch(/^camera +CAM-0042$/m);
  });
});

describe('bwc manifest show', () => {
  it('prints type, body and sig in base64 so the signed bytes can be rebuilt', () => {
    const out = join(dir, 'show.manifest');
    expect(runBwc(['manifest', 'sign', clip, '--key', key, '--device-id', 'WEAR-01', '--out', out]).code).toBe(0);
    const j = JSON.parse(runBwc(['manifest', 'show', out, '--json']).stdout);
    expect(j.type).toBe('ClipManifest');
    expect(Buffer.from(j.sig, 'base64')).toHaveLength(64);
    expect(j.manifest).toMatchObject({
      deviceId: 'WEAR-01',
      byteLength: 1_500_000,
      chunkCount: 2,
      flags: ['OUTSIDE_PIPELINE'],
      clipId: 'clip.mp4',
      mediaType: 'video/mp4',
    });
  });

  it('refuses a file that is not a manifest', () => {
    const junk = join(dir, 'junk');
    writeFileSync(junk, 'junk junk junk');
    const r = runBwc(['manifest', 'show', junk]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^bwc manifest show: manifest is not a bwc manifest/);
  });
});

describe('bwc output into a pipe that closes early', () => {
  it('ends quietly when the reader stops (`bwc … | head`), with the status of the command', () => {
    // `head -c 1` exits after one byte; bwc's later writes then meet a closed pipe (EPIPE).
    const r = spawnSync(
      'sh',
      [
        '-c',
        `"${process.execPath}" "${BWC}" manifest --help | head -c 1 >/dev/null; for i in 1 2 3 4 5 6 7 8; do "${process.execPath}" "${BWC}" --help; done | head -c 1 >/dev/null`,
      ],
      {
        encoding: 'utf8',
      },
    );
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled|Error/);
    const status = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${BWC}" manifest --help | head -c 1 >/dev/null`]);
    expect([0, 141]).toContain(status.status);
  });
});
