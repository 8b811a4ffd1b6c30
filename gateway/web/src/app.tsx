/**
 * The dashboard's shell: the session (GET /api/v1/me on load, the sign-in form on 401), and for a
 * signed-in user the header, the navigation, the live feed and the page the address names.
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import type { MeResponse, Role, UserProfile } from '../../api/types.js';
import { api, onSessionEnded, setCsrfToken, toApiError, type ApiError } from './api.js';
import { ErrorBanner } from './components/ErrorBanner.js';
import { DeviceStore, DeviceStoreContext } from './devices.js';
import { useAction } from './hooks.js';
import { LiveContext, LiveFeed, useLiveStatus } from './live.js';
import { Login } from './pages/login.js';
import { PageFor } from './pages/index.js';
import { useRoute, type Route } from './router.js';
import { UserContext, WHO } from './session.js';
import { hasAnyRole } from '../../api/roles.js';

type Session =
  | { kind: 'checking' }
  | { kind: 'signed-out'; notice: string | null }
  | { kind: 'unreachable'; error: ApiError }
  | { kind: 'signed-in'; user: UserProfile };

export function App() {
  const [session, setSession] = useState<Session>({ kind: 'checking' });

  const check = useCallback(async () => {
    setSession({ kind: 'checking' });
    try {
      const me = await api.get<MeResponse>('/api/v1/me');
      setCsrfToken(me.csrfToken ?? null);
      setSession({ kind: 'signed-in', user: me.user });
    } catch (e) {
      const error = toApiError(e);
      setSession(error.status === 401 ? { kind: 'signed-out', notice: null } : { kind: 'unreachable', error });
    }
  }, []);

  useEffect(() => {
    onSessionEnded(() => {
      setCsrfToken(null);
      setSession((s) => (s.kind === 'signed-in' ? { kind: 'signed-out', notice: 'Your session has ended. Sign in again to continue.' } : s));
    });
    void check();
    return () => onSessionEnded(null);
  }, [check]);

  switch (session.kind) {
    case 'checking':
      return (
        <main class="login" id="main">
          <p role="status" class="muted">
            Connecting to the gateway…
          </p>
        </main>
      );
    case 'unreachable':
      return (
        <main class="login" id="main">
          <div class="login-form">
            <h1>BWC Companion</h1>
            <ErrorBanner error={session.error} context="The gateway did not answer" />
            <button type="button" class="btn btn-primary" onClick={() => void check()}>
              Try again
            </button>
          </div>
        </main>
      );
    case 'signed-out':
      return <Login notice={session.notice} onSignedIn={(user) => setSession({ kind: 'signed-in', user })} />;
    case 'signed-in':
      return <Shell key={session.user.username} user={session.user} onSignedOut={() => setSession({ kind: 'signed-out', notice: 'You have signed out.' })} />;
  }
}

/** `roles`: shown only to users holding one of them (the gateway checks anyway). */
const NAV: readonly { label: string; hash: string; pages: readonly Route['page'][]; roles?: readonly Role[] }[] = [
  { label: 'Overview', hash: '#/overview', pages: ['overview'] },
  { label: 'Fleet', hash: '#/fleet', pages: ['fleet', 'device'] },
  { label: 'Cameras', hash: '#/cameras', pages: ['cameras'] },
  { label: 'Alerts', hash: '#/alerts', pages: ['alerts'] },
  { label: 'Clips', hash: '#/clips', pages: ['clips', 'clip'] },
  { label: 'Authorizations', hash: '#/authz', pages: ['authz'] },
  { label: 'Records', hash: '#/records', pages: ['records'] },
  { label: 'Audit', hash: '#/audit', pages: ['audit'] },
  { label: 'Review', hash: '#/review', pages: ['review', 'review-item'], roles: WHO.review },
  { label: 'Admin', hash: '#/admin', pages: ['admin'], roles: ['admin'] },
];

function Shell({ user, onSignedOut }: { user: UserProfile; onSignedOut: () => void }) {
  const route = useRoute();
  const [feed] = useState(() => new LiveFeed('/api/v1/live', async () => void (await api.get<MeResponse>('/api/v1/me'))));
  const [store] = useState(() => new DeviceStore());

  useEffect(() => {
    const offDevices = feed.on('devices', (e) => store.merge(e.devices));
    const offReconnect = feed.onReconnect(() => {
      if (store.snapshot.loaded || store.snapshot.error) void store.load();
    });
    feed.start();
    return () => {
      offDevices();
      offReconnect();
      feed.stop();
    };
  }, [feed, store]);

  // After navigating, move focus to the new page's heading so keyboard and screen-reader users
  // start at the top of what changed (not on the first load: the browser places focus then).
  const firstRoute = useRef(true);
  useEffect(() => {
    if (firstRoute.current) {
      firstRoute.current = false;
      return;
    }
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [route]);

  const signOut = useAction(async () => {
    await api.post<void>('/api/v1/logout');
  });
  const doSignOut = async () => {
    if (await signOut.run()) {
      feed.stop();
      setCsrfToken(null);
      onSignedOut();
    }
  };

  return (
    <UserContext.Provider value={user}>
      <LiveContext.Provider value={feed}>
        <DeviceStoreContext.Provider value={store}>
          <button type="button" class="skip" onClick={() => document.getElementById('main')?.focus()}>
            Skip to content
          </button>
          <header class="top">
            <a class="brand" href="#/overview">
              BWC Companion
            </a>
            <LiveIndicator />
            <div class="who">
              <span class="who-name">{user.username}</span>
              <span class="who-roles" title="Your roles">
                {user.roles.join(', ') || 'no role'}
              </span>
              {user.offices.length ? (
                <span class="who-offices" title="Your offices">
                  {user.offices.join(', ')}
                </span>
              ) : null}
            </div>
            <button type="button" class="btn btn-quiet btn-on-dark" aria-disabled={signOut.busy} onClick={() => void doSignOut()}>
              Sign out
            </button>
          </header>
          <ErrorBanner error={signOut.error} context="Could not sign out" />
          <nav class="nav" aria-label="Main">
            <ul>
              {NAV.filter((n) => !n.roles || hasAnyRole(user, n.roles)).map((n) => (
                <li key={n.hash}>
                  <a href={n.hash} aria-current={n.pages.includes(route.page) ? 'page' : undefined}>
                    {n.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
          <main id="main" tabIndex={-1}>
            <PageFor route={route} />
          </main>
        </DeviceStoreContext.Provider>
      </LiveContext.Provider>
    </UserContext.Provider>
  );
}

function LiveIndicator() {
  const status = useLiveStatus();
  return (
    <span class={`live live-${status}`} role="status" title={status === 'live' ? 'Receiving live updates' : 'Live updates interrupted; reconnecting'}>
      <span class="live-dot" aria-hidden="true" />
      <span data-testid="live-status">{status}</span>
    </span>
  );
}
