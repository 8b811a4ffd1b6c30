/**
 * Opens the gateway database named in the configuration and brings its schema up to date:
 * a `postgres://` or `postgresql://` URL is PostgreSQL; anything else is a SQLite file path
 * (`sqlite:` in front is allowed), whose directory is created. A failure is one DbError line
 * that names the target, never its password.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DbError, type Db } from './db.js';
import { migrate } from './migrate.js';
import { describePostgresUrl, openPostgres } from './postgres.js';
import { openSqlite, type SqliteOptions } from './sqlite.js';

const POSTGRES_URL = /^postgres(ql)?:\/\//i;

/** `sqlite` applies to a SQLite file (sqlite.ts SqliteOptions). */
export async function openGatewayDb(target: string, options: { sqlite?: SqliteOptions } = {}): Promise<Db> {
  const postgres = POSTGRES_URL.test(target);
  const path = target.replace(/^sqlite:/, '');
  const named = postgres ? safeDescription(target) : `sqlite:${path === ':memory:' ? path : resolve(path)}`;
  let db: Db | undefined;
  try {
    if (postgres) {
      // Every audited change updates audit_head: a retried transaction queues on it instead of racing.
      db = await openPostgres(target, { lockOnRetry: ['audit_head'] });
    } else {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      db = openSqlite(path, options.sqlite);
    }
    await migrate(db);
    return db;
  } catch (err) {
    await db?.close().catch(() => undefined); // the error that stopped the open is the one to report
    const message = oneLine(withoutPassword((err as Error).message, target));
    throw new DbError(message.includes(named) ? message : `cannot open the gateway database ${named}: ${message}`, { cause: err });
  }
}

function safeDescription(url: string): string {
  try {
    return describePostgresUrl(url);
  } catch {
    return 'postgres://(invalid URL)';
  }
}

/** Masks the URL's password, should a driver message ever repeat it. */
function withoutPassword(message: string, target: string): string {
  let password = '';
  try {
    password = decodeURIComponent(new URL(target).password);
  } catch {
    // not a URL: a file path carries no password
  }
  return password ? message.split(password).join('***') : message;
}

function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}
