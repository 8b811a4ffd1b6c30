/**
 * Live updates: one `EventSource` on `GET /api/v1/live` per signed-in tab (LiveEvents in
 * gateway/api/types.ts). Pages subscribe to the events they show; `onReconnect` tells them to
 * fetch their lists again, since events sent while the stream was down are not replayed.
 *
 * The browser reconnects an interrupted stream by itself. It gives up for good when the gateway
 * answers with an error (401 after the session ended, a 5xx during a restart); then this feed
 * checks the session (a 401 there signs the user out) and opens a new stream, backing off up to
 * 30 seconds.
 */
import { createContext } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import type { LiveEventName, LiveEvents } from '../../api/types.js';

export type LiveStatus = 'live' | 'reconnecting';

const EVENT_NAMES: readonly LiveEventName[] = ['hello', 'devices', 'alert', 'clip', 'authz'];
const MAX_RETRY_MS = 30_000;

type Handler = (data: never) => void;

export class LiveFeed {
  readonly #url: string;
  readonly #checkSession: () => Promise<void>;
  #source: EventSource | null = null;
  #status: LiveStatus = 'reconnecting';
  #opened = false;
  #stopped = true;
  #retryMs = 1000;
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  readonly #handlers = new Map<LiveEventName, Set<Handler>>();
  readonly #statusHandlers = new Set<(s: LiveStatus) => void>();
  readonly #reconnectHandlers = new Set<() => void>();
  /** Events whose data was not JSON: counted and logged, never silently dropped. */
  malformed = 0;

  constructor(url: string, checkSession: () => Promise<void>) {
    this.#url = url;
    this.#checkSession = checkSession;
  }

  get status(): LiveStatus {
    return this.#status;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#open();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#source?.close();
    this.#source = null;
    this.#setStatus('reconnecting');
  }

  on<K extends LiveEventName>(name: K, handler: (data: LiveEvents[K]) => void): () => void {
    let set = this.#handlers.get(name);
    if (!set) this.#handlers.set(name, (set = new Set()));
    set.add(handler as Handler);
    return () => set.delete(handler as Handler);
  }

  onStatus(handler: (s: LiveStatus) => void): () => void {
    this.#statusHandlers.add(handler);
    return () => this.#statusHandlers.delete(handler);
  }

  onReconnect(handler: () => void): () => void {
    this.#reconnectHandlers.add(handler);
    return () => this.#reconnectHandlers.delete(handler);
  }

  #open(): void {
    const source = new EventSource(this.#url);
    this.#source = source;
    source.onopen = () => {
      this.#retryMs = 1000;
      this.#setStatus('live');
      if (this.#opened) for (const h of [...this.#reconnectHandlers]) h();
      this.#opened = true;
    };
    source.onerror = () => {
      this.#setStatus('reconnecting');
      if (source.readyState === EventSource.CLOSED) this.#retry(source);
    };
    for (const name of EVENT_NAMES) {
      source.addEventListener(name, (ev) => this.#dispatch(name, (ev as MessageEvent<string>).data));
    }
    // The gateway ends the stream with `signedout` when the session ends (logout elsewhere, idle
    // timeout, a disabled user): check at once rather than after the browser's reconnect delay.
    source.addEventListener('signedout', () => {
      source.close();
      if (this.#source !== source) return;
      this.#source = null;
      this.#setStatus('reconnecting');
      this.#checkSession()
        .catch(() => undefined)
        .finally(() => {
          if (!this.#stopped && !this.#source) this.#open();
        });
    });
  }

  #retry(source: EventSource): void {
    source.close();
    if (this.#stopped || this.#source !== source) return;
    this.#source = null;
    const delay = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, MAX_RETRY_MS);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      // A 401 here ends the session (api.ts), which stops this feed.
      this.#checkSession()
        .catch(() => undefined)
        .finally(() => {
          if (!this.#stopped && !this.#source) this.#open();
        });
    }, delay);
  }

  #dispatch(name: LiveEventName, raw: string): void {
    let data: unknown;
    try {
      data = JSON.parse(raw);
    } catch {
      this.malformed++;
      console.error(`live: the "${name}" event was not JSON (${this.malformed} so far)`, raw.slice(0, 200));
      return;
    }
    for (const h of [...(this.#handlers.get(name) ?? [])]) (h as (d: unknown) => void)(data);
  }

  #setStatus(s: LiveStatus): void {
    if (s === this.#status) return;
    this.#status = s;
    for (const h of [...this.#statusHandlers]) h(s);
  }
}

export const LiveContext = createContext<LiveFeed | null>(null);

function useFeed(): LiveFeed {
  const feed = useContext(LiveContext);
  if (!feed) throw new Error('live: no LiveFeed above this component');
  return feed;
}

/** Calls `handler` for each `name` event; the latest handler is used without resubscribing. */
export function useLiveEvent<K extends LiveEventName>(name: K, handler: (data: LiveEvents[K]) => void): void {
  const feed = useFeed();
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => feed.on(name, (d) => ref.current(d)), [feed, name]);
}

/** Calls `handler` each time the stream comes back after an interruption. */
export function useOnReconnect(handler: () => void): void {
  const feed = useFeed();
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => feed.onReconnect(() => ref.current()), [feed]);
}

export function useLiveStatus(): LiveStatus {
  const feed = useFeed();
  const [status, setStatus] = useState(feed.status);
  useEffect(() => {
    setStatus(feed.status);
    return feed.onStatus(setStatus);
  }, [feed]);
  return status;
}
