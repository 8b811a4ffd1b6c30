/**
 * Roles of DESIGN §6, checked on the server for every route. No role implies another: `admin`
 * manages users and nothing else, and is never implicitly an approver.
 */
/** Roles of DESIGN §6. An approver is an FRO (scoped to its offices) or an HRO; the Director approves too. */
export const ROLES = [
  'viewer',
  'operator',
  'supervisor',
  'requester',
  'approver_fro',
  'approver_hro',
  'director',
  'records_officer',
  'auditor',
  // The Office of Professional Responsibility: sees every review item referred to it and closes
  // it with a finding (1061.2 §4.4: supervisors report suspected violations to OPR).
  'opr',
  'admin',
] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** Whether the user holds at least one of `roles`. No role implies another (admin is not an approver). */
export function hasAnyRole(user: { readonly roles: readonly Role[] }, roles: readonly Role[]): boolean {
  return roles.some((r) => user.roles.includes(r));
}

/** Whether an office is in the user's scope. An empty list is no office (there is no wildcard). */
export function inOffice(user: { readonly offices: readonly string[] }, office: string): boolean {
  return user.offices.includes(office);
}
