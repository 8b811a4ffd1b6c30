/**
 * The dock agent's parts, each alone, with fakes for the ports it is given (device/README.md, "The
 * agent's parts"): the cameras, recording (decisions and camera alerts), custody (hash, sign, the
 * gateway's acks, release only after a signed VERIFIED ack), telemetry and faults. Each runs on a real
 * dock database in a temporary directory; the gateway and the cameras are fakes that record what
 * they were given.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { pb, type bwc } from '../proto/wire.js';
import { sealEnvelope, openEnvelope } from '../proto/envelope.js';
import { trustPublicKey } from '../proto/ed25519.js';
import { toHex } from '../proto/bytes.js';
import type { VerifiedClip } from '../proto/ack.js';
import type { GatewayCert } from '../proto/gateway-cert.js';
import type { MemoryPolicyCache } from '../proto/policy-cache.js';
import { signerFromSeed } from '../device/custody/keys.js';
import { Custody, type ClipBytes, type CustodyGateway } from '../device/custody/custody.js';
import { Transfers } from '../device/custody/transfers.js';
import { startedFacts } from '../device/custody/record.js';
import { Recording, type RecordingEvent } from '../device/policy/recording.js';
import { DockCameras, type CameraPort } from '../device/link/cameras.js';
import type { CameraInfo } from '../device/link/camera-link.js';
import { Telemetry } from '../device/sync/telemetry.js';
import { DockFaults } from '../device/store/faults.js';
import { textLogger } from '../device/log.js';
import { openDockDb, type Db } from '../device/store/dock-db.js';
import { Clips } from '../device/store/clips.js';
import { Outbox } from '../device/store/outbox.js';
import { DockState } from '../device/store/state.js';
import { cache, DAY, T0 } from './policy.fixtures.js';
import { tempDir, writeClip } from './helpers.js';

type EventBody = Omit<bwc.v1.Event.$Properties, 'header'>;

const silent = pino({ level: 'silent' });
const SERIAL = 'CAM-P1';
const NOW = T0 + 2 * DAY;

const dbs: Db[] = [];
afterEach(() => {
  for (const db of dbs.splice(0)) if (db.open) db.close();
});

function store(): { dir: string; db: Db; clips: Clips; outbox: Outbox; state: DockState } {
  const dir = tempDir('bwc-dock-parts-');
  const db = openDockDb(join(dir, 'dock.db'));
  dbs.push(db);
  return { dir, db, clips: new Clips(db), outbox: new Outbox(db), state: new DockState(db) };
}

const camera: RecordingEvent['camera'] = {
  cameraSerial: SERIAL,
  model: 'P1',
  firmware: '1.0',
  deviceRole: pb.DeviceRole.DEVICE_ROLE_BWC,
  offsetMs: 0,
  storageLabel: SERIAL,
};
let eventNo = 0;

/** A camera event as the link delivers it, its frame through the wire encoding. */
function cameraEvent(frame: bwc.v1.LinkFrame.$Properties, o: { replayed?: boolean; atMs?: number } = {}): RecordingEvent {
  return {
    camera,
    eventNo: ++eventNo,
    atMs: o.atMs ?? NOW,
    replayed: o.replayed ?? false,
    frame: pb.LinkFrame.decode(pb.LinkFrame.encode(frame).finish()),
  };
}

// ── recording ───────────────────────────────────────────────────────────────────────────────

function recording(policy: MemoryPolicyCache = cache()) {
  const s = store();
  const reports: EventBody[] = [];
  const alerts: { serial: string; alert: bwc.v1.Alert.$Properties }[] = [];
  const flagged: string[] = [];
  const ready: string[] = [];
  const part = new Recording({
    deviceId: 'DOCK-P',
    office: 'SEA',
    clips: s.clips,
    policy: { load: () => policy },
    officerAt: () => 'O1',
    clockSynced: () => true,
    now: () => NOW,
    log: silent,
    report: (e) => reports.push(e),
    alertCamera: (serial, alert) => alerts.push({ serial, alert }),
    onUnauthorized: (what) => flagged.push(what),
    onClipReady: (serial, clipId) => ready.push(`${serial}/${clipId}`),
    guard: (_w, fn) => fn(),
  });
  const decisions = () =>
    reports.filter((r) => r.kind === pb.EventKind.EVENT_KIND_ACTIVATION_DECIDED).map((r) => ({ verdict: pb.Verdict[r.decision!.decision!], why: r.detail }));
  return { ...s, part, reports, alerts, flagged, ready, decisions };
}

const start = (clipId: string, fields: Partial<bwc.v1.RecordingStarted.$Properties> = {}): bwc.v1.LinkFrame.$Properties => ({
  recordingStarted: {
    clipId,
    startedAtMs: NOW,
    trigger: pb.TriggerSource.TRIGGER_SOURCE_BUTTON,
    method: pb.RecordingMethod.RECORDING_METHOD_VIDEO,
    ...fields,
  },
});

describe('recording: camera events become decisions (1061.2 §4, DESIGN §5)', () => {
  it('decides a live start as of its own time, keeps the decision with the clip and reports it; an authorized one alerts nobody', () => {
    const r = recording();
    r.part.onCameraEvent(cameraEvent(start('a1', { activity: 'at_large_arrest' })));
    const row = r.clips.get(SERIAL, 'a1')!;
    expect(row.state).toBe('RECORDING');
    expect((JSON.parse(row.facts) as { decision: { decision: string } }).decision.decision).toBe('AUTHORIZED');
    expect(r.decisions()).toEqual([{ verdict: 'VERDICT_AUTHORIZED', why: 'started' }]);
    const decided = r.reports.find((e) => e.kind === pb.EventKind.EVENT_KIND_ACTIVATION_DECIDED)!;
    expect([decided.cameraSerial, decided.clipId, decided.officerId, decided.occurredAtMs]).toEqual([SERIAL, 'a1', 'O1', NOW]);
    expect(r.alerts).toEqual([]);
    expect(r.flagged).toEqual([]);
  });

  it('alerts the camera PROHIBITED for a recording whose only purpose is First Amendment activity, and flags the dock light; the recording goes on', () => {
    const r = recording();
    r.part.onCameraEvent(cameraEvent(start('p1', { purposes: ['first_amendment_activity'] })));
    expect(r.decisions()).toEqual([{ verdict: 'VERDICT_PROHIBITED', why: 'started' }]);
    expect(r.alerts.map((a) => [a.serial, a.alert.clipId, pb.AlertKind[a.alert.kind!]])).toEqual([[SERIAL, 'p1', 'ALERT_KIND_PROHIBITED']]);
    expect(r.flagged).toEqual([`${SERIAL}/p1/PROHIBITED`]);
    expect(r.clips.get(SERIAL, 'p1')!.state).toBe('RECORDING');
  });

  it('does not alert the camera for a start it replays after the shift: that was decided after the fact', () => {
    const r = recording();
    r.part.onCameraEvent(cameraEvent(start('p2', { purposes: ['first_amendment_activity'] }), { replayed: true }));
    expect(r.decisions()).toEqual([{ verdict: 'VERDICT_PROHIBITED', why: 'started' }]);
    expect(r.alerts).toEqual([]);
  });

  it('decides a stopped recording again when its activity is tagged late, and reports the tag with the decision', () => {
    // Untagged at its stop, the recording has no basis; the activity tagged afterwards gives it one.
    const r = recording();
    r.part.onCameraEvent(cameraEvent(start('t1')));
    r.part.onCameraEvent(cameraEvent({ recordingStopped: { clipId: 't1', stoppedAtMs: NOW + 60_000, reason: pb.StopReason.STOP_REASON_BUTTON } }));
    expect(r.clips.get(SERIAL, 't1')!.state).toBe('CLOSED');
    r.part.onCameraEvent(cameraEvent({ activityTagged: { clipId: 't1', activity: 'at_large_arrest', taggedAtMs: NOW + 120_000 } }));
    expect(r.decisions()).toEqual([
      { verdict: 'VERDICT_PENDING_CLASSIFICATION', why: 'started' },
      { verdict: 'VERDICT_UNAUTHORIZED', why: 'stopped' },
      { verdict: 'VERDICT_AUTHORIZED', why: 'tagged' },
    ]);
    expect(r.reports.some((e) => e.kind === pb.EventKind.EVENT_KIND_ACTIVITY_TAGGED && e.activity === 'at_large_arrest')).toBe(true);
    expect((JSON.parse(r.clips.get(SERIAL, 't1')!.facts) as { decision: { decision: string } }).decision.decision).toBe('AUTHORIZED');
  });

  it('closes the clip on ClipReady, decides a clip it never heard start, and hands it to custody', () => {
    const r = recording();
    r.part.onCameraEvent(cameraEvent({ clipReady: { clipId: 'u1', path: 'DCIM/u1.mp4', size: 1000, endedAtMs: NOW } }));
    const row = r.clips.get(SERIAL, 'u1')!;
    expect([row.state, row.path, row.size]).toEqual(['CLOSED', 'DCIM/u1.mp4', 1000]);
    expect(r.decisions().map((d) => d.why)).toEqual(['ready']);
    expect(r.ready).toEqual([`${SERIAL}/u1`]);
  });
});

// ── custody ─────────────────────────────────────────────────────────────────────────────────

const device = signerFromSeed(Buffer.alloc(32, 0x51));
const gatewaySigner = signerFromSeed(Buffer.alloc(32, 0x52));
const gateway: GatewayCert = {
  gatewayId: 'gw-p',
  fleet: 'fleet-p',
  publicKey: gatewaySigner.publicKey,
  key: trustPublicKey(gatewaySigner.publicKey),
  notBeforeMs: 0,
  notAfterMs: Number.MAX_SAFE_INTEGER,
  hash: '00'.repeat(32),
  bytes: new Uint8Array(),
};

function ackFor(fields: Partial<bwc.v1.Ack.$Properties>, signer = gatewaySigner): { ack: bwc.v1.Ack; bytes: Uint8Array } {
  const body = pb.Ack.encode({
    header: { issuer: 'gw-p', fleet: 'fleet-p', seq: 1, createdAtMs: NOW },
    deviceId: 'DOCK-P',
    ...fields,
  }).finish();
  const bytes = sealEnvelope('Ack', body, signer).bytes;
  return { ack: pb.Ack.decode(openEnvelope(bytes).body), bytes };
}

class FakeGateway implements CustodyGateway {
  readonly reports: EventBody[] = [];
  readonly uploads: { clip: ClipBytes; ranges: readonly { start: number; end: number }[]; check: boolean }[] = [];
  readonly cancelled: string[] = [];
  readonly resent: string[] = [];
  #flushed: () => void = () => {};
  /** Resolves at the next flush (custody flushes once a manifest is queued). */
  flushed = (): Promise<void> =>
    new Promise((resolve) => {
      this.#flushed = resolve;
    });
  connected(): boolean {
    return true;
  }
  report(event: EventBody): void {
    this.reports.push(event);
  }
  upload(clip: ClipBytes, ranges: readonly { start: number; end: number }[], options: { check: boolean }): void {
    this.uploads.push({ clip, ranges, check: options.check });
  }
  cancelUpload(hash: string): void {
    this.cancelled.push(hash);
  }
  resend(hash: string): void {
    this.resent.push(hash);
  }
  flush(): void {
    this.#flushed();
  }
}

async function signedClip(o: { linked?: boolean } = {}) {
  const s = store();
  const storage = join(s.dir, 'camera');
  mkdirSync(join(storage, 'DCIM'), { recursive: true });
  writeClip(join(storage, 'DCIM'), 'c1.mp4', 300_000, 7);
  const gw = new FakeGateway();
  const released: VerifiedClip[] = [];
  const port = { releaseClip: (v: VerifiedClip) => released.push(v) };
  let linked = o.linked ?? true;
  const transfers = new Transfers();
  const part = new Custody({
    deviceId: 'DOCK-P',
    fleet: 'fleet-p',
    signer: device,
    storage: { mountTemplate: '/nonexistent/{label}', mounts: { [SERIAL]: storage } },
    clips: s.clips,
    outbox: s.outbox,
    state: s.state,
    transfers,
    gateway: gw,
    camera: () => (linked ? port : null),
    ackSigner: () => gateway.key,
    ackTimeoutMs: 60_000,
    fault: (what, e) => {
      throw new Error(`${what}: ${(e as Error).message}`);
    },
    storeOpen: () => s.db.open,
    now: () => NOW,
    log: silent,
  });
  const facts = startedFacts(pb.RecordingStarted.create({ clipId: 'c1', startedAtMs: NOW }), {
    model: 'P1',
    firmware: '1.0',
    deviceRole: 'bwc',
    offsetMs: 0,
    atMs: NOW,
    replayed: false,
    clockSynced: true,
    office: 'SEA',
    officerAt: () => 'O1',
  });
  s.clips.ensure(SERIAL, 'c1', 'CLOSED', facts, NOW);
  s.clips.update(SERIAL, 'c1', { path: 'DCIM/c1.mp4', size: 300_000, storage_label: SERIAL }, NOW);
  const signed = gw.flushed();
  part.hashAndSign(SERIAL, 'c1');
  await signed;
  const row = s.clips.get(SERIAL, 'c1')!;
  return {
    ...s,
    gw,
    part,
    released,
    transfers,
    row,
    storage,
    link: (up: boolean) => {
      linked = up;
    },
    verified: (over: Partial<bwc.v1.Ack.$Properties> = {}) =>
      ackFor({
        kind: pb.AckKind.ACK_KIND_VERIFIED,
        manifestHash: Buffer.from(row.manifest_hash!, 'hex'),
        clipSha256: Buffer.from(row.sha256!, 'hex'),
        byteLength: row.byte_length!,
        ...over,
      }),
  };
}

describe("custody: hash, sign, the gateway's acks, release (DESIGN §3)", () => {
  it('hashes a closed clip and signs its manifest: SIGNED, queued in the outbox, the chain head advanced', async () => {
    const c = await signedClip();
    await c.part.stop();
    expect(c.row.state).toBe('SIGNED');
    expect(c.row.byte_length).toBe(300_000);
    expect(c.outbox.get(c.row.manifest_hash!)?.kind).toBe('manifest');
    expect(c.state.json<{ seq: number; hash: string }>('chain')).toEqual({ seq: 1, hash: c.row.manifest_hash });
    expect(c.transfers.list()).toEqual([]);
  });

  it("never releases a clip before the gateway's signed VERIFIED ack; releases exactly those bytes after it, and records RELEASED when the camera frees them", async () => {
    const c = await signedClip();
    const manifestHash = Buffer.from(c.row.manifest_hash!, 'hex');
    const received = ackFor({ kind: pb.AckKind.ACK_KIND_MANIFEST_RECEIVED, manifestHash, missingChunks: [{ start: 0, end: 2 }] });
    await c.part.onAck(received.ack, received.bytes, gateway);
    expect(c.clips.get(SERIAL, 'c1')!.state).toBe('MANIFEST_ACKED');
    expect(c.gw.uploads.map((u) => [u.clip.manifestHash, u.ranges, u.clip.byteLength])).toEqual([[c.row.manifest_hash, [{ start: 0, end: 2 }], 300_000]]);
    const holdsAll = ackFor({ kind: pb.AckKind.ACK_KIND_CHUNKS_MISSING, manifestHash });
    await c.part.onAck(holdsAll.ack, holdsAll.bytes, gateway);
    expect(c.clips.get(SERIAL, 'c1')!.state).toBe('UPLOADED');
    c.part.releaseVerified(SERIAL);
    expect(c.released).toEqual([]);

    const v = c.verified();
    await c.part.onAck(v.ack, v.bytes, gateway);
    expect(c.clips.get(SERIAL, 'c1')!.state).toBe('VERIFIED');
    expect(c.gw.cancelled).toEqual([c.row.manifest_hash]);
    expect(c.released.map((r) => [r.clipId, toHex(r.sha256), r.byteLength])).toEqual([['c1', c.row.sha256, 300_000]]);

    c.part.onCameraEvent(cameraEvent({ clipReleased: { clipId: 'c1', sha256: Buffer.from(c.row.sha256!, 'hex'), freed: true, detail: 'freed' } }));
    expect(c.clips.get(SERIAL, 'c1')!.state).toBe('RELEASED');
    expect(c.gw.reports.map((e) => pb.EventKind[e.kind!])).toEqual(['EVENT_KIND_CLIP_RELEASED']);
  });

  it.each([
    ['other bytes', { clipSha256: Buffer.alloc(32, 9) }, /SHA-256 differs/],
    ['another length', { byteLength: 299_999 }, /length is 299999/],
    ['another device', { deviceId: 'DOCK-Q' }, /names device DOCK-Q/],
  ])('refuses a VERIFIED ack for %s: the clip stays where it was and nothing is released', async (_n, fields, message) => {
    const c = await signedClip();
    const v = c.verified(fields);
    await expect(c.part.onAck(v.ack, v.bytes, gateway)).rejects.toThrow(message);
    expect(c.clips.get(SERIAL, 'c1')!.state).toBe('SIGNED');
    expect(c.released).toEqual([]);
  });

  it("refuses a VERIFIED ack signed by any key but the gateway's", async () => {
    const c = await signedClip();
    const row = c.row;
    const forged = ackFor(
      {
        kind: pb.AckKind.ACK_KIND_VERIFIED,
        manifestHash: Buffer.from(row.manifest_hash!, 'hex'),
        clipSha256: Buffer.from(row.sha256!, 'hex'),
        byteLength: row.byte_length!,
      },
      signerFromSeed(Buffer.alloc(32, 0x53)),
    );
    await expect(c.part.onAck(forged.ack, forged.bytes, gateway)).rejects.toThrow(/signed by key/);
    expect(c.clips.get(SERIAL, 'c1')!.state).toBe('SIGNED');
    expect(c.released).toEqual([]);
  });

  it('keeps a REJECTED clip on the camera and tells the gateway; a later release attempt frees nothing', async () => {
    const c = await signedClip();
    const rejected = ackFor({
      kind: pb.AckKind.ACK_KIND_REJECTED,
      manifestHash: Buffer.from(c.row.manifest_hash!, 'hex'),
      reason: 'CHAIN_GAP',
    });
    await c.part.onAck(rejected.ack, rejected.bytes, gateway);
    expect(c.clips.get(SERIAL, 'c1')!.state).toBe('REJECTED');
    expect(c.gw.reports.map((e) => [pb.EventKind[e.kind!], e.detail])).toEqual([['EVENT_KIND_CLIP_REJECTED', 'CHAIN_GAP']]);
    c.part.releaseVerified(SERIAL);
    c.part.onCameraEvent(cameraEvent({ clipReleased: { clipId: 'c1', sha256: Buffer.from(c.row.sha256!, 'hex'), freed: true } }));
    expect(c.released).toEqual([]);
    expect(c.clips.get(SERIAL, 'c1')!.state).toBe('REJECTED');
  });

  it('sends a camera that was away its stored VERIFIED clips when it links again', async () => {
    const c = await signedClip({ linked: false });
    const v = c.verified();
    await c.part.onAck(v.ack, v.bytes, gateway);
    expect(c.clips.get(SERIAL, 'c1')!.state).toBe('VERIFIED');
    expect(c.released).toEqual([]);
    c.link(true);
    c.part.releaseVerified(SERIAL);
    expect(c.released.map((r) => r.clipId)).toEqual(['c1']);
  });

  it('does not record RELEASED when the camera freed other bytes', async () => {
    const c = await signedClip();
    const v = c.verified();
    await c.part.onAck(v.ack, v.bytes, gateway);
    c.part.onCameraEvent(cameraEvent({ clipReleased: { clipId: 'c1', sha256: Buffer.alloc(32, 1), freed: true } }));
    expect(c.clips.get(SERIAL, 'c1')!.state).toBe('VERIFIED');
    expect(c.gw.reports).toEqual([]);
  });

  it('reports bytes changed after hashing as tamper, and keeps the clip', async () => {
    const c = await signedClip();
    c.part.uploadFailed(c.row.manifest_hash!, new Error('chunk 3 changed'), true);
    expect(c.gw.reports.map((e) => [pb.EventKind[e.kind!], e.clipId])).toEqual([['EVENT_KIND_TAMPER', 'c1']]);
    expect(c.clips.get(SERIAL, 'c1')!.error).toBe('chunk 3 changed');
    expect(existsSync(join(c.storage, 'DCIM', 'c1.mp4'))).toBe(true);
  });
});

// ── cameras ─────────────────────────────────────────────────────────────────────────────────

describe('cameras: the linked cameras and what reaches them', () => {
  const info: CameraInfo = {
    ...camera,
    sessionId: 1,
    storageMode: pb.StorageMode.STORAGE_MODE_UNSPECIFIED,
    connectedAtMs: NOW,
    offsetMs: 1500,
  };

  it('reports a camera that links, sends it what it is owed, and delivers alerts only while it is linked', () => {
    const reports: EventBody[] = [];
    const owed: string[] = [];
    const part = new DockCameras({
      now: () => NOW,
      log: silent,
      report: (e) => reports.push(e),
      onLinked: (s) => owed.push(s),
      onHandlerError: () => {},
    });
    const alerts: bwc.v1.Alert.$Properties[] = [];
    part.alert(SERIAL, { clipId: 'x0' });
    const port: CameraPort = { alert: (a) => alerts.push(a), releaseClip: () => {}, requestStatus: () => {} };
    part.linked(info, port);
    expect(reports.map((e) => [pb.EventKind[e.kind!], e.cameraSerial, e.detail])).toEqual([
      ['EVENT_KIND_CAMERA_CONNECTED', SERIAL, 'P1 1.0; clock offset 1500 ms'],
    ]);
    expect(owed).toEqual([SERIAL]);
    part.alert(SERIAL, { clipId: 'x1' });
    expect(alerts.map((a) => a.clipId)).toEqual(['x1']);
  });

  it("keeps a camera's last status and reports its tamper event at the corrected time", () => {
    const reports: EventBody[] = [];
    const part = new DockCameras({
      now: () => NOW,
      log: silent,
      report: (e) => reports.push(e),
      onLinked: () => {},
      onHandlerError: () => {},
    });
    part.linked(info, { alert: () => {}, releaseClip: () => {}, requestStatus: () => {} });
    part.onCameraEvent({ ...cameraEvent({ status: { batteryPct: 42 } }), kind: 'status', camera: info, cameraTimeMs: 0 });
    expect(part.list()[0]!.status?.batteryPct).toBe(42);
    part.onCameraEvent({
      ...cameraEvent({ tamper: { kind: pb.TamperKind.TAMPER_KIND_OTHER, detail: 'case opened', atMs: NOW - 10_000 } }),
      kind: 'tamper',
      camera: info,
      cameraTimeMs: 0,
    });
    const tamper = reports.find((e) => e.kind === pb.EventKind.EVENT_KIND_TAMPER)!;
    expect([tamper.detail, tamper.occurredAtMs]).toEqual(['case opened', NOW - 10_000 + 1500]);
  });
});

// ── telemetry ───────────────────────────────────────────────────────────────────────────────

describe('telemetry: what the dock says about itself', () => {
  it('reports a transfer under way in the Status, the status line, progress.json and the light, and not once it is done', () => {
    const s = store();
    const transfers = new Transfers();
    s.clips.ensure(SERIAL, 'c1', 'CLOSED', {}, NOW);
    const part = new Telemetry({
      dir: s.dir,
      bootedAtMs: NOW - 90_000,
      now: () => NOW,
      clips: s.clips,
      outbox: s.outbox,
      cameras: () => [],
      officerAt: () => 'O1',
      policyVersion: () => 5,
      clockSynced: () => true,
      transfers: () => transfers.list(),
      connected: () => true,
      stateFull: () => false,
      light: () => 'syncing',
      cpuTemperatureDc: () => 512,
    });
    transfers.hashing(`${SERIAL}/c1`, { cameraSerial: SERIAL, clipId: 'c1', doneBytes: 1000, totalBytes: 4000 });
    const status = part.status();
    expect(status.transfers).toEqual([{ cameraSerial: SERIAL, clipId: 'c1', phase: 'hash', doneBytes: 1000, totalBytes: 4000 }]);
    expect([status.clipsUnverified, status.uptimeS, status.policyVersion, status.cpuTemperatureDc]).toEqual([1, 90, 5, 512]);
    expect(part.statusLine()).toBe('light syncing; connected to the broker; 1 clip(s) not yet verified; outbox 0 message(s); 1 transfer(s) under way');
    part.writeProgress();
    const progress = JSON.parse(readFileSync(join(s.dir, 'progress.json'), 'utf8')) as {
      transfers: unknown[];
      light: string;
      connected: boolean;
    };
    expect([progress.transfers.length, progress.light, progress.connected]).toEqual([1, 'syncing', true]);

    expect(part.signals().busy()).toBe(true);

    transfers.hashDone(`${SERIAL}/c1`);
    expect(part.status().transfers).toEqual([]);
    expect(part.signals().busy()).toBe(false);
    part.writeProgress();
    expect((JSON.parse(readFileSync(join(s.dir, 'progress.json'), 'utf8')) as { transfers: unknown[] }).transfers).toEqual([]);
  });

  it("names each camera's officer and its clips not yet verified in the Birth", () => {
    const s = store();
    s.clips.ensure(SERIAL, 'c1', 'UPLOADED', {}, NOW);
    s.clips.ensure(SERIAL, 'c2', 'VERIFIED', {}, NOW);
    const info: CameraInfo = { ...camera, sessionId: 1, storageMode: pb.StorageMode.STORAGE_MODE_UNSPECIFIED, connectedAtMs: NOW };
    const part = new Telemetry({
      dir: s.dir,
      bootedAtMs: NOW,
      now: () => NOW,
      clips: s.clips,
      outbox: s.outbox,
      cameras: () => [{ info, link: null, status: null, lastSeenMs: NOW }],
      officerAt: (serial) => (serial === SERIAL ? 'O2' : null),
      policyVersion: () => 5,
      clockSynced: () => false,
      transfers: () => [],
      connected: () => false,
      stateFull: () => false,
      light: () => null,
    });
    const birth = part.birth();
    expect(birth.cameras!.map((c) => [c.cameraSerial, c.officerId, c.unverifiedClips, c.connected])).toEqual([[SERIAL, 'O2', 1, false]]);
    expect([birth.policyVersion, birth.clock?.synced]).toEqual([5, false]);
  });
});

// ── faults ──────────────────────────────────────────────────────────────────────────────────

describe('faults: a full state directory', () => {
  it('says a full state directory at most every 30 s, and once it can be written again tells the gateway and resumes custody', () => {
    let now = NOW;
    let full = true;
    const errors: string[] = [];
    const reports: EventBody[] = [];
    let resumed = 0;
    const part = new DockFaults({
      dir: '/state',
      now: () => now,
      log: textLogger((level, m) => {
        if (level === 'error') errors.push(m);
      }),
      report: (e) => reports.push(e),
      onWritable: () => {
        resumed++;
      },
      state: {
        set: () => {
          if (full) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
        },
      },
    });
    const diskFull = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    part.fault('camera event', diskFull);
    now += 10_000;
    part.fault('outbox', diskFull);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^state directory \/state is full: camera event not saved/);
    expect(part.full).toBe(true);
    part.probe();
    expect([reports.length, resumed]).toEqual([0, 0]);

    now += 20_000;
    full = false;
    part.probe();
    expect(part.full).toBe(false);
    expect(reports.map((e) => [pb.AlertKind[e.alert!], e.detail])).toEqual([
      ['ALERT_KIND_STORAGE_LOW', 'dock state directory was full for 30 s; camera events were held on the cameras'],
    ]);
    expect(resumed).toBe(1);
  });

  it('logs any other failure every time, without marking the directory full', () => {
    const errors: string[] = [];
    const part = new DockFaults({
      dir: '/state',
      now: () => NOW,
      log: textLogger((level, m) => {
        if (level === 'error') errors.push(m);
      }),
      report: () => {},
      onWritable: () => {},
      state: { set: () => {} },
    });
    part.guard('progress', () => {
      throw new Error('boom');
    });
    part.guard('progress', () => {
      throw new Error('boom');
    });
    expect(errors).toEqual(['progress: boom', 'progress: boom']);
    expect(part.full).toBe(false);
  });
});
