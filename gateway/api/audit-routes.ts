/**
 * The audit log over HTTP, under `/api/v1/audit` (gateway/README.md "Audit log"), for auditors and
 * records officers:
 *
 * | route | answer |
 * |---|---|
 * | `GET /audit/entries?from=&limit=&subject=` | `{ entries, head }` |
 * | `GET /audit/checkpoints?limit=` | `{ checkpoints }`, newest first (CheckpointJson) |
 * | `GET /audit/export` | the whole log as NDJSON: every entry in seq order, then every checkpoint (what `bwc audit verify --file` reads) |
 * | `POST /audit/verify` | `bwc audit verify` run here on the database: every entry's hash and link, the head, every stored checkpoint's signature (the gateway's key, or the root through a checkpoint's certificate) |
 */
import { Readable } from 'node:stream';
import { z } from 'zod';
import type { Db } from '../store/db.js';
import { canonicalJson } from '../audit/canonical.js';
import { entryFromRow, entryLine } from '../audit/entry.js';
import { allEntryRows, checkpointJson, type AuditLog, type CheckpointRow } from '../audit/log.js';
import type { TrustedKey } from '../../proto/ed25519.js';
import { verifyAuditLog, type CheckpointSource } from '../audit/verify.js';
import type { ApiServer } from './http.js';
import type { Role } from './roles.js';
import type { AuditVerifyResponse } from './types.js';

const READERS: readonly Role[] = ['auditor', 'records_officer'];

export function registerAuditRoutes(server: ApiServer, deps: { audit: AuditLog; db: Db; trust: { keys: readonly TrustedKey[]; root: TrustedKey | null } }): void {
  const { audit, db, trust } = deps;

  server.route({
    method: 'POST', path: '/api/v1/audit/verify', roles: READERS,
    handle: async () => {
      const started = Date.now();
      const checkpoints: CheckpointSource[] = (await db.all<CheckpointRow>('SELECT * FROM audit_checkpoints ORDER BY id'))
        .map((r) => ({ source: `database checkpoint #${r.id}`, checkpoint: checkpointJson(r) }));
      const head = await db.get<{ seq: number; entry_hash: string }>('SELECT seq, entry_hash FROM audit_head WHERE id = 1');
      const entries = (async function* () { for await (const r of allEntryRows(db)) yield entryFromRow(r); })();
      const report = await verifyAuditLog(entries, checkpoints, trust, { head: head ? { seq: Number(head.seq), hash: head.entry_hash } : null });
      return { body: { ...report, checkedAt: started, ms: Date.now() - started } satisfies AuditVerifyResponse };
    },
  });

  server.route({
    method: 'GET', path: '/api/v1/audit/entries', roles: READERS,
    query: z.object({
      from: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).default(1),
      limit: z.coerce.number().int().min(1).max(10_000).default(1000),
      subject: z.string().min(1).max(200).optional(),
    }),
    handle: async ({ query }) => ({
      body: { entries: await audit.entries({ fromSeq: query.from, limit: query.limit, ...(query.subject ? { subject: query.subject } : {}) }), head: await audit.head() },
    }),
  });

  server.route({
    method: 'GET', path: '/api/v1/audit/checkpoints', roles: READERS,
    query: z.object({ limit: z.coerce.number().int().min(1).max(10_000).default(100) }),
    handle: async ({ query }) => ({ body: { checkpoints: (await audit.checkpoints({ limit: query.limit })).map(checkpointJson) } }),
  });

  server.route({
    method: 'GET', path: '/api/v1/audit/export', roles: READERS,
    handle: async () => ({
      stream: Readable.from((async function* () {
        for await (const r of allEntryRows(db)) yield `${entryLine(entryFromRow(r))}\n`;
        for (const c of await db.all<CheckpointRow>('SELECT * FROM audit_checkpoints ORDER BY id')) yield `${canonicalJson(checkpointJson(c))}\n`;
      })()),
      headers: { 'content-type': 'application/x-ndjson; charset=utf-8', 'content-disposition': 'attachment; filename="audit-log.ndjson"' },
    }),
  });
}
