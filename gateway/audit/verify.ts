/**
 * Audit log verification (`bwc audit verify`): walks the entries in seq order and checks that
 * each one is where it should be (seq 1, 2, 3… with none missing), that its hash matches its
 * content, and that it links to the entry before it; then checks every signed checkpoint it is
 * given — the signature (a trusted gateway key, or a key certified by the trusted root at the
 * checkpoint's time) and that the log holds `entry_count` entries, the last of which has
 * `head_hash`. A checkpoint that counts more entries than the log holds means a truncated tail.
 *
 * It reports the first broken entry. It reads its input once and keeps only the hashes the
 * checkpoints name, so logs of any length verify in constant memory.
 */
import { pb } from '../../proto/wire.js';
import { assertEnvelopeSigned, openEnvelope } from '../../proto/envelope.js';
import { toHex } from '../../proto/bytes.js';
import { verifyGatewayCertificate } from '../../proto/gateway-cert.js';
import type { TrustedKey } from '../../proto/ed25519.js';
import { entryHash, GENESIS_HASH, type AuditEntry, type CheckpointJson } from './entry.js';

export interface CheckpointSource {
  /** Where it came from, for messages: `database`, a file path, `--checkpoint FILE`. */
  source: string;
  checkpoint: Pick<CheckpointJson, 'envelope' | 'certificate'>;
}

export interface VerifyTrust {
  /** Gateway public keys trusted directly (`--pubkey`, the gateway's own key). */
  keys: readonly TrustedKey[];
  /** The agency root: a checkpoint's stored certificate, signed by it, makes its key trusted. */
  root?: TrustedKey | null;
}

export interface BrokenEntry {
  seq: number;
  reason: string;
}

export interface AuditVerifyReport {
  ok: boolean;
  /** Entries read, and the seq and hash of the last one that verified in order. */
  entries: number;
  intactThrough: number;
  head: string;
  checkpoints: {
    given: number;
    verified: number;
    newest: { entryCount: number; headHash: string; at: number; gatewayId: string; source: string } | null;
  };
  /** The first broken entry (the lowest seq among the problems), or null. */
  firstBroken: BrokenEntry | null;
  problems: string[];
  warnings: string[];
}

interface DecodedCheckpoint {
  entryCount: number;
  headHash: string;
  at: number;
  gatewayId: string;
  source: string;
}

function decodeCheckpoint(c: CheckpointSource, trust: VerifyTrust): DecodedCheckpoint | string {
  let env;
  try {
    env = openEnvelope(Buffer.from(c.checkpoint.envelope, 'base64'), { expectType: 'AuditCheckpoint' });
  } catch (e) {
    return `${c.source}: not an AuditCheckpoint envelope: ${(e as Error).message}`;
  }
  let key = trust.keys.find((k) => k.keyId === env.keyId);
  let body;
  try {
    body = pb.AuditCheckpoint.decode(env.body);
  } catch (e) {
    return `${c.source}: the checkpoint body cannot be decoded: ${(e as Error).message}`;
  }
  const at = Number(body.atMs);
  if (!key && trust.root && c.checkpoint.certificate) {
    try {
      const cert = verifyGatewayCertificate(Buffer.from(c.checkpoint.certificate, 'base64'), trust.root, { at });
      if (cert.key.keyId === env.keyId && cert.gatewayId === (body.header?.issuer ?? '')) key = cert.key;
    } catch (e) {
      return `${c.source}: the certificate stored with the checkpoint does not verify against the root key: ${(e as Error).message}`;
    }
  }
  if (!key)
    return `${c.source}: the checkpoint is signed by key ${env.keyId.slice(0, 16)}…, which is not trusted here (give the gateway's public key, or the root key that certified it)`;
  try {
    assertEnvelopeSigned(env, key);
  } catch {
    return `${c.source}: the checkpoint's signature does not verify`;
  }
  return {
    entryCount: Number(body.entryCount),
    headHash: toHex(body.headHash),
    at,
    gatewayId: body.header?.issuer ?? '',
    source: c.source,
  };
}

/**
 * Verifies entries (in the order stored: by seq) and checkpoints. `head`: the log's own count of
 * its entries where it keeps one (the database's head row), compared too.
 */
export async function verifyAuditLog(
  entries: AsyncIterable<AuditEntry> | Iterable<AuditEntry>,
  checkpoints: readonly CheckpointSource[],
  trust: VerifyTrust,
  options: { head?: { seq: number; hash: string } | null } = {},
): Promise<AuditVerifyReport> {
  const problems: { seq: number | null; text: string }[] = [];
  const warnings: string[] = [];
  const decoded: DecodedCheckpoint[] = [];
  for (const c of checkpoints) {
    const d = decodeCheckpoint(c, trust);
    if (typeof d === 'string') problems.push({ seq: null, text: d });
    else decoded.push(d);
  }
  const wanted = new Set(decoded.map((d) => d.entryCount));
  const hashAt = new Map<number, string>();
  if (wanted.has(0)) hashAt.set(0, GENESIS_HASH);

  let count = 0;
  let expected = 1;
  let prev = GENESIS_HASH;
  let intact = true;
  for await (const e of entries) {
    count++;
    if (!intact) continue;
    const broken = (reason: string, seq = e.seq) => {
      problems.push({ seq, text: `entry ${seq}: ${reason}` });
      intact = false;
    };
    if (e.seq !== expected) {
      if (e.seq > expected) broken(`is missing (deleted): the log goes from entry ${expected - 1} to ${e.seq}`, expected);
      else broken(`is out of order: found after entry ${expected - 1}`);
      continue;
    }
    if (entryHash(e) !== e.hash) {
      broken(`was altered: its hash does not match its content (${e.action} by ${e.actor})`);
      continue;
    }
    if (e.prev !== prev) {
      broken(
        `does not link to entry ${e.seq - 1}: it names ${e.prev.slice(0, 16)}…, entry ${e.seq - 1} is ${prev.slice(0, 16)}… (one of them, or the link, was changed)`,
      );
      continue;
    }
    if (wanted.has(e.seq)) hashAt.set(e.seq, e.hash);
    prev = e.hash;
    expected++;
  }
  const intactThrough = expected - 1;

  for (const d of decoded) {
    const when = new Date(d.at).toISOString();
    if (d.entryCount > count) {
      problems.push({
        seq: count + 1,
        text: `entry ${count + 1}: is missing: the log ends at entry ${count}, but the checkpoint signed by ${d.gatewayId} at ${when} (${d.source}) counts ${d.entryCount} entries (the tail was truncated)`,
      });
      continue;
    }
    const h = hashAt.get(d.entryCount);
    if (h === undefined) continue; // beyond the first break: that break is reported
    if (h !== d.headHash) {
      problems.push({
        seq: d.entryCount,
        text: `entry ${d.entryCount}: is not the entry the checkpoint signed by ${d.gatewayId} at ${when} (${d.source}) names (${d.headHash.slice(0, 16)}…)`,
      });
    }
  }
  if (options.head && intact) {
    if (options.head.seq > count)
      problems.push({
        seq: count + 1,
        text: `entry ${count + 1}: is missing: the log's head row counts ${options.head.seq} entries, the log holds ${count} (the tail was deleted)`,
      });
    else if (options.head.seq < count)
      problems.push({
        seq: options.head.seq + 1,
        text: `entry ${options.head.seq + 1}: was added behind the log's back: the head row counts ${options.head.seq} entries, the log holds ${count}`,
      });
    else if (count > 0 && options.head.hash !== prev) problems.push({ seq: count, text: `entry ${count}: differs from the log's head row` });
  }
  const newest = decoded.reduce<DecodedCheckpoint | null>(
    (best, d) => (!best || d.entryCount > best.entryCount || (d.entryCount === best.entryCount && d.at > best.at) ? d : best),
    null,
  );
  if (!newest) warnings.push('no signed checkpoint was checked: a truncated tail cannot be detected');
  else if (newest.entryCount < count)
    warnings.push(`entries ${newest.entryCount + 1}–${count} are not yet covered by a checkpoint: their truncation could not be detected`);

  const withSeq = problems.filter((p) => p.seq !== null).sort((a, b) => a.seq! - b.seq!);
  const first = withSeq[0];
  return {
    ok: problems.length === 0,
    entries: count,
    intactThrough,
    head: intactThrough === 0 ? GENESIS_HASH : prev,
    checkpoints: { given: checkpoints.length, verified: decoded.length, newest: newest ? { ...newest } : null },
    firstBroken: first ? { seq: first.seq!, reason: first.text } : null,
    problems: [...withSeq.map((p) => p.text), ...problems.filter((p) => p.seq === null).map((p) => p.text)],
    warnings,
  };
}
