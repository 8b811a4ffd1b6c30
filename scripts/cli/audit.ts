/**
 * `bwc audit verify`: checks a gateway's audit log — every entry's hash and link, no entry missing
 * or out of place, and every signed checkpoint (so a truncated tail is caught) — and names the
 * first broken entry. It reads the gateway's database directly (`--config`/`--data-dir`, or `--db`
 * URL), or an export (`--file`, from `GET /api/v1/audit/export`). Exit 0 intact, 1 broken, 2 usage
 * or unreadable input.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { loadPublicKeyFile } from '../../proto/keyfile.js';
import { isWireError } from '../../proto/errors.js';
import type { TrustedKey } from '../../proto/ed25519.js';
import { loadGatewayConfig, resolvedPaths, ConfigError } from '../../gateway/config.js';
import { openGatewayDb } from '../../gateway/store/open.js';
import { allEntryRows, checkpointJson, type CheckpointRow } from '../../gateway/audit/log.js';
import { entryFromRow, type AuditEntry, type CheckpointJson } from '../../gateway/audit/entry.js';
import { verifyAuditLog, type AuditVerifyReport, type CheckpointSource } from '../../gateway/audit/verify.js';
import { CliError, writeJson } from './common.js';

interface VerifyOptions {
  config?: string;
  dataDir?: string;
  db?: string;
  file?: string;
  pubkey: string[];
  rootPubkey?: string;
  checkpoint: string[];
  checkpointsDir?: string;
  json?: boolean;
}

const collect = (v: string, p: string[]) => [...p, v];

function key(path: string, option: string): TrustedKey {
  try {
    return loadPublicKeyFile(path);
  } catch (e) {
    throw new CliError(`${option} ${path}: ${isWireError(e) ? e.message : (e as Error).message}`);
  }
}

/** A checkpoint file: CheckpointJson (as exported) or a bare AuditCheckpoint envelope. */
function readCheckpointFile(path: string): CheckpointSource {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new CliError(`checkpoint ${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const j = JSON.parse(bytes.toString('utf8')) as Partial<CheckpointJson>;
    if (typeof j.envelope === 'string') return { source: path, checkpoint: { envelope: j.envelope, certificate: j.certificate ?? null } };
  } catch {
    // not JSON: a bare envelope
  }
  return { source: path, checkpoint: { envelope: bytes.toString('base64'), certificate: null } };
}

function readExport(path: string): { entries: AuditEntry[]; checkpoints: CheckpointSource[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CliError(`--file ${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const entries: AuditEntry[] = [];
  const checkpoints: CheckpointSource[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let j: Record<string, unknown>;
    try {
      j = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new CliError(`--file ${path}: line ${i + 1} is not JSON`);
    }
    if (j.type === 'entry') entries.push(j as unknown as AuditEntry);
    else if (j.type === 'checkpoint') checkpoints.push({ source: `${path} line ${i + 1}`, checkpoint: j as unknown as CheckpointJson });
    else throw new CliError(`--file ${path}: line ${i + 1} is neither an entry nor a checkpoint`);
  });
  return { entries, checkpoints };
}

function print(r: AuditVerifyReport, source: string): void {
  const lines = [
    `audit log   ${source}: ${r.entries} entries`,
    `intact      through entry ${r.intactThrough}, head ${r.head}`,
    `checkpoints ${r.checkpoints.verified} of ${r.checkpoints.given} verified` +
      (r.checkpoints.newest
        ? `; newest: ${r.checkpoints.newest.entryCount} entries, signed by ${r.checkpoints.newest.gatewayId} at ${new Date(r.checkpoints.newest.at).toISOString()}`
        : ''),
  ];
  if (r.firstBroken) lines.push(`BROKEN      first broken entry: ${r.firstBroken.seq}`, `            ${r.firstBroken.reason}`);
  for (const p of r.problems) if (p !== r.firstBroken?.reason) lines.push(`problem     ${p}`);
  for (const w of r.warnings) lines.push(`warning     ${w}`);
  lines.push(r.ok ? 'OK: every entry links to the one before it and matches every signed checkpoint' : 'FAILED: the audit log was changed');
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function verify(o: VerifyOptions): Promise<void> {
  const keys: TrustedKey[] = o.pubkey.map((p) => key(p, '--pubkey'));
  let root: TrustedKey | null = o.rootPubkey ? key(o.rootPubkey, '--root-pubkey') : null;
  const checkpoints: CheckpointSource[] = o.checkpoint.map(readCheckpointFile);
  const fromDir = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const f of readdirSync(dir)
      .filter((n) => n.endsWith('.checkpoint.json'))
      .sort())
      checkpoints.push(readCheckpointFile(join(dir, f)));
  };
  if (o.checkpointsDir) {
    if (!existsSync(o.checkpointsDir)) throw new CliError(`--checkpoints-dir ${o.checkpointsDir} does not exist`);
    fromDir(o.checkpointsDir);
  }

  let report: AuditVerifyReport;
  let source: string;
  if (o.file) {
    if (o.db || o.dataDir || o.config) throw new CliError('give either --file or a database (--config, --data-dir, --db), not both');
    const { entries, checkpoints: inFile } = readExport(o.file);
    if (keys.length === 0 && !root)
      throw new CliError('give the gateway public key (--pubkey, repeatable) or the agency root key (--root-pubkey) to check the checkpoints');
    source = o.file;
    report = await verifyAuditLog(entries, [...inFile, ...checkpoints], { keys, root });
  } else {
    let target = o.db;
    if (!target) {
      let c;
      try {
        c = loadGatewayConfig(o.config);
      } catch (e) {
        if (e instanceof ConfigError) throw new CliError(e.message);
        throw e;
      }
      if (o.dataDir) c.dataDir = o.dataDir;
      const paths = resolvedPaths(c);
      target = paths.db;
      // The gateway's own key and exported checkpoints: files outside the database.
      const own = join(paths.keyDir, 'public.hex');
      if (existsSync(own)) keys.push(key(own, 'the gateway key'));
      if (!root && c.trust.rootPublicKey) root = key(c.trust.rootPublicKey, 'trust.rootPublicKey');
      if (!o.checkpointsDir) fromDir(paths.auditExportDir);
      if (!o.db && !target.includes('://') && !existsSync(target.replace(/^sqlite:/, '')))
        throw new CliError(`no gateway database at ${target} (give --config, --data-dir or --db)`);
    }
    if (keys.length === 0 && !root)
      throw new CliError('give the gateway public key (--pubkey, repeatable) or the agency root key (--root-pubkey) to check the checkpoints');
    const db = await openGatewayDb(target).catch((e: Error) => {
      throw new CliError(e.message);
    });
    try {
      source = db.description;
      for (const r of await db.all<CheckpointRow>('SELECT * FROM audit_checkpoints ORDER BY id')) {
        checkpoints.push({ source: `database checkpoint #${r.id}`, checkpoint: checkpointJson(r) });
      }
      const head = await db.get<{ seq: number; entry_hash: string }>('SELECT seq, entry_hash FROM audit_head WHERE id = 1');
      const entries = (async function* () {
        for await (const r of allEntryRows(db)) yield entryFromRow(r);
      })();
      report = await verifyAuditLog(entries, checkpoints, { keys, root }, { head: head ? { seq: Number(head.seq), hash: head.entry_hash } : null });
    } finally {
      await db.close();
    }
  }
  if (o.json) writeJson({ source, ...report });
  else print(report, source);
  process.exitCode = report.ok ? 0 : 1;
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description("The gateway's hash-linked audit log.");
  audit
    .command('verify')
    .description(
      "Walk the audit log: every entry's hash and link, none missing or moved, every signed checkpoint (a truncated tail is caught); report the first broken entry.",
    )
    .option('--config <file>', 'the gateway configuration (its database, data dir and trust settings)')
    .option('--data-dir <dir>', "the gateway's data directory (gateway.db, keys/gateway/public.hex, audit-checkpoints/)")
    .option('--db <url>', 'a database URL or SQLite file instead (postgres://… for replicas)')
    .option('--file <export>', 'an export (GET /api/v1/audit/export, NDJSON) instead of a database')
    .option('--pubkey <file>', 'a trusted gateway public key (repeatable; replicas each sign with their own)', collect, [])
    .option('--root-pubkey <file>', 'the agency root key: a checkpoint stored with a certificate from it is trusted')
    .option('--checkpoint <file>', 'a checkpoint kept elsewhere (a .checkpoint.json or an AuditCheckpoint envelope), checked too (repeatable)', collect, [])
    .option('--checkpoints-dir <dir>', 'exported checkpoint files (default with a data dir: {dataDir}/audit-checkpoints)')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Exit codes: 0 intact; 1 broken (an entry altered, deleted, moved or added, a tail truncated, a
checkpoint that does not verify); 2 usage error or unreadable input.

Examples:
  $ bwc audit verify --data-dir /var/lib/bwc-gateway
  $ bwc audit verify --db postgres://bwc@db/bwc --pubkey gw-1.hex --pubkey gw-2.hex
  $ bwc audit verify --file audit-log.ndjson --root-pubkey root.hex --json
`,
    )
    .action(verify);
}
