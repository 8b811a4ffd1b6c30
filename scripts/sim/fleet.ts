/**
 * A simulated fleet (`bwc sim fleet`): N docks in one process, each with its own Ed25519 key and
 * the dock's real sync layer (device/sync: the MQTT session with its Will and backoff, the outbox
 * on an in-memory SQLite database, signed envelopes, Birth, Status every few seconds, acks and
 * commands checked against the gateway's certificate), registered with the gateway through its
 * API by an operator token. Now and then a dock records a small clip: it signs a manifest in its
 * chain and uploads the chunks when the gateway asks for them, until the gateway's VERIFIED ack.
 *
 * The simulated docks sign with node:crypto (Ed25519, about 40 µs a signature here) rather than
 * the dock's tweetnacl (about 4 ms): the same signatures, at a cost that lets one process play
 * thousands of docks. Nothing else differs from a dock's traffic.
 */
import { createPrivateKey, generateKeyPairSync, sign as edSign, type KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pb, type bwc } from '../../proto/wire.js';
import type { Signer } from '../../proto/envelope.js';
import { keyIdOf, type TrustedKey } from '../../proto/ed25519.js';
import { toHex } from '../../proto/bytes.js';
import { ClipHasher } from '../../proto/clip-hash.js';
import { SOFTWARE_VERSION } from '../../proto/version.js';
import { signManifest } from '../../device/custody/manifest.js';
import { openDockDb, type Db } from '../../device/store/dock-db.js';
import { Outbox } from '../../device/store/outbox.js';
import { DockState } from '../../device/store/state.js';
import { GatewayTrust } from '../../device/sync/trust.js';
import { DockSync } from '../../device/sync/sync.js';
import { textLogger } from '../../device/log.js';
import type { UploadSource } from '../../device/sync/uploader.js';

export interface FleetOptions {
  devices: number;
  /** mqtt:// or mqtts:// URL of the broker the gateway listens on. */
  brokerUrl: string;
  /** The gateway's HTTP API, to register each dock's key (operator role). */
  gatewayUrl: string;
  operatorToken: string;
  fleet: string;
  /** The agency root key: acks and commands are checked against the gateway certificates it signed. */
  root: TrustedKey;
  /** Device ids are `{prefix}{n}`, n zero-padded. */
  prefix: string;
  statusIntervalS: number;
  /** Mean seconds between clips per dock; 0: no clips. */
  clipEveryS: number;
  clipBytes: number;
  /** Where clip files are written. */
  dir: string;
  /** MQTT credentials: the password the gateway returns at registration (embedded broker), or none (a broker that does not ask). */
  useGatewayPasswords: boolean;
  /** Docks connecting at once. */
  concurrency: number;
  log(line: string): void;
}

export interface FleetCounters {
  registered: number;
  connected: number;
  births: number;
  statuses: number;
  clips: number;
  verified: number;
  acksRefused: number;
}

interface SimDock {
  readonly id: string;
  readonly signer: Signer;
  readonly db: Db;
  readonly sync: DockSync;
  seq: number;
  prev: Buffer | null;
  readonly clips: Map<string, UploadSource>;
}

/** An Ed25519 signer on node:crypto (the same signatures as tweetnacl's). */
function nodeSigner(): Signer {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from((publicKey.export({ format: 'jwk' }) as { x: string }).x, 'base64url');
  const key: KeyObject = createPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' }));
  return { keyId: keyIdOf(raw), publicKey: raw, sign: (m) => edSign(null, m, key) };
}

export class SimFleet {
  readonly counters: FleetCounters = { registered: 0, connected: 0, births: 0, statuses: 0, clips: 0, verified: 0, acksRefused: 0 };
  readonly #o: FleetOptions;
  readonly #docks: SimDock[] = [];
  #clipTimer: NodeJS.Timeout | null = null;

  constructor(options: FleetOptions) {
    this.#o = options;
  }

  get size(): number {
    return this.#docks.length;
  }

  /** Registers every dock with the gateway and connects them, `concurrency` at a time. */
  async start(): Promise<void> {
    const o = this.#o;
    mkdirSync(o.dir, { recursive: true });
    const width = String(o.devices - 1).length;
    const ids = Array.from({ length: o.devices }, (_, i) => `${o.prefix}${String(i).padStart(width, '0')}`);
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++]!;
        const dock = await this.#register(id);
        this.#docks.push(dock);
        dock.sync.start();
        await this.#until(() => dock.sync.connected, 60_000, `${id} to connect`);
        this.counters.connected++;
        if (this.counters.connected % 1000 === 0) o.log(`${this.counters.connected} docks connected`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.concurrency, ids.length) }, worker));
    if (o.clipEveryS > 0) {
      // One tick a second: each dock records with probability 1/clipEveryS.
      this.#clipTimer = setInterval(() => {
        for (const d of this.#docks) if (Math.random() < 1 / o.clipEveryS) this.#record(d);
      }, 1000);
      this.#clipTimer.unref();
    }
  }

  /** Stops every dock: a clean Death for each, then the sessions close. */
  async stop(): Promise<void> {
    if (this.#clipTimer) clearInterval(this.#clipTimer);
    const docks = this.#docks.splice(0);
    for (let i = 0; i < docks.length; i += 200) {
      await Promise.all(
        docks.slice(i, i + 200).map(async (d) => {
          await d.sync.stop().catch(() => {});
          d.db.close();
        }),
      );
    }
  }

  /** Records a clip on one dock now (also what the clip timer does). */
  record(index: number): string {
    const d = this.#docks[index];
    if (!d) throw new RangeError(`no simulated dock ${index}`);
    return this.#record(d);
  }

  async #register(id: string): Promise<SimDock> {
    const o = this.#o;
    const signer = nodeSigner();
    let r: Response | null = null;
    for (let attempt = 1; !r; attempt++) {
      try {
        r = await fetch(new URL('/api/v1/devices', o.gatewayUrl), {
          method: 'POST',
          headers: { authorization: `Bearer ${o.operatorToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ deviceId: id, publicKey: toHex(signer.publicKey) }),
        });
      } catch (e) {
        const why = (e as Error & { cause?: Error }).cause?.message ?? (e as Error).message;
        if (attempt >= 5) throw new Error(`registering ${id}: the gateway cannot be reached: ${why}`);
        o.log(`registering ${id}: ${why}; trying again`);
        await new Promise((res) => setTimeout(res, 500 * attempt));
      }
    }
    const j = (await r.json()) as { mqttPassword?: string; error?: { message: string } };
    if (r.status !== 201) throw new Error(`registering ${id}: ${r.status} ${j.error?.message ?? ''}`);
    this.counters.registered++;
    const db = openDockDb(':memory:');
    const state = new DockState(db);
    const clips = new Map<string, UploadSource>();
    const dock: SimDock = {
      id,
      signer,
      db,
      seq: 0,
      prev: null,
      clips,
      sync: new DockSync({
        deviceId: id,
        fleet: o.fleet,
        signer,
        state,
        outbox: new Outbox(db),
        trust: new GatewayTrust(o.root, o.fleet),
        session: {
          url: o.brokerUrl,
          protocolVersion: 4,
          keepaliveS: 60,
          connectTimeoutMs: 30_000,
          backoffMinMs: 500,
          backoffMaxMs: 10_000,
          watchdogMs: 120_000,
          ...(o.useGatewayPasswords && j.mqttPassword ? { username: id, password: j.mqttPassword } : {}),
        },
        maxInFlight: 16,
        chunkWindow: 4,
        ackTimeoutMs: 30_000,
        statusIntervalMs: o.statusIntervalS * 1000,
        birth: () => {
          this.counters.births++;
          return { agentVersion: `${SOFTWARE_VERSION}-sim`, policyVersion: 0, outboxDepth: 0, clock: { synced: true, offsetMs: 0 } };
        },
        status: () => {
          this.counters.statuses++;
          return {
            agentVersion: `${SOFTWARE_VERSION}-sim`,
            outboxDepth: 0,
            clipsUnverified: clips.size,
            diskFreeBytes: 32 * 1024 ** 3,
            cpuTemperatureDc: 450,
            uptimeS: Math.floor(process.uptime()),
            clock: { synced: true, offsetMs: 0 },
          };
        },
        onAck: (ack) => this.#onAck(dock, ack),
        onCommand: async () => 'applied',
        onUploadSent: () => {},
        onUploadError: (h, e) => o.log(`${id}: upload of ${h.slice(0, 12)}… failed: ${e.message}`),
        onFault: (what, e) => o.log(`${id}: ${what}: ${(e as Error).message}`),
        log: textLogger((_level, m) => o.log(`${id}: ${m}`), 'error'),
      }),
    };
    return dock;
  }

  #record(d: SimDock): string {
    const o = this.#o;
    const n = ++d.seq;
    const clipId = `sim-${n}`;
    const bytes = Buffer.alloc(o.clipBytes);
    for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE((n * 2654435761 + i) >>> 0, i);
    const path = join(o.dir, `${d.id}-${clipId}.mp4`);
    writeFileSync(path, bytes);
    const chunkSize = 64 * 1024;
    const digest = new ClipHasher(chunkSize).update(bytes).digest();
    const now = Date.now();
    const signed = signManifest(
      {
        cameraSerial: `${d.id}-CAM`,
        officerId: 'O-SIM',
        clipId,
        mediaType: 'video/mp4',
        startedAtMs: now - 30_000,
        endedAtMs: now,
        clock: { source: pb.ClockSource.CLOCK_SOURCE_NTP, synced: true, offsetMs: 0 },
        trigger: pb.TriggerSource.TRIGGER_SOURCE_BUTTON,
        method: pb.RecordingMethod.RECORDING_METHOD_VIDEO,
        activity: 'at_large_arrest',
      },
      digest,
      { deviceId: d.id, fleet: o.fleet, seq: n, prevManifestHash: d.prev },
      d.signer,
    );
    d.prev = signed.hash;
    const hash = signed.hash.toString('hex');
    d.clips.set(hash, { manifestHash: hash, path, byteLength: bytes.length, chunkSize, chunkHashes: digest.chunks });
    d.sync.requeue('manifest', 'ClipManifest', hash, signed.bytes, clipId);
    this.counters.clips++;
    return hash;
  }

  #onAck(d: SimDock, ack: bwc.v1.Ack): void {
    const hash =
      ack.manifestHash.byteLength === 32
        ? toHex(ack.manifestHash)
        : ack.ackedType === 'ClipManifest' && ack.ackedHash.byteLength === 32
          ? toHex(ack.ackedHash)
          : '';
    const source = hash ? d.clips.get(hash) : undefined;
    if (!source) return;
    switch (ack.kind) {
      case pb.AckKind.ACK_KIND_MANIFEST_RECEIVED:
      case pb.AckKind.ACK_KIND_CHUNKS_MISSING: {
        const ranges = ack.missingChunks.map((r) => ({ start: r.start ?? 0, end: r.end ?? 0 }));
        if (ranges.length) d.sync.upload(source, ranges);
        break;
      }
      case pb.AckKind.ACK_KIND_VERIFIED:
        d.clips.delete(hash);
        this.counters.verified++;
        break;
      case pb.AckKind.ACK_KIND_REJECTED:
        d.clips.delete(hash);
        this.counters.acksRefused++;
        break;
      default:
        break;
    }
  }

  async #until(ok: () => boolean, ms: number, what: string): Promise<void> {
    const end = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
