/** The sign-in form: a session cookie and a CSRF token (kept in memory) from POST /api/v1/login. */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { LoginResponse, UserProfile } from '../../../api/types.js';
import { api, setCsrfToken } from '../api.js';
import { ErrorBanner } from '../components/ErrorBanner.js';
import { useAction } from '../hooks.js';

interface LoginProps {
  /** Why the form is shown again: the session ended, or the user signed out. */
  notice: string | null;
  onSignedIn: (user: UserProfile) => void;
}

export function Login({ notice, onSignedIn }: LoginProps) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const first = useRef<HTMLInputElement>(null);
  const login = useAction(() => api.login<LoginResponse>(username.trim(), password));

  useEffect(() => {
    document.title = 'Sign in · BWC Companion';
    first.current?.focus();
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    const r = await login.run();
    if (!r) return;
    setPassword('');
    setCsrfToken(r.value.csrfToken);
    onSignedIn(r.value.user);
  };

  return (
    <main class="login" id="main">
      <form class="login-form" onSubmit={(e) => void submit(e)} aria-labelledby="login-h">
        <h1 id="login-h">BWC Companion</h1>
        <p class="muted">Custody of body-worn camera recordings. Sign in with your gateway account.</p>
        {notice ? (
          <p class="notice" role="status">
            {notice}
          </p>
        ) : null}
        <div class="field">
          <label for="login-username">Username</label>
          <input
            id="login-username"
            ref={first}
            name="username"
            autocomplete="username"
            autocapitalize="none"
            spellcheck={false}
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="login-password">Password</label>
          <input
            id="login-password"
            type="password"
            name="password"
            autocomplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </div>
        <ErrorBanner error={login.error} context="Could not sign in" />
        <button type="submit" class="btn btn-primary" aria-disabled={login.busy}>
          {login.busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
