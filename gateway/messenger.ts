/**
 * Everything the gateway signs goes out through here: acks, commands, camera assignments and
 * enrollment responses, each with a Header whose `seq` counts per gateway id and per type
 * (DESIGN §4). Seqs are reserved from the database in blocks, so signing an ack costs no database
 * write; a restart skips the rest of a block, so a gateway's seqs are increasing but may have gaps
 * (a dock never relies on gateway seqs being dense).
 */
import { randomUUID } from 'node:crypto';
import { pb, type bwc } from '../proto/wire.js';
import { sealEnvelope, signedInput, type Signer } from '../proto/envelope.js';
import type { MessageType } from '../proto/wire.js';
import type { Db } from './store/db.js';

const BLOCK = 1000;

export class GatewayMessenger {
  readonly gatewayId: string;
  readonly fleet: string;
  readonly signer: Signer;
  readonly #db: Db;
  readonly #now: () => number;
  readonly #signWith: ((msg: Uint8Array) => Promise<Uint8Array>) | null;
  readonly #blocks = new Map<string, { next: number; end: number; pending: Promise<void> | null }>();

  /** `signWith`: sign elsewhere (a worker thread) with the same key as `signer`. */
  constructor(options: {
    db: Db;
    signer: Signer;
    gatewayId: string;
    fleet: string;
    now?: () => number;
    signWith?: (msg: Uint8Array) => Promise<Uint8Array>;
  }) {
    this.#signWith = options.signWith ?? null;
    this.#db = options.db;
    this.signer = options.signer;
    this.gatewayId = options.gatewayId;
    this.fleet = options.fleet;
    this.#now = options.now ?? Date.now;
  }

  /** The next seq of `type`: at once while the block reserved has room (nearly always), else after reserving one. */
  #nextSeq(type: string): number | Promise<number> {
    const b = this.#blocks.get(type);
    if (b && b.next < b.end) return b.next++;
    return this.#nextSeqReserving(type);
  }

  async #nextSeqReserving(type: string): Promise<number> {
    let b = this.#blocks.get(type);
    if (!b) {
      b = { next: 0, end: 0, pending: null };
      this.#blocks.set(type, b);
    }
    while (b.next >= b.end) {
      b.pending ??= this.#reserve(type, b).finally(() => {
        b.pending = null;
      });
      await b.pending;
    }
    return b.next++;
  }

  async #reserve(type: string, b: { next: number; end: number }): Promise<void> {
    const end = await this.#db.tx(async (q) => {
      await q.run('INSERT INTO gateway_seq (gateway_id, type, seq) VALUES (?, ?, 0) ON CONFLICT DO NOTHING', [this.gatewayId, type]);
      const row = await q.get<{ seq: number }>('UPDATE gateway_seq SET seq = seq + ? WHERE gateway_id = ? AND type = ? RETURNING seq', [
        BLOCK,
        this.gatewayId,
        type,
      ]);
      return Number(row!.seq);
    });
    b.next = end - BLOCK + 1;
    b.end = end + 1;
  }

  async #header(type: string, subjectDevice: string): Promise<bwc.v1.IHeader> {
    const seq = this.#nextSeq(type);
    return { issuer: this.gatewayId, subjectDevice, fleet: this.fleet, seq: typeof seq === 'number' ? seq : await seq, createdAtMs: this.#now() };
  }

  /** As `#header`, without an await when a seq is at hand. */
  #headerNow(type: string, subjectDevice: string): bwc.v1.IHeader | Promise<bwc.v1.IHeader> {
    const seq = this.#nextSeq(type);
    if (typeof seq !== 'number') return this.#header(type, subjectDevice);
    return { issuer: this.gatewayId, subjectDevice, fleet: this.fleet, seq, createdAtMs: this.#now() };
  }

  async #seal(type: MessageType, body: Uint8Array): Promise<Uint8Array> {
    if (!this.#signWith) return sealEnvelope(type, body, this.signer).bytes;
    const sig = await this.#signWith(signedInput(type, body));
    return pb.Envelope.encode({ type, body, keyId: this.signer.keyId, sig }).finish();
  }

  async sealAck(ack: Omit<bwc.v1.Ack.$Properties, 'header'>, subjectDevice: string): Promise<Uint8Array> {
    let header = this.#headerNow('Ack', subjectDevice);
    if ('then' in header) header = await header;
    const body = pb.Ack.encode({ ...ack, header }).finish();
    return this.#seal('Ack', body);
  }

  async sealCommand(cmd: Omit<bwc.v1.Command.$Properties, 'header'>, subjectDevice: string): Promise<Uint8Array> {
    const body = pb.Command.encode({ commandId: randomUUID(), ...cmd, header: await this.#header('Command', subjectDevice) }).finish();
    return this.#seal('Command', body);
  }

  /** A Command carrying the camera assignments (its own CameraAssignments header inside). */
  async sealCameraAssignments(assignments: bwc.v1.ICameraAssignment[], subjectDevice: string): Promise<Uint8Array> {
    return this.sealCommand({ cameraAssignments: { header: await this.#header('CameraAssignments', subjectDevice), assignments } }, subjectDevice);
  }

  /** The camera assignments as an Envelope of their own (what an EnrollmentResponse carries). */
  async sealCameraAssignmentsEnvelope(assignments: bwc.v1.ICameraAssignment[], subjectDevice: string): Promise<Uint8Array> {
    const body = pb.CameraAssignments.encode({ header: await this.#header('CameraAssignments', subjectDevice), assignments }).finish();
    return this.#seal('CameraAssignments', body);
  }

  /** The answer to an EnrollmentRequest: header issuer = this gateway, subject = the device enrolled. */
  async sealEnrollmentResponse(response: Omit<bwc.v1.EnrollmentResponse.$Properties, 'header'>, subjectDevice: string): Promise<Uint8Array> {
    const body = pb.EnrollmentResponse.encode({ ...response, header: await this.#header('EnrollmentResponse', subjectDevice) }).finish();
    return this.#seal('EnrollmentResponse', body);
  }
}
