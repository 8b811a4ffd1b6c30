/** How the dashboard writes times, sizes and hashes: in the user's locale, with exact UTC on hover. */

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const dateTimeCompact = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium' });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto', style: 'short' });
const integer = new Intl.NumberFormat();

/** A time as ms since the epoch, or null when it is missing or not a time. */
export function toMs(at: number | string | null | undefined): number | null {
  if (at === null || at === undefined || at === '') return null;
  const ms = typeof at === 'number' ? at : Date.parse(at);
  return Number.isFinite(ms) ? ms : null;
}

export function formatDateTime(ms: number, compact = false): string {
  return (compact ? dateTimeCompact : dateTime).format(ms);
}

/** `2026-03-01 14:05:09 UTC`: the exact time, for a title attribute. */
export function formatUtc(ms: number): string {
  return `${new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, '')} UTC`;
}

const STEPS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['second', 60],
  ['minute', 60],
  ['hour', 24],
  ['day', 30],
  ['month', 12],
  ['year', Infinity],
];

/** "3 min ago", "in 2 days". */
export function formatRelative(ms: number, now: number): string {
  let value = (ms - now) / 1000;
  if (Math.abs(value) < 10) return 'just now';
  for (const [unit, size] of STEPS) {
    if (Math.abs(value) < size) return relative.format(Math.round(value), unit);
    value /= size;
  }
  return relative.format(Math.round(value), 'year');
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '—';
  let v = bytes;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < BYTE_UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${BYTE_UNITS[u]}`;
}

export function formatCount(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : integer.format(n);
}

/** 93784 s → "1 d 2 h". */
export function formatDuration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  return `${m} min`;
}

/** The first characters of a hash, enough to tell records apart on screen. */
export function shortHash(hash: string, length = 12): string {
  return hash.length > length ? `${hash.slice(0, length)}…` : hash;
}

/** `value` of an `<input type="datetime-local">` (local time) as ms; null when empty or invalid. */
export function localInputToMs(value: string): number | null {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : null;
}

/** `value` of an `<input type="date">` as ms at the start (or the end) of that local day. */
export function dateInputToMs(value: string, endOfDay = false): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return null;
  const start = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])).getTime();
  return endOfDay ? start + 86_400_000 - 1 : start;
}

/** Comma- or space-separated ids as a list. */
export function splitIds(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** A short one-line view of a JSON value. */
export function summarize(value: unknown, max = 120): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Days in an average Gregorian month (365.2425 / 12). */
const DAYS_PER_MONTH = 30.436875;

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/**
 * How long a record is kept, in years and months as a records schedule says it (4007.1):
 * `{ years: 3 }` → "3 years", `{ months: 18 }` → "1 year 6 months", `{ days: 2190 }` → "6 years".
 * Days are rounded to the nearest month ("about" when that moves them by more than three days);
 * under four weeks they stay days. Zero is "none".
 */
export function formatRetention(period: { years: number } | { months: number } | { days: number }): string {
  let months: number;
  let about = false;
  if ('years' in period) months = period.years * 12;
  else if ('months' in period) months = period.months;
  else {
    const days = period.days;
    if (!Number.isFinite(days) || days < 0) return '—';
    if (days === 0) return 'none';
    if (days < 28) return plural(Math.round(days), 'day');
    months = Math.round(days / DAYS_PER_MONTH);
    about = Math.abs(days - months * DAYS_PER_MONTH) > 3;
  }
  if (!Number.isFinite(months) || months < 0) return '—';
  if (months === 0) return 'none';
  const whole = Math.round(months);
  const y = Math.floor(whole / 12);
  const m = whole % 12;
  const text = [y ? plural(y, 'year') : '', m ? plural(m, 'month') : ''].filter(Boolean).join(' ');
  return about ? `about ${text}` : text;
}

/**
 * A key id (hex SHA-256 of the public key) grouped in fours for reading aloud and comparing:
 * "3f1c 9a0b …". The same digits `bwc` prints and `--root-fingerprint` takes, ungrouped.
 */
export function formatFingerprint(keyId: string): string {
  return keyId
    .toLowerCase()
    .replace(/[^0-9a-f]/g, '')
    .replace(/(.{4})(?=.)/g, '$1 ');
}
