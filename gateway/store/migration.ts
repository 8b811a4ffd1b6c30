/**
 * One step of the gateway schema (gateway/store/schema.ts holds the ordered list). A file of its
 * own so the parts that contribute tables (gateway/authz/schema.ts) and the list that orders them
 * import it without importing each other.
 */
import type { Queryable } from './db.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  /** Runs after `sql`, in the same transaction: a backfill that SQL alone cannot write portably. */
  after?: (q: Queryable) => Promise<void>;
}
