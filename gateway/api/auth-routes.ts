/**
 * The routes for signing in and for one's own API tokens, under `/api/v1` (admin-routes.ts manages
 * people and everyone's tokens):
 *
 * | route | who |
 * |---|---|
 * | `POST /login`, body `{username, password}` | anyone |
 * | `POST /logout`, `GET /me` | any signed-in user |
 * | `POST /tokens`, `GET /tokens` | any signed-in user, for their own tokens |
 * | `DELETE /tokens/:id` | the token's owner, or admin |
 *
 * Sign-ins, refused sign-ins, lockouts and sign-outs are audit entries with the client address
 * (auth.ts).
 */
import { z } from 'zod';
import type { Auth, AuthUser, User } from './auth.js';
import { HttpError, type ApiServer } from './http.js';
import type { UserProfile } from './types.js';

const Login = z.strictObject({
  username: z.string().min(1).max(256),
  password: z.string().min(1).max(4096),
});

const NewToken = z.strictObject({
  name: z.string().trim().min(1).max(100),
  expiresInDays: z.number().int().min(1).max(3650).optional(),
});

const TokenIdParam = z.strictObject({ id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) });

/** Who is signed in, as the dashboard needs it (the person id: nobody decides their own request). */
function profile(u: Pick<User, 'username' | 'roles' | 'offices' | 'personId'>): UserProfile {
  return { username: u.username, roles: [...u.roles], offices: [...u.offices], personId: u.personId };
}

export function registerAuthRoutes(server: ApiServer, auth: Auth): void {
  server.route({
    method: 'POST',
    path: '/api/v1/login',
    roles: 'public',
    body: Login,
    handle: async ({ body, ip }) => {
      const r = await auth.login(body.username, body.password, ip);
      return { body: { user: profile(r.user), csrfToken: r.csrfToken }, headers: { 'set-cookie': r.cookie } };
    },
  });

  server.route({
    method: 'POST',
    path: '/api/v1/logout',
    roles: 'authenticated',
    handle: async ({ user, ip }) => {
      await auth.logout(user, ip);
      return { status: 204, headers: { 'set-cookie': auth.clearSessionCookie() } };
    },
  });

  server.route({
    method: 'GET',
    path: '/api/v1/me',
    roles: 'authenticated',
    handle: async ({ user }) => ({
      body: { user: profile(user), via: user.via, ...(user.via === 'session' ? { csrfToken: auth.csrfTokenFor(user) } : {}) },
    }),
  });

  server.route({
    method: 'POST',
    path: '/api/v1/tokens',
    roles: 'authenticated',
    body: NewToken,
    handle: async ({ body, user }) => {
      const { token, info } = await auth.createApiToken(user.username, body.name, body.expiresInDays, user.username);
      return { status: 201, body: { token, id: info.id, name: info.name, createdAt: info.createdAt, expiresAt: info.expiresAt } };
    },
  });

  server.route({
    method: 'GET',
    path: '/api/v1/tokens',
    roles: 'authenticated',
    handle: async ({ user }) => ({ body: { tokens: await auth.listApiTokens(user.username) } }),
  });

  server.route({
    method: 'DELETE',
    path: '/api/v1/tokens/:id',
    roles: 'authenticated',
    params: TokenIdParam,
    handle: async ({ params, user, log }) => {
      const token = await auth.getApiToken(params.id);
      // Someone else's token reads as no token at all, unless the caller is an admin.
      if (!token || (token.username !== user.username && !isAdmin(user))) throw new HttpError(404, 'TOKEN_NOT_FOUND', `no token ${params.id}`);
      await auth.revokeApiToken(token.id, user.username);
      if (token.username !== user.username)
        log.info({ event: 'admin_token_revoked', by: user.username, tokenId: token.id, owner: token.username }, 'token revoked by admin');
      return { status: 204 };
    },
  });
}

function isAdmin(user: AuthUser): boolean {
  return user.roles.includes('admin');
}
