/**
 * Managing people and API tokens, under `/api/v1`, for the role `admin` (the dashboard's Admin
 * page; the CLI's `bwc gateway user …` and `bwc gateway token …` do the same on the gateway's
 * machine). The rules a user obeys live once, in user-rules.ts, for the CLI, these routes and the
 * page alike; a refusal names every rule broken (`UserProblemsErrorBody`). Every change is an audit
 * entry naming the admin and the user changed (auth.ts), never a password or a token.
 *
 * | route | who | answer |
 * |---|---|---|
 * | `GET /users` | admin | `UsersResponse` |
 * | `POST /users`, body `{username, password, roles, offices?, personId?}` | admin | 201 `UserAccountResponse` |
 * | `PUT /users/:username/access`, body `{roles, offices}` | admin | `UserAccountResponse`; nobody removes their own admin role (409 `SELF_ADMIN`) |
 * | `POST /users/:username/disable`, `/enable` | admin | `UserAccountResponse`; nobody disables themself (409 `SELF_DISABLE`) |
 * | `POST /users/:username/password`, body `{password}` or `{generate: true}` | admin for another user | 204, or with `generate` `PasswordResetResponse` (the password shown once) |
 * | `POST /users/:username/password`, body `{password, currentPassword}` | the user themself | 204 |
 * | `GET /admin/tokens` | admin | `ApiTokensResponse`: every user's tokens, newest first |
 * | `POST /users/:username/tokens`, body `{name, expiresInDays?}` | admin | 201 `CreatedApiTokenResponse` (the secret shown once) |
 * | `DELETE /tokens/:id` | the token's owner, or admin | 204 (auth-routes.ts) |
 */
import { z } from 'zod';
import { zId } from '../../proto/canonical.js';
import { UserRulesError, type Auth, type AuthUser, type User } from './auth.js';
import { HttpError, type ApiServer, type HandlerResult } from './http.js';
import { generatePassword } from './passwords.js';
import type {
  ApiTokensResponse,
  CreatedApiTokenResponse,
  PasswordResetResponse,
  UserAccountJson,
  UserAccountResponse,
  UserProblemsErrorBody,
  UsersResponse,
} from './types.js';

const ADMIN = ['admin'] as const;

/** Shapes and sizes only: what the rules say of the content is user-rules.ts's to answer, all at once. */
const roleList = z.array(z.string().max(64)).max(50);
const officeList = z.array(z.string().max(100)).max(500);

const NewUser = z.strictObject({
  username: z.string().max(256),
  password: z.string().max(4096),
  roles: roleList,
  offices: officeList.default([]),
  personId: zId.nullable().default(null),
});

const Access = z.strictObject({ roles: roleList, offices: officeList });

const UsernameParam = z.strictObject({ username: z.string().min(1).max(64) });

const NewPassword = z.union([
  z.strictObject({
    password: z.string().max(4096),
    /** Required when users change their own password. */
    currentPassword: z.string().max(4096).optional(),
  }),
  z.strictObject({ generate: z.literal(true) }),
]);

const NewToken = z.strictObject({
  name: z.string().trim().min(1).max(100),
  expiresInDays: z.number().int().min(1).max(3650).optional(),
});

export function account(u: User): UserAccountJson {
  return {
    username: u.username,
    roles: [...u.roles],
    offices: [...u.offices],
    personId: u.personId,
    createdAt: u.createdAt,
    disabledAt: u.disabledAt,
  };
}

/** A refusal by the user rules as a 400 naming every problem; anything else is thrown on. */
async function withRules(fn: () => Promise<HandlerResult>): Promise<HandlerResult> {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof UserRulesError)) throw e;
    const body: UserProblemsErrorBody = {
      error: { code: e.code, message: e.message, problems: e.problems.map((p) => ({ field: p.field, message: p.message })) },
    };
    return { status: 400, body };
  }
}

async function existing(auth: Auth, username: string): Promise<User> {
  const u = await auth.getUser(username);
  if (!u) throw new HttpError(404, 'USER_NOT_FOUND', `no user ${username}`);
  return u;
}

function isAdmin(user: AuthUser): boolean {
  return user.roles.includes('admin');
}

export function registerAdminRoutes(server: ApiServer, auth: Auth): void {
  server.route({
    method: 'GET',
    path: '/api/v1/users',
    roles: ADMIN,
    handle: async () => ({ body: { users: (await auth.listUsers()).map(account) } satisfies UsersResponse }),
  });

  server.route({
    method: 'POST',
    path: '/api/v1/users',
    roles: ADMIN,
    body: NewUser,
    handle: ({ body, user }) =>
      withRules(async () => {
        const created = await auth.createUser(body, user.username);
        return { status: 201, body: { user: account(created) } satisfies UserAccountResponse };
      }),
  });

  server.route({
    method: 'PUT',
    path: '/api/v1/users/:username/access',
    roles: ADMIN,
    params: UsernameParam,
    body: Access,
    handle: ({ params, body, user }) =>
      withRules(async () => {
        const updated = await auth.setAccess(params.username, body, user.username);
        return { body: { user: account(updated) } satisfies UserAccountResponse };
      }),
  });

  for (const action of ['disable', 'enable'] as const) {
    server.route({
      method: 'POST',
      path: `/api/v1/users/:username/${action}`,
      roles: ADMIN,
      params: UsernameParam,
      handle: async ({ params, user }) => {
        if (action === 'disable') await auth.disableUser(params.username, user.username);
        else await auth.enableUser(params.username, user.username);
        return { body: { user: account(await existing(auth, params.username)) } satisfies UserAccountResponse };
      },
    });
  }

  server.route({
    method: 'POST',
    path: '/api/v1/users/:username/password',
    roles: 'authenticated',
    params: UsernameParam,
    body: NewPassword,
    handle: async ({ params, body, user, ip }) => {
      const self = params.username === user.username;
      if (self) {
        if ('generate' in body) throw new HttpError(400, 'VALIDATION_FAILED', 'body: choose your own password, with your current one');
        if (body.currentPassword === undefined)
          throw new HttpError(400, 'CURRENT_PASSWORD_REQUIRED', 'body.currentPassword: required to change your own password');
        await auth.changePassword(user.username, body.currentPassword, body.password, ip);
        // Setting a password ends the user's sessions, this one included.
        const headers: Record<string, string> = user.via === 'session' ? { 'set-cookie': auth.clearSessionCookie() } : {};
        return { status: 204, headers };
      }
      if (!isAdmin(user)) throw new HttpError(403, 'FORBIDDEN', "only an admin sets another user's password");
      await existing(auth, params.username);
      const generated = 'generate' in body;
      const password = generated ? generatePassword() : body.password;
      await auth.setPassword(params.username, password, user.username, { generated });
      if (!generated) return { status: 204 };
      const answer: PasswordResetResponse = { username: params.username, generated, password };
      return { body: answer };
    },
  });

  server.route({
    method: 'GET',
    path: '/api/v1/admin/tokens',
    roles: ADMIN,
    handle: async () => ({ body: { tokens: await auth.listAllApiTokens() } satisfies ApiTokensResponse }),
  });

  server.route({
    method: 'POST',
    path: '/api/v1/users/:username/tokens',
    roles: ADMIN,
    params: UsernameParam,
    body: NewToken,
    handle: async ({ params, body, user }) => {
      const { token, info } = await auth.createApiToken(params.username, body.name, body.expiresInDays, user.username);
      const answer: CreatedApiTokenResponse = {
        token,
        id: info.id,
        username: info.username,
        name: info.name,
        createdAt: info.createdAt,
        expiresAt: info.expiresAt,
      };
      return { status: 201, body: answer };
    },
  });
}
