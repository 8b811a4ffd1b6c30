/**
 * Who is signed in, for the pages. The gateway checks every role on every request; the dashboard
 * reads the roles only to offer the actions a user may take and to explain the pages they may not.
 */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Role, UserProfile } from '../../api/types.js';
import { hasAnyRole } from '../../api/roles.js';

export const UserContext = createContext<UserProfile | null>(null);

export function useUser(): UserProfile {
  const user = useContext(UserContext);
  if (!user) throw new Error('session: no signed-in user above this component');
  return user;
}

/** Whether the signed-in user holds one of `roles`. */
export function useHasRole(roles: readonly Role[]): boolean {
  return hasAnyRole(useUser(), roles);
}

/** Who may do what, as the gateway's routes say (gateway/README.md, gateway/api/README.md). */
export const WHO = {
  operate: ['operator', 'admin'],
  respondToAlerts: ['operator', 'supervisor', 'admin'],
  readAuthz: ['requester', 'approver_fro', 'approver_hro', 'director', 'records_officer', 'auditor', 'supervisor'],
  fileAuthz: ['requester', 'approver_fro', 'approver_hro', 'director'],
  decideAuthz: ['approver_fro', 'approver_hro', 'director'],
  publishBundle: ['director'],
  readRecords: ['records_officer', 'auditor'],
  manageRecords: ['records_officer'],
  exportRecord: ['records_officer', 'auditor'],
  downloadClip: ['records_officer', 'auditor', 'supervisor', 'opr'],
  readAudit: ['auditor', 'records_officer'],
  review: ['supervisor', 'opr'],
} as const satisfies Record<string, readonly Role[]>;

const ROLE_NAMES: Record<Role, string> = {
  viewer: 'viewer',
  operator: 'operator',
  supervisor: 'supervisor',
  requester: 'requester',
  approver_fro: 'field responsible official (approver_fro)',
  approver_hro: 'headquarters responsible official (approver_hro)',
  director: 'director',
  records_officer: 'records officer (records_officer)',
  auditor: 'auditor',
  admin: 'admin',
  opr: 'Office of Professional Responsibility (opr)',
};

/** "records officer (records_officer) or auditor" */
export function describeRoles(roles: readonly Role[]): string {
  const names = roles.map((r) => ROLE_NAMES[r]);
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}
