/**
 * The rules a user account obeys, in one place for every way of managing people: the CLI
 * (`bwc gateway user …`), the admin API (admin-routes.ts) and the dashboard's admin page, which
 * checks a form with these same functions before sending it. Each function returns every problem
 * it finds, not just the first, so a form can show them all at once; the messages are the same
 * wherever they are shown. Pure: no I/O, no Node modules (the dashboard bundles this file).
 */
import { ROLES, isRole, type Role } from './roles.js';

export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const OFFICE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1024;
export const MAX_OFFICES = 200;

/** One rule broken, naming the field it is about. */
export interface UserProblem {
  readonly field: 'username' | 'password' | 'roles' | 'offices';
  readonly message: string;
}

export function usernameProblems(username: string): UserProblem[] {
  return USERNAME_PATTERN.test(username)
    ? []
    : [{ field: 'username', message: 'a username is 1 to 64 of a-z, 0-9, ".", "_" and "-", starting with a letter or digit' }];
}

/** Too short, too long, or the username itself. */
export function passwordProblems(username: string, password: string): UserProblem[] {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) return [{ field: 'password', message: `a password has at least ${MIN_PASSWORD_LENGTH} characters` }];
  if (length > MAX_PASSWORD_LENGTH) return [{ field: 'password', message: `a password has at most ${MAX_PASSWORD_LENGTH} characters` }];
  if (password.toLowerCase() === username.toLowerCase()) return [{ field: 'password', message: 'a password may not be the username' }];
  return [];
}

export function rolesProblems(roles: readonly string[]): UserProblem[] {
  if (roles.length === 0) return [{ field: 'roles', message: 'a user has at least one role' }];
  return roles.filter((r) => !isRole(r)).map((r) => ({ field: 'roles', message: `unknown role ${JSON.stringify(r)}; roles are ${ROLES.join(', ')}` }));
}

export function officesProblems(offices: readonly string[]): UserProblem[] {
  const problems: UserProblem[] = offices
    .filter((o) => !OFFICE_PATTERN.test(o))
    .map((o) => ({ field: 'offices', message: `invalid office code ${JSON.stringify(o)}` }));
  if (offices.length > MAX_OFFICES) problems.push({ field: 'offices', message: `a user has at most ${MAX_OFFICES} offices` });
  return problems;
}

/** A new account as given (by a form, a request body or command-line options). */
export interface UserInput {
  username: string;
  password: string;
  roles: readonly string[];
  offices: readonly string[];
}

/** Every rule a new account breaks, in field order; empty when it may be created. */
export function newUserProblems(u: UserInput): UserProblem[] {
  return [...usernameProblems(u.username), ...passwordProblems(u.username, u.password), ...rolesProblems(u.roles), ...officesProblems(u.offices)];
}

/** Every rule a change of roles and offices breaks. */
export function accessProblems(a: { roles: readonly string[]; offices: readonly string[] }): UserProblem[] {
  return [...rolesProblems(a.roles), ...officesProblems(a.offices)];
}

/** Roles and offices without repeats, in the order given (after `accessProblems` found none). */
export function normalizeAccess(a: { roles: readonly string[]; offices: readonly string[] }): { roles: Role[]; offices: string[] } {
  return { roles: [...new Set(a.roles.filter(isRole))], offices: [...new Set(a.offices)] };
}

/** "field: message; field: message", for a one-line error (the CLI, an HTTP error message). */
export function describeProblems(problems: readonly UserProblem[]): string {
  return problems.map((p) => `${p.field}: ${p.message}`).join('; ');
}
