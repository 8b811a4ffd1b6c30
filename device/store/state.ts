/**
 * Small persisted facts of the dock: Header seqs per message type, the manifest chain head, the
 * MQTT session counter (bdSeq), the last camera eventNo per camera, and command ids applied.
 */
import type { Db } from './sqlite.js';

export class DockState {
  readonly #db: Db;
  readonly #stmts;

  constructor(db: Db) {
    this.#db = db;
    this.#stmts = {
      get: db.prepare('select value from kv where key = ?'),
      set: db.prepare('insert into kv (key, value) values (?, ?) on conflict (key) do update set value = excluded.value'),
      del: db.prepare('delete from kv where key = ?'),
      seq: db.prepare('insert into seqs (type, seq) values (?, 1) on conflict (type) do update set seq = seq + 1 returning seq'),
      eventNo: db.prepare('select last from event_nos where camera_serial = ?'),
      setEventNo: db.prepare(
        'insert into event_nos (camera_serial, last) values (?, ?) on conflict (camera_serial) do update set last = max(last, excluded.last)',
      ),
      command: db.prepare('select outcome from commands where command_id = ?'),
      setCommand: db.prepare('insert into commands (command_id, applied_at, outcome) values (?, ?, ?) on conflict do nothing'),
    };
  }

  get(key: string): string | undefined {
    return (this.#stmts.get.get(key) as { value: string } | undefined)?.value;
  }

  set(key: string, value: string): void {
    this.#stmts.set.run(key, value);
  }

  delete(key: string): void {
    this.#stmts.del.run(key);
  }

  json<T>(key: string): T | undefined {
    const v = this.get(key);
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }

  setJson(key: string, value: unknown): void {
    this.set(key, JSON.stringify(value));
  }

  /** The next Header seq for messages of `type` (1, 2, 3…), persisted before it is used. */
  nextSeq(type: string): number {
    return Number((this.#stmts.seq.get(type) as { seq: number | bigint }).seq);
  }

  /** The camera eventNo store the camera link uses (applied once across unplugs and restarts). */
  eventNos(): { last(cameraSerial: string): number; record(cameraSerial: string, eventNo: number): void } {
    return {
      last: (serial) => (this.#stmts.eventNo.get(serial) as { last: number } | undefined)?.last ?? 0,
      record: (serial, n) => void this.#stmts.setEventNo.run(serial, n),
    };
  }

  commandOutcome(commandId: string): string | undefined {
    return (this.#stmts.command.get(commandId) as { outcome: string } | undefined)?.outcome;
  }

  recordCommand(commandId: string, outcome: string, now: number): void {
    this.#stmts.setCommand.run(commandId, now, outcome);
  }

  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn)();
  }
}
