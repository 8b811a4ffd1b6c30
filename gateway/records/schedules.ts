/**
 * Records schedules as configuration (4007.1; 1061.2 §6; DESIGN §6): what a record is kept for,
 * and which schedule a record gets.
 *
 * - temporary: destroyed `retentionDays` after its cutoff;
 * - permanent: transferred (exported) `transferAfterYears` after its cutoff, never destroyed here;
 * - unscheduled: kept indefinitely, never disposed of (4007.1 fn. 2: "considered permanent until a
 *   records schedule is approved").
 *
 * A clip's record class is `category:<code>` when its decision has a basis (AUTHORIZED: the
 * 1061.2 §2.1 category) and `decision:<VERDICT>` otherwise; other records have a kind
 * (`authz_request`, `authz_approval`, `authz_denial`, `authz_revocation`, `disposition`). A class or
 * kind the mapping does not name is UNSCHEDULED — never temporary.
 *
 * Cutoffs are times the gateway observed (DESIGN §6, §8): `received` (first receipt of the
 * manifest), `verified` (the clip VERIFIED), or `calendar_year` (the end of the calendar year, UTC,
 * of verification). A device-claimed time never moves a record toward destruction.
 *
 * The shipped defaults are examples for a pilot, not NARA-approved schedules: an agency sets its own.
 */
import { z } from 'zod';
import type { DecisionJson } from '../../proto/decision.js';

export const CUTOFFS = ['received', 'verified', 'calendar_year'] as const;
export type Cutoff = (typeof CUTOFFS)[number];

const text = z.string().min(1).max(500);
const ScheduleName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be a name of letters, digits, . _ - (at most 64)');

const cutoff = z
  .enum(CUTOFFS)
  .default('verified')
  .describe(
    'What retention counts from, a time the gateway observed: `received` (first receipt of the manifest), `verified` (the clip VERIFIED) or `calendar_year` (the end of the calendar year, UTC, of verification).',
  );
const authority = text.optional().describe('The authority for the schedule (e.g. the approved records schedule item); reported with the schedule.');
const description = text.optional().describe('What the schedule covers.');

export const ScheduleSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('temporary').describe('`temporary`: content destroyed `retentionDays` after the cutoff'),
    retentionDays: z
      .number()
      .int()
      .min(0)
      .max(365 * 200)
      .describe('Days after the cutoff from which the content may be disposed of.'),
    cutoff,
    authority,
    description,
  }),
  z.strictObject({
    type: z.literal('permanent').describe('`permanent`: transferred (exported) `transferAfterYears` after the cutoff, never destroyed here'),
    transferAfterYears: z.number().int().min(0).max(200).describe('Years after the cutoff when the record is transferred (exported).'),
    cutoff,
    authority,
    description,
  }),
  z.strictObject({ type: z.literal('unscheduled').describe('`unscheduled`: kept indefinitely, never disposed of'), description }),
]);
export type ScheduleConfig = z.infer<typeof ScheduleSchema>;

/** Record kinds other than clips, with their own schedule entries (mapping.kinds). */
export const RECORD_KINDS = ['authz_request', 'authz_approval', 'authz_denial', 'authz_revocation', 'disposition'] as const;

export const DEFAULT_SCHEDULES: Record<string, ScheduleConfig> = {
  'bwc-routine': {
    type: 'temporary',
    retentionDays: 180,
    cutoff: 'verified',
    description: 'BWC recordings of routine activity (trigger activities, facility protection, training)',
  },
  'bwc-evidentiary': {
    type: 'temporary',
    retentionDays: 7 * 365,
    cutoff: 'calendar_year',
    description: 'BWC recordings under an authorization for an investigation, a proceeding or a prior authorization',
  },
  'bwc-historical': {
    type: 'permanent',
    transferAfterYears: 25,
    cutoff: 'calendar_year',
    description: 'BWC recordings produced for public affairs (historical value)',
  },
  'authz-paperwork': {
    type: 'temporary',
    retentionDays: 6 * 365,
    cutoff: 'calendar_year',
    description: 'Recording-authorization requests, approvals, denials and revocations (1061.2 §6)',
  },
};

export const DEFAULT_MAPPING = {
  /** AUTHORIZED clips, by the 1061.2 §2.1 category of their basis. */
  categories: {
    directive_authorized: 'bwc-routine',
    physical_security: 'bwc-routine',
    training_town_hall: 'bwc-routine',
    work_duty_authorized: 'bwc-routine',
    opr_investigation: 'bwc-evidentiary',
    disciplinary_reply: 'bwc-evidentiary',
    legal_proceeding: 'bwc-evidentiary',
    authorized_investigation: 'bwc-evidentiary',
    eeo_investigation: 'bwc-evidentiary',
    reasonable_accommodation: 'bwc-evidentiary',
    prior_authorization: 'bwc-evidentiary',
    opa_ope_ocr: 'bwc-evidentiary',
    public_affairs_production: 'bwc-historical',
  } as Record<string, string>,
  /** Clips without a basis, by verdict. None by default: UNAUTHORIZED, PROHIBITED and unclassified recordings are unscheduled (kept for review, 1061.2 §4). */
  decisions: {} as Record<string, string>,
  /** Other records, by kind. */
  kinds: {
    authz_request: 'authz-paperwork',
    authz_approval: 'authz-paperwork',
    authz_denial: 'authz-paperwork',
    authz_revocation: 'authz-paperwork',
  } as Record<string, string>,
};

export const RecordsConfigSchema = z
  .object({
    schedules: z
      .record(ScheduleName, ScheduleSchema)
      .default(DEFAULT_SCHEDULES)
      .describe(
        'The schedules, by name. Given, it replaces all the default schedules, and each schedule records.mapping names (the default mapping too) must be one of them.',
      ),
    mapping: z
      .object({
        categories: z
          .record(z.string(), ScheduleName)
          .default(DEFAULT_MAPPING.categories)
          .describe('AUTHORIZED clips: the schedule for each 1061.2 §2.1 category of their basis; a category not named is unscheduled.'),
        decisions: z
          .partialRecord(z.enum(['AUTHORIZED', 'UNAUTHORIZED', 'PROHIBITED', 'PENDING_CLASSIFICATION', 'NONE']), ScheduleName)
          .default(DEFAULT_MAPPING.decisions)
          .describe(
            'Clips without a basis: the schedule for each verdict; a verdict not named is unscheduled. By default none is named: UNAUTHORIZED, PROHIBITED and unclassified recordings are kept for review (1061.2 §4).',
          ),
        kinds: z
          .record(z.string(), ScheduleName)
          .default(DEFAULT_MAPPING.kinds)
          .describe(
            'Other records: the schedule for each kind (`authz_request`, `authz_approval`, `authz_denial`, `authz_revocation`, `disposition`); a kind not named is unscheduled.',
          ),
      })
      .strict()
      .default(DEFAULT_MAPPING)
      .describe('Which schedule a record gets; each name must be one of records.schedules. A class or kind not named here is unscheduled.'),
  })
  .strict()
  .superRefine((c, ctx) => {
    for (const part of ['categories', 'decisions', 'kinds'] as const) {
      for (const [k, name] of Object.entries(c.mapping[part] as Record<string, string>)) {
        if (!Object.hasOwn(c.schedules, name))
          ctx.addIssue({
            code: 'custom',
            path: ['mapping', part, k],
            message: `names schedule "${name}", which records.schedules does not define`,
          });
      }
    }
  });
export type RecordsConfig = z.infer<typeof RecordsConfigSchema>;
export const DEFAULT_RECORDS_CONFIG: RecordsConfig = RecordsConfigSchema.parse({});

/** A schedule as applied to a record. */
export type RecordsSchedule =
  | { name: string; type: 'temporary'; retentionDays: number; cutoff: Cutoff; authority?: string; description?: string }
  | { name: string; type: 'permanent'; transferAfterYears: number; cutoff: Cutoff; authority?: string; description?: string }
  | { name: string; type: 'unscheduled'; description?: string };

/** What a record gets when no schedule names its class or kind. */
export const UNSCHEDULED: RecordsSchedule = {
  name: 'UNSCHEDULED',
  type: 'unscheduled',
  description: 'not named by the mapping: kept indefinitely, never disposed of (4007.1 fn. 2)',
};

function named(config: RecordsConfig, name: string | undefined): RecordsSchedule {
  if (name === undefined || !Object.hasOwn(config.schedules, name)) return UNSCHEDULED;
  return { name, ...config.schedules[name]! } as RecordsSchedule;
}

/** A clip's record class: `category:<code>` with a basis, else `decision:<VERDICT>` (`decision:NONE` without a decision). */
export function clipRecordClass(decision: Pick<DecisionJson, 'decision' | 'basis'> | null): string {
  const category = decision?.basis?.category;
  if (category) return `category:${category}`;
  return `decision:${decision?.decision ?? 'NONE'}`;
}

export function scheduleForClip(config: RecordsConfig, decision: Pick<DecisionJson, 'decision' | 'basis'> | null): RecordsSchedule {
  const cls = clipRecordClass(decision);
  const [part, key] = cls.split(':', 2) as ['category' | 'decision', string];
  return named(config, own(part === 'category' ? config.mapping.categories : config.mapping.decisions, key));
}

/** The schedule of a record kind (`authz_request`, `authz_approval`, `authz_denial`, `authz_revocation`, `disposition`…). */
export function scheduleForKind(config: RecordsConfig, kind: string): RecordsSchedule {
  return named(config, own(config.mapping.kinds, kind));
}

/** `map[key]` only when it is the map's own entry (a category named `constructor` is unscheduled, not Object's). */
function own(map: Readonly<Record<string, string>>, key: string): string | undefined {
  return Object.hasOwn(map, key) ? map[key] : undefined;
}
