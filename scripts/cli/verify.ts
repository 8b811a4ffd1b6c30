/**
 * `bwc verify CLIP MANIFEST [--pubkey FILE | --keyring FILE --root-pubkey FILE] [--json]`: the
 * auditor's check. Exit codes
 * (proto/README.md, "Verification"): 0 AUTHENTIC, 1 NOT_AUTHENTIC or NOT_SIGNED,
 * 3 AUTHENTIC_WITH_GAPS, 4 key problem, 2 usage error, unreadable input or UNSUPPORTED_VERSION.
 */
import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import { isWireError } from '../../proto/errors.js';
import { loadPublicKeyFile } from '../../proto/keyfile.js';
import { MAX_ENVELOPE_BYTES } from '../../proto/envelope.js';
import { EXIT, NO_KEY, isInputError, pinnedKey, verifyClip, type KeySource, type VerificationReport } from '../../proto/verify.js';
import { keyringKeys, openKeyring } from '../../proto/keyring.js';
import { byteProgress, CliError, writeJson } from './common.js';
import { readInput } from './files.js';

export function readManifestFile(path: string): Buffer {
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new CliError(`manifest ${path} is a directory, not a file`);
    size = st.size;
  } catch (e) {
    if (e instanceof CliError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `manifest ${path} does not exist` : `manifest ${path} cannot be read: ${(e as Error).message}`);
  }
  if (size > MAX_ENVELOPE_BYTES) throw new CliError(`manifest ${path} is ${size} bytes, above the ${MAX_ENVELOPE_BYTES}-byte limit`);
  return readFileSync(path);
}

function printReport(r: VerificationReport): void {
  const lines = [
    `manifest  ${r.manifest.hash}`,
    `signer    device ${r.manifest.deviceId || '?'}, seq ${r.manifest.seq}, key ${r.manifest.keyId || '(none)'}`,
    `signature ${r.signature}`,
    `key       ${r.key}: ${r.keyDetail}`,
    `clip      ${r.clip.path}: ${r.clip.byteLength} bytes (signed: ${r.manifest.byteLength}), camera ${r.manifest.cameraSerial || '?'}, clip ${r.manifest.clipId || '?'}`,
    `content   ${r.content}`,
    `chunks    ${r.chunks.total} of ${r.manifest.chunkSize} bytes: ${r.chunks.ok} ok, ${r.chunks.altered} altered (N), ${r.chunks.missing} missing (M)`,
  ];
  for (let i = 0; i < r.chunkMap.length; i += 64) lines.push(`          ${r.chunkMap.slice(i, i + 64)}`);
  lines.push(r.summary);
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('Verify a clip against its signed manifest: signature, key, whole-file SHA-256 and every chunk.')
    .argument('<clip>', 'the clip file')
    .argument('<manifest>', 'the signed manifest (an Envelope holding a ClipManifest)')
    .option('--pubkey <file>', "the signer's public key: public.hex, public.pem or 32 raw bytes")
    .option('--keyring <file>', 'a keyring exported by the gateway (bwc records keyring): every device key, with when it was revoked')
    .option('--root-pubkey <file>', 'the agency root public key, which a keyring is checked against (required with --keyring)')
    .option('--json', 'print the verification report as JSON')
    .addHelpText(
      'after',
      `
Exit codes: 0 AUTHENTIC; 1 NOT_AUTHENTIC or NOT_SIGNED; 3 AUTHENTIC_WITH_GAPS (every present chunk
matches, some are missing); 4 key problem (no usable key, UNKNOWN_KEY, KEY_CHANGED,
REVOKED_AT_RECORDING_TIME); 2 usage error, unreadable input or UNSUPPORTED_VERSION.
Chunk map: "." ok, "N" altered, "M" missing.

With --keyring the key verdict also says KEY_CHANGED (signed by none of the device's enrolled
keys) or REVOKED_AT_RECORDING_TIME (the key was revoked before this manifest: its seq is above the
last one the gateway held then, whatever time it claims).

Examples:
  $ bwc verify clip-0001.mp4 clip-0001.manifest --pubkey dock-7.pub.hex
  $ bwc verify clip-0001.mp4 clip-0001.manifest --keyring fleet.keyring --root-pubkey agency-root.pub.hex
`,
    )
    .action(async (clip: string, manifestPath: string, opts: { pubkey?: string; keyring?: string; rootPubkey?: string; json?: boolean }) => {
      let keys: KeySource = NO_KEY;
      if (opts.pubkey !== undefined && opts.keyring !== undefined) throw new CliError('give --pubkey or --keyring, not both');
      if (opts.keyring !== undefined) keys = keyringSource(opts.keyring, opts.rootPubkey);
      else if (opts.rootPubkey !== undefined) throw new CliError('--root-pubkey checks a keyring: give --keyring too');
      if (opts.pubkey !== undefined) {
        try {
          keys = pinnedKey(loadPublicKeyFile(opts.pubkey));
        } catch (e) {
          if (isWireError(e)) throw new CliError(`no usable key: ${e.message}`, EXIT.KEY);
          throw e;
        }
      }
      const bytes = readManifestFile(manifestPath);
      let progress: ReturnType<typeof byteProgress> | null = null;
      const outcome = await verifyClip(clip, bytes, keys, {
        onProgress: (done, total) => {
          progress ??= byteProgress('verifying', total);
          progress.update(done, total);
        },
      });
      (progress as ReturnType<typeof byteProgress> | null)?.stop();
      if (isInputError(outcome)) {
        if (opts.json) writeJson(outcome);
        throw new CliError(outcome.message, outcome.exitCode);
      }
      if (opts.json) writeJson({ ...outcome, manifestPath });
      else printReport(outcome);
      process.exitCode = outcome.exitCode;
    });
}

/** A keyring, checked against the agency root key before anything in it is trusted. */
function keyringSource(path: string, rootPath: string | undefined): KeySource {
  if (rootPath === undefined) throw new CliError('a keyring is trusted only through the agency root key: give --root-pubkey FILE');
  const bytes = readInput(path, 'keyring');
  try {
    return keyringKeys(openKeyring(bytes, loadPublicKeyFile(rootPath)));
  } catch (e) {
    if (isWireError(e)) throw new CliError(`no usable key: keyring ${path}: ${e.message}`, EXIT.KEY);
    throw e;
  }
}
