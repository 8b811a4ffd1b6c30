/**
 * The dashboard's HTTP client for the gateway's JSON API (gateway/api/README.md).
 *
 * - Requests go to the same origin with the session cookie; every request other than GET carries
 *   the session's CSRF token in `x-csrf-token`. The token lives in this module's memory only: it is
 *   never written to storage or to a URL, and a reload asks `GET /api/v1/me` for it again.
 * - Every failure becomes an `ApiError` carrying the gateway's code, message, status and request
 *   id, so the page can show it next to the action that failed.
 * - A 401 on any request other than the login itself means the session is over: the handler set
 *   with `onSessionEnded` takes the user back to the sign-in form.
 */
import type { ApiErrorBody } from '../../api/types.js';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;
  /** Every problem the gateway found in the request, when it names several (a 400). */
  readonly problems: readonly string[];

  constructor(status: number, code: string, message: string, requestId: string | null = null, problems: readonly string[] = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.requestId = requestId;
    this.problems = problems;
  }
}

/** Any thrown value as an ApiError (a fault in the page itself becomes CLIENT_ERROR). */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  return new ApiError(0, 'CLIENT_ERROR', e instanceof Error ? e.message : String(e));
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'AbortError';
}

let csrfToken: string | null = null;
let sessionEnded: (() => void) | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export function onSessionEnded(handler: (() => void) | null): void {
  sessionEnded = handler;
}

export type Query = Record<string, string | number | boolean | null | undefined>;

/** `?a=1&b=x` from the fields that have a value; '' when none has. */
export function query(params: Query): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** One path segment, escaped. */
export function seg(value: string | number): string {
  return encodeURIComponent(String(value));
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

interface SendOptions {
  body?: unknown;
  signal?: AbortSignal;
  accept?: string;
  /** A login answers 401 for wrong credentials: that is not the end of a session. */
  isLogin?: boolean;
}

async function send(method: Method, path: string, options: SendOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: options.accept ?? 'application/json' };
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const init: RequestInit = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  if (options.signal) init.signal = options.signal;
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (isAbort(e)) throw e;
    throw new ApiError(0, 'NETWORK_ERROR', 'The gateway could not be reached. Check the network connection and try again.');
  }
  if (!res.ok) throw await errorOf(res, options.isLogin === true);
  return res;
}

async function errorOf(res: Response, isLogin: boolean): Promise<ApiError> {
  const requestId = res.headers.get('x-request-id');
  let body: Partial<ApiErrorBody> | null = null;
  try {
    body = (await res.json()) as Partial<ApiErrorBody>;
  } catch {
    body = null;
  }
  const err =
    body?.error && typeof body.error.message === 'string'
      ? new ApiError(
          res.status,
          String(body.error.code),
          body.error.message,
          body.error.requestId ?? requestId,
          Array.isArray(body.error.problems) ? body.error.problems.map(problemText).filter((p) => p !== '') : [],
        )
      : new ApiError(res.status, `HTTP_${res.status}`, `The gateway answered ${res.status} ${res.statusText}`.trim(), requestId);
  if (res.status === 401 && !isLogin) sessionEnded?.();
  return err;
}

/** One of the gateway's problems as a line: "field: message". */
function problemText(p: unknown): string {
  if (typeof p === 'string') return p;
  if (p === null || typeof p !== 'object') return '';
  const { field, message } = p as { field?: unknown; message?: unknown };
  if (typeof message !== 'string') return '';
  return typeof field === 'string' && field ? `${field}: ${message}` : message;
}

async function json<T>(method: Method, path: string, options: SendOptions = {}): Promise<T> {
  const res = await send(method, path, options);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const api = {
  get: <T>(path: string, signal?: AbortSignal): Promise<T> => json<T>('GET', path, signal ? { signal } : {}),
  post: <T>(path: string, body?: unknown): Promise<T> => json<T>('POST', path, body === undefined ? {} : { body }),
  put: <T>(path: string, body?: unknown): Promise<T> => json<T>('PUT', path, body === undefined ? {} : { body }),
  del: <T>(path: string): Promise<T> => json<T>('DELETE', path),
  login: <T>(username: string, password: string): Promise<T> => json<T>('POST', '/api/v1/login', { body: { username, password }, isLogin: true }),
  /** A binary answer (an export), with the file name the gateway suggests. */
  async blob(method: Method, path: string, fallbackName: string): Promise<{ blob: Blob; filename: string }> {
    const res = await send(method, path, { accept: '*/*' });
    const disposition = res.headers.get('content-disposition') ?? '';
    const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
    return { blob: await res.blob(), filename: m?.[1] ? decodeURIComponent(m[1]) : fallbackName };
  },
};
