import { formatDateTime, formatRelative, formatUtc, toMs } from '../format.js';

interface TimeProps {
  at: number | string | null | undefined;
  /** "3 min ago" instead of the date; give `now` so the text keeps up. */
  relativeTo?: number;
  /** Shown when there is no time. */
  none?: string;
  /** A shorter date, for wide tables. */
  compact?: boolean;
}

/** A time in the user's locale, with the exact UTC time in its title. */
export function Time({ at, relativeTo, none = '—', compact = false }: TimeProps) {
  const ms = toMs(at);
  if (ms === null) return <span class="muted">{none}</span>;
  const iso = new Date(ms).toISOString();
  const utc = formatUtc(ms);
  return (
    <time dateTime={iso} title={relativeTo === undefined ? utc : `${formatDateTime(ms)} (${utc})`}>
      {relativeTo === undefined ? formatDateTime(ms, compact) : formatRelative(ms, relativeTo)}
    </time>
  );
}
