/**
 * Admin (`#/admin`, role admin): people and API tokens. Users are created with roles, offices and
 * an initial password; their roles and offices are edited in place; they are disabled, enabled, or
 * given a new password (typed, or generated and shown once). Tokens are listed for every user,
 * created for one (the secret shown once, with a copy button) and revoked. Forms are checked with
 * the gateway's own rules (gateway/api/user-rules.ts, the same the CLI uses) and show every problem
 * at once; the gateway checks again. An admin cannot remove their own admin role or disable
 * themself: the page says so, and the gateway refuses it anyway.
 */
import { useState } from 'preact/hooks';
import type {
  ApiTokenJson,
  ApiTokensResponse,
  CreatedApiTokenResponse,
  PasswordResetResponse,
  Role,
  UserAccountJson,
  UserAccountResponse,
  UsersResponse,
} from '../../../api/types.js';
import { ROLES } from '../../../api/roles.js';
import { accessProblems, newUserProblems, type UserProblem } from '../../../api/user-rules.js';
import { api, seg } from '../api.js';
import { ErrorBanner } from '../components/ErrorBanner.js';
import { Checkbox, SelectField, TextField } from '../components/Fields.js';
import { ConfirmAction } from '../components/Confirm.js';
import { Loading, Page, Panel } from '../components/Page.js';
import { RoleGate } from '../components/RoleGate.js';
import { Time } from '../components/Time.js';
import { splitIds } from '../format.js';
import { useAction, useResource } from '../hooks.js';
import { useUser } from '../session.js';

const ADMIN: readonly Role[] = ['admin'];

export function AdminPage() {
  return (
    <Page title="Admin">
      <RoleGate roles={ADMIN} what="Managing users and API tokens">
        <AdminPanels />
      </RoleGate>
    </Page>
  );
}

function AdminPanels() {
  const users = useResource((s) => api.get<UsersResponse>('/api/v1/users', s), []);
  const tokens = useResource((s) => api.get<ApiTokensResponse>('/api/v1/admin/tokens', s), []);
  return (
    <>
      <Panel title="Users" id="admin-users">
        <ErrorBanner error={users.error} context="Could not load the users" />
        {!users.data && users.loading ? <Loading what="users" /> : null}
        {users.data ? (
          <UsersTable users={users.data.users} onChanged={(u) => users.update((d) => ({ users: d.users.map((x) => (x.username === u.username ? u : x)) }))} />
        ) : null}
      </Panel>
      <Panel title="New user" id="admin-new-user">
        <NewUserForm onCreated={() => users.reload()} />
      </Panel>
      <Panel title="API tokens" id="admin-tokens">
        <ErrorBanner error={tokens.error} context="Could not load the tokens" />
        <NewTokenForm users={users.data?.users ?? []} onCreated={() => tokens.reload()} />
        {!tokens.data && tokens.loading ? <Loading what="tokens" /> : null}
        {tokens.data ? <TokensTable tokens={tokens.data.tokens} onRevoked={() => tokens.reload()} /> : null}
      </Panel>
    </>
  );
}

/** Every problem a form has, at once. */
function Problems({ problems, what }: { problems: readonly UserProblem[]; what: string }) {
  if (problems.length === 0) return null;
  return (
    <div role="alert" class="alert alert-error">
      <strong>{what}:</strong>
      <ul class="problems-list">
        {problems.map((p, i) => (
          <li key={i}>
            <strong>{p.field}</strong>: {p.message}
          </li>
        ))}
      </ul>
    </div>
  );
}

function RoleChecks({ roles, onChange }: { roles: readonly Role[]; onChange: (roles: Role[]) => void }) {
  return (
    <fieldset class="roles-edit">
      <legend>Roles</legend>
      {ROLES.map((r) => (
        <Checkbox key={r} label={r} checked={roles.includes(r)} onChange={(on) => onChange(on ? [...roles, r] : roles.filter((x) => x !== r))} />
      ))}
    </fieldset>
  );
}

function NewUserForm({ onCreated }: { onCreated: () => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [roles, setRoles] = useState<Role[]>([]);
  const [offices, setOffices] = useState('');
  const [problems, setProblems] = useState<UserProblem[]>([]);
  const [done, setDone] = useState<string | null>(null);
  const create = useAction((body: { username: string; password: string; roles: Role[]; offices: string[] }) =>
    api.post<UserAccountResponse>('/api/v1/users', body),
  );

  const submit = async (e: Event) => {
    e.preventDefault();
    setDone(null);
    const body = { username: username.trim(), password, roles, offices: splitIds(offices) };
    const found = newUserProblems(body);
    setProblems(found);
    if (found.length > 0) return;
    const r = await create.run(body);
    if (r) {
      setDone(`User ${r.value.user.username} created.`);
      setUsername('');
      setPassword('');
      setRoles([]);
      setOffices('');
      onCreated();
    }
  };

  return (
    <form class="admin-form" onSubmit={(e) => void submit(e)} aria-label="New user" noValidate>
      <div class="toolbar toolbar-plain">
        <TextField label="Username" value={username} onInput={setUsername} needed autocomplete="off" />
        <PasswordField label="Initial password" value={password} onInput={setPassword} />
        <TextField label="Offices" value={offices} onInput={setOffices} hint="Office codes, separated by commas or spaces" />
      </div>
      <RoleChecks roles={roles} onChange={setRoles} />
      <Problems problems={problems} what="The user cannot be created" />
      <ErrorBanner error={create.error} context="The gateway refused the user" />
      {done ? (
        <p class="notice" role="status">
          {done}
        </p>
      ) : null}
      <button type="submit" class="btn btn-primary" aria-disabled={create.busy}>
        {create.busy ? 'Creating…' : 'Create user'}
      </button>
    </form>
  );
}

function PasswordField({ label, value, onInput }: { label: string; value: string; onInput: (v: string) => void }) {
  const id = `pw-${label.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <div class="field">
      <span class="label-row">
        <label for={id}>{label}</label>
        <span class="req" aria-hidden="true">
          *
        </span>
      </span>
      <input id={id} type="password" autocomplete="new-password" value={value} required onInput={(e) => onInput(e.currentTarget.value)} />
      <small class="hint">At least 12 characters, not the username</small>
    </div>
  );
}

function UsersTable({ users, onChanged }: { users: readonly UserAccountJson[]; onChanged: (u: UserAccountJson) => void }) {
  const me = useUser();
  if (users.length === 0) return <p class="empty">No users.</p>;
  return (
    <div class="table-wrap">
      <table class="table">
        <thead>
          <tr>
            <th scope="col">User</th>
            <th scope="col">Roles and offices</th>
            <th scope="col">Status</th>
            <th scope="col">Password</th>
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <UserRow key={u.username} user={u} self={u.username === me.username} onChanged={onChanged} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function UserRow({ user, self, onChanged }: { user: UserAccountJson; self: boolean; onChanged: (u: UserAccountJson) => void }) {
  const [editing, setEditing] = useState(false);
  const [roles, setRoles] = useState<Role[]>(user.roles);
  const [offices, setOffices] = useState(user.offices.join(', '));
  const [problems, setProblems] = useState<UserProblem[]>([]);
  const save = useAction((body: { roles: Role[]; offices: string[] }) => api.put<UserAccountResponse>(`/api/v1/users/${seg(user.username)}/access`, body));
  const toggle = async () => {
    const r = await api.post<UserAccountResponse>(`/api/v1/users/${seg(user.username)}/${user.disabledAt === null ? 'disable' : 'enable'}`);
    onChanged(r.user);
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    const body = { roles, offices: splitIds(offices) };
    const found = [...accessProblems(body)];
    if (self && user.roles.includes('admin') && !roles.includes('admin'))
      found.push({ field: 'roles', message: 'you cannot remove your own admin role; another admin can' });
    setProblems(found);
    if (found.length > 0) return;
    const r = await save.run(body);
    if (r) {
      onChanged(r.value.user);
      setEditing(false);
    }
  };

  return (
    <tr data-username={user.username} class={user.disabledAt !== null ? 'user-disabled' : undefined}>
      <th scope="row">
        {user.username}
        {self ? <span class="muted"> (you)</span> : null}
      </th>
      <td>
        {editing ? (
          <form onSubmit={(e) => void submit(e)} aria-label={`Roles and offices of ${user.username}`} noValidate>
            <RoleChecks roles={roles} onChange={setRoles} />
            <TextField label="Offices" value={offices} onInput={setOffices} hint="Separated by commas or spaces" />
            <Problems problems={problems} what="Not saved" />
            <ErrorBanner error={save.error} context="The gateway refused the change" />
            <div class="actions">
              <button type="submit" class="btn btn-primary" aria-disabled={save.busy}>
                Save
              </button>
              <button
                type="button"
                class="btn btn-quiet"
                onClick={() => {
                  setEditing(false);
                  setRoles(user.roles);
                  setOffices(user.offices.join(', '));
                  setProblems([]);
                }}
              >
                Cancel
              </button>
            </div>
          </form>
        ) : (
          <>
            <span>{user.roles.join(', ') || 'no role'}</span>
            {user.offices.length ? <span class="muted"> · {user.offices.join(', ')}</span> : null}{' '}
            <button type="button" class="btn btn-small" onClick={() => setEditing(true)}>
              Edit
            </button>
          </>
        )}
      </td>
      <td>
        {user.disabledAt !== null ? (
          <>
            Disabled <Time at={user.disabledAt} compact />
          </>
        ) : (
          'Active'
        )}{' '}
        {self ? (
          <span class="muted">You cannot disable yourself.</span>
        ) : (
          <ConfirmAction
            label={user.disabledAt === null ? 'Disable' : 'Enable'}
            confirmLabel={user.disabledAt === null ? `Disable ${user.username}` : `Enable ${user.username}`}
            danger={user.disabledAt === null}
            prompt={
              user.disabledAt === null
                ? `${user.username} is signed out, and their API tokens stop working until enabled again.`
                : `${user.username} can sign in again, and their API tokens work again.`
            }
            onConfirm={toggle}
          />
        )}
      </td>
      <td>
        {self ? (
          <span class="muted">Your own password is changed with your current one (gateway/api/README.md).</span>
        ) : (
          <PasswordReset username={user.username} />
        )}
      </td>
    </tr>
  );
}

function PasswordReset({ username }: { username: string }) {
  const [shown, setShown] = useState<string | null>(null);
  const reset = async () => {
    const r = await api.post<PasswordResetResponse>(`/api/v1/users/${seg(username)}/password`, { generate: true });
    setShown(r.password ?? null);
  };
  return (
    <>
      <ConfirmAction
        label="Reset password"
        confirmLabel="Generate a new password"
        prompt={`${username}'s sessions end; the new password is shown here once.`}
        onConfirm={reset}
      />
      {shown ? <SecretOnce label={`New password for ${username}`} secret={shown} /> : null}
    </>
  );
}

/** A secret the gateway shows once (it keeps only a hash): shown here, with a copy button. */
function SecretOnce({ label, secret }: { label: string; secret: string }) {
  const [copied, setCopied] = useState<string | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied('Copied.');
    } catch {
      setCopied('Could not copy: select the text and copy it.');
    }
  };
  return (
    <div class="secret-once" role="status" data-testid="secret-once">
      <p>
        <strong>{label}</strong> (shown once; it cannot be shown again):
      </p>
      <p>
        <code>{secret}</code>{' '}
        <button type="button" class="btn btn-small" onClick={() => void copy()}>
          Copy
        </button>{' '}
        <span aria-live="polite">{copied}</span>
      </p>
    </div>
  );
}

function NewTokenForm({ users, onCreated }: { users: readonly UserAccountJson[]; onCreated: () => void }) {
  const [owner, setOwner] = useState('');
  const [name, setName] = useState('');
  const [days, setDays] = useState('');
  const [problems, setProblems] = useState<string[]>([]);
  const [created, setCreated] = useState<CreatedApiTokenResponse | null>(null);
  const create = useAction((o: { owner: string; body: { name: string; expiresInDays?: number } }) =>
    api.post<CreatedApiTokenResponse>(`/api/v1/users/${seg(o.owner)}/tokens`, o.body),
  );
  const active = users.filter((u) => u.disabledAt === null);

  const submit = async (e: Event) => {
    e.preventDefault();
    const found: string[] = [];
    if (!owner) found.push('owner: choose the user the token acts for');
    if (name.trim() === '' || name.trim().length > 100) found.push('name: a token name has 1 to 100 characters');
    const n = days.trim() === '' ? undefined : Number(days);
    if (n !== undefined && !(Number.isInteger(n) && n >= 1 && n <= 3650)) found.push('expires in days: a whole number from 1 to 3650, or empty for no expiry');
    setProblems(found);
    if (found.length > 0) return;
    const r = await create.run({ owner, body: { name: name.trim(), ...(n !== undefined ? { expiresInDays: n } : {}) } });
    if (r) {
      setCreated(r.value);
      setName('');
      setDays('');
      onCreated();
    }
  };

  return (
    <form class="admin-form" onSubmit={(e) => void submit(e)} aria-label="New API token" noValidate>
      <div class="toolbar">
        <SelectField label="Owner" value={owner} onChange={setOwner} options={[{ value: '', label: 'Choose a user' }, ...active.map((u) => u.username)]} />
        <TextField label="Token name" value={name} onInput={setName} hint="What it is for, e.g. records export job" />
        <TextField label="Expires in days" type="number" inputMode="numeric" value={days} onInput={setDays} hint="Empty: no expiry" />
        <button type="submit" class="btn btn-primary" aria-disabled={create.busy}>
          Create token
        </button>
      </div>
      {problems.length ? (
        <div role="alert" class="alert alert-error">
          <strong>The token cannot be created:</strong>
          <ul class="problems-list">
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </div>
      ) : null}
      <ErrorBanner error={create.error} context="The gateway refused the token" />
      {created ? <SecretOnce label={`Token ${created.name} (#${created.id}) for ${created.username}`} secret={created.token} /> : null}
    </form>
  );
}

function TokensTable({ tokens, onRevoked }: { tokens: readonly ApiTokenJson[]; onRevoked: () => void }) {
  if (tokens.length === 0) return <p class="empty">No API tokens.</p>;
  return (
    <div class="table-wrap">
      <table class="table">
        <thead>
          <tr>
            <th scope="col" class="num">
              #
            </th>
            <th scope="col">Name</th>
            <th scope="col">Owner</th>
            <th scope="col">Created</th>
            <th scope="col">Expires</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {tokens.map((t) => (
            <tr key={t.id} data-token-id={t.id}>
              <th scope="row" class="num">
                {t.id}
              </th>
              <td>{t.name}</td>
              <td>{t.username}</td>
              <td>
                <Time at={t.createdAt} compact />
              </td>
              <td>{t.expiresAt !== null ? <Time at={t.expiresAt} compact /> : 'never'}</td>
              <td>
                {t.revokedAt !== null ? (
                  <>
                    Revoked <Time at={t.revokedAt} compact />
                  </>
                ) : (
                  <ConfirmAction
                    label="Revoke"
                    confirmLabel={`Revoke token ${t.name}`}
                    danger
                    prompt={`Anything using token #${t.id} (${t.name}) of ${t.username} stops working at once.`}
                    onConfirm={async () => {
                      await api.del<void>(`/api/v1/tokens/${seg(t.id)}`);
                      onRevoked();
                    }}
                  />
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
