/** ReleaseClip goes out only with a VerifiedClip: a gateway-signed VERIFIED ack for exactly these bytes. */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { VerifiedClip } from '../proto/ack.js';
import { sealEnvelope } from '../proto/envelope.js';
import { trustPublicKey } from '../proto/ed25519.js';
import { sha256 } from '../proto/bytes.js';
import { pb, type bwc } from '../proto/wire.js';
import { signerFromSeed } from '../device/custody/keys.js';
import { CameraLink, type CameraEvent } from '../device/link/camera-link.js';
import { CameraSim } from '../device/link/sim/camera.js';
import { parseScenario } from '../device/link/sim/scenario.js';
import { memoryDuplexPair, type LinkPort } from '../device/link/transport.js';
import { tempDir, until } from './helpers.js';

const gateway = signerFromSeed(Buffer.alloc(32, 0x61));
const gatewayKey = trustPublicKey(gateway.publicKey);
const manifestHash = Buffer.alloc(32, 0x33);

function ack(fields: Partial<bwc.v1.Ack.$Properties>, signer = gateway): Uint8Array {
  const body = pb.Ack.encode({
    header: { issuer: 'gw-1', fleet: 'f', seq: 1, createdAtMs: Date.now() },
    kind: pb.AckKind.ACK_KIND_VERIFIED,
    deviceId: 'DOCK-1',
    manifestHash,
    clipSha256: Buffer.alloc(32, 1),
    byteLength: 100,
    ...fields,
  }).finish();
  return sealEnvelope('Ack', body, signer).bytes;
}

const expected = { deviceId: 'DOCK-1', clipId: 'c1', manifestHash, sha256: Buffer.alloc(32, 1), byteLength: 100 };

describe('VerifiedClip: the only way to a ReleaseClip', () => {
  it('is made from a VERIFIED ack signed by the gateway for exactly these bytes', () => {
    const v = VerifiedClip.fromAck(ack({}), gatewayKey, expected);
    expect(v.clipId).toBe('c1');
    expect(v.byteLength).toBe(100);
  });

  it.each([
    ['a MANIFEST_RECEIVED ack', { kind: pb.AckKind.ACK_KIND_MANIFEST_RECEIVED }, /kind is ACK_KIND_MANIFEST_RECEIVED, not VERIFIED/],
    ['another device', { deviceId: 'DOCK-2' }, /names device DOCK-2/],
    ['another manifest', { manifestHash: Buffer.alloc(32, 9) }, /names manifest/],
    ['other bytes', { clipSha256: Buffer.alloc(32, 2) }, /SHA-256 differs/],
    ['another length', { byteLength: 99 }, /length is 99, not 100/],
  ])('is refused for %s', (_n, fields, message) => {
    expect(() => VerifiedClip.fromAck(ack(fields), gatewayKey, expected)).toThrow(message);
  });

  it('is refused for an ack signed by anyone but the gateway', () => {
    const impostor = signerFromSeed(Buffer.alloc(32, 0x62));
    expect(() => VerifiedClip.fromAck(ack({}, impostor), gatewayKey, expected)).toThrow(/signed by key/);
  });

  it.each([[true], [false]])('lets the camera free the clip, which it does only when the bytes match (match: %s)', async (match) => {
    const storage = tempDir();
    let link!: CameraLink;
    const ready: CameraEvent[] = [];
    const released: CameraEvent[] = [];
    const port: LinkPort = {
      path: 'memory',
      open: async () => {
        const [cam, dock] = memoryDuplexPair();
        link = new CameraLink({
          transport: dock as Duplex,
          onEvent: (e) => {
            if (e.kind === 'clipReady') ready.push(e);
            if (e.kind === 'clipReleased') released.push(e);
          },
        }).start();
        return cam;
      },
    };
    const scenario = parseScenario({
      steps: [{ start: { clip: 'c1', activity: 'search_warrant' } }, { stop: { clip: 'c1' } }, { ready: { clip: 'c1', size: 5000 } }, { wait: 300 }],
    });
    const running = new CameraSim({ scenario, storageDir: storage, port, settleMs: 3000 }).run();
    await until('the ClipReady at the dock', () => ready.length > 0);
    const file = join(storage, ready[0]!.frame.clipReady!.path!);
    const bytes = readFileSync(file);
    // A gateway that verified other bytes than the camera holds (a dock bug, a swapped card):
    // the ack is genuine, but the camera checks its own file and keeps it.
    const clip = { ...expected, sha256: match ? sha256(bytes) : sha256(Buffer.from('other')), byteLength: bytes.length };
    link.releaseClip(VerifiedClip.fromAck(ack({ clipSha256: clip.sha256, byteLength: clip.byteLength }), gatewayKey, clip));
    const result = await running;
    expect(result.released).toEqual(match ? ['c1'] : []);
    expect(existsSync(file)).toBe(!match);
    expect(released[0]!.frame.clipReleased).toMatchObject({ clipId: 'c1', freed: match });
  });
});
