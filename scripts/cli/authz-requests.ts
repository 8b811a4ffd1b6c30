/**
 * `bwc authz request|approve|deny|revoke|list`: the recording-authorization workflow (1061.2 §5)
 * against a running gateway's API. The gateway checks every role and rule again (nobody decides
 * their own request except the Director; an FRO within its offices; every §5.2 field present).
 * `bwc authz draft-bundle|publish-bundle`: the policy bundle in force, as the source of the next
 * one, and a root-signed bundle put in force.
 */
import type { Command } from 'commander';
import { CliError, writeJson } from './common.js';
import { readInput, readStructured, writeNewFile } from './files.js';
import { GatewayClient, gatewayOptions, type GatewayOptions } from './gateway-client.js';

/** 1061.2 §5.3, the codes the gateway expects (gateway/authz/workflow.ts FACTORS). */
const FACTOR_CODES = [
  'reason_need',
  'tailored',
  'minimization',
  'less_intrusive_means',
  'notification',
  'privacy_impact',
  'privileged_information',
  'agency_interest',
  'other_circumstances',
];

interface RequestJson {
  id: string;
  state: string;
  category: string;
  requester: string;
  office: string;
  methods: string[];
  anticipated: { from: string; to: string; location: string };
  expiresAt: string;
  reason: string;
  decision: { by: string; role: string; at: string; note: string } | null;
  grant: { id: string; hash: string } | null;
  revocation: { hash: string; reason: string } | null;
}

function line(r: RequestJson): string {
  const decided = r.decision ? ` ${r.state.toLowerCase()} by ${r.decision.by} (${r.decision.role}) ${r.decision.at}` : '';
  const grant = r.grant ? ` grant ${r.grant.id} ${r.grant.hash.slice(0, 16)}…` : '';
  return (
    `${r.id}  ${r.state.padEnd(8)}  ${r.category}  requester ${r.requester}  office ${r.office}  ${r.methods.join('+')}  ` +
    `${r.anticipated.from} → ${r.anticipated.to} at ${r.anticipated.location}  expires ${r.expiresAt}${decided}${grant}`
  );
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function registerAuthzRequests(authz: Command): void {
  gatewayOptions(
    authz
      .command('request')
      .description('File a written request to record (1061.2 §5.2): reason and purpose, method, minimization, anticipated date, time and location, expiration.')
      .option('--file <file>', 'the request as JSON or YAML (fields as in gateway/README.md); the options below override it')
      .option('--category <code>', 'the 1061.2 §2.1 category (default prior_authorization)')
      .option('--office <code>', 'the office the request falls under (default: your first office)')
      .option('--reason <text>', '§5.2(1) the reason for the request')
      .option('--purpose <text>', '§5.2(1) the purpose of the recording')
      .option('--method <m>', '§5.2(2) video, audio or photo (repeat for several)', collect, [])
      .option('--minimization <text>', '§5.2(3) how ambient and sensitive capture will be minimized')
      .option('--from <time>', '§5.2(4) anticipated start (RFC 3339 with an offset)')
      .option('--to <time>', '§5.2(4) anticipated end (RFC 3339 with an offset)')
      .option('--location <text>', '§5.2(4) anticipated location')
      .option('--expires <time>', '§5.2(5) expiration of the authorization, if approved (RFC 3339 with an offset)')
      .option('--officer <id>', 'an officer the grant covers (default: you; repeat for several)', collect, [])
      .option('--camera <serial>', 'a camera the grant covers (repeat)', collect, [])
      .option('--device <id>', 'a dock the grant is limited to (repeat)', collect, [])
      .option('--json', 'print the filed request as JSON'),
  )
    .addHelpText(
      'after',
      '\nExample:\n  $ BWC_GATEWAY_URL=https://gw:8443 BWC_TOKEN=$(cat ~/.bwc-token) bwc authz request --reason "witness meeting" \\\n      --purpose "evidence" --method video --minimization "meeting room only" --from 2026-12-01T09:00:00Z \\\n      --to 2026-12-01T11:00:00Z --location "SEA room 4" --expires 2026-12-02T00:00:00Z\n',
    )
    .action(
      async (
        o: GatewayOptions & {
          file?: string;
          category?: string;
          office?: string;
          reason?: string;
          purpose?: string;
          method: string[];
          minimization?: string;
          from?: string;
          to?: string;
          location?: string;
          expires?: string;
          officer: string[];
          camera: string[];
          device: string[];
          json?: boolean;
        },
      ) => {
        const client = GatewayClient.from(o);
        const base = (o.file ? readStructured(o.file, 'request') : {}) as Record<string, unknown>;
        if (typeof base !== 'object' || base === null || Array.isArray(base)) throw new CliError(`${o.file}: must hold a mapping of request fields`);
        const anticipated = { ...(base.anticipated as Record<string, unknown> | undefined) };
        if (o.from) anticipated.from = o.from;
        if (o.to) anticipated.to = o.to;
        if (o.location) anticipated.location = o.location;
        const body: Record<string, unknown> = {
          ...base,
          ...(o.category ? { category: o.category } : {}),
          ...(o.office ? { office: o.office } : {}),
          ...(o.reason ? { reason: o.reason } : {}),
          ...(o.purpose ? { purpose: o.purpose } : {}),
          ...(o.method.length ? { methods: o.method } : {}),
          ...(o.minimization ? { minimization: o.minimization } : {}),
          ...(Object.keys(anticipated).length ? { anticipated } : {}),
          ...(o.expires ? { expiresAt: o.expires } : {}),
          ...(o.officer.length || o.camera.length || o.device.length
            ? { scope: { officers: o.officer, cameras: o.camera, devices: o.device, offices: [] } }
            : {}),
        };
        const r = await client.call<{ request: RequestJson }>('POST', '/api/v1/authz/requests', body);
        if (o.json) writeJson(r.request);
        else process.stdout.write(`filed ${r.request.id}, PENDING: an FRO of ${r.request.office}, an HRO or the Director decides it\n`);
      },
    );

  gatewayOptions(
    authz
      .command('approve')
      .description(
        'Approve a request: records the 1061.2 §5.3 factors considered, signs the grant with your issuer key and sends it to the docks in its scope.',
      )
      .argument('<id>', 'the request id (AR-…)')
      .option('--considered <codes>', `the §5.3 factors considered, comma-separated, or "all" (${FACTOR_CODES.join(', ')})`)
      .option('--factor-note <code=text>', 'a note on one factor (repeat)', collect, [])
      .option('--note <text>', 'a note on the approval')
      .option('--json', 'print the result as JSON'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  $ bwc authz approve AR-20261120-1a2b3c4d --considered all --note "room 4 only, as requested"\n  $ bwc authz approve AR-20261120-1a2b3c4d --considered all \\\n      --factor-note minimization="audio muted outside room 4" --factor-note notification="notice posted at the door"\n',
    )
    .action(async (id: string, o: GatewayOptions & { considered?: string; factorNote: string[]; note?: string; json?: boolean }) => {
      const client = GatewayClient.from(o);
      if (!o.considered) throw new CliError(`--considered is required: the 1061.2 §5.3 factors you considered ("all", or some of ${FACTOR_CODES.join(', ')})`);
      const codes =
        o.considered === 'all'
          ? FACTOR_CODES
          : o.considered
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean);
      const notes = new Map<string, string>();
      for (const n of o.factorNote) {
        const at = n.indexOf('=');
        if (at <= 0) throw new CliError(`--factor-note must be code=text, got ${JSON.stringify(n)}`);
        notes.set(n.slice(0, at), n.slice(at + 1));
      }
      const r = await client.call<{ request: RequestJson; grantHash: string; deliveredTo: number }>(
        'POST',
        `/api/v1/authz/requests/${encodeURIComponent(id)}/approve`,
        {
          factorsConsidered: codes.map((factor) => ({ factor, note: notes.get(factor) ?? '' })),
          ...(o.note ? { note: o.note } : {}),
        },
      );
      if (o.json) writeJson(r);
      else process.stdout.write(`approved ${id}: grant ${r.request.grant?.id} ${r.grantHash}, sent to ${r.deliveredTo} dock(s)\n`);
    });

  gatewayOptions(
    authz
      .command('deny')
      .description('Deny a request, with the reason.')
      .argument('<id>', 'the request id (AR-…)')
      .requiredOption('--reason <text>', 'why it is denied')
      .option('--json', 'print the result as JSON'),
  )
    .addHelpText('after', '\nExample:\n  $ bwc authz deny AR-20261120-1a2b3c4d --reason "a less intrusive means suffices (1061.2 §5.3)"\n')
    .action(async (id: string, o: GatewayOptions & { reason: string; json?: boolean }) => {
      const r = await GatewayClient.from(o).call<{ request: RequestJson }>('POST', `/api/v1/authz/requests/${encodeURIComponent(id)}/deny`, {
        reason: o.reason,
      });
      if (o.json) writeJson(r.request);
      else process.stdout.write(`denied ${id}\n`);
    });

  gatewayOptions(
    authz
      .command('revoke')
      .description('Revoke an approved grant from now on; the signed revocation goes to the docks in its scope.')
      .argument('<id>', 'the request id (AR-…)')
      .requiredOption('--reason <text>', 'why it is revoked')
      .option('--json', 'print the result as JSON'),
  )
    .addHelpText('after', '\nExample:\n  $ bwc authz revoke AR-20261120-1a2b3c4d --reason "the meeting was cancelled"\n')
    .action(async (id: string, o: GatewayOptions & { reason: string; json?: boolean }) => {
      const r = await GatewayClient.from(o).call<{ request: RequestJson; revocationHash: string; deliveredTo: number }>(
        'POST',
        `/api/v1/authz/requests/${encodeURIComponent(id)}/revoke`,
        { reason: o.reason },
      );
      if (o.json) writeJson(r);
      else process.stdout.write(`revoked ${id}: revocation ${r.revocationHash}, sent to ${r.deliveredTo} dock(s)\n`);
    });

  gatewayOptions(
    authz
      .command('list')
      .description('The requests you may see: your own; an FRO those of its offices; an HRO, the Director, records officers and auditors all.')
      .option('--state <state>', 'PENDING, APPROVED, DENIED or REVOKED')
      .option('--json', 'print JSON'),
  )
    .addHelpText(
      'after',
      "\nExamples:\n  $ bwc authz list --state PENDING\n  $ bwc authz list --json --gateway https://gw.example:8443 --token-file ~/.bwc-token | jq '.[].id'\n",
    )
    .action(async (o: GatewayOptions & { state?: string; json?: boolean }) => {
      const q = o.state ? `?state=${encodeURIComponent(o.state.toUpperCase())}` : '';
      const r = await GatewayClient.from(o).call<{ requests: RequestJson[] }>('GET', `/api/v1/authz/requests${q}`);
      if (o.json) writeJson(r.requests);
      else process.stdout.write(r.requests.length ? `${r.requests.map(line).join('\n')}\n` : 'no requests\n');
    });

  gatewayOptions(
    authz
      .command('draft-bundle')
      .description('Write the source of the policy bundle in force with its version bumped: the next bundle, to edit and sign offline (bwc authz sign-bundle).')
      .requiredOption('--out <file>', 'the draft source (JSON); never overwrites'),
  )
    .addHelpText(
      'after',
      '\nExample:\n  $ bwc authz draft-bundle --out policy-v6.json\n  $ bwc authz sign-bundle policy-v6.json --key root-key --out policy-v6.bundle   # offline, after editing\n',
    )
    .action(async (o: GatewayOptions & { out: string }) => {
      const r = await GatewayClient.from(o).call<{ version: number; draftSource: unknown }>('GET', '/api/v1/policy/bundle');
      writeNewFile(o.out, `${JSON.stringify(r.draftSource, null, 2)}\n`);
      process.stdout.write(
        `wrote ${o.out}: the source of bundle v${r.version}, as v${r.version + 1}; edit it, then: bwc authz sign-bundle ${o.out} --key ROOT-KEY --out v${r.version + 1}.bundle\n`,
      );
    });

  gatewayOptions(
    authz
      .command('publish-bundle')
      .description('Put a root-signed policy bundle in force on the gateway (its version must be above the one in force); the gateway sends it to every dock.')
      .argument('<file>', 'the signed bundle (from bwc authz sign-bundle)')
      .option('--json', 'print the result as JSON'),
  )
    .addHelpText('after', '\nExample:\n  $ bwc authz publish-bundle policy-v6.bundle\n')
    .action(async (file: string, o: GatewayOptions & { json?: boolean }) => {
      const bytes = readInput(file, 'bundle');
      const r = await GatewayClient.from(o).call<{ version: number; hash: string; deliveredTo: number }>('POST', '/api/v1/policy/bundles', {
        envelope: bytes.toString('base64'),
      });
      if (o.json) writeJson(r);
      else process.stdout.write(`bundle v${r.version} ${r.hash} in force; sent to ${r.deliveredTo} dock(s)\n`);
    });
}
