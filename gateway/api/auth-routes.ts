/**
 * The routes for signing in and managing people and tokens, under `/api/v1`:
 *
 * | route | who |
 * |---|---|
 * | `POST /login`, body `{username, password}` | anyone |
 * | `POST /logout`, `GET /me` | any signed-in user |
 * | `GET /users`, `POST /users`, `POST /users/:username/disable`, `POST /users/:username/enable` | admin |
 * | `POST /users/:username/password` | admin for another user; anyone for themself, with the current password |
 * | `POST /tokens`, `GET /tokens` | any signed-in user, for their own tokens |
 * | `DELETE /tokens/:id` | the token's owner, or admin |
 */
import { z } from 'zod';
import { Auth, type AuthUser, type User } from './auth.js';
import { ROLES } from './roles.js';
import { zId } from '../../proto/canonical.js';
import { HttpError, type ApiServer } from './http.js';
import type { UserProfile } from './types.js';

const Login = z.strictObject({
  username: z.string().min(1).max(256),
  password: z.string().min(1).max(4096),
});

const NewUser = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().max(4096),
  roles: z.array(z.enum(ROLES)).min(1),
  offices: z.array(zId).max(200).default([]),
  personId: zId.nullable().default(null),
});

const UsernameParam = z.strictObject({ username: z.string().min(1).max(64) });

const NewPassword = z.strictObject({
  password: z.string().max(4096),
  /** Required when users change their own password. */
  currentPassword: z.string().max(4096).optional(),
});

const NewToken = z.strictObject({
  name: z.string().trim().min(1).max(100),
  expiresInDays: z.number().int().min(1).max(3650).optional(),
});

const TokenIdParam = z.strictObject({ id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) });

/** What a user sees of themself and what login returns. */
/** Who is signed in, as the dashboard needs it (the person id: nobody decides their own request). */
function profile(u: Pick<User, 'username' | 'roles' | 'offices' | 'personId'>): UserProfile {
  return { username: u.username, roles: [...u.roles], offices: [...u.offices], personId: u.personId };
}

/** What an admin sees of a user. */
function account(u: User) {
  return { username: u.username, roles: u.roles, offices: u.offices, personId: u.personId, createdAt: u.createdAt, disabledAt: u.disabledAt };
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
    handle: async ({ user }) => {
      await auth.logout(user);
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
    method: 'GET',
    path: '/api/v1/users',
    roles: ['admin'],
    handle: async () => ({ body: { users: (await auth.listUsers()).map(account) } }),
  });

  server.route({
    method: 'POST',
    path: '/api/v1/users',
    roles: ['admin'],
    body: NewUser,
    handle: async ({ body, user, log }) => {
      const created = await auth.createUser(body);
      log.info({ event: 'admin_user_created', by: user.username, username: created.username }, 'user created by admin');
      return { status: 201, body: { user: account(created) } };
    },
  });

  for (const action of ['disable', 'enable'] as const) {
    server.route({
      method: 'POST',
      path: `/api/v1/users/:username/${action}`,
      roles: ['admin'],
      params: UsernameParam,
      handle: async ({ params, user, log }) => {
        if (action === 'disable') await auth.disableUser(params.username);
        else await auth.enableUser(params.username);
        log.info({ event: `admin_user_${action}d`, by: user.username, username: params.username }, `user ${action}d by admin`);
        const updated = await auth.getUser(params.username);
        return { body: { user: account(updated!) } };
      },
    });
  }

  server.route({
    method: 'POST',
    path: '/api/v1/users/:username/password',
    roles: 'authenticated',
    params: UsernameParam,
    body: NewPassword,
    handle: async ({ params, body, user, ip, log }) => {
      const self = params.username === user.username;
      if (self) {
        if (body.currentPassword === undefined) throw new HttpError(400, 'CURRENT_PASSWORD_REQUIRED', 'body.currentPassword: required to change your own password');
        await auth.changePassword(user.username, body.currentPassword, body.password, ip);
      } else if (isAdmin(user)) {
        await auth.setPassword(params.username, body.password);
        log.info({ event: 'admin_password_set', by: user.username, username: params.username }, 'password set by admin');
      } else {
        throw new HttpError(403, 'FORBIDDEN', "only an admin sets another user's password");
      }
      // Setting a password ends the user's sessions, this one included when it is their own.
      const headers: Record<string, string> = self && user.via === 'session' ? { 'set-cookie': auth.clearSessionCookie() } : {};
      return { status: 204, headers };
    },
  });

  server.route({
    method: 'POST',
    path: '/api/v1/tokens',
    roles: 'authenticated',
    body: NewToken,
    handle: async ({ body, user }) => {
      const { token, info } = await auth.createApiToken(user.username, body.name, body.expiresInDays);
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
      await auth.revokeApiToken(token.id);
      if (token.username !== user.username) log.info({ event: 'admin_token_revoked', by: user.username, tokenId: token.id, owner: token.username }, 'token revoked by admin');
      return { status: 204 };
    },
  });
}

function isAdmin(user: AuthUser): boolean {
  return user.roles.includes('admin');
}
