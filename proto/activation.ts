/**
 * The activation decide() judges (DESIGN §5), and its JSON form for `bwc policy decide`. The dock
 * builds the same object from link events: camera time corrected by the clock offset, officer from
 * the camera assignment in force at that time.
 */
import { z } from 'zod';
import { DEVICE_ROLES, METHODS, TRIGGERS } from './vocab.js';
import { firstIssue } from './schema-error.js';
import { timeOrNull, zCode, zId, zTime } from './canonical.js';

export interface Activation {
  readonly cameraSerial: string;
  /** From the camera assignment in force at `at`; null when the camera had none. */
  readonly officerId: string | null;
  /** The dock or wearable that saw it (grant scopes may name devices). */
  readonly deviceId: string | null;
  readonly deviceRole: string;
  readonly trigger: string;
  /** Absent until tagged. */
  readonly activity: string | null;
  readonly purposes: readonly string[];
  readonly method: string;
  readonly office: string | null;
  readonly at: number;
  readonly stoppedAt: number | null;
  readonly clock: { readonly synced: boolean; readonly offsetMs: number } | null;
  readonly replayed: boolean;
  readonly clipId: string | null;
}

const time = zTime;
const oneOf = (codes: readonly string[]) => z.string().refine((s) => codes.includes(s), `must be one of: ${codes.join(', ')}`);

export const ActivationSchema = z
  .object({
    cameraSerial: zId,
    officerId: zId.nullable().default(null),
    deviceId: zId.nullable().default(null),
    deviceRole: oneOf(DEVICE_ROLES.codes).default('bwc'),
    trigger: oneOf(TRIGGERS.codes),
    activity: zCode.nullable().default(null),
    purposes: z.array(zCode).default([]),
    method: oneOf(METHODS.codes).default('video'),
    location: z.object({ office: zId.optional() }).strict().nullable().default(null),
    at: time,
    stoppedAt: time.nullable().default(null),
    clock: z
      .object({ synced: z.boolean(), offsetMs: z.number().int().default(0) })
      .strict()
      .nullable()
      .default(null),
    replayed: z.boolean().default(false),
    clipId: z.string().min(1).max(256).nullable().default(null),
  })
  .strict()
  .refine((a) => a.stoppedAt === null || timeOrNull(a.stoppedAt)! >= timeOrNull(a.at)!, {
    path: ['stoppedAt'],
    message: 'must not be before at',
  });

export class ActivationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ActivationError';
  }
}

/** Reads the activation JSON of DESIGN §5; the error names the field. */
export function activationFromJson(raw: unknown, source = 'activation'): Activation {
  const r = ActivationSchema.safeParse(raw);
  if (!r.success) {
    throw new ActivationError(firstIssue(r.error, source));
  }
  const a = r.data;
  return {
    cameraSerial: a.cameraSerial,
    officerId: a.officerId,
    deviceId: a.deviceId,
    deviceRole: a.deviceRole,
    trigger: a.trigger,
    activity: a.activity,
    purposes: a.purposes,
    method: a.method,
    office: a.location?.office ?? null,
    at: timeOrNull(a.at)!,
    stoppedAt: a.stoppedAt ? timeOrNull(a.stoppedAt)! : null,
    clock: a.clock,
    replayed: a.replayed,
    clipId: a.clipId,
  };
}
