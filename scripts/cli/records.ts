/**
 * `bwc records schedules|holds|hold|release|dispose|export|keyring`: records management (4007.1;
 * 1061.2 §6) against a running gateway's API, as a records officer (auditors may read and export),
 * and the signed keyring auditors check clips against. The gateway checks every role; holds are
 * evaluated when a disposition runs.
 */
import { Readable } from 'node:stream';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { extractTar } from '../../gateway/records/tar.js';
import { InputError, parseTime } from '../../proto/canonical.js';
import { CliError, writeJson } from './common.js';
import { writeNewFile } from './files.js';
import { GatewayClient, gatewayOptions, type GatewayOptions } from './gateway-client.js';

const HASH = /^[0-9a-f]{64}$/;

function time(option: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  try {
    return parseTime(v, option);
  } catch (e) {
    if (e instanceof InputError) throw new CliError(e.message);
    throw e;
  }
}

const iso = (t: number | null | undefined) => (t === null || t === undefined ? '-' : new Date(t).toISOString());

interface Hold {
  holdId: string;
  reason: string;
  manifestHash: string | null;
  deviceId: string | null;
  officerId: string | null;
  cameraSerial: string | null;
  fromAt: number | null;
  toAt: number | null;
  placedAt: number;
  placedBy: string;
  releasedAt: number | null;
}

function holdLine(h: Hold): string {
  const what = [
    h.manifestHash && `clip ${h.manifestHash}`,
    h.deviceId && `device ${h.deviceId}`,
    h.officerId && `officer ${h.officerId}`,
    h.cameraSerial && `camera ${h.cameraSerial}`,
    (h.fromAt !== null || h.toAt !== null) && `${iso(h.fromAt)} → ${iso(h.toAt)}`,
  ]
    .filter(Boolean)
    .join(', ');
  return `${h.holdId}  ${h.releasedAt === null ? 'ACTIVE  ' : 'released'}  ${what}  placed by ${h.placedBy} ${iso(h.placedAt)}: ${h.reason}`;
}

export function registerRecords(program: Command): void {
  const records = program.command('records').description('Records schedules, litigation holds, disposition and BagIt export at a gateway.');

  gatewayOptions(
    records.command('schedules').description('The schedules, the mapping from clip categories/verdicts and record kinds to them, and what is unscheduled.'),
  )
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ bwc records schedules --gateway https://gw.example:8443 --token-file ~/.bwc-token\n  $ bwc records schedules --json | jq .mapping.kinds\n',
    )
    .action(async (o: GatewayOptions & { json?: boolean }) => {
      const r = await GatewayClient.from(o).call<{
        schedules: Record<string, Record<string, unknown>>;
        mapping: Record<string, Record<string, string>>;
        unnamed: string;
      }>('GET', '/api/v1/records/schedules');
      if (o.json) return writeJson(r);
      const lines = Object.entries(r.schedules).map(
        ([name, s]) =>
          `${name}  ${s.type}${s.type === 'temporary' ? `, destroyed ${s.retentionDays} days after cutoff (${s.cutoff})` : s.type === 'permanent' ? `, transferred ${s.transferAfterYears} years after cutoff (${s.cutoff})` : ''}${s.description ? ` — ${s.description}` : ''}`,
      );
      for (const [part, map] of Object.entries(r.mapping)) for (const [k, v] of Object.entries(map)) lines.push(`${part}.${k} → ${v}`);
      lines.push(r.unnamed);
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  gatewayOptions(records.command('holds').description('List litigation holds.'))
    .option('--active', 'only holds not released')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample:\n  $ bwc records holds --active\n')
    .action(async (o: GatewayOptions & { active?: boolean; json?: boolean }) => {
      const r = await GatewayClient.from(o).call<{ holds: Hold[] }>('GET', `/api/v1/records/holds${o.active ? '?active=true' : ''}`);
      if (o.json) return writeJson(r);
      process.stdout.write(r.holds.length ? `${r.holds.map(holdLine).join('\n')}\n` : 'no holds\n');
    });

  gatewayOptions(
    records
      .command('hold')
      .description('Place a litigation hold: nothing it covers is disposed of, including clips that arrive later. Every criterion given must match.'),
  )
    .requiredOption('--reason <text>', 'the matter (case, request) the hold is for')
    .option('--hold-id <id>', 'an id of your own (default: generated)')
    .option('--clip <manifestHash>', 'one clip, by its manifest hash')
    .option('--device <id>', 'every clip from a dock')
    .option('--officer <id>', 'every clip of an officer')
    .option('--camera <serial>', 'every clip from a camera')
    .option('--from <time>', 'a date range (RFC 3339 with an offset): clips recorded or received from this time…')
    .option('--to <time>', '…to this time')
    .option('--json', 'print the hold as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  $ bwc records hold --reason "Doe v. Agency, 26-cv-0114" --officer O-17 --from 2026-01-01T00:00:00Z --to 2026-03-31T23:59:59Z\n',
    )
    .action(
      async (
        o: GatewayOptions & {
          reason: string;
          holdId?: string;
          clip?: string;
          device?: string;
          officer?: string;
          camera?: string;
          from?: string;
          to?: string;
          json?: boolean;
        },
      ) => {
        if (o.clip !== undefined && !HASH.test(o.clip)) throw new CliError('--clip must be a manifest hash (64 lowercase hex characters)');
        const body: Record<string, unknown> = { reason: o.reason };
        if (o.holdId) body.holdId = o.holdId;
        if (o.clip) body.manifestHash = o.clip;
        if (o.device) body.deviceId = o.device;
        if (o.officer) body.officerId = o.officer;
        if (o.camera) body.cameraSerial = o.camera;
        const from = time('--from', o.from);
        const to = time('--to', o.to);
        if (from !== undefined) body.fromAt = from;
        if (to !== undefined) body.toAt = to;
        const r = await GatewayClient.from(o).call<{ hold: Hold }>('POST', '/api/v1/records/holds', body);
        if (o.json) return writeJson(r);
        process.stdout.write(`${holdLine(r.hold)}\n`);
      },
    );

  gatewayOptions(records.command('release').description('Release a litigation hold.'))
    .argument('<holdId>', 'the hold')
    .requiredOption('--reason <text>', 'why it is released (the matter closed…)')
    .option('--json', 'print the hold as JSON')
    .addHelpText('after', '\nExample:\n  $ bwc records release hold-2026-01-05-1a2b3c4d --reason "matter closed"\n')
    .action(async (holdId: string, o: GatewayOptions & { reason: string; json?: boolean }) => {
      const r = await GatewayClient.from(o).call<{ hold: Hold }>('POST', `/api/v1/records/holds/${encodeURIComponent(holdId)}/release`, {
        reason: o.reason,
      });
      if (o.json) return writeJson(r);
      process.stdout.write(`${holdLine(r.hold)}\n`);
    });

  gatewayOptions(
    records
      .command('dispose')
      .description('Dispose of eligible temporary records: first --dry-run (the exact list and its hash), then --hash HASH to execute that list.'),
  )
    .option('--dry-run', "list exactly what would go, with the list's hash; changes nothing")
    .option('--hash <hash>', 'execute the disposition whose dry run printed this hash (refused if the eligible set changed since)')
    .option('--reason <text>', 'recorded with the disposition')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExample:\n  $ bwc records dispose --dry-run\n  $ bwc records dispose --hash 3f1c…e9 --reason "FY2026 routine disposition"\n')
    .action(async (o: GatewayOptions & { dryRun?: boolean; hash?: string; reason?: string; json?: boolean }) => {
      if (!!o.dryRun === (o.hash !== undefined)) throw new CliError('give --dry-run, or --hash HASH from a dry run (one of them)');
      const client = GatewayClient.from(o);
      if (o.dryRun) {
        const r = await client.call<{
          asOf: number;
          items: { manifestHash: string; clipSha256: string; byteLength: number; schedule: string; dueAt: number }[];
          paperwork: { requestId: string; kind: string; schedule: string; dueAt: number }[];
          hash: string;
          bytes: number;
          kept: Record<string, number>;
        }>('GET', '/api/v1/records/disposition');
        if (o.json) return writeJson(r);
        const lines = r.items.map((i) => `${i.manifestHash}  ${i.schedule}  due ${iso(i.dueAt)}  ${i.byteLength} bytes`);
        lines.push(...r.paperwork.map((p) => `${p.requestId}  ${p.kind}  ${p.schedule}  due ${iso(p.dueAt)}`));
        lines.push(
          `${r.items.length} clip(s), ${r.bytes} bytes, and ${r.paperwork.length} authorization record(s), as of ${iso(r.asOf)}; kept: ${
            Object.entries(r.kept)
              .map(([k, n]) => `${n} ${k}`)
              .join(', ') || 'none'
          }`,
        );
        lines.push(`hash ${r.hash}`);
        if (r.items.length + r.paperwork.length) lines.push(`to execute exactly this list: bwc records dispose --hash ${r.hash}`);
        process.stdout.write(`${lines.join('\n')}\n`);
        return;
      }
      if (!HASH.test(o.hash!)) throw new CliError('--hash must be the 64 hex characters a dry run printed');
      const r = await client.call<{
        dispositionId: string;
        records: number;
        blobsDeleted: string[];
        blobsKept: string[];
        auditSeq: number;
        signature: { keyId: string };
      }>('POST', '/api/v1/records/dispositions', { hash: o.hash, ...(o.reason ? { reason: o.reason } : {}) });
      if (o.json) return writeJson(r);
      process.stdout.write(
        `disposition ${r.dispositionId}: content of ${r.records} record(s) disposed of (metadata kept); ${r.blobsDeleted.length} blob(s) deleted, ` +
          `${r.blobsKept.length} kept for records that still need them; signed by ${r.signature.keyId.slice(0, 16)}…, audit entry ${r.auditSeq}\n`,
      );
    });

  gatewayOptions(
    records
      .command('export')
      .description('Export a record as a BagIt package (RFC 8493): the clip, its signed manifest, the verification report and the audit extract.'),
  )
    .argument('<manifestHash>', 'the clip record, by its manifest hash')
    .option('--out <dir>', 'the directory the bag is written into (default: the current one)', '.')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  $ bwc records export 9c2e…41 --out /mnt/transfer\n  $ cd /mnt/transfer/bwc-record-9c2e… && sha256sum -c manifest-sha256.txt\n',
    )
    .action(async (hash: string, o: GatewayOptions & { out: string; json?: boolean }) => {
      if (!HASH.test(hash)) throw new CliError('the record is named by its manifest hash (64 lowercase hex characters)');
      const client = GatewayClient.from(o);
      let res: Response;
      try {
        res = await fetch(`${client.base}/api/v1/records/clips/${hash}/export`, {
          method: 'POST',
          headers: { authorization: `Bearer ${client.token}` },
        });
      } catch (e) {
        const cause = (e as { cause?: { code?: string } }).cause;
        throw new CliError(`cannot reach the gateway at ${client.base}: ${cause?.code ?? (e as Error).message}`, 1);
      }
      if (!res.ok || !res.body) {
        const text = await res.text();
        let err: { code?: string; message?: string } | undefined;
        try {
          err = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
        } catch {
          err = undefined;
        }
        throw new CliError(`the gateway refused (${res.status} ${err?.code ?? res.statusText}): ${err?.message ?? text.slice(0, 200)}`, 1);
      }
      const name = res.headers.get('x-bag-name') ?? '';
      const out = resolve(o.out);
      if (name && existsSync(join(out, name))) throw new CliError(`${join(out, name)} exists already (an export never overwrites)`);
      let files: string[];
      try {
        files = await extractTar(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>), out);
      } catch (e) {
        throw new CliError(`the export could not be written into ${out}: ${(e as Error).message}`, 1);
      }
      const bag = join(out, name || files[0]?.split('/')[0] || '');
      if (o.json) return writeJson({ bag, files: files.length });
      process.stdout.write(`${bag}\n`);
    });

  gatewayOptions(
    records
      .command('keyring')
      .description(
        'Export the keyring auditors check clips against (bwc verify --keyring): every device key with when it was revoked, signed by the gateway, carrying its certificate.',
      ),
  )
    .requiredOption('--out <file>', 'the file to write (never overwritten)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  $ bwc records keyring --out fleet.keyring\n  $ bwc verify clip.mp4 clip.manifest --keyring fleet.keyring --root-pubkey agency-root.pub.hex\n',
    )
    .action(async (o: GatewayOptions & { out: string; json?: boolean }) => {
      const r = await GatewayClient.from(o).call<{ gatewayId: string; keys: number; keyring: string }>('GET', '/api/v1/keyring');
      writeNewFile(o.out, Buffer.from(r.keyring, 'base64'));
      if (o.json) return writeJson({ out: o.out, gatewayId: r.gatewayId, keys: r.keys });
      process.stdout.write(`${o.out}: ${r.keys} device key(s), signed by gateway ${r.gatewayId}\n`);
    });
}
