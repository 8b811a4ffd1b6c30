/**
 * Camera scenario files for `bwc sim camera --scenario FILE` (JSON or YAML): a scripted shift.
 * Documented in device/link/README.md. Each step is an object with exactly one key.
 */
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import { METHODS, STOP_REASONS, TAMPER_KINDS, TRIGGERS } from '../../../proto/vocab.js';
import { firstIssue } from '../../../proto/schema-error.js';

const code = (vocab: { codes: readonly string[] }) => z.string().refine((s) => vocab.codes.includes(s), `must be one of: ${vocab.codes.join(', ')}`);

/** "5MiB", "1.5GiB", "300KB" or a number of bytes. */
export const SizeSchema = z
  .union([z.number().int().min(0), z.string().regex(/^\d+(\.\d+)?\s*(B|KB|KiB|MB|MiB|GB|GiB)$/i, 'a size like 5MiB or 1GiB')])
  .transform((v) => {
    if (typeof v === 'number') return v;
    const m = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/i.exec(v)!;
    const unit = m[2]!.toLowerCase();
    const mult: Record<string, number> = { b: 1, kb: 1e3, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 };
    return Math.round(Number(m[1]) * mult[unit]!);
  });

const clip = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a clip id of letters, digits, ".", "_" or "-"');

export const StepSchema = z.union([
  z.object({ wait: z.number().int().min(0).max(3_600_000) }).strict(),
  // Waits, still linked, until the camera is told to go on (CameraSimOptions.proceed; `bwc sim camera`: SIGUSR2).
  z.object({ pause: z.literal(true) }).strict(),
  z
    .object({
      start: z
        .object({
          clip,
          trigger: code(TRIGGERS).default('button'),
          activity: z.string().optional(),
          method: code(METHODS).default('video'),
          preEventBufferS: z.number().int().min(0).max(600).default(30),
          purposes: z.array(z.string()).default([]),
        })
        .strict(),
    })
    .strict(),
  z.object({ tag: z.object({ clip, activity: z.string().min(1), purposes: z.array(z.string()).default([]) }).strict() }).strict(),
  z.object({ mute: z.object({ clip, reason: z.string().min(1) }).strict() }).strict(),
  z.object({ unmute: z.object({ clip }).strict() }).strict(),
  z.object({ stop: z.object({ clip, reason: code(STOP_REASONS).default('button') }).strict() }).strict(),
  // content: video (default) is the playable sample, made unique and padded to `size`; random is random bytes of `size`.
  z
    .object({
      ready: z
        .object({
          clip,
          size: SizeSchema.optional(),
          mediaType: z.string().default('video/mp4'),
          content: z.enum(['video', 'random']).default('video'),
        })
        .strict(),
    })
    .strict(),
  z.object({ status: z.object({ battery: z.number().int().min(0).max(100).optional(), docked: z.boolean().optional() }).strict() }).strict(),
  z.object({ drain: z.object({ battery: z.number().int().min(1).max(100) }).strict() }).strict(),
  z.object({ tamper: z.object({ kind: code(TAMPER_KINDS), detail: z.string().default('') }).strict() }).strict(),
  z.object({ unplug: z.object({ ms: z.number().int().min(0).max(600_000) }).strict() }).strict(),
]);
export type Step = z.infer<typeof StepSchema>;

export const ScenarioSchema = z
  .object({
    camera: z
      .object({
        serial: z
          .string()
          .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/)
          .default('CAM-0001'),
        model: z.string().default('SIM-1'),
        firmware: z.string().default('sim-1.0.0'),
        battery: z.number().int().min(0).max(100).default(100),
        storageBytes: SizeSchema.default(64 * 1024 ** 3),
      })
      .strict()
      .default({ serial: 'CAM-0001', model: 'SIM-1', firmware: 'sim-1.0.0', battery: 100, storageBytes: 64 * 1024 ** 3 }),
    /** Camera-clock skew from the host clock, to exercise offset correction. */
    clockSkewMs: z.number().int().default(0),
    steps: z.array(StepSchema).min(1),
  })
  .strict();
export type Scenario = z.infer<typeof ScenarioSchema>;

export class ScenarioError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScenarioError';
  }
}

export function parseScenario(raw: unknown, source = 'scenario'): Scenario {
  const r = ScenarioSchema.safeParse(raw);
  if (!r.success) {
    throw new ScenarioError(firstIssue(r.error, source));
  }
  return r.data;
}

export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ScenarioError(`scenario ${path} cannot be read: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = path.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
  } catch (e) {
    throw new ScenarioError(`scenario ${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message}`);
  }
  return parseScenario(raw, `scenario ${path}`);
}

/** A short shift: two authorized activations, a late tag, a mute, a tamper, an unplug. */
export const DEFAULT_SCENARIO: Scenario = parseScenario({
  camera: { serial: 'CAM-0001' },
  steps: [
    { status: { docked: false } },
    { start: { clip: 'clip-0001', trigger: 'holster', activity: 'at_large_arrest' } },
    { wait: 200 },
    { mute: { clip: 'clip-0001', reason: 'conversation with counsel' } },
    { unmute: { clip: 'clip-0001' } },
    { stop: { clip: 'clip-0001' } },
    { ready: { clip: 'clip-0001', size: '3MiB' } },
    { start: { clip: 'clip-0002', trigger: 'button' } },
    { tag: { clip: 'clip-0002', activity: 'investigatory_detention' } },
    { stop: { clip: 'clip-0002' } },
    { ready: { clip: 'clip-0002', size: '2MiB' } },
    { drain: { battery: 10 } },
    { tamper: { kind: 'case_opened', detail: 'case switch opened' } },
    { unplug: { ms: 300 } },
    { status: { docked: true } },
  ],
});
