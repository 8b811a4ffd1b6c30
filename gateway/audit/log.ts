/**
 * The audit log (DESIGN §6): append-only and hash-linked, each entry written in the same
 * transaction as the state change it records, and signed checkpoints (entry count and head hash)
 * every `checkpointEvery` entries and at least every `checkpointIntervalMs`.
 *
 * The interface other modules use (gateway/README.md "Audit log"):
 *
 *   await audit.append(q, { actor: `user:${user.username}`, action: 'authz.approve', subject: requestId, detail: { … } });
 *
 * `q` is the transaction's Queryable, so the entry commits or rolls back with the change. Given the
 * Db itself, `append` runs its own transaction. `detail` is plain JSON (no Buffers: hex them).
 *
 * Appends are serialized by one lock row, `audit_head`: on SQLite the transaction holds the whole
 * database; on PostgreSQL the row is read `FOR UPDATE`, so replicas queue on it, and a
 * transaction whose snapshot predates another replica's append fails with a serialization error
 * that Db.tx retries, locking `audit_head` before its snapshot (`lockOnRetry` in store/open.ts),
 * so it cannot lose again. The entry's seq is the primary key, so a fork cannot even be stored.
 */
import { mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pb } from '../../proto/wire.js';
import { sealEnvelope, type Signer } from '../../proto/envelope.js';
import { get, run, runSteps, type Db, type Queryable, type Steps } from '../store/db.js';
import { canonicalJson, type JsonObject } from './canonical.js';
import { entryFromRow, entryHashFromDetailText, GENESIS_HASH, type AuditEntry, type AuditRow, type CheckpointJson } from './entry.js';

export interface AuditEntryInput {
  actor: string;
  action: string;
  subject?: string | null;
  detail?: Record<string, unknown>;
}

/** What a module needs to record its state changes. */
export interface AuditAppender {
  append(q: Queryable | Db, e: AuditEntryInput): Promise<AuditEntry>;
  /**
   * The same append as statements (store/db.ts `Steps`), for work written as steps: run inside
   * the caller's transaction with `yield*`. `dialect` is the transaction's engine.
   */
  appendSteps(dialect: Queryable['dialect'], e: AuditEntryInput): Steps<AuditEntry>;
}

/** Actor strings (gateway/README.md "Audit log"). */
export const actorOf = {
  user: (username: string) => `user:${username}`,
  device: (deviceId: string) => `device:${deviceId}`,
  gateway: (gatewayId: string) => `gateway:${gatewayId}`,
  /** `by` as the fleet stores it: a username, or already `device:…` / `token:…`. */
  by: (by: string) => (by.includes(':') ? by : `user:${by}`),
};

export interface AuditLogOptions {
  db: Db;
  gatewayId: string;
  fleet: string;
  now?: () => number;
  /** The gateway key; without it no checkpoint is signed (a running gateway's sweep signs later). */
  signer?: Signer | null;
  /** This gateway's root-signed certificate, stored with each checkpoint it signs. */
  certificate?: Uint8Array | null;
  /** A checkpoint when the entry count reaches a multiple of this. */
  checkpointEvery?: number;
  /** And at least this often (the sweep). */
  checkpointIntervalMs?: number;
}

export interface CheckpointRow {
  id: number;
  entry_count: number;
  head_hash: string;
  at: number;
  gateway_id: string;
  key_id: string;
  envelope: Buffer;
  certificate: Buffer | null;
}

export function checkpointJson(r: CheckpointRow): CheckpointJson {
  return {
    type: 'checkpoint',
    entryCount: Number(r.entry_count),
    headHash: r.head_hash,
    at: Number(r.at),
    gatewayId: r.gateway_id,
    keyId: r.key_id,
    envelope: Buffer.from(r.envelope).toString('base64'),
    certificate: r.certificate ? Buffer.from(r.certificate).toString('base64') : null,
  };
}

const isDb = (q: Queryable | Db): q is Db => typeof (q as Partial<Db>).tx === 'function';

export class AuditLog implements AuditAppender {
  readonly #db: Db;
  readonly #now: () => number;
  readonly #signer: Signer | null;
  readonly #certificate: Buffer | null;
  readonly gatewayId: string;
  readonly fleet: string;
  readonly checkpointEvery: number;
  readonly checkpointIntervalMs: number;
  /** `gateway:<id>`: the actor of what the gateway does on its own. */
  readonly actor: string;
  #exportedUpTo = 0;

  constructor(o: AuditLogOptions) {
    this.#db = o.db;
    this.#now = o.now ?? Date.now;
    this.#signer = o.signer ?? null;
    this.#certificate = o.certificate ? Buffer.from(o.certificate) : null;
    this.gatewayId = o.gatewayId;
    this.fleet = o.fleet;
    this.checkpointEvery = o.checkpointEvery ?? 1000;
    this.checkpointIntervalMs = o.checkpointIntervalMs ?? 3600_000;
    this.actor = actorOf.gateway(o.gatewayId);
    if (!(Number.isSafeInteger(this.checkpointEvery) && this.checkpointEvery >= 1)) throw new RangeError('checkpointEvery must be a positive integer');
  }

  /** Appends one entry inside `q`'s transaction (or a transaction of its own when given the Db). */
  async append(q: Queryable | Db, e: AuditEntryInput): Promise<AuditEntry> {
    if (!e.actor || !e.action) throw new RangeError('an audit entry needs an actor and an action');
    // Serialized once, before any write: a detail that is not plain JSON is the caller's bug.
    const detailText = canonicalJson(e.detail ?? {});
    if (isDb(q)) return this.#standalone(q, (t) => runSteps(t, this.#append(t.dialect, e, detailText)));
    return runSteps(q, this.#append(q.dialect, e, detailText));
  }

  appendSteps(dialect: Queryable['dialect'], e: AuditEntryInput): Steps<AuditEntry> {
    if (!e.actor || !e.action) throw new RangeError('an audit entry needs an actor and an action');
    return this.#append(dialect, e, canonicalJson(e.detail ?? {}));
  }

  /**
   * A transaction of the audit log's own. On PostgreSQL it runs READ COMMITTED, so after waiting
   * for the lock row it reads the head another replica just wrote instead of failing on it.
   */
  async #standalone<T>(db: Db, fn: (q: Queryable) => Promise<T>): Promise<T> {
    return db.tx(async (q) => {
      if (q.dialect === 'postgres') await q.run('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
      return fn(q);
    });
  }

  *#append(dialect: Queryable['dialect'], e: AuditEntryInput, detailText: string): Steps<AuditEntry> {
    const head = yield* get<{ seq: number; entry_hash: string }>(
      `SELECT seq, entry_hash FROM audit_head WHERE id = 1${dialect === 'postgres' ? ' FOR UPDATE' : ''}`,
    );
    if (!head) throw new Error('audit_head is missing: the database was not migrated (schema version 3)');
    const entry = {
      seq: Number(head.seq) + 1,
      at: this.#now(),
      actor: e.actor,
      action: e.action,
      subject: e.subject ?? '',
      prev: head.entry_hash,
    };
    const hash = entryHashFromDetailText(entry, detailText);
    yield* run('INSERT INTO audit_log (seq, at, actor, action, subject, detail_json, prev_hash, entry_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
      entry.seq,
      entry.at,
      entry.actor,
      entry.action,
      entry.subject,
      detailText,
      entry.prev,
      hash,
    ]);
    let detail: JsonObject | null = null;
    const full: AuditEntry = {
      ...entry,
      hash,
      get detail() {
        return (detail ??= JSON.parse(detailText) as JsonObject);
      },
    };
    yield* run('UPDATE audit_head SET seq = ?, entry_hash = ? WHERE id = 1', [full.seq, full.hash]);
    if (this.#signer && full.seq % this.checkpointEvery === 0) yield* this.#sign(full.seq, full.hash, full.at);
    return full;
  }

  *#sign(count: number, headHash: string, at: number): Steps<CheckpointRow> {
    const signer = this.#signer!;
    yield* run('INSERT INTO gateway_seq (gateway_id, type, seq) VALUES (?, ?, 0) ON CONFLICT DO NOTHING', [this.gatewayId, 'AuditCheckpoint']);
    const s = yield* get<{ seq: number }>('UPDATE gateway_seq SET seq = seq + 1 WHERE gateway_id = ? AND type = ? RETURNING seq', [
      this.gatewayId,
      'AuditCheckpoint',
    ]);
    const body = pb.AuditCheckpoint.encode({
      header: { issuer: this.gatewayId, fleet: this.fleet, seq: Number(s!.seq), createdAtMs: at },
      entryCount: count,
      headHash: Buffer.from(headHash, 'hex'),
      atMs: at,
    }).finish();
    const envelope = Buffer.from(sealEnvelope('AuditCheckpoint', body, signer).bytes);
    const row = yield* get<CheckpointRow>(
      `INSERT INTO audit_checkpoints (entry_count, head_hash, at, gateway_id, key_id, envelope, certificate) VALUES (?, ?, ?, ?, ?, ?, ?)
       RETURNING *`,
      [count, headHash, at, this.gatewayId, signer.keyId, envelope, this.#certificate],
    );
    return row!;
  }

  /** Signs a checkpoint of the current head now (null without a signer). */
  async checkpoint(): Promise<CheckpointRow | null> {
    if (!this.#signer) return null;
    return this.#standalone(this.#db, async (q) => {
      const head = (await q.get<{ seq: number; entry_hash: string }>(
        `SELECT seq, entry_hash FROM audit_head WHERE id = 1${q.dialect === 'postgres' ? ' FOR UPDATE' : ''}`,
      ))!;
      return runSteps(q, this.#sign(Number(head.seq), head.entry_hash, this.#now()));
    });
  }

  /**
   * Periodic work: a checkpoint when the newest is older than the interval, or when
   * `checkpointEvery` entries were appended without one (by a process without the key); then
   * writes checkpoints not yet exported to `exportDir`, if given.
   */
  async sweep(exportDir?: string): Promise<{ signed: boolean; exported: number }> {
    let signed = false;
    if (this.#signer) {
      const last = await this.#db.get<{ entry_count: number; at: number }>('SELECT entry_count, at FROM audit_checkpoints ORDER BY id DESC LIMIT 1');
      const head = await this.#db.get<{ seq: number }>('SELECT seq FROM audit_head WHERE id = 1');
      const now = this.#now();
      if (!last || now - Number(last.at) >= this.checkpointIntervalMs || Number(head?.seq ?? 0) - Number(last.entry_count) >= this.checkpointEvery) {
        await this.checkpoint();
        signed = true;
      }
    }
    const exported = exportDir ? await this.exportCheckpoints(exportDir) : 0;
    return { signed, exported };
  }

  /**
   * Writes each stored checkpoint not yet written to `dir` as `{entryCount}-{id}.checkpoint.json`
   * (CheckpointJson), through a temporary name: copies outside the database, so deleting entries
   * and checkpoints from the database together is still caught (`bwc audit verify` reads them).
   */
  async exportCheckpoints(dir: string): Promise<number> {
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    if (this.#exportedUpTo === 0) {
      for (const f of readdirSync(dir)) {
        const m = /^\d+-(\d+)\.checkpoint\.json$/.exec(f);
        if (m) this.#exportedUpTo = Math.max(this.#exportedUpTo, Number(m[1]));
      }
    }
    const rows = await this.#db.all<CheckpointRow>('SELECT * FROM audit_checkpoints WHERE id > ? ORDER BY id LIMIT 1000', [this.#exportedUpTo]);
    for (const r of rows) {
      const name = `${String(r.entry_count).padStart(12, '0')}-${r.id}.checkpoint.json`;
      const tmp = join(dir, `.${name}.tmp`);
      writeFileSync(tmp, `${JSON.stringify(checkpointJson(r))}\n`, { mode: 0o640 });
      renameSync(tmp, join(dir, name));
      this.#exportedUpTo = Math.max(this.#exportedUpTo, Number(r.id));
    }
    return rows.length;
  }

  async head(q: Queryable = this.#db): Promise<{ seq: number; hash: string }> {
    const h = await q.get<{ seq: number; entry_hash: string }>('SELECT seq, entry_hash FROM audit_head WHERE id = 1');
    return { seq: Number(h?.seq ?? 0), hash: h?.entry_hash ?? GENESIS_HASH };
  }

  /** Entries in seq order from `fromSeq`, optionally only those about `subject`. */
  async entries(o: { fromSeq?: number; limit?: number; subject?: string } = {}, q: Queryable = this.#db): Promise<AuditEntry[]> {
    const limit = Math.min(Math.max(o.limit ?? 1000, 1), 10_000);
    const rows =
      o.subject !== undefined
        ? await q.all<AuditRow>('SELECT * FROM audit_log WHERE subject = ? AND seq >= ? ORDER BY seq LIMIT ?', [o.subject, o.fromSeq ?? 1, limit])
        : await q.all<AuditRow>('SELECT * FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?', [o.fromSeq ?? 1, limit]);
    return rows.map(entryFromRow);
  }

  async checkpoints(o: { limit?: number } = {}, q: Queryable = this.#db): Promise<CheckpointRow[]> {
    return q.all<CheckpointRow>('SELECT * FROM audit_checkpoints ORDER BY id DESC LIMIT ?', [Math.min(Math.max(o.limit ?? 100, 1), 10_000)]);
  }
}

/** Every entry in seq order, a page at a time (for verification and exports of any size). */
export async function* allEntryRows(q: Queryable, pageSize = 5000): AsyncGenerator<AuditRow> {
  let after = -Infinity;
  for (;;) {
    const rows =
      after === -Infinity
        ? await q.all<AuditRow>('SELECT * FROM audit_log ORDER BY seq LIMIT ?', [pageSize])
        : await q.all<AuditRow>('SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?', [after, pageSize]);
    for (const r of rows) yield r;
    if (rows.length < pageSize) return;
    after = Number(rows.at(-1)!.seq);
  }
}
