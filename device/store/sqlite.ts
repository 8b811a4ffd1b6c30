/**
 * Opening the dock's SQLite database: WAL, synchronous=FULL (a committed row survives power loss),
 * foreign keys on, and versioned migrations applied in order, each in its own transaction.
 */
import Database from 'better-sqlite3';

export type Db = Database.Database;

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export function openDatabase(path: string, migrations: readonly Migration[]): Db {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  // A dock's databases are small; SQLite's default page cache (2 MB each) is memory a Pi needs more.
  db.pragma('cache_size = -512');
  db.exec('create table if not exists schema_migrations (version integer primary key, name text not null, applied_at integer not null)');
  const applied = new Set((db.prepare('select version from schema_migrations').all() as { version: number }[]).map((r) => r.version));
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('insert into schema_migrations (version, name, applied_at) values (?, ?, ?)').run(m.version, m.name, Date.now());
    })();
  }
  return db;
}
