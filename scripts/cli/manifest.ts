/**
 * `bwc manifest sign` (hash and sign a clip outside the dock pipeline: wearable prototypes, tests)
 * and `bwc manifest show` (decode a manifest for people and for scripts).
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { pb } from '../../proto/wire.js';
import { fromHex, toHex } from '../../proto/bytes.js';
import { hashClipFile, ClipFileError, DEFAULT_CHUNK_SIZE } from '../../proto/clip-hash.js';
import { decisionToProto, type DecisionJson } from '../../proto/decision.js';
import { manifestToJson } from '../../proto/manifest.js';
import { readManifest } from '../../proto/verify.js';
import { CLOCK_SOURCES, METHODS, STOP_REASONS, TRIGGERS } from '../../proto/vocab.js';
import { isWireError } from '../../proto/errors.js';
import { firstIssue } from '../../proto/schema-error.js';
import { loadDeviceKey, KeyFileError } from '../../device/custody/keys.js';
import { signManifest, ManifestInputError, type ClipFacts } from '../../device/custody/manifest.js';
import { timeOrNull, zCode, zId, zTime } from '../../proto/canonical.js';
import { byteProgress, CliError, writeJson } from './common.js';
import { readManifestFile } from './verify.js';
import { writeNewFile } from './files.js';

const isoTime = zTime;
const code = (vocab: { codes: readonly string[] }) => z.string().refine((s) => vocab.codes.includes(s), `must be one of: ${vocab.codes.join(', ')}`);

/** The `--meta FILE` JSON: what is known about the clip beyond its bytes. Every field optional. */
export const ClipMetaSchema = z
  .object({
    fleet: z.string().optional(),
    cameraSerial: zId.optional(),
    cameraModel: z.string().optional(),
    firmwareVersion: z.string().optional(),
    officerId: zId.optional(),
    clipId: z.string().min(1).optional(),
    mediaType: z.string().min(1).optional(),
    startedAt: isoTime.optional(),
    endedAt: isoTime.optional(),
    preEventBufferS: z.number().int().min(0).max(3600).optional(),
    trigger: code(TRIGGERS).optional(),
    method: code(METHODS).optional(),
    activity: zCode.optional(),
    purposes: z.array(zCode).optional(),
    clock: z
      .object({
        source: code(CLOCK_SOURCES).optional(),
        synced: z.boolean(),
        offsetMs: z.number().int().optional(),
      })
      .optional(),
    stopReason: code(STOP_REASONS).optional(),
    stopDetail: z.string().optional(),
    decision: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type ClipMeta = z.infer<typeof ClipMetaSchema>;

const MEDIA_TYPES: Record<string, string> = {
  '.mp4': 'video/mp4',
  '.mov': 'video/quicktime',
  '.mkv': 'video/x-matroska',
  '.avi': 'video/x-msvideo',
  '.wav': 'audio/wav',
  '.m4a': 'audio/mp4',
  '.mp3': 'audio/mpeg',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
};

function readMeta(path: string): ClipMeta {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `meta file ${path} does not exist` : `meta file ${path} is not JSON: ${(e as Error).message}`);
  }
  const parsed = ClipMetaSchema.safeParse(raw);
  if (!parsed.success) {
    throw new CliError(firstIssue(parsed.error, `meta file ${path}`));
  }
  return parsed.data;
}

function factsFrom(clip: string, meta: ClipMeta, deviceId: string): ClipFacts {
  const mtime = statSync(clip).mtimeMs;
  const startedAtMs = meta.startedAt ? timeOrNull(meta.startedAt)! : Math.floor(mtime);
  let decision = null;
  if (meta.decision) {
    try {
      decision = decisionToProto(meta.decision as unknown as DecisionJson);
    } catch (e) {
      throw new CliError(`meta decision: ${(e as Error).message}`);
    }
  }
  return {
    cameraSerial: meta.cameraSerial ?? deviceId,
    cameraModel: meta.cameraModel ?? '',
    firmwareVersion: meta.firmwareVersion ?? '',
    officerId: meta.officerId ?? '',
    clipId: meta.clipId ?? basename(clip),
    mediaType: meta.mediaType ?? MEDIA_TYPES[extname(clip).toLowerCase()] ?? 'application/octet-stream',
    startedAtMs,
    endedAtMs: meta.endedAt ? timeOrNull(meta.endedAt)! : Math.max(startedAtMs, Math.floor(mtime)),
    preEventBufferS: meta.preEventBufferS ?? 0,
    clock: {
      source: CLOCK_SOURCES.value(meta.clock?.source ?? 'system')!,
      synced: meta.clock?.synced ?? false,
      offsetMs: meta.clock?.offsetMs ?? 0,
    },
    trigger: TRIGGERS.value(meta.trigger ?? 'other')!,
    method: METHODS.value(meta.method ?? 'video')!,
    activity: meta.activity ?? '',
    purposes: meta.purposes ?? [],
    stopReason: meta.stopReason ? STOP_REASONS.value(meta.stopReason)! : pb.StopReason.STOP_REASON_UNSPECIFIED,
    stopDetail: meta.stopDetail ?? '',
    decision,
    flags: [pb.ManifestFlag.MANIFEST_FLAG_OUTSIDE_PIPELINE],
  };
}

interface SignOptions {
  key: string;
  deviceId: string;
  fleet?: string;
  seq: string;
  prev?: string;
  meta?: string;
  chunkSize: string;
  out: string;
  json?: boolean;
}

function parseWhole(value: string, what: string, min: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min) throw new CliError(`${what} must be a whole number ≥ ${min}, got "${value}"`);
  return n;
}

async function sign(clip: string, opts: SignOptions): Promise<void> {
  const seq = parseWhole(opts.seq, '--seq', 1);
  const chunkSize = parseWhole(opts.chunkSize, '--chunk-size', 1);
  let prev: Buffer | null = null;
  if (opts.prev !== undefined) {
    prev = fromHex(opts.prev, 32);
    if (!prev) throw new CliError("--prev must be the 64-hex-character SHA-256 of the previous manifest's signed input");
  }
  try {
    statSync(opts.out);
    throw new CliError(`${opts.out} already exists; refusing to overwrite it`);
  } catch (e) {
    if (e instanceof CliError) throw e;
  }
  let key;
  try {
    key = loadDeviceKey(opts.key);
  } catch (e) {
    if (e instanceof KeyFileError) throw new CliError(e.message);
    throw e;
  }
  const meta = opts.meta ? readMeta(opts.meta) : {};
  let progress: ReturnType<typeof byteProgress> | null = null;
  let digest;
  try {
    digest = await hashClipFile(clip, {
      chunkSize,
      onProgress: (done, total) => {
        progress ??= byteProgress('hashing', total);
        progress.update(done, total);
      },
    });
  } catch (e) {
    if (e instanceof ClipFileError || e instanceof RangeError) throw new CliError(e.message);
    throw e;
  } finally {
    (progress as ReturnType<typeof byteProgress> | null)?.stop();
  }
  let signed;
  try {
    signed = signManifest(
      factsFrom(clip, meta, opts.deviceId),
      digest,
      {
        deviceId: opts.deviceId,
        fleet: opts.fleet ?? meta.fleet ?? 'default',
        seq,
        prevManifestHash: prev,
      },
      key,
    );
  } catch (e) {
    if (e instanceof ManifestInputError || isWireError(e)) throw new CliError(e.message);
    throw e;
  }
  writeNewFile(opts.out, signed.bytes);
  const result = {
    out: opts.out,
    manifestHash: toHex(signed.hash),
    keyId: key.keyId,
    deviceId: opts.deviceId,
    seq,
    byteLength: digest.byteLength,
    sha256: toHex(digest.sha256),
    chunks: digest.chunks.length,
    merkleRoot: toHex(digest.merkleRoot),
  };
  if (opts.json) writeJson(result);
  else
    process.stdout.write(
      `wrote ${opts.out}\nmanifest hash ${result.manifestHash}\nclip sha256 ${result.sha256} (${result.byteLength} bytes, ${result.chunks} chunks)\n`,
    );
}

function show(file: string, opts: { json?: boolean }): void {
  const bytes = readManifestFile(file);
  const decoded = readManifest(bytes);
  if ('error' in decoded) throw new CliError(decoded.message, decoded.exitCode);
  const { envelope, manifest } = decoded;
  const json = {
    type: envelope.type,
    keyId: envelope.keyId,
    // base64 of the exact bytes: signed input = utf8("bwc/v1/" + type + "\n") || body
    body: Buffer.from(envelope.body).toString('base64'),
    sig: Buffer.from(envelope.sig).toString('base64'),
    manifestHash: toHex(envelope.hash),
    manifest: manifestToJson(manifest),
  };
  if (opts.json) {
    writeJson(json);
    return;
  }
  const m = json.manifest as Record<string, unknown> & { decision: { decision: string; reasons: string[]; clauses: string[] } | null };
  const rows: [string, unknown][] = [
    ['type', `${envelope.type} v${manifest.schemaVersion}`],
    ['manifest hash', json.manifestHash],
    ['key id', envelope.keyId || '(unsigned)'],
    ['device', `${manifest.deviceId} (fleet ${manifest.header?.fleet ?? ''}), seq ${manifest.header?.seq ?? 0}`],
    ['previous', m.prevManifestHash ?? '(first in chain)'],
    ['camera', `${manifest.cameraSerial} ${manifest.cameraModel}`.trim()],
    ['officer', manifest.officerId || '(none)'],
    ['clip', `${manifest.clipId} (${manifest.mediaType})`],
    ['bytes', manifest.byteLength],
    ['sha256', m.sha256],
    ['chunks', `${manifest.chunkSha256.length} × ${manifest.chunkSize} bytes, merkle root ${m.merkleRoot}`],
    ['recorded', `${m.startedAt} → ${m.endedAt}`],
    ['clock', JSON.stringify(m.clock)],
    ['trigger', `${m.trigger ?? '?'} / ${m.method ?? '?'}, activity ${m.activity ?? '(untagged)'}`],
    ['decision', m.decision ? `${m.decision.decision} [${m.decision.reasons.join(', ')}] ${m.decision.clauses.join(' ')}` : '(none)'],
    ['flags', (m.flags as string[]).join(', ') || '(none)'],
    ['agent', `${manifest.agentVersion}, firmware ${manifest.firmwareVersion || '?'}`],
  ];
  process.stdout.write(`${rows.map(([k, v]) => `${k.padEnd(14)}${String(v)}`).join('\n')}\n`);
}

export function registerManifest(program: Command): void {
  const manifest = program.command('manifest').description('Sign and inspect clip manifests.');
  manifest
    .command('sign')
    .description('Hash a clip and sign its manifest with a device key, outside the dock pipeline.')
    .argument('<clip>', 'the clip file')
    .requiredOption('--key <dir>', 'key directory from `bwc keygen` (or its private.pem)')
    .requiredOption('--device-id <id>', 'the signing device id')
    .requiredOption('--out <file>', 'manifest file to write (never overwritten)')
    .option('--fleet <id>', 'fleet id (default: meta fleet, else "default")')
    .option('--seq <n>', 'chain position of this manifest', '1')
    .option('--prev <hash>', "SHA-256 (hex) of the previous manifest's signed input; required when --seq > 1")
    .option('--meta <file>', 'JSON with what is known about the clip (camera, officer, times, trigger, decision…; see device/README.md)')
    .option('--chunk-size <bytes>', 'chunk size in bytes', String(DEFAULT_CHUNK_SIZE))
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExample:\n  $ bwc manifest sign clip.mp4 --key ./key --device-id WEAR-01 --meta clip.json --out clip.manifest\n')
    .action(sign);
  manifest
    .command('show')
    .description('Print a decoded manifest; --json includes type, body and sig in base64 so anyone can rebuild the signed bytes.')
    .argument('<file>', 'the manifest file')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ bwc manifest show clip.manifest --json | jq .manifest.sha256\n')
    .action(show);
}
