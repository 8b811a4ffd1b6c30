import type { ComponentChildren } from 'preact';
import type { Role } from '../../../api/types.js';
import { describeRoles, useHasRole, useUser } from '../session.js';

interface RoleGateProps {
  roles: readonly Role[];
  /** What the page holds: "Litigation holds and disposition". */
  what: string;
  children: ComponentChildren;
}

/**
 * Shows `children` to users holding one of `roles`, and to everyone else a short note of the role
 * needed, instead of a screen of refused requests. The gateway enforces the roles regardless.
 */
export function RoleGate({ roles, what, children }: RoleGateProps) {
  const user = useUser();
  if (useHasRole(roles)) return <>{children}</>;
  return (
    <div class="notice" role="note">
      <p>
        {what} need the role {describeRoles(roles)}.
      </p>
      <p class="muted">
        You are signed in as {user.username} with the role{user.roles.length === 1 ? '' : 's'} {user.roles.join(', ') || 'none'}. An administrator can add a
        role to your account.
      </p>
    </div>
  );
}
