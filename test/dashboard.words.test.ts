/**
 * How the dashboard words what it shows: retention in years and months (4007.1 schedules), key
 * fingerprints in groups of four, and every alert and tamper kind the gateway raises in words,
 * with an unknown code turned into words rather than shown raw.
 */
import { describe, expect, it } from 'vitest';
import { pb } from '../proto/wire.js';
import { ALERT_KINDS } from '../gateway/fleet/alert-kinds.js';
import { ALERT_KIND_WORDS, TAMPER_KIND_WORDS, alertTitle, alertWords } from '../gateway/web/src/alert-words.js';
import { formatFingerprint, formatRetention } from '../gateway/web/src/format.js';
import { holdProblems } from '../gateway/web/src/hold-problems.js';

describe('formatRetention', () => {
  it('says years and months, never days or milliseconds, for what a schedule keeps', () => {
    expect(formatRetention({ years: 3 })).toBe('3 years');
    expect(formatRetention({ years: 1 })).toBe('1 year');
    expect(formatRetention({ months: 18 })).toBe('1 year 6 months');
    expect(formatRetention({ months: 1 })).toBe('1 month');
    expect(formatRetention({ months: 25 })).toBe('2 years 1 month');
  });

  it('rounds a schedule kept in days to the nearest month, saying "about" when that moves it by more than three days', () => {
    expect(formatRetention({ days: 2190 })).toBe('6 years');
    expect(formatRetention({ days: 1095 })).toBe('3 years');
    expect(formatRetention({ days: 365 })).toBe('1 year');
    expect(formatRetention({ days: 548 })).toBe('1 year 6 months');
    expect(formatRetention({ days: 180 })).toBe('6 months');
    expect(formatRetention({ days: 45 })).toBe('about 1 month');
  });

  it('keeps days under four weeks, says "none" for nothing, and a dash for what is not a period', () => {
    expect(formatRetention({ days: 0 })).toBe('none');
    expect(formatRetention({ days: 1 })).toBe('1 day');
    expect(formatRetention({ days: 10 })).toBe('10 days');
    expect(formatRetention({ days: -1 })).toBe('—');
    expect(formatRetention({ days: Number.NaN })).toBe('—');
  });
});

describe('formatFingerprint', () => {
  it('groups a key id in fours, lowercase, with every digit kept', () => {
    const keyId = 'AB12cd34'.repeat(8);
    const shown = formatFingerprint(keyId);
    expect(shown).toBe(Array.from({ length: 16 }, (_, i) => keyId.toLowerCase().slice(i * 4, i * 4 + 4)).join(' '));
    expect(shown.replace(/ /g, '')).toBe(keyId.toLowerCase());
  });
});

describe('alert wording', () => {
  it('has words for every alert kind the gateway raises and every tamper kind a dock reports', () => {
    expect(Object.keys(ALERT_KIND_WORDS).sort()).toEqual(Object.keys(ALERT_KINDS).sort());
    const tamperKinds = Object.keys(pb.TamperKind).filter((k) => k.startsWith('TAMPER_KIND_') && k !== 'TAMPER_KIND_UNSPECIFIED');
    expect(Object.keys(TAMPER_KIND_WORDS).sort()).toEqual(tamperKinds.sort());
    for (const words of [...Object.values(ALERT_KIND_WORDS), ...Object.values(TAMPER_KIND_WORDS)]) expect(words).toMatch(/^[A-Z][a-z]/);
  });

  it('titles a tamper alert by what was tampered with, the code beside it', () => {
    expect(alertTitle({ kind: 'TAMPER', subject: 'TAMPER_KIND_CASE_OPENED' })).toEqual({
      words: 'Camera case opened',
      code: 'TAMPER_KIND_CASE_OPENED',
    });
    expect(alertTitle({ kind: 'PROHIBITED_RECORDING', subject: 'clip-7' })).toEqual({
      words: 'Prohibited recording',
      code: 'PROHIBITED_RECORDING',
    });
    expect(alertTitle({ kind: 'TAMPER', subject: null })).toEqual({ words: 'Tampering reported', code: 'TAMPER' });
  });

  it('turns a code it has no words for into words', () => {
    expect(alertWords('SOLAR_FLARE_DETECTED')).toBe('Solar flare detected');
    expect(alertWords('TAMPER_KIND_STRAP_CUT')).toBe('Strap cut');
    expect(alertWords('ALERT_KIND_BATTERY_LOW')).toBe('Battery low');
    expect(alertWords('batteryTooHot')).toBe('Battery too hot');
    expect(alertWords('constructor')).toBe('Constructor');
    expect(alertWords('')).toBe('');
  });
});

describe('the hold form', () => {
  it('names every problem of a hold at once', () => {
    expect(holdProblems({ reason: '', manifestHash: 'abc', fromAt: 2_000, toAt: 1_000 })).toEqual([
      'Give the reason for the hold (the matter it preserves records for).',
      'A manifest hash is 64 hexadecimal characters (copy it from the clip page).',
      '"From" must come before "To".',
    ]);
    expect(holdProblems({ reason: 'Doe v. Agency' })).toEqual([
      'Name at least one criterion besides the reason: a manifest hash, device, officer, camera or date range.',
    ]);
    expect(holdProblems({ reason: 'Doe v. Agency', officerId: 'O-17' })).toEqual([]);
  });
});
