/**
 * The HTTP API's shared words, which every part of gateway/api/ uses and which use none of them:
 * the caller (AuthUser) and what authenticates one, who may call a route, the error a handler
 * throws, and the logger.
 */
import type { IncomingMessage } from 'node:http';
import { pino, type Logger } from 'pino';
import type { Role } from './roles.js';

/** Who may call a route: anyone, any authenticated user or token, or a user holding one of these roles. */
export type RouteRoles = 'public' | 'authenticated' | readonly Role[];

/** The gateway's logger (gateway/log.ts): pino's, or a child of it. */
export type { Logger };

/** A logger that writes nothing (parts made without one). */
export const silentLogger: Logger = pino({ level: 'silent' });

/** The caller of a request: a user, and how it proved who it is. */
export interface AuthUser {
  readonly username: string;
  readonly roles: readonly Role[];
  readonly offices: readonly string[];
  readonly personId: string | null;
  readonly via: 'session' | 'token';
  /** The API token's id when `via` is `token`. */
  readonly tokenId: number | null;
}

/** What the server needs from authentication (implemented by `Auth`). */
export interface Authenticator {
  /** The user behind the request's bearer token or session cookie; null if none, or not valid. */
  authenticate(req: IncomingMessage): Promise<AuthUser | null>;
  /** Whether a cookie-authenticated request carries its session's CSRF token. */
  checkCsrf(user: AuthUser, header: string | undefined): boolean;
  hasAnyRole(user: AuthUser, roles: readonly Role[]): boolean;
}

/** An error a handler (or anything it calls) throws to answer with this status and code. */
export class HttpError extends Error {
  override name = 'HttpError';
  /** Every problem found, when the request was checked as a whole (sent as `error.problems`). */
  found: readonly Problem[] | undefined;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  /** A 400 naming every problem: the message lists them all ("field: message; …"), and `problems` has one entry each. */
  static invalid(code: string, problems: readonly Problem[]): HttpError {
    const e = new HttpError(400, code, problems.map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)).join('; '));
    e.found = problems;
    return e;
  }
}

/** One problem in a request: the field (its path, e.g. `body.password`; '' for the whole) and what is wrong. */
export interface Problem {
  field: string;
  message: string;
}
