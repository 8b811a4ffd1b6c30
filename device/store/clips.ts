/**
 * Custody states of the dock's clips (DESIGN §3), persisted so that a restart resumes every clip
 * where it was:
 *
 *   RECORDING → CLOSED → HASHED → SIGNED → MANIFEST_ACKED → UPLOADED → VERIFIED → RELEASED
 *
 * plus REJECTED (the gateway refused the clip: the dock alerts and keeps it) and FAILED (the dock
 * could not read the clip: kept for an operator, retried on the next ClipReady). Every change is
 * appended to clip_history with its time and detail.
 */
import type { Db } from './sqlite.js';

/** How the dock names a clip in its queues: a camera's clip ids are its own, so the camera comes first. */
export function clipKey(cameraSerial: string, clipId: string): string {
  return `${cameraSerial}/${clipId}`;
}

export const CUSTODY_STATES = ['RECORDING', 'CLOSED', 'HASHED', 'SIGNED', 'MANIFEST_ACKED', 'UPLOADED', 'VERIFIED', 'RELEASED', 'REJECTED', 'FAILED'] as const;
export type CustodyState = (typeof CUSTODY_STATES)[number];

/** States in which the gateway does not yet hold the clip VERIFIED. */
export const NOT_VERIFIED: readonly CustodyState[] = ['RECORDING', 'CLOSED', 'HASHED', 'SIGNED', 'MANIFEST_ACKED', 'UPLOADED', 'REJECTED', 'FAILED'];

export interface ClipRow {
  camera_serial: string;
  clip_id: string;
  state: CustodyState;
  facts: string;
  path: string | null;
  size: number | null;
  storage_label: string | null;
  sha256: string | null;
  byte_length: number | null;
  chunk_size: number | null;
  chunk_count: number | null;
  manifest_hash: string | null;
  manifest_seq: number | null;
  manifest: Buffer | null;
  verified_ack: Buffer | null;
  error: string | null;
  created_at: number;
  updated_at: number;
}

export type ClipUpdate = Partial<Omit<ClipRow, 'camera_serial' | 'clip_id' | 'created_at' | 'updated_at'>>;

const COLUMNS = new Set([
  'state',
  'facts',
  'path',
  'size',
  'storage_label',
  'sha256',
  'byte_length',
  'chunk_size',
  'chunk_count',
  'manifest_hash',
  'manifest_seq',
  'manifest',
  'verified_ack',
  'error',
]);

export class Clips {
  readonly #db: Db;
  readonly #get;
  readonly #insert;
  readonly #history;

  constructor(db: Db) {
    this.#db = db;
    this.#get = db.prepare('select * from clips where camera_serial = ? and clip_id = ?');
    this.#insert = db.prepare(
      'insert into clips (camera_serial, clip_id, state, facts, created_at, updated_at) values (?, ?, ?, ?, ?, ?) on conflict do nothing',
    );
    this.#history = db.prepare('insert into clip_history (camera_serial, clip_id, state, at, detail) values (?, ?, ?, ?, ?)');
  }

  get(cameraSerial: string, clipId: string): ClipRow | undefined {
    return this.#get.get(cameraSerial, clipId) as ClipRow | undefined;
  }

  /** Creates the clip's row if it has none; returns the row either way. */
  ensure(cameraSerial: string, clipId: string, state: CustodyState, facts: object, now: number, detail?: string): ClipRow {
    const r = this.#insert.run(cameraSerial, clipId, state, JSON.stringify(facts), now, now);
    if (r.changes === 1) this.#history.run(cameraSerial, clipId, state, now, detail ?? null);
    return this.get(cameraSerial, clipId)!;
  }

  /** Updates columns; a state change is recorded in the history with `detail`. */
  update(cameraSerial: string, clipId: string, update: ClipUpdate, now: number, detail?: string): void {
    const keys = Object.keys(update).filter((k) => COLUMNS.has(k));
    if (keys.length === 0) return;
    const sql = `update clips set ${keys.map((k) => `${k} = ?`).join(', ')}, updated_at = ? where camera_serial = ? and clip_id = ?`;
    const values = keys.map((k) => {
      const v = (update as Record<string, unknown>)[k];
      return v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v) : v;
    });
    this.#db.transaction(() => {
      this.#db.prepare(sql).run(...values, now, cameraSerial, clipId);
      if (update.state) this.#history.run(cameraSerial, clipId, update.state, now, detail ?? null);
    })();
  }

  inStates(states: readonly CustodyState[]): ClipRow[] {
    return this.#db.prepare(`select * from clips where state in (${states.map(() => '?').join(', ')}) order by created_at`).all(...states) as ClipRow[];
  }

  byManifestHash(hash: string): ClipRow | undefined {
    return this.#db.prepare('select * from clips where manifest_hash = ?').get(hash) as ClipRow | undefined;
  }

  byManifestSeq(from: number, to: number): ClipRow[] {
    return this.#db.prepare('select * from clips where manifest_seq between ? and ? order by manifest_seq').all(from, to) as ClipRow[];
  }

  all(): ClipRow[] {
    return this.#db.prepare('select * from clips order by created_at, camera_serial, clip_id').all() as ClipRow[];
  }

  history(cameraSerial: string, clipId: string): { state: string; at: number; detail: string | null }[] {
    return this.#db.prepare('select state, at, detail from clip_history where camera_serial = ? and clip_id = ? order by id').all(cameraSerial, clipId) as {
      state: string;
      at: number;
      detail: string | null;
    }[];
  }

  countNotVerified(): number {
    return (
      this.#db.prepare(`select count(*) as n from clips where state in (${NOT_VERIFIED.map(() => '?').join(', ')})`).get(...NOT_VERIFIED) as { n: number }
    ).n;
  }

  countByState(): Record<string, number> {
    const rows = this.#db.prepare('select state, count(*) as n from clips group by state').all() as { state: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }
}
