/**
 * The outbox (DESIGN §4, "MQTT"): the queue of signed messages on their way to the gateway. It
 * stores the exact envelope bytes; a retry resends those bytes, nothing is re-signed. A row leaves
 * only when the gateway's signed ack names the SHA-256 of its signed input (`ack(hash)`), never on
 * an MQTT PUBACK: delivery is at-least-once and the gateway is idempotent.
 *
 * Order: by priority, then by age. Births first, then events and alerts, then manifests, then
 * statuses and logs; clip chunks are not in the outbox at all (they are read from the clip and
 * sent only while nothing here waits).
 */
import type { Db } from './sqlite.js';

export const PRIORITY = { birth: 0, event: 1, manifest: 2, death: 3, status: 4, log: 5 } as const;
export type OutboxKind = keyof typeof PRIORITY;

export interface OutboxRow {
  id: number;
  priority: number;
  kind: OutboxKind;
  type: string;
  hash: string;
  envelope: Buffer;
  subject: string | null;
  created_at: number;
  attempts: number;
  sent_at: number | null;
}

export class Outbox {
  readonly #db: Db;
  readonly #stmts;

  constructor(db: Db) {
    this.#db = db;
    this.#stmts = {
      add: db.prepare(
        'insert into outbox (priority, kind, type, hash, envelope, subject, created_at) values (?, ?, ?, ?, ?, ?, ?) on conflict (hash) do nothing',
      ),
      due: db.prepare('select * from outbox where sent_at is null or sent_at <= ? order by priority, id limit ?'),
      sent: db.prepare('update outbox set sent_at = ?, attempts = attempts + 1 where id = ?'),
      byHash: db.prepare('select * from outbox where hash = ?'),
      del: db.prepare('delete from outbox where hash = ?'),
      depth: db.prepare('select count(*) as n, coalesce(sum(length(envelope)), 0) as bytes from outbox'),
      inFlight: db.prepare('select count(*) as n from outbox where sent_at is not null and sent_at > ?'),
      unsend: db.prepare('update outbox set sent_at = null'),
      dropUnsent: db.prepare('delete from outbox where kind = ? and sent_at is null'),
      dropKind: db.prepare('delete from outbox where kind = ?'),
    };
  }

  /** Queues a signed message. Idempotent by hash. */
  add(m: { kind: OutboxKind; type: string; hash: string; envelope: Uint8Array; subject?: string | null }, now: number): void {
    this.#stmts.add.run(PRIORITY[m.kind], m.kind, m.type, m.hash, Buffer.from(m.envelope), m.subject ?? null, now);
  }

  /** Drops queued, never-sent messages of a kind that a newer one supersedes (a status, a birth). */
  dropUnsent(kind: OutboxKind): number {
    return this.#stmts.dropUnsent.run(kind).changes;
  }

  /** Drops every queued message of a kind, sent or not: a Birth of an earlier connection says nothing a new one does not. */
  supersede(kind: 'birth'): number {
    return this.#stmts.dropKind.run(kind).changes;
  }

  /** Messages to send now: never sent, or sent at or before `resendBefore` and still unacked. */
  due(resendBefore: number, limit: number): OutboxRow[] {
    return this.#stmts.due.all(resendBefore, limit) as OutboxRow[];
  }

  markSent(id: number, now: number): void {
    this.#stmts.sent.run(now, id);
  }

  /** Everything unacked is due again (a new connection: nothing in flight survives it). */
  resendAll(): void {
    this.#stmts.unsend.run();
  }

  get(hash: string): OutboxRow | undefined {
    return this.#stmts.byHash.get(hash) as OutboxRow | undefined;
  }

  /** The gateway acked this message: it leaves the outbox. Returns the row it was. */
  ack(hash: string): OutboxRow | undefined {
    const row = this.get(hash);
    if (row) this.#stmts.del.run(hash);
    return row;
  }

  inFlight(sentAfter: number): number {
    return (this.#stmts.inFlight.get(sentAfter) as { n: number }).n;
  }

  depth(): { messages: number; bytes: number } {
    const r = this.#stmts.depth.get() as { n: number; bytes: number };
    return { messages: r.n, bytes: r.bytes };
  }

  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn)();
  }
}
