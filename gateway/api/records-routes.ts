/**
 * Records over HTTP, under `/api/v1/records` (gateway/README.md "Records"):
 *
 * | route | who |
 * |---|---|
 * | `GET /records/schedules`, `GET /records/clips/:hash`, `GET /records/holds`, `GET /records/disposition` (the dry run), `GET /records/dispositions` | records officer, auditor |
 * | `POST /records/holds`, `POST /records/holds/:id/release`, `POST /records/dispositions` (execute a dry run by its hash) | records officer |
 * | `POST /records/clips/:hash/export` (a BagIt package, as a tar stream) | records officer, auditor |
 */
import { z } from 'zod';
import { ID_PATTERN } from '../../proto/topics.js';
import { RecordsError, type Records } from '../records/records.js';
import { bagTarEntries } from '../records/bagit.js';
import { tarStream } from '../records/tar.js';
import { HttpError, type ApiServer } from './http.js';
import type { Role } from './roles.js';
import type { DispositionDryRun, DispositionExecuted, DispositionsResponse, HoldResponse, HoldsResponse } from './types.js';

const OFFICERS: readonly Role[] = ['records_officer'];
const READERS: readonly Role[] = ['records_officer', 'auditor'];

const Id = z.string().regex(ID_PATTERN, 'must be an id ([A-Za-z0-9][A-Za-z0-9._-]{0,63})');
const Hash = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters');
const Time = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

function recordsError(e: unknown): never {
  if (e instanceof RecordsError) {
    const status = { BAD_INPUT: 400, NOT_FOUND: 404, CONFLICT: 409, ELIGIBLE_SET_CHANGED: 409, NOTHING_ELIGIBLE: 409, NO_CONTENT: 409 }[e.code];
    throw new HttpError(status, e.code, e.message);
  }
  throw e;
}

export function registerRecordsRoutes(server: ApiServer, deps: { records: Records }): void {
  const { records } = deps;

  server.route({
    method: 'GET',
    path: '/api/v1/records/schedules',
    roles: READERS,
    handle: async () => ({ body: records.schedules() }),
  });

  server.route({
    method: 'GET',
    path: '/api/v1/records/clips/:hash',
    roles: READERS,
    params: z.strictObject({ hash: Hash }),
    handle: async ({ params }) => {
      const r = await records.record(params.hash);
      if (!r) throw new HttpError(404, 'NOT_FOUND', `no record ${params.hash}`);
      return { body: { record: { ...r.record, recordClass: r.recordClass, ...r.assessment } } };
    },
  });

  server.route({
    method: 'GET',
    path: '/api/v1/records/holds',
    roles: READERS,
    query: z.object({ active: z.enum(['true', 'false']).optional() }),
    handle: async ({ query }) => ({
      body: { holds: await records.holds(query.active ? { active: query.active === 'true' } : {}) } satisfies HoldsResponse,
    }),
  });

  server.route({
    method: 'POST',
    path: '/api/v1/records/holds',
    roles: OFFICERS,
    body: z.strictObject({
      reason: z.string().min(1).max(1000),
      holdId: Id.optional(),
      manifestHash: Hash.optional(),
      deviceId: Id.optional(),
      officerId: Id.optional(),
      cameraSerial: Id.optional(),
      fromAt: Time.optional(),
      toAt: Time.optional(),
    }),
    handle: async ({ body, user }) => ({
      status: 201,
      body: { hold: await records.placeHold(body, user.username).catch(recordsError) } satisfies HoldResponse,
    }),
  });

  server.route({
    method: 'POST',
    path: '/api/v1/records/holds/:id/release',
    roles: OFFICERS,
    params: z.strictObject({ id: Id }),
    body: z.strictObject({ reason: z.string().min(1).max(1000) }),
    handle: async ({ params, body, user }) => ({
      body: { hold: await records.releaseHold(params.id, body.reason, user.username).catch(recordsError) } satisfies HoldResponse,
    }),
  });

  server.route({
    method: 'GET',
    path: '/api/v1/records/disposition',
    roles: READERS,
    handle: async () => ({ body: (await records.dryRun()) satisfies DispositionDryRun }),
  });

  server.route({
    method: 'POST',
    path: '/api/v1/records/dispositions',
    roles: OFFICERS,
    body: z.strictObject({ hash: Hash, reason: z.string().max(1000).default('') }),
    handle: async ({ body, user }) => ({
      status: 201,
      body: (await records.dispose(body.hash, user.username, body.reason).catch(recordsError)) satisfies DispositionExecuted,
    }),
  });

  server.route({
    method: 'GET',
    path: '/api/v1/records/dispositions',
    roles: READERS,
    query: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }),
    handle: async ({ query }) => ({ body: { dispositions: await records.dispositions(query.limit) } satisfies DispositionsResponse }),
  });

  server.route({
    method: 'POST',
    path: '/api/v1/records/clips/:hash/export',
    roles: READERS,
    params: z.strictObject({ hash: Hash }),
    handle: async ({ params, user }) => {
      const bag = await records.exportBag(params.hash, user.username).catch(recordsError);
      return {
        stream: tarStream(bagTarEntries(bag, Date.now())),
        headers: {
          'content-type': 'application/x-tar',
          'content-disposition': `attachment; filename="${bag.name}.tar"`,
          'x-bag-name': bag.name,
        },
      };
    },
  });
}
