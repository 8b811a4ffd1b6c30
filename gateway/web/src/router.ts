/**
 * Hash routes: the dashboard is one page served at `/`, and each view is a `#/…` address that can be
 * bookmarked and shared (`#/devices/dock-017`, `#/clips/3f1c…`).
 */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'overview' }
  | { page: 'fleet' }
  | { page: 'cameras' }
  | { page: 'device'; id: string }
  | { page: 'alerts' }
  | { page: 'clips' }
  | { page: 'clip'; hash: string }
  | { page: 'authz' }
  | { page: 'records' }
  | { page: 'audit' }
  | { page: 'review' }
  | { page: 'review-item'; id: number }
  | { page: 'admin' }
  | { page: 'not-found'; path: string };

const SIMPLE = ['overview', 'fleet', 'cameras', 'alerts', 'clips', 'authz', 'records', 'audit', 'review', 'admin'] as const;

export function parseHash(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/\?.*$/, '');
  if (path === '' || path === '/') return { page: 'overview' };
  const parts = path.split('/').filter((p) => p !== '');
  const [first, second] = parts;
  if (parts.length === 1) {
    const simple = SIMPLE.find((p) => p === first);
    if (simple) return { page: simple };
  }
  if (parts.length === 2 && second !== undefined) {
    const value = safeDecode(second);
    if (first === 'devices' && value) return { page: 'device', id: value };
    if (first === 'clips' && value) return { page: 'clip', hash: value };
    if (first === 'review' && value && /^[1-9][0-9]{0,15}$/.test(value)) return { page: 'review-item', id: Number(value) };
  }
  return { page: 'not-found', path };
}

function safeDecode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export const href = {
  device: (id: string) => `#/devices/${encodeURIComponent(id)}`,
  clip: (manifestHash: string) => `#/clips/${encodeURIComponent(manifestHash)}`,
  review: (id: number) => `#/review/${id}`,
};
