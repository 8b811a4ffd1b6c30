/**
 * HTTP byte ranges for evidence playback (RFC 9110 §14): the dashboard's player seeks in a clip by
 * asking for parts of it. Pure: a `Range` header and the content's size in, what to send out.
 *
 * One range is served (206 with `Content-Range`). A range wholly past the end is 416 with
 * `Content-Range: bytes *\/size`. Several ranges, another unit, or a header that is not a byte range
 * are ignored and the whole content is sent (200), as RFC 9110 §14.2 allows a server to do.
 */
export type RangeAnswer =
  | { readonly kind: 'whole' }
  | { readonly kind: 'part'; readonly start: number; readonly end: number }
  | { readonly kind: 'unsatisfiable' };

const ONE_RANGE = /^bytes=(\d*)-(\d*)$/;

export function byteRange(header: string | undefined, size: number): RangeAnswer {
  if (!header) return { kind: 'whole' };
  const m = ONE_RANGE.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'whole' };
  if (m[1] === '') {
    // A suffix: the last N bytes.
    const n = Number(m[2]);
    if (!Number.isSafeInteger(n)) return { kind: 'whole' };
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'part', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? size - 1 : Number(m[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(last)) return { kind: 'whole' };
  if (start >= size) return { kind: 'unsatisfiable' };
  if (last < start) return { kind: 'whole' }; // an invalid range: ignored
  return { kind: 'part', start, end: Math.min(last, size - 1) };
}

/**
 * "Once per session": remembers which session already had a clip's viewing or download audited, so
 * that a player's many range requests make one audit entry (DESIGN §6: evidence is watched). Kept in
 * memory for the length of a session; a gateway restarted, or another replica, audits anew.
 */
export class OncePerSession {
  readonly #seen = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #max: number;

  constructor(o: { ttlMs?: number; max?: number } = {}) {
    this.#ttlMs = o.ttlMs ?? 12 * 3_600_000;
    this.#max = o.max ?? 100_000;
  }

  /** True the first time `key` is seen within the TTL. */
  first(key: string, now: number): boolean {
    const at = this.#seen.get(key);
    if (at !== undefined && now - at < this.#ttlMs) return false;
    this.#seen.delete(key);
    this.#seen.set(key, now);
    if (this.#seen.size > this.#max) {
      for (const k of this.#seen.keys()) {
        this.#seen.delete(k);
        if (this.#seen.size <= this.#max) break;
      }
    }
    return true;
  }
}
