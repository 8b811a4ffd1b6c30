/**
 * Clip verification: the one check an auditor needs, with nothing but the clip, its manifest and a
 * public key (proto/README.md, "Verification").
 *
 * Two axes and a combined verdict:
 * - content: AUTHENTIC | AUTHENTIC_WITH_GAPS | NOT_AUTHENTIC | NOT_SIGNED (the bytes against the
 *   manifest, and the manifest's signature);
 * - key: OK | UNKNOWN_KEY | KEY_CHANGED | REVOKED_AT_RECORDING_TIME (whether the signer is trusted
 *   for this device at recording time).
 * The combined verdict is the worse of the two (1 over 4 over 3 over 0 in exit codes); only a
 * combined AUTHENTIC means "these are the exact bytes the trusted device signed".
 *
 * `verifyClip` never throws: bad input comes back as a VerifyInputError with a one-line message.
 */
import { stat } from 'node:fs/promises';
import type { ClipManifest } from './manifest.js';
import { decodeManifest, manifestProblems, type DecodedManifest } from './manifest.js';
import { isWireError } from './errors.js';
import { bytesEqual, toHex } from './bytes.js';
import { verifyStrict, type TrustedKey } from './ed25519.js';
import { ClipFileError, hashClipFile, type ClipDigest } from './clip-hash.js';

export type ContentVerdict = 'AUTHENTIC' | 'AUTHENTIC_WITH_GAPS' | 'NOT_AUTHENTIC' | 'NOT_SIGNED';
export type KeyVerdict = 'OK' | 'UNKNOWN_KEY' | 'KEY_CHANGED' | 'REVOKED_AT_RECORDING_TIME';
export type SignatureStatus = 'VALID' | 'INVALID' | 'UNCHECKED' | 'ABSENT';

export const EXIT = { AUTHENTIC: 0, NOT_AUTHENTIC: 1, USAGE: 2, GAPS: 3, KEY: 4 } as const;

/** How the verifier learns which key to trust for a manifest. */
export interface KeyJudgement {
  readonly verdict: KeyVerdict;
  /** The key to check the signature with, when one is known for the manifest's key id. */
  readonly key?: TrustedKey;
  readonly detail: string;
}
export interface KeySource {
  judge(manifest: ClipManifest, envelopeKeyId: string): KeyJudgement;
}

/** Trust exactly one public key (`--pubkey`). */
export function pinnedKey(key: TrustedKey): KeySource {
  return {
    judge(_m, keyId) {
      if (keyId === key.keyId) return { verdict: 'OK', key, detail: `signed by the given key ${short(key.keyId)}` };
      return {
        verdict: 'UNKNOWN_KEY',
        detail: keyId ? `signed by key ${short(keyId)}, not by the given key ${short(key.keyId)}` : 'the manifest names no key',
      };
    },
  };
}

/** No key given: content is still checked, but nothing is proven about who signed it. */
export const NO_KEY: KeySource = {
  judge: (_m, keyId) => ({ verdict: 'UNKNOWN_KEY', detail: `no public key given to check signer ${short(keyId) || '(none)'}` }),
};

export type ChunkMark = '.' | 'N' | 'M';

export interface VerificationReport {
  readonly verdict: ContentVerdict | KeyVerdict;
  readonly exitCode: number;
  readonly content: ContentVerdict;
  readonly key: KeyVerdict;
  readonly keyDetail: string;
  readonly signature: SignatureStatus;
  /** One mark per chunk the manifest lists: `.` ok, `N` altered, `M` missing. */
  readonly chunkMap: string;
  readonly chunks: { readonly total: number; readonly ok: number; readonly altered: number; readonly missing: number };
  readonly problems: readonly string[];
  readonly summary: string;
  readonly manifest: {
    readonly hash: string;
    readonly keyId: string;
    readonly deviceId: string;
    readonly seq: number;
    readonly cameraSerial: string;
    readonly clipId: string;
    readonly officerId: string;
    readonly byteLength: number;
    readonly sha256: string;
    readonly chunkSize: number;
    readonly merkleRoot: string;
    readonly startedAt: string | null;
  };
  readonly clip: { readonly path: string; readonly byteLength: number; readonly sha256: string | null };
}

export type VerifyInputCode =
  | 'MANIFEST_EMPTY'
  | 'MANIFEST_TOO_LARGE'
  | 'MANIFEST_TRUNCATED'
  | 'MANIFEST_GARBAGE'
  | 'MANIFEST_NON_CANONICAL'
  | 'NOT_A_MANIFEST'
  | 'UNSUPPORTED_VERSION'
  | 'CLIP_NOT_FOUND'
  | 'CLIP_NOT_A_FILE'
  | 'CLIP_SYMLINK'
  | 'CLIP_UNREADABLE';

export interface VerifyInputError {
  readonly error: VerifyInputCode;
  readonly message: string;
  readonly exitCode: 2;
  /** UNSUPPORTED_VERSION is also a content verdict. */
  readonly verdict?: 'UNSUPPORTED_VERSION';
}

export type VerifyOutcome = VerificationReport | VerifyInputError;

export function isInputError(o: VerifyOutcome): o is VerifyInputError {
  return 'error' in o;
}

export interface VerifyOptions {
  manifestMaxBytes?: number;
  onProgress?: (done: number, total: number) => void;
}

function inputError(error: VerifyInputCode, message: string): VerifyInputError {
  return error === 'UNSUPPORTED_VERSION' ? { error, message, exitCode: 2, verdict: 'UNSUPPORTED_VERSION' } : { error, message, exitCode: 2 };
}

/** Decodes the manifest bytes, mapping every failure to a one-line input error. Never throws. */
export function readManifest(bytes: Uint8Array, maxBytes?: number): DecodedManifest | VerifyInputError {
  try {
    return decodeManifest(bytes, maxBytes);
  } catch (e) {
    if (!isWireError(e)) return inputError('MANIFEST_GARBAGE', `manifest cannot be read: ${(e as Error).message}`);
    switch (e.code) {
      case 'EMPTY':
        return inputError('MANIFEST_EMPTY', 'manifest is empty (0 bytes)');
      case 'TOO_LARGE':
        return inputError('MANIFEST_TOO_LARGE', `manifest is too large: ${e.message}`);
      case 'UNSUPPORTED_VERSION':
        return inputError('UNSUPPORTED_VERSION', e.message);
      case 'WRONG_TYPE':
        return inputError('NOT_A_MANIFEST', `not a clip manifest: ${e.message}`);
      case 'NON_CANONICAL':
        return inputError('MANIFEST_NON_CANONICAL', `manifest file was altered: ${e.message}`);
      case 'TRUNCATED':
        return inputError('MANIFEST_TRUNCATED', 'manifest is truncated: it ends inside a field');
      default:
        return inputError('MANIFEST_GARBAGE', `manifest is not a bwc manifest: ${e.message}`);
    }
  }
}

/** Verifies a clip file against manifest bytes. Never throws. */
export async function verifyClip(clipPath: string, manifestBytes: Uint8Array, keys: KeySource, options: VerifyOptions = {}): Promise<VerifyOutcome> {
  const decoded = readManifest(manifestBytes, options.manifestMaxBytes);
  if ('error' in decoded) return decoded;
  const m = decoded.manifest;
  const chunkSizeOk = m.chunkSize >= 4096 && m.chunkSize <= 64 * 1024 * 1024;
  let digest: ClipDigest | null = null;
  let fileSize = 0;
  try {
    const st = await stat(clipPath).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') throw new ClipFileError('NOT_FOUND', `clip ${clipPath} does not exist`);
      throw new ClipFileError('UNREADABLE', `clip ${clipPath} cannot be read: ${e.message}`);
    });
    if (st.isDirectory()) throw new ClipFileError('NOT_A_FILE', `clip ${clipPath} is a directory, not a file`);
    fileSize = st.size;
    if (chunkSizeOk) {
      digest = await hashClipFile(clipPath, {
        chunkSize: m.chunkSize,
        maxBytes: m.byteLength,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
    }
  } catch (e) {
    if (e instanceof ClipFileError) {
      const code =
        ({ NOT_FOUND: 'CLIP_NOT_FOUND', NOT_A_FILE: 'CLIP_NOT_A_FILE', SYMLINK: 'CLIP_SYMLINK' } as const)[e.code as 'NOT_FOUND' | 'NOT_A_FILE' | 'SYMLINK'] ??
        'CLIP_UNREADABLE';
      return inputError(code, e.message);
    }
    return inputError('CLIP_UNREADABLE', `clip ${clipPath} cannot be read: ${(e as Error).message}`);
  }
  return judge(decoded, keys, clipPath, fileSize, digest);
}

/** The pure part of verification: manifest, key source and the clip's digest in, report out. */
export function judge(decoded: DecodedManifest, keys: KeySource, clipPath: string, fileSize: number, digest: ClipDigest | null): VerificationReport {
  const { envelope, manifest: m } = decoded;
  const problems = manifestProblems(decoded);

  // Signature and key.
  const keyJudgement = keys.judge(m, envelope.keyId);
  let signature: SignatureStatus;
  if (!envelope.signed) signature = 'ABSENT';
  else if (!keyJudgement.key) signature = 'UNCHECKED';
  else signature = verifyStrict(keyJudgement.key, envelope.signedInput, envelope.sig) ? 'VALID' : 'INVALID';
  if (signature === 'INVALID') problems.unshift('the manifest signature does not verify');

  // Chunks.
  const total = m.chunkSha256.length;
  const marks: ChunkMark[] = [];
  let ok = 0;
  let altered = 0;
  let missing = 0;
  const have = digest?.byteLength ?? 0;
  let partial: { index: number; have: number; want: number } | null = null;
  for (let i = 0; i < total; i++) {
    const start = i * m.chunkSize;
    const wantLen = Math.min(m.chunkSize, m.byteLength - start);
    const haveLen = Math.max(0, Math.min(m.chunkSize, have - start));
    const actual = digest?.chunks[i];
    let mark: ChunkMark;
    // A chunk hash beyond the signed length (an inconsistent manifest) has no bytes to match.
    if (!actual || wantLen <= 0 || haveLen === 0) mark = 'M';
    else if (haveLen < wantLen) {
      // Bytes of a chunk cut short can never be shown to be the signed clip's: not a gap, a failure.
      mark = 'N';
      partial = { index: i, have: haveLen, want: wantLen };
    } else mark = bytesEqual(actual, m.chunkSha256[i]!) ? '.' : 'N';
    marks.push(mark);
    if (mark === '.') ok++;
    else if (mark === 'N') altered++;
    else missing++;
  }
  const mismatched = partial ? altered - 1 : altered;
  if (fileSize > m.byteLength) problems.push(`the clip has ${fileSize - m.byteLength} bytes beyond the signed length`);
  const wholeMatches = digest !== null && digest.byteLength === m.byteLength && bytesEqual(digest.sha256, m.sha256);
  if (digest && missing === 0 && altered === 0 && !wholeMatches && problems.length === 0) {
    problems.push('the whole-file SHA-256 does not match the manifest');
  }
  if (partial) {
    problems.push(
      `chunk ${partial.index} is cut short (${partial.have} of ${partial.want} bytes), so its bytes cannot be verified; ` +
        `a copy cut at byte ${partial.index * m.chunkSize} would show the chunks before it`,
    );
  }
  if (mismatched > 0)
    problems.push(
      `${mismatched} chunk${mismatched === 1 ? '' : 's'} altered: ${listMarks(
        marks.map((x, i) => (partial?.index === i ? '.' : x)),
        'N',
      )}`,
    );
  // AUTHENTIC_WITH_GAPS means every byte present is the signed clip's: with no chunk verified, nothing is.
  if (total > 0 && ok === 0 && altered === 0 && problems.length === 0) problems.push(`no chunk of the signed clip is present (the file has ${fileSize} bytes)`);

  let content: ContentVerdict;
  if (signature === 'ABSENT') content = 'NOT_SIGNED';
  else if (problems.length > 0) content = 'NOT_AUTHENTIC';
  else if (missing > 0) content = 'AUTHENTIC_WITH_GAPS';
  else content = 'AUTHENTIC';

  const key = keyJudgement.verdict;
  let verdict: ContentVerdict | KeyVerdict;
  let exitCode: number;
  if (content === 'NOT_AUTHENTIC' || content === 'NOT_SIGNED') {
    verdict = content;
    exitCode = EXIT.NOT_AUTHENTIC;
  } else if (key !== 'OK') {
    verdict = key;
    exitCode = EXIT.KEY;
  } else if (content === 'AUTHENTIC_WITH_GAPS') {
    verdict = content;
    exitCode = EXIT.GAPS;
  } else {
    verdict = 'AUTHENTIC';
    exitCode = EXIT.AUTHENTIC;
  }

  const seq = m.header?.seq ?? 0;
  const who = `device ${m.deviceId || '?'}, seq ${seq}, key ${short(envelope.keyId)}`;
  let summary: string;
  // What a court needs first: how many of the N chunks verified, and which are missing.
  const counted = `${ok} of ${total} chunk${total === 1 ? '' : 's'} verified`;
  const missingList = missing > 0 ? `; missing ${listMarks(marks, 'M')}` : '';
  switch (verdict) {
    case 'AUTHENTIC':
      summary = `AUTHENTIC: all ${total} chunk${total === 1 ? '' : 's'} and the whole-file SHA-256 match the manifest signed by ${who}`;
      break;
    case 'AUTHENTIC_WITH_GAPS':
      summary = `AUTHENTIC_WITH_GAPS: ${counted}${missingList}; every byte present is the signed clip's, the missing ones are not here; signed by ${who}`;
      break;
    case 'NOT_SIGNED':
      summary = `NOT_SIGNED: ${counted}, but the manifest carries no signature, so it proves nothing`;
      break;
    case 'NOT_AUTHENTIC':
      summary = `NOT_AUTHENTIC: ${counted}${missingList}; ${problems.join('; ')}`;
      break;
    default:
      summary = `${verdict}: ${keyJudgement.detail}; the content ${content === 'AUTHENTIC' ? 'matches' : 'partly matches'} the manifest, but its signer is not trusted`;
  }

  return {
    verdict,
    exitCode,
    content,
    key,
    keyDetail: keyJudgement.detail,
    signature,
    chunkMap: marks.join(''),
    chunks: { total, ok, altered, missing },
    problems,
    summary,
    manifest: {
      hash: toHex(envelope.hash),
      keyId: envelope.keyId,
      deviceId: m.deviceId,
      seq,
      cameraSerial: m.cameraSerial,
      clipId: m.clipId,
      officerId: m.officerId,
      byteLength: m.byteLength,
      sha256: toHex(m.sha256),
      chunkSize: m.chunkSize,
      merkleRoot: toHex(m.merkleRoot),
      startedAt: m.startedAtMs ? new Date(m.startedAtMs).toISOString() : null,
    },
    clip: { path: clipPath, byteLength: fileSize, sha256: digest && digest.byteLength === fileSize ? toHex(digest.sha256) : null },
  };
}

function short(keyId: string): string {
  return keyId ? `${keyId.slice(0, 16)}…` : '';
}

/** "3, 7, 9-12" style list of the chunk indexes with a given mark (at most 20 ranges). */
function listMarks(marks: readonly ChunkMark[], mark: ChunkMark): string {
  const ranges: string[] = [];
  for (let i = 0; i < marks.length; i++) {
    if (marks[i] !== mark) continue;
    let j = i;
    while (j + 1 < marks.length && marks[j + 1] === mark) j++;
    ranges.push(i === j ? `${i}` : `${i}-${j}`);
    i = j;
  }
  return ranges.length > 20 ? `${ranges.slice(0, 20).join(', ')}, …` : ranges.join(', ');
}
