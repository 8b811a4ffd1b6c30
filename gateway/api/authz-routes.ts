/**
 * Recording authorizations over HTTP, under `/api/v1/authz` (1061.2 §5; gateway/README.md):
 *
 * | route | who |
 * |---|---|
 * | `POST /authz/requests` (every §5.2 field) | requester — any officer with a person id |
 * | `GET /authz/requests[?state=]`, `GET /authz/requests/:id` | the requester (own), an FRO (its offices), an HRO, the Director, records officers, auditors |
 * | `POST /authz/requests/:id/approve` `{ factorsConsidered, note }`, `POST /authz/requests/:id/deny` `{ reason }` | approver_fro (its offices), approver_hro, director; never on one's own request unless director |
 * | `POST /authz/requests/:id/revoke` `{ reason }` | the approver, the same role (an FRO within its offices), or the director |
 * | `GET /policy/bundle` (the bundle in force, and its source with the version bumped: the next draft) | any signed-in user |
 * | `POST /policy/bundles` `{ envelope }` (a root-signed bundle of a higher version: put in force, sent to every dock) | director |
 *
 * The roles are checked here and again, with the request's office and requester, in the workflow.
 */
import { z } from 'zod';
import { AuthzError, mayRead, requestJson, type Authorizations, type RequestRow } from '../authz/workflow.js';
import type { PolicyBundleResponse, PublishBundleResponse, RequestState } from './types.js';
import type { PolicyBundles } from '../authz/bundles.js';
import { bundleToSource } from '../../proto/policy.js';
import { HttpError, type ApiServer } from './http.js';
import type { Role } from './roles.js';

const FILERS: readonly Role[] = ['requester', 'approver_fro', 'approver_hro', 'director'];
const DECIDERS: readonly Role[] = ['approver_fro', 'approver_hro', 'director'];
/** Who puts a root-signed bundle in force (the signing itself happens offline, with the root key). */
const PUBLISHERS: readonly Role[] = ['director'];
const READERS: readonly Role[] = ['requester', 'approver_fro', 'approver_hro', 'director', 'records_officer', 'auditor', 'supervisor'];

const IdParam = z.strictObject({ id: z.string().regex(/^AR-[0-9]{8}-[0-9a-f]{8}$/, 'must be a request id (AR-YYYYMMDD-xxxxxxxx)') });

function authzError(e: unknown): never {
  if (e instanceof AuthzError) {
    const status = {
      BAD_INPUT: 400,
      NOT_FOUND: 404,
      FORBIDDEN: 403,
      SELF_DECISION: 403,
      OUT_OF_SCOPE: 403,
      CONFLICT: 409,
      NO_ISSUER_KEY: 409,
    }[e.code];
    if (e.problems && status === 400) throw HttpError.invalid(e.code, e.problems);
    throw new HttpError(status, e.code, e.message);
  }
  throw e;
}

export function registerAuthzRoutes(
  server: ApiServer,
  deps: {
    authz: Authorizations;
    bundles: PolicyBundles;
    /** A request was filed or decided (the dashboard's live feed). */
    changed?: (id: string, state: RequestState) => void;
  },
): void {
  const { authz, bundles } = deps;
  const changed = (r: RequestRow) => deps.changed?.(r.id, r.state);

  server.route({
    method: 'GET',
    path: '/api/v1/policy/bundle',
    roles: 'authenticated',
    handle: async () => {
      const c = bundles.current();
      if (!c) throw new HttpError(404, 'NOT_FOUND', 'no policy bundle is in force on this gateway');
      return {
        body: {
          version: c.bundle.version,
          hash: c.bundle.hash,
          issuedAt: new Date(c.bundle.issuedAt).toISOString(),
          expiresAt: new Date(c.bundle.expiresAt).toISOString(),
          draftSource: { ...bundleToSource(c.bytes), version: c.bundle.version + 1 },
          envelope: Buffer.from(c.bytes).toString('base64'),
          issuers: [...c.bundle.issuers.values()].map((i) => ({
            name: i.name,
            personId: i.personId,
            roles: [...i.roles],
            keyId: i.keyId,
            publicKey: i.publicKey.toString('hex'),
            compromised: i.compromised,
          })),
        } satisfies PolicyBundleResponse,
      };
    },
  });

  server.route({
    method: 'POST',
    path: '/api/v1/policy/bundles',
    roles: PUBLISHERS,
    body: z.strictObject({
      envelope: z
        .string()
        .min(1)
        .max(11 * 1024 * 1024),
    }),
    handle: async ({ body, user }) => {
      const r = await bundles.publish(user, Buffer.from(body.envelope, 'base64')).catch(authzError);
      return { status: 201, body: { version: r.version, hash: r.hash, deliveredTo: r.delivered } satisfies PublishBundleResponse };
    },
  });

  server.route({
    method: 'POST',
    path: '/api/v1/authz/requests',
    roles: FILERS,
    body: z.unknown(),
    handle: async ({ body, user }) => {
      const r = await authz.request(user, body).catch(authzError);
      changed(r);
      return { status: 201, body: { request: requestJson(r) } };
    },
  });

  server.route({
    method: 'GET',
    path: '/api/v1/authz/requests',
    roles: READERS,
    query: z.strictObject({ state: z.enum(['PENDING', 'APPROVED', 'DENIED', 'REVOKED']).optional() }),
    handle: async ({ user, query }) => ({
      body: { requests: (await authz.list(user, query.state ? { state: query.state } : {})).map(requestJson) },
    }),
  });

  server.route({
    method: 'GET',
    path: '/api/v1/authz/requests/:id',
    roles: READERS,
    params: IdParam,
    handle: async ({ params, user }) => {
      const row = await authz.get(params.id);
      const visible = row && mayRead(user, row) ? row : undefined;
      if (!visible) throw new HttpError(404, 'NOT_FOUND', `no request ${params.id} visible to ${user.username}`);
      return { body: { request: requestJson(visible) } };
    },
  });

  server.route({
    method: 'POST',
    path: '/api/v1/authz/requests/:id/approve',
    roles: DECIDERS,
    params: IdParam,
    body: z.unknown(),
    handle: async ({ params, body, user }) => {
      const r = await authz.approve(user, params.id, body).catch(authzError);
      changed(r.request);
      return { body: { request: requestJson(r.request), grantHash: r.grantHash, deliveredTo: r.delivered } };
    },
  });

  server.route({
    method: 'POST',
    path: '/api/v1/authz/requests/:id/deny',
    roles: DECIDERS,
    params: IdParam,
    body: z.unknown(),
    handle: async ({ params, body, user }) => {
      const r = await authz.deny(user, params.id, body).catch(authzError);
      changed(r);
      return { body: { request: requestJson(r) } };
    },
  });

  server.route({
    method: 'POST',
    path: '/api/v1/authz/requests/:id/revoke',
    roles: DECIDERS,
    params: IdParam,
    body: z.unknown(),
    handle: async ({ params, body, user }) => {
      const r = await authz.revoke(user, params.id, body).catch(authzError);
      changed(r.request);
      return { body: { request: requestJson(r.request), revocationHash: r.revocationHash, deliveredTo: r.delivered } };
    },
  });
}
