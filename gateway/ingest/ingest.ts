/**
 * Verified ingest (DESIGN §4, §7): every message a dock publishes passes through `handle(topic,
 * payload)`, which never throws and never stores anything it could not verify.
 *
 *   size cap → topic → envelope (canonical) → type matches topic kind → device enrolled →
 *   key enrolled → strict Ed25519 (node:crypto) → body decodes → header names the topic's device
 *   and fleet → per-type rules → durable write → signed ack
 *
 * Manifests form a chain per device: a duplicate (same seq, same hash) is acked again with its
 * current state; a fork (same seq, another hash, or a prev hash that contradicts a stored
 * neighbour) is a tamper alert and is not stored; a gap is raised by `sweep()` only after a settle
 * window (replicas receive one device's messages out of order) and answered with a
 * ManifestRequest. Chunks and the whole-clip check are `ClipAssembly`'s (assembly.ts): each chunk
 * is checked against the manifest's chunk hashes before it is staged; the replica that records the
 * last chunk takes a lease, checks the staged file's length and SHA-256 and commits VERIFIED, then
 * sends the signed VERIFIED ack — in that order.
 *
 * What the fleet does with births, deaths, statuses and events, and how alerts are stored, is not
 * this module's business: it reports them through `IngestSink`.
 */
import { pb, type bwc } from '../../proto/wire.js';
import { openEnvelope, type OpenedEnvelope } from '../../proto/envelope.js';
import { isWireError } from '../../proto/errors.js';
import { parseTopic, deviceTopic, type DockKind } from '../../proto/topics.js';
import { verifyStrict } from '../../proto/ed25519.js';
import { manifestProblems, MANIFEST_SCHEMA_VERSION } from '../../proto/manifest.js';
import { toHex } from '../../proto/bytes.js';
import { decisionToJson } from '../../proto/decision.js';
import { all, get, run, type Steps } from '../store/db.js';
import type { AuditAppender } from '../audit/log.js';
import { DeviceKeys } from './device-keys.js';
import { TxBatcher } from './batcher.js';
import { ClipAssembly } from './assembly.js';
import { ManifestCache, manifestRow, manifestRowStep, type ManifestRow } from './manifest-cache.js';
import { Reject } from './reject.js';
import type { FleetMessage, IngestAlert, IngestCounters, IngestOptions, IngestResult, RejectReason } from './types.js';

const KIND_TYPES: Record<DockKind, string> = {
  birth: 'Birth',
  death: 'Death',
  status: 'Status',
  event: 'Event',
  manifest: 'ClipManifest',
  chunk: 'ClipChunk',
  log: 'Log',
};

/** Room for the envelope, ClipChunk fields and the MQTT header around a chunk's data. */
const CHUNK_OVERHEAD = 1024;

function typeOfTopicKind(kind: string): string | undefined {
  return (KIND_TYPES as Record<string, string>)[kind];
}

export class Ingest {
  readonly #o: Required<Omit<IngestOptions, 'keys' | 'verifier'>> & Pick<IngestOptions, 'verifier'>;
  /** Records manifests stored, clips VERIFIED and REJECTED in the audit log, in the transaction that changes them. */
  readonly #audit: AuditAppender | null;
  readonly keys: DeviceKeys;
  /** Group commit of every message's writes (see batcher.ts). */
  readonly batcher: TxBatcher;
  readonly #manifests: ManifestCache;
  /** Chunks, and the clip checked and committed VERIFIED when the last one is recorded. */
  readonly assembly: ClipAssembly;
  readonly counters: IngestCounters = { received: {}, accepted: {}, duplicates: {}, rejected: {}, verified: 0, acksSent: 0, verifyMs: [] };

  constructor(options: IngestOptions & { audit?: AuditAppender | null }) {
    this.#audit = options.audit ?? null;
    this.#o = {
      maxEnvelopeBytes: 8 * 1024 * 1024,
      gapSettleMs: 30_000,
      leaseMs: 120_000,
      now: Date.now,
      ...options,
    } as Required<Omit<IngestOptions, 'keys' | 'verifier'>> & Pick<IngestOptions, 'verifier'>;
    this.keys = options.keys ?? new DeviceKeys(options.db, { now: this.#o.now });
    this.batcher = new TxBatcher(options.db);
    this.#manifests = new ManifestCache(options.db, this.#o.maxEnvelopeBytes);
    this.assembly = new ClipAssembly({
      db: options.db,
      store: this.#o.store,
      batcher: this.batcher,
      manifests: this.#manifests,
      audit: this.#audit,
      sink: this.#o.sink,
      counters: this.counters,
      gatewayId: this.#o.sealer.gatewayId,
      leaseMs: this.#o.leaseMs,
      now: this.#o.now,
      count: (which, type) => this.#count(which, type),
      ack: (deviceId, ack) => this.#ack(deviceId, ack),
      alert: (a) => this.#alert(a),
    });
  }

  /** The chunks of a manifest still needed, as half-open ranges. */
  missingChunks(manifestHash: string, chunkCount: number): Promise<{ start: number; end: number }[]> {
    return this.assembly.missingChunks(manifestHash, chunkCount);
  }

  get maxChunkBytes(): number {
    return this.#o.maxEnvelopeBytes - CHUNK_OVERHEAD;
  }

  /** Handles one message from the broker. Never throws. */
  async handle(topic: string, payload: Uint8Array): Promise<IngestResult> {
    let deviceId: string | undefined;
    let type: string | undefined;
    try {
      let parsed;
      try {
        parsed = parseTopic(topic);
      } catch (e) {
        throw new Reject('BAD_TOPIC', (e as Error).message);
      }
      if (parsed.kind === 'gateway-state') throw new Reject('WRONG_DIRECTION', `${topic} is a gateway topic`);
      if (parsed.direction !== 'up') throw new Reject('WRONG_DIRECTION', `${parsed.kind} is a gateway → dock topic`);
      if (parsed.fleet !== this.#o.fleet) throw new Reject('WRONG_FLEET', `fleet ${parsed.fleet} is not this gateway's fleet ${this.#o.fleet}`);
      deviceId = parsed.deviceId;
      type = typeOfTopicKind(parsed.kind);
      this.#count('received', type ?? parsed.kind);
      if (payload.byteLength > this.#o.maxEnvelopeBytes) {
        throw new Reject('TOO_LARGE', `${payload.byteLength} bytes is above the ${this.#o.maxEnvelopeBytes}-byte limit`, {
          kind: 'MALFORMED_MESSAGE',
          deviceId,
          message: `oversize ${parsed.kind} message on ${topic}`,
          dedupeKey: `MALFORMED|${deviceId}|TOO_LARGE`,
        });
      }
      let env: OpenedEnvelope;
      try {
        env = openEnvelope(payload, { maxBytes: this.#o.maxEnvelopeBytes });
      } catch (e) {
        const code = isWireError(e) ? e.code : 'UNDECODABLE';
        const reason: RejectReason = (['EMPTY', 'TOO_LARGE', 'TRUNCATED', 'NON_CANONICAL', 'BAD_TYPE'] as const).find((r) => r === code) ?? 'UNDECODABLE';
        throw new Reject(reason, (e as Error).message, {
          kind: 'MALFORMED_MESSAGE',
          deviceId,
          message: `malformed ${parsed.kind} message on ${topic}: ${(e as Error).message}`,
          dedupeKey: `MALFORMED|${deviceId}|${reason}`,
        });
      }
      if (env.type !== type) throw new Reject('TYPE_TOPIC_MISMATCH', `a ${env.type} on a ${parsed.kind} topic`);
      if (env.type === 'ClipChunk') return await this.assembly.chunk(deviceId, env);
      return await this.#signed(deviceId, env, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
    } catch (e) {
      const r = e instanceof Reject ? e : new Reject('STORE_FAILED', (e as Error).message);
      this.counters.rejected[r.reason] = (this.counters.rejected[r.reason] ?? 0) + 1;
      if (r.alert) await this.#alert(r.alert);
      const out: IngestResult = { status: 'rejected', reason: r.reason, detail: r.message };
      if (type) out.type = type;
      if (deviceId) out.deviceId = deviceId;
      return out;
    }
  }

  async #alert(a: IngestAlert): Promise<void> {
    try {
      await this.#o.sink.alert(a);
    } catch {
      // An alert that cannot be stored must not turn a rejection into a crash; it is counted.
      this.counters.rejected.STORE_FAILED = (this.counters.rejected.STORE_FAILED ?? 0) + 1;
    }
  }

  #count(which: 'received' | 'accepted' | 'duplicates', type: string): void {
    this.counters[which][type] = (this.counters[which][type] ?? 0) + 1;
  }

  // ── signed messages ───────────────────────────────────────────────────────────────────────

  async #signed(deviceId: string, env: OpenedEnvelope, raw: Buffer): Promise<IngestResult> {
    const t0 = performance.now();
    let trust = this.keys.cached(deviceId);
    if (trust === undefined) trust = await this.keys.get(deviceId);
    if (!trust) {
      throw new Reject('UNKNOWN_DEVICE', `device ${deviceId} is not enrolled`, {
        kind: 'UNKNOWN_DEVICE',
        deviceId,
        message: `messages from device ${deviceId}, which is not enrolled (only enrolled, government-issued equipment is accepted)`,
        dedupeKey: `UNKNOWN_DEVICE|${deviceId}`,
      });
    }
    if (trust.fleet !== this.#o.fleet) throw new Reject('WRONG_FLEET', `device ${deviceId} is enrolled in fleet ${trust.fleet}`);
    if (!env.signed) throw new Reject('NOT_SIGNED', `${env.type} is not signed`);
    const key = trust.keys.get(env.keyId);
    if (!key) {
      throw new Reject('KEY_MISMATCH', `${env.type} is signed by key ${env.keyId.slice(0, 16)}…, not a key enrolled for ${deviceId}`, {
        kind: 'BAD_SIGNATURE',
        deviceId,
        message: `${env.type} for ${deviceId} signed by an unknown key ${env.keyId.slice(0, 16)}…`,
        dedupeKey: `BAD_SIGNATURE|${deviceId}|${env.keyId}`,
      });
    }
    // With worker threads, the signature check and a manifest's Merkle-root check travel to the
    // worker together (one round trip), so the body is decoded while the signature is checked.
    // Nothing decoded is used, nor any decoding error reported, unless the signature verified.
    const verifier = this.#o.verifier;
    const verifying = verifier ? verifier.verify(key, env.signedInput, env.sig) : null;
    let body: { header?: bwc.v1.IHeader | null } | null = null;
    let decodeError: Error | null = null;
    try {
      body = (pb as unknown as Record<string, { decode(b: Uint8Array): { header?: bwc.v1.IHeader | null } }>)[env.type]!.decode(env.body);
    } catch (e) {
      decodeError = e as Error;
    }
    let merkle: Promise<boolean> | null = null;
    if (verifier && body && env.type === 'ClipManifest') {
      const m = body as bwc.v1.ClipManifest;
      if (m.merkleRoot.byteLength === 32) {
        merkle = verifier.merkleMatches(m.chunkSha256, m.merkleRoot);
        merkle.catch(() => {}); // awaited below when it matters; a refusal before then must not leave it unhandled
      }
    }
    const valid = verifying ? await verifying : verifyStrict(key, env.signedInput, env.sig);
    if (!valid) {
      throw new Reject('BAD_SIGNATURE', `${env.type} signature does not verify`, {
        kind: 'BAD_SIGNATURE',
        deviceId,
        message: `${env.type} from ${deviceId} with a signature that does not verify`,
        dedupeKey: `BAD_SIGNATURE|${deviceId}`,
      });
    }
    this.counters.verifyMs.push(performance.now() - t0);
    if (this.counters.verifyMs.length > 10_000) this.counters.verifyMs.splice(0, 5_000);
    if (!body) {
      throw new Reject('UNDECODABLE_BODY', `${env.type} body cannot be decoded: ${decodeError?.message ?? 'unknown'}`, {
        kind: 'MALFORMED_MESSAGE',
        deviceId,
        message: `a signed ${env.type} from ${deviceId} whose body cannot be decoded`,
        dedupeKey: `MALFORMED|${deviceId}|BODY`,
      });
    }
    const h = body.header;
    if (!h || h.issuer !== deviceId || (h.fleet ?? '') !== this.#o.fleet) {
      throw new Reject(
        'ID_MISMATCH',
        `the signed header names ${h?.issuer ?? 'nobody'} in fleet ${h?.fleet ?? '?'}, the topic ${deviceId} in ${this.#o.fleet}`,
        {
          kind: 'ID_MISMATCH',
          deviceId,
          message: `a ${env.type} on ${deviceId}'s topic signed for ${h?.issuer ?? 'nobody'}`,
          dedupeKey: `ID_MISMATCH|${deviceId}`,
        },
      );
    }
    // DESIGN §8: no dock → gateway type is about another device, so a header naming one as its
    // subject is a forgery or a confused dock, whoever signed it (none is stored or applied).
    if (h.subjectDevice && h.subjectDevice !== deviceId) {
      throw new Reject('SUBJECT_MISMATCH', `the signed header of a ${env.type} from ${deviceId} names ${h.subjectDevice} as its subject`, {
        kind: 'ID_MISMATCH',
        deviceId,
        message: `a ${env.type} from ${deviceId} whose signed header names another device (${h.subjectDevice}) as its subject`,
        dedupeKey: `ID_MISMATCH|${deviceId}|subject`,
      });
    }
    const seq = Number(h.seq ?? 0);
    if (!Number.isSafeInteger(seq) || seq < 1) throw new Reject('SEQ_INVALID', `seq ${String(h.seq)} is not 1 or more`);
    if (env.type === 'ClipManifest') return this.#manifest(deviceId, env, raw, body as bwc.v1.ClipManifest, seq, merkle);
    return this.#message(deviceId, env, raw, body, seq);
  }

  /** Birth, Death, Status, Event, Log: stored once by (device, type, seq), then acked RECEIVED. */
  async #message(deviceId: string, env: OpenedEnvelope, raw: Buffer, body: { header?: bwc.v1.IHeader | null }, seq: number): Promise<IngestResult> {
    const hash = toHex(env.hash);
    const now = this.#o.now();
    const claimed = Number(body.header?.createdAtMs ?? 0) || null;
    const stored = await this.batcher.steps(
      function* () {
        const ins = yield* run(
          `INSERT INTO messages (hash, device_id, type, seq, claimed_at, received_at, envelope) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT DO NOTHING`,
          [hash, deviceId, env.type, seq, claimed, now, raw],
        );
        if (ins.changes === 1) return 'new' as const;
        const prior = yield* get<{ hash: string }>('SELECT hash FROM messages WHERE device_id = ? AND type = ? AND seq = ?', [deviceId, env.type, seq]);
        if (prior && prior.hash !== hash) {
          throw new Reject('SEQ_REUSED', `${env.type} seq ${seq} was already received with another content`, {
            kind: 'SEQ_REUSED',
            deviceId,
            subject: `${env.type}#${seq}`,
            message: `${deviceId} signed two different ${env.type} messages with seq ${seq}`,
            detail: { first: prior.hash, second: hash },
          });
        }
        return 'duplicate' as const;
      },
      { savepoint: false },
    );
    if (stored === 'duplicate') {
      this.#count('duplicates', env.type);
      await this.#ack(deviceId, { kind: pb.AckKind.ACK_KIND_RECEIVED, ackedHash: env.hash, ackedType: env.type, storedAtMs: now });
      return { status: 'duplicate', type: env.type, deviceId, hash };
    }
    this.#count('accepted', env.type);
    await this.#o.sink.accepted({ type: env.type, deviceId, hash, body, receivedAt: now } as FleetMessage);
    await this.#ack(deviceId, { kind: pb.AckKind.ACK_KIND_RECEIVED, ackedHash: env.hash, ackedType: env.type, storedAtMs: now });
    return { status: 'accepted', type: env.type, deviceId, hash };
  }

  // ── manifests ─────────────────────────────────────────────────────────────────────────────

  /** `merkle`: the Merkle-root check already under way on a worker, if any. */
  async #manifest(
    deviceId: string,
    env: OpenedEnvelope,
    raw: Buffer,
    m: bwc.v1.ClipManifest,
    seq: number,
    merkle: Promise<boolean> | null,
  ): Promise<IngestResult> {
    const hash = toHex(env.hash);
    const now = this.#o.now();
    if (m.schemaVersion !== MANIFEST_SCHEMA_VERSION) {
      await this.#ack(deviceId, {
        kind: pb.AckKind.ACK_KIND_REJECTED,
        ackedHash: env.hash,
        ackedType: env.type,
        manifestHash: env.hash,
        reason: 'UNSUPPORTED_VERSION',
      });
      throw new Reject('UNSUPPORTED_VERSION', `manifest schema version ${m.schemaVersion} is not ${MANIFEST_SCHEMA_VERSION}`);
    }
    const problems = manifestProblems({ envelope: env, manifest: m }, { merkle: merkle === null });
    if (merkle && !(await merkle) && problems.length === 0) problems.push('merkle_root does not match the chunk hashes');
    if (problems.length > 0) {
      await this.#ack(deviceId, {
        kind: pb.AckKind.ACK_KIND_REJECTED,
        ackedHash: env.hash,
        ackedType: env.type,
        manifestHash: env.hash,
        reason: `MANIFEST_INCONSISTENT: ${problems[0]}`,
      });
      throw new Reject('MANIFEST_INCONSISTENT', problems.join('; '), {
        kind: 'CLIP_REJECTED',
        deviceId,
        subject: hash,
        message: `manifest ${hash.slice(0, 16)}… from ${deviceId} contradicts itself: ${problems[0]}`,
      });
    }
    if (m.chunkSize > this.maxChunkBytes && m.byteLength > 0) {
      await this.#ack(deviceId, {
        kind: pb.AckKind.ACK_KIND_REJECTED,
        ackedHash: env.hash,
        ackedType: env.type,
        manifestHash: env.hash,
        reason: 'CHUNK_SIZE_TOO_LARGE',
      });
      throw new Reject('CHUNK_SIZE_TOO_LARGE', `chunk size ${m.chunkSize} does not fit this gateway's ${this.#o.maxEnvelopeBytes}-byte message limit`);
    }
    const prevHash = toHex(m.prevManifestHash);
    const clipSha = toHex(m.sha256);
    const chunkCount = m.chunkSha256.length;
    const decision = m.decision ? decisionToJson(m.decision) : null;
    // The answer a new manifest gets in the common case (nothing of the clip here yet, every chunk
    // missing), signed while its batch commits: on the crypto worker together with other messages'
    // verifications, not in a round trip of its own after the commit. It is published only once
    // the manifest is durable and only if it is still the answer; otherwise it is dropped unsent
    // (its header seq is skipped, which docks allow: messenger.ts).
    const received = this.#seal(deviceId, {
      kind: pb.AckKind.ACK_KIND_MANIFEST_RECEIVED,
      ackedHash: env.hash,
      ackedType: 'ClipManifest',
      manifestHash: env.hash,
      clipSha256: m.sha256,
      byteLength: m.byteLength,
      missingChunks: [{ start: 0, end: chunkCount }],
    });
    received.catch(() => {}); // awaited below when it is sent; a refusal before then must not leave it unhandled
    const audit = this.#audit;
    const dialect = this.#o.db.dialect;
    const outcome = await this.batcher.steps(
      function* (this: Ingest): Steps<ManifestRow | { inserted: true; contentStored: boolean }> {
        // One read for both questions: is this manifest held already, and what are its chain neighbours?
        // Only the columns the chain check reads; the whole row only for a manifest held already (a resend).
        const near = yield* all<{ manifest_hash: string; device_id: string; seq: number; prev_hash: string }>(
          'SELECT manifest_hash, device_id, seq, prev_hash FROM manifests WHERE manifest_hash = ? OR (device_id = ? AND seq IN (?, ?, ?))',
          [hash, deviceId, seq - 1, seq, seq + 1],
        );
        if (near.some((r) => r.manifest_hash === hash)) {
          const existing = yield* manifestRowStep(hash);
          if (existing) return existing;
        }
        this.#checkNeighbours(near, deviceId, seq, hash, prevHash);
        const ins = yield* run(
          `INSERT INTO manifests (manifest_hash, device_id, seq, prev_hash, key_id, envelope, clip_sha256, byte_length, chunk_size, chunk_count,
           camera_serial, clip_id, officer_id, started_at, decision, decision_json, category, received_at, state)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'RECEIVED') ON CONFLICT DO NOTHING`,
          [
            hash,
            deviceId,
            seq,
            prevHash,
            env.keyId,
            raw,
            clipSha,
            m.byteLength,
            m.chunkSize,
            chunkCount,
            m.cameraSerial,
            m.clipId,
            m.officerId,
            Number(m.startedAtMs) || null,
            decision?.decision ?? null,
            decision ? JSON.stringify(decision) : null,
            decision?.basis?.category || null,
            now,
          ],
        );
        if (ins.changes === 1) {
          if (audit) {
            yield* audit.appendSteps(dialect, {
              actor: `device:${deviceId}`,
              action: 'clip.manifest_stored',
              subject: hash,
              detail: {
                deviceId,
                seq,
                clipId: m.clipId,
                cameraSerial: m.cameraSerial,
                officerId: m.officerId,
                clipSha256: clipSha,
                byteLength: Number(m.byteLength),
                decision: decision?.decision ?? null,
                category: decision?.basis?.category ?? null,
              },
            });
          }
          const blob = m.byteLength === 0 ? null : yield* get('SELECT 1 AS x FROM blobs WHERE sha256 = ? AND deleted_at IS NULL', [clipSha]);
          return { inserted: true as const, contentStored: m.byteLength === 0 || blob !== undefined };
        }
        // Another replica stored this manifest (or this seq) between our check and our insert.
        const row = yield* manifestRowStep(hash);
        if (row) return row;
        yield* this.#checkChain(deviceId, seq, hash, prevHash);
        throw new Reject('STORE_FAILED', `manifest seq ${seq} could not be stored`);
      }.bind(this),
      { savepoint: false },
    );
    if (!('inserted' in outcome)) {
      this.#count('duplicates', 'ClipManifest');
      // A dock resends the manifest of a clip it has finished sending and that is still not
      // VERIFIED: if every chunk is here, finish it now rather than answer "nothing missing" again.
      let row = outcome;
      if (row.state === 'RECEIVED') {
        if (await this.assembly.maybeComplete(hash, env.hash)) return { status: 'duplicate', type: 'ClipManifest', deviceId, hash };
        row = (await manifestRow(this.#o.db, hash)) ?? row; // what it is now (another replica may have finished it)
      }
      await this.#ackManifestState(row, env.hash);
      return { status: 'duplicate', type: 'ClipManifest', deviceId, hash };
    }
    this.#count('accepted', 'ClipManifest');
    this.#manifests.remember({
      hash,
      deviceId,
      state: 'RECEIVED',
      chunkSize: m.chunkSize,
      chunkCount,
      byteLength: m.byteLength,
      clipSha256: clipSha,
      chunkHashes: m.chunkSha256,
      cameraSerial: m.cameraSerial,
      clipId: m.clipId,
    });
    await this.#o.sink.accepted({ type: 'ClipManifest', deviceId, hash, body: m, receivedAt: now });
    if (!outcome.contentStored) {
      // The common case: nothing of the clip is here yet; every chunk is missing.
      await this.#send(deviceId, await received);
      return { status: 'accepted', type: 'ClipManifest', deviceId, hash, verified: false };
    }
    // An empty clip, or content already stored (a clip re-docked elsewhere, a re-signed manifest).
    const verified = await this.assembly.maybeComplete(hash, env.hash);
    if (!verified) {
      const row = await manifestRow(this.#o.db, hash);
      if (row) await this.#ackManifestState(row, env.hash);
    }
    return { status: 'accepted', type: 'ClipManifest', deviceId, hash, verified };
  }

  /** A fork: this seq (or a neighbour's link to it) is already held with another hash. */
  *#checkChain(deviceId: string, seq: number, hash: string, prevHash: string): Steps<void> {
    const rows = yield* all<{ manifest_hash: string; seq: number; prev_hash: string }>(
      'SELECT manifest_hash, seq, prev_hash FROM manifests WHERE device_id = ? AND seq IN (?, ?, ?)',
      [deviceId, seq - 1, seq, seq + 1],
    );
    this.#checkNeighbours(rows, deviceId, seq, hash, prevHash);
  }

  #checkNeighbours(
    rows: readonly { manifest_hash: string; seq: number; prev_hash: string; device_id?: string }[],
    deviceId: string,
    seq: number,
    hash: string,
    prevHash: string,
  ): void {
    rows = rows.filter((r) => r.device_id === undefined || r.device_id === deviceId);
    const at = (s: number) => rows.find((r) => r.seq === s);
    const fork = (why: string, other: string) =>
      new Reject('CHAIN_FORK', why, {
        kind: 'CHAIN_FORK',
        deviceId,
        subject: `seq ${seq}`,
        message: `manifest chain of ${deviceId} forks at seq ${seq}: ${why} (possible tampering or a cloned key)`,
        detail: { seq, received: hash, stored: other },
      });
    const same = at(seq);
    if (same && same.manifest_hash !== hash) throw fork('another manifest holds this seq', same.manifest_hash);
    const prev = at(seq - 1);
    if (seq === 1 && prevHash !== '') throw fork('the first manifest names a previous one', prevHash);
    if (prev && prev.manifest_hash !== prevHash) throw fork(`its previous hash is not that of seq ${seq - 1}`, prev.manifest_hash);
    const next = at(seq + 1);
    if (next && next.prev_hash !== hash) throw fork(`seq ${seq + 1} names another previous manifest`, next.prev_hash);
  }

  /** Acks a manifest with what the gateway holds now: VERIFIED, REJECTED, or the chunks it still needs. */
  async #ackManifestState(row: ManifestRow, ackedHash: Uint8Array): Promise<void> {
    const manifestHash = Buffer.from(row.manifest_hash, 'hex');
    const base = {
      ackedHash,
      ackedType: 'ClipManifest',
      manifestHash,
      clipSha256: Buffer.from(row.clip_sha256, 'hex'),
      byteLength: row.byte_length,
    };
    if (row.state === 'VERIFIED') {
      await this.#ack(row.device_id, { ...base, kind: pb.AckKind.ACK_KIND_VERIFIED, storedAtMs: row.verified_at ?? 0 });
    } else if (row.state === 'REJECTED') {
      await this.#ack(row.device_id, { ...base, kind: pb.AckKind.ACK_KIND_REJECTED, reason: row.reject_reason ?? 'REJECTED' });
    } else {
      await this.#ack(row.device_id, {
        ...base,
        kind: pb.AckKind.ACK_KIND_MANIFEST_RECEIVED,
        missingChunks: await this.assembly.missingChunks(row.manifest_hash, row.chunk_count),
      });
    }
  }

  async #ack(deviceId: string, ack: Omit<bwc.v1.Ack.$Properties, 'header'>): Promise<void> {
    await this.#send(deviceId, await this.#seal(deviceId, ack));
  }

  /** A signed ack, not sent. */
  #seal(deviceId: string, ack: Omit<bwc.v1.Ack.$Properties, 'header'>): Promise<Uint8Array> {
    return this.#o.sealer.sealAck({ ...ack, deviceId }, deviceId);
  }

  async #send(deviceId: string, ack: Uint8Array): Promise<void> {
    await this.#o.sink.publish(deviceTopic(this.#o.fleet, deviceId, 'ack'), ack);
    this.counters.acksSent++;
  }

  // ── background work ───────────────────────────────────────────────────────────────────────

  /**
   * Periodic work (every few seconds on every replica): finish clips whose assembly lease expired,
   * raise chain gaps that outlived the settle window and ask the dock for the missing manifests.
   */
  async sweep(): Promise<{ finished: number; gaps: number; failed: string[] }> {
    const now = this.#o.now();
    const { finished, failed } = await this.assembly.finishStale();
    const gaps = await this.#o.db.all<{ device_id: string; seq: number; below: number | null }>(
      `SELECT m.device_id, m.seq, (SELECT MAX(p.seq) FROM manifests p WHERE p.device_id = m.device_id AND p.seq < m.seq) AS below
         FROM manifests m
        WHERE m.seq > 1 AND m.received_at < ?
          AND NOT EXISTS (SELECT 1 FROM manifests q WHERE q.device_id = m.device_id AND q.seq = m.seq - 1)
        LIMIT 100`,
      [now - this.#o.gapSettleMs],
    );
    // A gap the dock cannot fill (its manifest is gone) would be asked for at every sweep: each
    // is asked again after a pause that doubles, up to an hour (DESIGN §7), and only by the one
    // replica whose update moves its next request time.
    const q = this.#o.db;
    await q.run(
      `DELETE FROM chain_gaps WHERE EXISTS (SELECT 1 FROM manifests m WHERE m.device_id = chain_gaps.device_id AND m.seq = chain_gaps.above_seq - 1)`,
    );
    let asked = 0;
    for (const g of gaps) {
      const from = (g.below === null ? 0 : Number(g.below)) + 1;
      const to = Number(g.seq) - 1;
      await q.run(
        `INSERT INTO chain_gaps (device_id, above_seq, from_seq, to_seq, first_seen_at, requests, next_request_at) VALUES (?, ?, ?, ?, ?, 0, ?)
                   ON CONFLICT (device_id, above_seq) DO UPDATE SET from_seq = excluded.from_seq`,
        [g.device_id, Number(g.seq), from, to, now, now],
      );
      const row = await q.get<{ requests: number; next_request_at: number }>(
        'SELECT requests, next_request_at FROM chain_gaps WHERE device_id = ? AND above_seq = ?',
        [g.device_id, Number(g.seq)],
      );
      if (!row || Number(row.next_request_at) > now) continue;
      const requests = Number(row.requests) + 1;
      const pause = Math.min(GAP_RETRY_MAX_MS, GAP_RETRY_BASE_MS * 2 ** Math.min(requests - 1, 30));
      const mine = await q.run(
        'UPDATE chain_gaps SET requests = ?, last_request_at = ?, next_request_at = ? WHERE device_id = ? AND above_seq = ? AND requests = ?',
        [requests, now, now + pause, g.device_id, Number(g.seq), Number(row.requests)],
      );
      if (mine.changes !== 1) continue; // another replica asked
      asked++;
      await this.#alert({
        kind: 'CHAIN_GAP',
        deviceId: g.device_id,
        subject: `seq ${from}-${to}`,
        detail: { fromSeq: from, toSeq: to, requests },
        message: `manifests ${from}–${to} of ${g.device_id} are missing; asked the dock to resend them (request ${requests})`,
      });
      const cmd = await this.#o.sealer.sealCommand(
        { commandId: `manifest-request-${g.device_id}-${from}-${to}-${requests}`, manifestRequest: { fromSeq: from, toSeq: to } },
        g.device_id,
      );
      await this.#o.sink.publish(deviceTopic(this.#o.fleet, g.device_id, 'cmd'), cmd);
    }
    return { finished, gaps: asked, failed };
  }

  /** The chain gaps open for a device (the device page): since when, how often asked, when next. */
  async chainGaps(deviceId: string): Promise<ChainGap[]> {
    const rows = await this.#o.db.all<{
      from_seq: number;
      to_seq: number;
      first_seen_at: number;
      requests: number;
      last_request_at: number | null;
      next_request_at: number;
    }>('SELECT from_seq, to_seq, first_seen_at, requests, last_request_at, next_request_at FROM chain_gaps WHERE device_id = ? ORDER BY from_seq', [deviceId]);
    return rows.map((r) => ({
      deviceId,
      fromSeq: Number(r.from_seq),
      toSeq: Number(r.to_seq),
      firstSeenAt: Number(r.first_seen_at),
      requests: Number(r.requests),
      lastRequestAt: r.last_request_at === null ? null : Number(r.last_request_at),
      nextRequestAt: Number(r.next_request_at),
    }));
  }
}

/** A gap in a device's manifest chain that the gateway keeps asking the dock to fill. */
export interface ChainGap {
  deviceId: string;
  fromSeq: number;
  toSeq: number;
  firstSeenAt: number;
  requests: number;
  lastRequestAt: number | null;
  nextRequestAt: number;
}

/** The first pause before a gap is asked for again; it doubles after each request, up to an hour. */
export const GAP_RETRY_BASE_MS = 30_000;
export const GAP_RETRY_MAX_MS = 3_600_000;
