/**
 * Exact inputs (DESIGN §5, second round): the one parser each for times, ids, codes and articulated
 * text. Every entry point — activations, signed policy sources, the gateway's API bodies, CLI flags,
 * configuration, camera events — reads them through here, so a decision never depends on how a
 * string was typed or on the machine's time zone.
 *
 * - A time is RFC 3339 with an explicit offset (`Z` or `±hh:mm`). Nothing is read in local time;
 *   `2026-12-04T23:30:00`, `1` and `Nov 22 2026` are refused.
 * - An id (officer, person, requester, approver, camera, device, office) is NFC, holds no
 *   whitespace and no control or format character (Unicode Cc/Cf), and is at most 64 characters.
 *   Ids compare case-insensitively everywhere (`idKey`).
 * - An activity or purpose code is an id in lower case; upper-case input is folded.
 * - A text that must be articulated (1061.2 §5.2: reason, purpose, minimization, anticipated
 *   location) holds at least one letter or digit once whitespace and format characters are gone.
 */
import { z } from 'zod';

/** A refused input, naming the field it came from. */
export class InputError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    super(field ? `${field}: ${problem}` : problem);
    this.name = 'InputError';
  }
}

// ── times ────────────────────────────────────────────────────────────────────────────────────

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|([+-])(\d{2}):(\d{2}))$/;
export const TIME_RULE = 'must be an RFC 3339 time with an explicit offset, e.g. 2026-11-22T14:03:00Z or 2026-11-22T06:03:00-08:00';

/** Milliseconds since the epoch of an RFC 3339 time with an explicit offset; null for anything else. */
export function timeOrNull(s: string): number | null {
  const m = RFC3339.exec(s);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return null;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysInMonth) return null;
  let offsetMin = 0;
  if (m[9]) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return null;
    offsetMin = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const frac = m[7] ? Math.floor(Number(`0${m[7]}`) * 1000) : 0;
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, frac) - offsetMin * 60_000;
  return Number.isFinite(utc) ? utc : null;
}

/** Parses a time or throws InputError naming the field. */
export function parseTime(s: unknown, field: string): number {
  const t = typeof s === 'string' ? timeOrNull(s) : null;
  if (t === null) throw new InputError(field, `"${String(s).slice(0, 40)}" ${TIME_RULE}`);
  return t;
}

/** The canonical text of an instant: RFC 3339 in UTC with milliseconds. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString();
}

// ── ids and codes ───────────────────────────────────────────────────────────────────────────

export const ID_MAX = 64;
const WHITESPACE_OR_FORMAT = /[\p{White_Space}\p{Cc}\p{Cf}]/u;
const WHITESPACE_OR_FORMAT_ALL = /[\p{White_Space}\p{Cc}\p{Cf}]/gu;
export const ID_RULE = `must be an id: NFC, no whitespace, control or format characters, at most ${ID_MAX} characters`;

/** Why a string is not a canonical id, or null when it is one. */
export function idProblem(s: string): string | null {
  if (s.length === 0) return 'must not be empty';
  if (s.normalize('NFC') !== s) return `${ID_RULE} (it is not in NFC)`;
  if (WHITESPACE_OR_FORMAT.test(s)) return `${ID_RULE} (it holds whitespace, a control or a format character)`;
  if ([...s].length > ID_MAX) return `${ID_RULE} (it has ${[...s].length})`;
  return null;
}

/** True when a string is a canonical id (officers, cameras, offices, persons). */
export function isCanonicalId(s: string): boolean {
  return idProblem(s) === null;
}

/** Returns the id unchanged when canonical; throws InputError naming the field otherwise. */
export function parseId(s: unknown, field: string): string {
  if (typeof s !== 'string') throw new InputError(field, 'must be a string id');
  const problem = idProblem(s);
  if (problem) throw new InputError(field, problem);
  return s;
}

/**
 * The key ids compare by: NFC, whitespace and format characters dropped, lower case. Total on any
 * string, so a signed object written before these rules (`"U7 "`, `"u7"`) still compares equal to
 * the id it names: no stray space or letter case lets an approver escape the self-approval rule.
 */
export function idKey(s: string): string {
  return s.normalize('NFC').replace(WHITESPACE_OR_FORMAT_ALL, '').toLowerCase();
}

/** True when two ids name the same person, camera, device or office. */
export function sameId(a: string | null | undefined, b: string | null | undefined): boolean {
  return a != null && b != null && idKey(a) === idKey(b);
}

/** An activity or purpose code: a canonical id, folded to lower case. */
export function parseCode(s: unknown, field: string): string {
  return parseId(s, field).toLowerCase();
}

/** The form codes compare in (total: also for codes read from signed objects). */
export function codeKey(s: string): string {
  return idKey(s);
}

// ── articulated text ───────────────────────────────────────────────────────────────────────

/** 1061.2 §5.2: a required text counts only if it says something (a letter or a digit). */
export function isArticulated(s: string | null | undefined): boolean {
  return typeof s === 'string' && /[\p{L}\p{N}]/u.test(s.replace(WHITESPACE_OR_FORMAT_ALL, ''));
}

export const TEXT_RULE = 'must be articulated: at least one letter or digit';

// ── zod forms, for every schema that reads them ────────────────────────────────────────────

export const zTime = z.string({ error: TIME_RULE }).refine((s) => timeOrNull(s) !== null, TIME_RULE);
export const zId = z.string({ error: ID_RULE }).superRefine((s, ctx) => {
  const problem = idProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
export const zCode = zId.transform((s) => s.toLowerCase());
/** A required articulated text of 1061.2 §5.2; `clause` is named in the message. */
export const zText = (clause: string) =>
  z
    .string({ error: `is required (1061.2 ${clause})` })
    .max(4000)
    .refine(isArticulated, `is required (1061.2 ${clause}) and ${TEXT_RULE}`);
