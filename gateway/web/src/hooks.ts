/** Small hooks shared by the pages: loading a resource, running an action, a ticking clock. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { isAbort, toApiError, type ApiError } from './api.js';

export interface Resource<T> {
  data: T | undefined;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
  /** Changes the loaded data in place (a live event, the answer of an action). */
  update: (fn: (data: T) => T) => void;
}

/**
 * Loads `fetcher`'s answer, again whenever `deps` change or `reload` is called. The previous data
 * stays on screen while a reload runs; an answer that arrives after a newer request started is
 * discarded (its request is aborted).
 */
export function useResource<T>(fetcher: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[]): Resource<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const [generation, setGeneration] = useState(0);
  const fetcherRef = useRef(fetcher);
  fetcherRef.current = fetcher;

  useEffect(() => {
    const controller = new AbortController();
    setLoading(true);
    fetcherRef.current(controller.signal).then(
      (d) => {
        if (controller.signal.aborted) return;
        setData(() => d);
        setError(null);
        setLoading(false);
      },
      (e: unknown) => {
        if (controller.signal.aborted || isAbort(e)) return;
        setError(toApiError(e));
        setLoading(false);
      },
    );
    return () => controller.abort();
  }, [...deps, generation]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const update = useCallback((fn: (d: T) => T) => setData((d) => (d === undefined ? d : fn(d))), []);
  return { data, error, loading, reload, update };
}

export interface Action<A extends unknown[], R> {
  /** Runs the action; resolves to `{ value }` with its answer, or to null when it failed (see `error`). */
  run: (...args: A) => Promise<{ value: R } | null>;
  busy: boolean;
  error: ApiError | null;
  setError: (e: ApiError | null) => void;
}

/** A button's action: one run at a time, its failure kept for an ErrorBanner beside the button. */
export function useAction<A extends unknown[], R>(fn: (...args: A) => Promise<R>): Action<A, R> {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const busyRef = useRef(false);
  const run = useCallback(async (...args: A): Promise<{ value: R } | null> => {
    if (busyRef.current) return null;
    busyRef.current = true;
    setBusy(true);
    setError(null);
    try {
      return { value: await fnRef.current(...args) };
    } catch (e) {
      setError(toApiError(e));
      return null;
    } finally {
      busyRef.current = false;
      setBusy(false);
    }
  }, []);
  return { run, busy, error, setError };
}

/** The current time, updated every `intervalMs` (for "3 min ago"). */
export function useNow(intervalMs = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(t);
  }, [intervalMs]);
  return now;
}

/** Calls `fn` every `intervalMs` while the tab is visible. */
export function useInterval(fn: () => void, intervalMs: number): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => {
    const t = setInterval(() => {
      if (document.visibilityState === 'visible') ref.current();
    }, intervalMs);
    return () => clearInterval(t);
  }, [intervalMs]);
}
