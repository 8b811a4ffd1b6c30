/**
 * The dock's own database (SQLite, WAL, synchronous=FULL: a committed row survives a power cut):
 *
 *   outbox       every signed message not yet acked by the gateway, as the exact bytes sent
 *   clips        each clip's custody state and everything needed to resume it after a restart
 *   clip_history the custody timeline (state, time, detail), for `bwc dock status` and audits
 *   seqs         the Header seq per message type (DESIGN §4: per issuer and per type, persisted)
 *   kv           small facts: the manifest chain head, bdSeq, assignments, holds
 *   event_nos    the last camera eventNo applied per camera (BWC-Link: applied once across unplugs)
 *   commands     command ids already applied (a resent command is applied once)
 *
 * Nothing here deletes a clip row: a clip's record outlives its release from the camera.
 */
import { openDatabase, type Db, type Migration } from './sqlite.js';

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'dock outbox, custody and counters',
    sql: `
    create table kv (key text primary key, value text not null);
    create table seqs (type text primary key, seq integer not null);
    create table outbox (
      id integer primary key,
      priority integer not null,
      kind text not null,
      type text not null,
      hash text not null unique,
      envelope blob not null,
      subject text,
      created_at integer not null,
      attempts integer not null default 0,
      sent_at integer
    );
    create index outbox_order on outbox (priority, id);
    create table clips (
      camera_serial text not null,
      clip_id text not null,
      state text not null,
      facts text not null,
      path text,
      size integer,
      storage_label text,
      sha256 text,
      byte_length integer,
      chunk_size integer,
      chunk_count integer,
      manifest_hash text unique,
      manifest_seq integer unique,
      manifest blob,
      verified_ack blob,
      error text,
      created_at integer not null,
      updated_at integer not null,
      primary key (camera_serial, clip_id)
    );
    create index clips_state on clips (state);
    create table clip_history (id integer primary key, camera_serial text not null, clip_id text not null, state text not null, at integer not null, detail text);
    create index clip_history_clip on clip_history (camera_serial, clip_id);
    create table event_nos (camera_serial text primary key, last integer not null);
    create table commands (command_id text primary key, applied_at integer not null, outcome text not null);
  `,
  },
];

export function openDockDb(path: string): Db {
  return openDatabase(path, MIGRATIONS);
}

export type { Db };
