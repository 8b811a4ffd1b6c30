/**
 * The audit log over HTTP, under `/api/v1/audit` (gateway/README.md "Audit log"), for auditors and
 * records officers:
 *
 * | route | answer |
 * |---|---|
 * | `GET /audit/entries?from=&before=&order=&limit=&subject=&user=&action=&since=&until=` | `AuditSearchResponse`: `{ entries, head, context }` |
 * | `GET /audit/checkpoints?limit=` | `{ checkpoints }`, newest first (CheckpointJson) |
 * | `GET /audit/export` | the whole log as NDJSON: every entry in seq order, then every checkpoint (what `bwc audit verify --file` reads) |
 *
 * Entries are filtered on the gateway: `user` (entries by that user or about them: actor or subject
 * `user:<name>`), `action` (exact, e.g. `auth.sign_in`, or a whole kind without a dot, e.g. `auth`),
 * `subject` (exact: a manifest hash, a device id, `user:<name>`…), `since` and `until` (ms, at ≥
 * since, at < until). `order=asc` (the default) pages up from `from`; `order=desc` pages down,
 * newest first, from below `before`. `context` names the people and clips the page mentions, with
 * users' current roles and clips' camera and start, so the dashboard reads each entry as a sentence
 * (audit-sentences.ts).
 *
 * | `POST /audit/verify` | `bwc audit verify` run here on the database: every entry's hash and link, the head, every stored checkpoint's signature (the gateway's key, or the root through a checkpoint's certificate) |
 */
import { Readable } from 'node:stream';
import { z } from 'zod';
import type { Db, Queryable } from '../store/db.js';
import { canonicalJson } from '../audit/canonical.js';
import { entryFromRow, entryLine, type AuditEntry, type AuditRow } from '../audit/entry.js';
import { actorOf, allEntryRows, checkpointJson, type AuditLog, type CheckpointRow } from '../audit/log.js';
import type { TrustedKey } from '../../proto/ed25519.js';
import { verifyAuditLog, type CheckpointSource } from '../audit/verify.js';
import type { ApiServer } from './http.js';
import { isRole, type Role } from './roles.js';
import type { AuditContextJson, AuditSearchResponse, AuditVerifyResponse } from './types.js';

const READERS: readonly Role[] = ['auditor', 'records_officer'];

const seqNumber = z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const msNumber = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const EntriesQuery = z.object({
  from: seqNumber.default(1),
  before: seqNumber.optional(),
  order: z.enum(['asc', 'desc']).default('asc'),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  subject: z.string().min(1).max(200).optional(),
  user: z.string().trim().min(1).max(64).optional(),
  action: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .regex(/^[a-z0-9_.]+$/, 'an action is lower-case letters, digits, "_" and "."')
    .optional(),
  since: msNumber.optional(),
  until: msNumber.optional(),
});
type EntriesFilter = z.output<typeof EntriesQuery>;

/** `%`, `_` and the escape itself, escaped for LIKE … ESCAPE '!'. */
const likeEscape = (s: string) => s.replace(/[!%_]/g, (c) => `!${c}`);

/** One page of entries matching the filter, in seq order (newest first for `desc`). */
export async function searchEntries(q: Queryable, f: EntriesFilter): Promise<AuditEntry[]> {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (f.order === 'desc') {
    if (f.before !== undefined) {
      where.push('seq < ?');
      args.push(f.before);
    }
  } else {
    where.push('seq >= ?');
    args.push(f.from);
  }
  if (f.subject !== undefined) {
    where.push('subject = ?');
    args.push(f.subject);
  }
  if (f.user !== undefined) {
    where.push('(actor = ? OR subject = ?)');
    args.push(actorOf.user(f.user), actorOf.user(f.user));
  }
  if (f.action !== undefined) {
    if (f.action.includes('.')) {
      where.push('action = ?');
      args.push(f.action);
    } else {
      where.push("action LIKE ? ESCAPE '!'");
      args.push(`${likeEscape(f.action)}.%`);
    }
  }
  if (f.since !== undefined) {
    where.push('at >= ?');
    args.push(f.since);
  }
  if (f.until !== undefined) {
    where.push('at < ?');
    args.push(f.until);
  }
  const sql = `SELECT * FROM audit_log${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq ${f.order === 'desc' ? 'DESC' : 'ASC'} LIMIT ?`;
  return (await q.all<AuditRow>(sql, [...args, f.limit])).map(entryFromRow);
}

const MANIFEST_HASH = /^[0-9a-f]{64}$/;

/** The users and clips a page of entries names (see AuditContextJson). */
async function contextOf(q: Queryable, entries: readonly AuditEntry[]): Promise<AuditContextJson> {
  const names = new Set<string>();
  const hashes = new Set<string>();
  for (const e of entries) {
    for (const s of [e.actor, e.subject]) if (s.startsWith('user:')) names.add(s.slice(5));
    if (MANIFEST_HASH.test(e.subject)) hashes.add(e.subject);
  }
  const context: AuditContextJson = { people: {}, clips: {} };
  for (const batch of batches([...names])) {
    const rows = await q.all<{ username: string; roles: string }>(
      `SELECT username, roles FROM users WHERE username IN (${batch.map(() => '?').join(', ')})`,
      batch,
    );
    for (const r of rows) context.people[r.username] = { roles: r.roles === '' ? [] : r.roles.split(',').filter(isRole) };
  }
  for (const batch of batches([...hashes])) {
    const rows = await q.all<{
      manifest_hash: string;
      device_id: string;
      camera_serial: string;
      clip_id: string;
      started_at: number | null;
    }>(`SELECT manifest_hash, device_id, camera_serial, clip_id, started_at FROM manifests WHERE manifest_hash IN (${batch.map(() => '?').join(', ')})`, batch);
    for (const r of rows) {
      context.clips[r.manifest_hash] = {
        deviceId: r.device_id,
        cameraSerial: r.camera_serial,
        clipId: r.clip_id,
        startedAt: r.started_at === null ? null : Number(r.started_at),
      };
    }
  }
  return context;
}

function batches<T>(items: readonly T[], size = 500): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function registerAuditRoutes(
  server: ApiServer,
  deps: { audit: AuditLog; db: Db; trust: { keys: readonly TrustedKey[]; root: TrustedKey | null } },
): void {
  const { audit, db, trust } = deps;

  server.route({
    method: 'POST',
    path: '/api/v1/audit/verify',
    roles: READERS,
    handle: async () => {
      const started = Date.now();
      const checkpoints: CheckpointSource[] = (await db.all<CheckpointRow>('SELECT * FROM audit_checkpoints ORDER BY id')).map((r) => ({
        source: `database checkpoint #${r.id}`,
        checkpoint: checkpointJson(r),
      }));
      const head = await db.get<{ seq: number; entry_hash: string }>('SELECT seq, entry_hash FROM audit_head WHERE id = 1');
      const entries = (async function* () {
        for await (const r of allEntryRows(db)) yield entryFromRow(r);
      })();
      const report = await verifyAuditLog(entries, checkpoints, trust, {
        head: head ? { seq: Number(head.seq), hash: head.entry_hash } : null,
      });
      return { body: { ...report, checkedAt: started, ms: Date.now() - started } satisfies AuditVerifyResponse };
    },
  });

  server.route({
    method: 'GET',
    path: '/api/v1/audit/entries',
    roles: READERS,
    query: EntriesQuery,
    handle: async ({ query }) => {
      const entries = await searchEntries(db, query);
      return { body: { entries, head: await audit.head(), context: await contextOf(db, entries) } satisfies AuditSearchResponse };
    },
  });

  server.route({
    method: 'GET',
    path: '/api/v1/audit/checkpoints',
    roles: READERS,
    query: z.object({ limit: z.coerce.number().int().min(1).max(10_000).default(100) }),
    handle: async ({ query }) => ({ body: { checkpoints: (await audit.checkpoints({ limit: query.limit })).map(checkpointJson) } }),
  });

  server.route({
    method: 'GET',
    path: '/api/v1/audit/export',
    roles: READERS,
    handle: async () => ({
      stream: Readable.from(
        (async function* () {
          for await (const r of allEntryRows(db)) yield `${entryLine(entryFromRow(r))}\n`;
          for (const c of await db.all<CheckpointRow>('SELECT * FROM audit_checkpoints ORDER BY id')) yield `${canonicalJson(checkpointJson(c))}\n`;
        })(),
      ),
      headers: { 'content-type': 'application/x-ndjson; charset=utf-8', 'content-disposition': 'attachment; filename="audit-log.ndjson"' },
    }),
  });
}
