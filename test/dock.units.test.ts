/**
 * The dock agent's parts on their own: clip paths resolved safely under the camera storage (DESIGN
 * §3), the configuration schema, reconnect backoff bounds, the outbox order and ack rule (DESIGN §4),
 * and the uploader's window, ranges and refusal of changed bytes.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveClipPath, storageMount, ClipPathError } from '../device/custody/clip-source.js';
import { loadDockConfig, parseDockConfig, DockConfigError } from '../device/config.js';
import { MqttSession } from '../device/sync/session.js';
import { openDockDb } from '../device/store/dock-db.js';
import { Outbox } from '../device/store/outbox.js';
import { Uploader, ChunkChangedError } from '../device/sync/uploader.js';
import { pb } from '../proto/wire.js';
import { openEnvelope } from '../proto/envelope.js';
import { sha256 } from '../proto/bytes.js';
import { pseudoRandomBytes, tempDir, until } from './helpers.js';

describe('clip paths under the camera storage (DESIGN §3)', () => {
  const mount = tempDir('bwc-mount-');
  mkdirSync(join(mount, 'DCIM'));
  writeFileSync(join(mount, 'DCIM', 'a.mp4'), 'clip');
  const outside = tempDir('bwc-outside-');
  writeFileSync(join(outside, 'secret'), 'not a clip');
  symlinkSync(join(outside, 'secret'), join(mount, 'DCIM', 'link.mp4'));

  it('resolves a plain relative path', async () => {
    expect(await resolveClipPath(mount, 'DCIM/a.mp4')).toMatch(/DCIM\/a\.mp4$/);
  });

  it.each([
    ['/etc/passwd', /absolute/],
    ['DCIM/../../etc/passwd', /climbs out/],
    ['DCIM/a.mp4\0x', /NUL/],
    ['', /no path/],
    ['DCIM/link.mp4', /outside the camera storage/],
    ['DCIM/missing.mp4', /not on the camera storage/],
  ])('refuses %j', async (path, why) => {
    await expect(resolveClipPath(mount, path)).rejects.toThrow(why);
    await expect(resolveClipPath(mount, path)).rejects.toBeInstanceOf(ClipPathError);
  });

  it('refuses a storage that is not mounted', async () => {
    await expect(resolveClipPath(join(mount, 'nope'), 'DCIM/a.mp4')).rejects.toThrow(/not mounted/);
  });

  it('finds the mount by label: explicit first, else the template; a label with a path in it is refused', () => {
    const o = { mountTemplate: '/media/bwc/{label}', mounts: { 'CAM-1': '/srv/cam1' } };
    expect(storageMount('CAM-1', o)).toBe('/srv/cam1');
    expect(storageMount('CAM-2', o)).toBe('/media/bwc/CAM-2');
    expect(() => storageMount('../etc', o)).toThrow(ClipPathError);
  });
});

describe('dock configuration', () => {
  it('has defaults for everything', () => {
    const c = parseDockConfig({});
    expect(c.sync).toMatchObject({ statusIntervalS: 60, chunkWindow: 8, maxInFlight: 64 });
    expect(c.mqtt.protocolVersion).toBe(4);
    expect(c.clock.ntp).toBe('auto');
  });

  it('names the file and the field of a bad setting', () => {
    const dir = tempDir('bwc-dockcfg-');
    const f = join(dir, 'dock.yaml');
    writeFileSync(f, 'sync:\n  chunkWindow: 0\n');
    expect(() => loadDockConfig(f, {})).toThrow(/dock\.yaml: sync\.chunkWindow/);
    writeFileSync(f, 'link:\n  usb: ["nope"]\n');
    expect(() => loadDockConfig(f, {})).toThrow(/link\.usb\.0: must be VID:PID/);
    writeFileSync(f, 'mqtt:\n  backoffMinMs: 5000\n  backoffMaxMs: 1000\n');
    expect(() => loadDockConfig(f, {})).toThrow(/mqtt\.backoffMaxMs: must not be below/);
    writeFileSync(f, 'colour: blue\n');
    expect(() => loadDockConfig(f, {})).toThrow(DockConfigError);
    expect(() => loadDockConfig(join(dir, 'missing.yaml'), {})).toThrow(/cannot read .*missing\.yaml: ENOENT/);
  });

  it('lets the environment override the file', () => {
    const dir = tempDir('bwc-dockcfg-');
    const f = join(dir, 'dock.yaml');
    writeFileSync(f, 'stateDir: /var/lib/a\nlink:\n  ports: [/dev/ttyACM0]\n');
    const c = loadDockConfig(f, { BWC_DOCK_STATE_DIR: '/var/lib/b', BWC_DOCK_PORTS: '/dev/ttyACM1, /dev/ttyACM2', BWC_DOCK_NTP: 'synced' });
    expect(c.stateDir).toBe('/var/lib/b');
    expect(c.link.ports).toEqual(['/dev/ttyACM1', '/dev/ttyACM2']);
    expect(c.clock.ntp).toBe('synced');
    expect(() => loadDockConfig(f, { BWC_DOCK_NTP: 'sometimes' })).toThrow(/clock\.ntp/);
  });
});

describe('reconnect backoff', () => {
  it('stays within [min/2, min·2^(n-1)] capped at max, and its ceiling grows', () => {
    for (let n = 1; n <= 12; n++) {
      const cap = Math.min(60_000, 1000 * 2 ** (n - 1));
      expect(MqttSession.backoffDelay(n, 1000, 60_000, () => 0)).toBe(500);
      expect(MqttSession.backoffDelay(n, 1000, 60_000, () => 1)).toBe(cap);
      const d = MqttSession.backoffDelay(n, 1000, 60_000, Math.random);
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(cap);
    }
    expect(MqttSession.backoffDelay(40, 1000, 60_000, () => 1)).toBe(60_000);
  });
});

describe('outbox (DESIGN §4)', () => {
  it('sends by priority then age, resends after the ack timeout, and lets a row go only on its ack', () => {
    const db = openDockDb(join(tempDir('bwc-outbox-'), 'dock.db'));
    const o = new Outbox(db);
    o.add({ kind: 'status', type: 'Status', hash: 's1', envelope: Buffer.from('s') }, 1);
    o.add({ kind: 'manifest', type: 'ClipManifest', hash: 'm1', envelope: Buffer.from('m') }, 2);
    o.add({ kind: 'event', type: 'Event', hash: 'e1', envelope: Buffer.from('e') }, 3);
    o.add({ kind: 'event', type: 'Event', hash: 'e1', envelope: Buffer.from('e') }, 4); // idempotent by hash
    expect(o.due(0, 10).map((r) => r.hash)).toEqual(['e1', 'm1', 's1']);
    for (const r of o.due(0, 10)) o.markSent(r.id, 100);
    expect(o.due(50, 10)).toEqual([]); // in flight: sent at 100, not before 50
    expect(o.inFlight(50)).toBe(3);
    expect(o.due(100, 10).map((r) => r.attempts)).toEqual([1, 1, 1]); // timed out: due again
    expect(o.ack('m1')?.type).toBe('ClipManifest');
    expect(o.ack('m1')).toBeUndefined();
    expect(o.depth().messages).toBe(2);
    o.add({ kind: 'status', type: 'Status', hash: 's2', envelope: Buffer.from('s') }, 5);
    expect(o.dropUnsent('status')).toBe(1); // s2 never sent; s1 was sent and waits for its ack
    o.resendAll();
    expect(o.due(0, 10).map((r) => r.hash)).toEqual(['e1', 's1']);
    // A new connection's Birth supersedes earlier ones, sent and unacked or not.
    o.add({ kind: 'birth', type: 'Birth', hash: 'b1', envelope: Buffer.from('b') }, 6);
    o.markSent(o.get('b1')!.id, 7);
    o.add({ kind: 'birth', type: 'Birth', hash: 'b2', envelope: Buffer.from('b') }, 8);
    expect(o.supersede('birth')).toBe(2);
    expect(o.get('b1')).toBeUndefined();
    db.close();
  });
});

describe('uploader', () => {
  const chunkSize = 4096;
  const data = pseudoRandomBytes(chunkSize * 5 + 100, 31);
  const file = join(tempDir('bwc-upload-'), 'clip.mp4');
  writeFileSync(file, data);
  const hashes = Array.from({ length: 6 }, (_, i) => sha256(data.subarray(i * chunkSize, (i + 1) * chunkSize)));
  const source = { manifestHash: 'ab'.repeat(32), path: file, byteLength: data.length, chunkSize, chunkHashes: hashes };

  it('sends exactly the requested ranges within the window, each chunk matching the manifest', async () => {
    const sent: number[] = [];
    let outstanding = 0;
    let maxOutstanding = 0;
    const done: string[] = [];
    const pubacks: (() => void)[] = [];
    const u = new Uploader({
      window: 2,
      canSend: () => true,
      onSent: (h) => done.push(h),
      onError: (_h, e) => {
        throw e;
      },
      publish: async (payload) => {
        const c = pb.ClipChunk.decode(openEnvelope(payload).body);
        expect(sha256(c.data).equals(Buffer.from(hashes[c.index]!))).toBe(true);
        outstanding++;
        maxOutstanding = Math.max(maxOutstanding, outstanding);
        await new Promise<void>((r) => pubacks.push(r)); // the broker's PUBACK, given below
        // Message buffers are reused for later chunks, but never before their PUBACK (this resolve).
        const still = pb.ClipChunk.decode(openEnvelope(payload).body);
        expect([still.index, sha256(still.data).equals(Buffer.from(hashes[c.index]!))]).toEqual([c.index, true]);
        outstanding--;
        sent.push(c.index);
      },
    });
    u.request(source, [
      { start: 0, end: 2 },
      { start: 3, end: 6 },
    ]);
    // PUBACK the oldest chunk in flight once the window is full (or the last chunks are out).
    await until(
      'upload done',
      () => {
        if (done.length === 1) return true;
        if (pubacks.length === 2 || (pubacks.length > 0 && sent.length + pubacks.length === 5)) pubacks.shift()!();
        return false;
      },
      5000,
    );
    expect(sent.sort()).toEqual([0, 1, 3, 4, 5]);
    expect(maxOutstanding).toBeLessThanOrEqual(2);
    expect(u.bytesSent).toBe(chunkSize * 4 + 100);
  });

  it('checks each chunk before it leaves once the gateway refused one: changed bytes are not sent again', async () => {
    const errors: Error[] = [];
    const bad = { ...source, chunkHashes: hashes.map((h, i) => (i === 1 ? sha256(Buffer.from('other')) : h)) };
    const sent: number[] = [];
    const u = new Uploader({
      window: 1,
      canSend: () => true,
      onSent: () => {},
      onError: (_h, e) => errors.push(e),
      publish: async (payload) => {
        sent.push(pb.ClipChunk.decode(openEnvelope(payload).body).index);
      },
    });
    // The hot path leaves the check to the gateway: the changed chunk goes out once…
    const done: string[] = [];
    const first = new Uploader({
      window: 1,
      canSend: () => true,
      onSent: (h) => done.push(h),
      onError: (_h, e) => errors.push(e),
      publish: async (payload) => {
        sent.push(pb.ClipChunk.decode(openEnvelope(payload).body).index);
      },
    });
    first.request(bad, [{ start: 0, end: 3 }]);
    await until('first upload', () => done.length === 1, 5000);
    expect(sent).toEqual([0, 1, 2]);
    // …the gateway refuses it (CHUNK_REJECTED) and asks again: now it is checked and not sent.
    sent.length = 0;
    u.request(bad, [{ start: 1, end: 3 }], { check: true });
    await until('error', () => errors.length === 1, 5000);
    expect(errors[0]).toBeInstanceOf(ChunkChangedError);
    expect(sent).not.toContain(1);
  });

  it('holds chunks back while the outbox has messages waiting (priority to manifests and alerts)', async () => {
    let open = false;
    let asked = 0;
    const sent: number[] = [];
    const u = new Uploader({
      window: 4,
      canSend: () => {
        asked++;
        return open;
      },
      onSent: () => {},
      onError: (_h, e) => {
        throw e;
      },
      publish: async (payload) => {
        sent.push(pb.ClipChunk.decode(openEnvelope(payload).body).index);
      },
    });
    u.request(source, [{ start: 0, end: 6 }]);
    await until('the uploader asking whether it may send', () => asked > 0, 5000);
    expect(sent).toEqual([]);
    open = true;
    u.pump();
    await until('all sent', () => sent.length === 6, 5000);
  });
});
