/**
 * `bwc authz`: offline signing of policy data (DESIGN §5) by the agency root and by officials,
 * gateway certificates by the agency root (DESIGN §4 "Who signs what"), and `show` to read any of
 * it back with its hash and signature status. The workflow against a running gateway (request,
 * approve, deny, revoke, list, draft-bundle, publish-bundle) is in authz-requests.ts.
 */
import type { Command } from 'commander';
import { pb } from '../../proto/wire.js';
import { openEnvelope, type OpenedEnvelope } from '../../proto/envelope.js';
import { loadPublicKeyFile } from '../../proto/keyfile.js';
import { isWireError } from '../../proto/errors.js';
import { toHex } from '../../proto/bytes.js';
import { signGatewayCertificate, verifyGatewayCertificate } from '../../proto/gateway-cert.js';
import {
  bundleFromSource,
  grantFromSource,
  planFromSource,
  revocationFromSource,
  signPolicyObject,
  verifyBundle,
  verifyGrant,
  verifyPlan,
  verifyRevocation,
  readBundleUnverified,
  PolicyDataError,
  type Bundle,
  type PolicyType,
  type SignerContext,
} from '../../proto/policy.js';
import { DEFAULT_CLOCK_SKEW_MS } from '../../proto/policy-vocab.js';
import { generateKeyDir, loadDeviceKey, KeyFileError } from '../../device/custody/keys.js';
import { CliError, writeJson } from './common.js';
import { readInput, readStructured, writeNewFile } from './files.js';
import { registerAuthzRequests } from './authz-requests.js';

function signer(dir: string) {
  try {
    return loadDeviceKey(dir);
  } catch (e) {
    if (e instanceof KeyFileError) throw new CliError(e.message);
    throw e;
  }
}

interface SignContext {
  /** The signing time (the signed Header's created-at). */
  readonly now: number;
  /** The bundle in force, when given with --bundle: the signer's issuer entry is checked against it. */
  readonly bundle: Bundle | null;
  readonly signerKeyId: string;
}

/** The signer's entry in the bundle given with --bundle; refuses a key the bundle does not list. */
function signerIn(ctx: SignContext): SignerContext | undefined {
  if (!ctx.bundle) return undefined;
  const issuer = ctx.bundle.issuers.get(ctx.signerKeyId);
  if (!issuer)
    throw new PolicyDataError(
      '',
      `the signing key ${ctx.signerKeyId.slice(0, 16)}… is not an issuer of bundle v${ctx.bundle.version}: no dock would accept what it signs`,
    );
  return { issuer };
}

function signCommand(
  program: Command,
  name: string,
  type: PolicyType,
  what: string,
  build: (raw: unknown, ctx: SignContext) => object,
  example: string,
  note?: (message: object, ctx: SignContext) => string,
): void {
  const cmd = program
    .command(name)
    .description(`Sign ${what} from a JSON or YAML source file (DESIGN §5 format). Never overwrites.`)
    .argument('<source>', 'JSON or YAML source file, or - for stdin')
    .requiredOption('--key <dir>', 'the signing key directory (from `bwc authz keygen`)')
    .requiredOption('--out <file>', 'signed output (an Envelope)')
    .option('--json', 'print the result as JSON');
  if (type === 'AuthorizationGrant' || type === 'OperationPlan') {
    cmd
      .option('--bundle <file>', 'the policy bundle in force: checks that it lists the signing key, as the approver and with the role the source names')
      .option('--root-pubkey <file>', 'the agency root public key, to check the --bundle signature');
  }
  cmd
    .addHelpText('after', `\nExample:\n  ${example}\n`)
    .action((source: string, opts: { key: string; out: string; json?: boolean; bundle?: string; rootPubkey?: string }) => {
      const raw = readStructured(source, `${what} source`);
      const now = Date.now();
      const key = signer(opts.key);
      const ctx: SignContext = { now, bundle: bundleFor(opts.bundle, opts.rootPubkey)?.bundle ?? null, signerKeyId: key.keyId };
      let message: object;
      try {
        message = build(raw, ctx);
      } catch (e) {
        if (e instanceof PolicyDataError) throw new CliError(`${source}: ${e.message}`);
        throw e;
      }
      const signed = signPolicyObject(type, message, key, now);
      writeNewFile(opts.out, signed.bytes);
      const said = note?.(message, ctx) ?? '';
      if (opts.json)
        writeJson({
          out: opts.out,
          type,
          hash: signed.hash,
          keyId: key.keyId,
          createdAt: new Date(now).toISOString(),
          ...(said ? { note: said } : {}),
        });
      else
        process.stdout.write(
          `wrote ${opts.out}: ${type} ${signed.hash}\nsigned by key ${key.keyId} at ${new Date(now).toISOString()}\n${said ? `${said}\n` : ''}`,
        );
    });
}

/**
 * DESIGN §5 whole-recording coverage: a grant applies only from its signing less the clock skew,
 * whatever its notBefore says. Authoring says so when notBefore is earlier.
 */
function grantAppliesFrom(message: object, ctx: SignContext): string {
  const g = message as { notBeforeMs?: number };
  const skew = ctx.bundle?.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
  const from = ctx.now - skew;
  if ((g.notBeforeMs ?? 0) >= from) return '';
  return `note: notBefore is before the grant was signed; it authorizes recordings from ${new Date(from).toISOString()} on (signing time less ${Math.round(skew / 60_000)} min), never earlier (1061.2 §5.1)`;
}

type ShowStatus = { signature: string; detail: string };

/** A gateway certificate starts this long before it is signed. */
const CLOCK_SKEW_MS = 5 * 60_000;

function bundleFor(path: string | undefined, root: string | undefined): { bundle: Bundle; verified: boolean } | null {
  if (!path) return null;
  const bytes = readInput(path, 'bundle');
  try {
    if (root) return { bundle: verifyBundle(bytes, loadPublicKeyFile(root)), verified: true };
    return { bundle: readBundleUnverified(bytes), verified: false };
  } catch (e) {
    if (isWireError(e)) throw new CliError(`bundle ${path}: ${e.message}`);
    throw e;
  }
}

function certificateStatus(bytes: Uint8Array, rootPubkey: string | undefined): ShowStatus {
  if (!rootPubkey) return { signature: 'UNCHECKED', detail: 'give --root-pubkey to check the root signature' };
  const root = loadPublicKeyFile(rootPubkey);
  try {
    const c = verifyGatewayCertificate(bytes, root);
    return { signature: 'VALID', detail: `signed by the given root key; certifies gateway ${c.gatewayId} of fleet ${c.fleet}, valid now` };
  } catch (e) {
    // The signature and the fields are checked before the validity window: the window alone
    // does not make the signature invalid.
    if (isWireError(e) && (e.code === 'EXPIRED' || e.code === 'NOT_YET_VALID'))
      return { signature: 'VALID', detail: `signed by the given root key, but ${e.message}` };
    throw e;
  }
}

function statusOf(env: OpenedEnvelope, bytes: Uint8Array, opts: { rootPubkey?: string; bundle?: string }): ShowStatus {
  try {
    if (env.type === 'GatewayCertificate') return certificateStatus(bytes, opts.rootPubkey);
    if (env.type === 'PolicyBundle') {
      if (!opts.rootPubkey) return { signature: 'UNCHECKED', detail: 'give --root-pubkey to check the root signature' };
      verifyBundle(bytes, loadPublicKeyFile(opts.rootPubkey));
      return { signature: 'VALID', detail: 'signed by the given root key' };
    }
    const b = bundleFor(opts.bundle, opts.rootPubkey);
    if (!b) return { signature: 'UNCHECKED', detail: 'give --bundle (and --root-pubkey) to check the issuer' };
    const verify = { AuthorizationGrant: verifyGrant, Revocation: verifyRevocation, OperationPlan: verifyPlan }[env.type as 'AuthorizationGrant'];
    if (!verify) return { signature: 'UNCHECKED', detail: `not a policy object (${env.type})` };
    verify(bytes, [b.bundle]);
    const issuer = b.bundle.issuers.get(env.keyId)!;
    return {
      signature: 'VALID',
      detail: `signed by ${issuer.name} (${issuer.personId}, ${[...issuer.roles].join('/')}) of bundle v${b.bundle.version}${b.verified ? '' : ' (bundle signature unchecked)'}`,
    };
  } catch (e) {
    if (isWireError(e)) return { signature: 'INVALID', detail: e.message };
    throw e;
  }
}

function bodyJson(env: OpenedEnvelope): Record<string, unknown> {
  const decoders: Record<string, { decode(b: Uint8Array): object }> = {
    PolicyBundle: pb.PolicyBundle,
    AuthorizationGrant: pb.AuthorizationGrant,
    Revocation: pb.Revocation,
    OperationPlan: pb.OperationPlan,
    GatewayCertificate: pb.GatewayCertificate,
  };
  const d = decoders[env.type];
  if (!d) return {};
  const plain = (v: unknown): unknown => {
    if (v instanceof Uint8Array) return toHex(v);
    if (Array.isArray(v)) return v.map(plain);
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, /Ms$/.test(k) && typeof x === 'number' ? new Date(x).toISOString() : plain(x)]));
    return v;
  };
  return plain({ ...d.decode(env.body) }) as Record<string, unknown>;
}

export function registerAuthz(program: Command): void {
  const authz = program
    .command('authz')
    .description('Authorizations and policy bundles: offline keys and signing (DESIGN §5), and requests to record against a gateway (1061.2 §5).');
  registerAuthzRequests(authz);
  authz
    .command('keygen')
    .description("Generate an authority key (the agency root, or an official's issuer key): private.pem 0600, public.pem, public.hex.")
    .requiredOption('--out <dir>', 'directory for the key files; existing keys are never overwritten')
    .addHelpText(
      'after',
      "\nExamples:\n  $ bwc authz keygen --out root-key                              # the agency root, kept offline\n  $ bwc authz keygen --out /etc/bwc/issuer-keys/P-0007           # an official's issuer key, by person id\n",
    )
    .action((opts: { out: string }) => {
      try {
        const k = generateKeyDir(opts.out);
        process.stdout.write(`key id ${k.keyId}\npublic ${k.publicKeyHex}\n`);
      } catch (e) {
        if (e instanceof KeyFileError) throw new CliError(e.message);
        throw e;
      }
    });
  signCommand(
    authz,
    'sign-bundle',
    'PolicyBundle',
    'a policy bundle',
    (raw) => bundleFromSource(raw),
    '$ bwc authz sign-bundle policy-v5.yaml --key root-key --out policy-v5.bundle',
  );
  signCommand(
    authz,
    'sign-grant',
    'AuthorizationGrant',
    'an authorization grant',
    (raw, ctx) => grantFromSource(raw, signerIn(ctx)),
    '$ bwc authz sign-grant G6.json --key fro-key --bundle policy-v5.bundle --root-pubkey root.pub --out G6.grant',
    grantAppliesFrom,
  );
  signCommand(
    authz,
    'sign-plan',
    'OperationPlan',
    'an operation plan',
    (raw, ctx) => planFromSource(raw, signerIn(ctx), ctx.bundle ? [...ctx.bundle.prohibited] : undefined),
    '$ bwc authz sign-plan op-1.yaml --key fro-key --bundle policy-v5.bundle --root-pubkey root.pub --out op-1.plan',
  );
  signCommand(
    authz,
    'sign-revocation',
    'Revocation',
    'a revocation of a grant or a plan',
    (raw, ctx) => revocationFromSource(raw, ctx.now),
    '$ bwc authz sign-revocation R1.json --key fro-key --out R1.revocation',
  );
  authz
    .command('sign-gateway-cert')
    .description("Certify a gateway's public key with the agency root key: a GatewayCertificate for one gateway id of one fleet. Never overwrites.")
    .requiredOption('--key <dir>', 'the agency root key directory (from `bwc authz keygen`)')
    .requiredOption('--gateway-key <file>', "the gateway's public key: public.hex or public.pem of {dataDir}/keys/gateway")
    .requiredOption('--gateway-id <id>', 'the gateway id (gatewayId in its configuration)')
    .requiredOption('--fleet <fleet>', 'the fleet the gateway serves')
    .option('--days <n>', 'validity in days from the signing time', '365')
    .requiredOption('--out <file>', 'signed output (an Envelope)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  $ bwc authz sign-gateway-cert --key root-key --gateway-key /var/lib/bwc-gateway/keys/gateway/public.hex \\\n      --gateway-id gw-sea-1 --fleet sea --out gw-sea-1.cert\n',
    )
    .action((opts: { key: string; gatewayKey: string; gatewayId: string; fleet: string; days: string; out: string; json?: boolean }) => {
      const days = Number(opts.days);
      if (!/^\d+(\.\d+)?$/.test(opts.days) || !(days > 0 && days <= 3650))
        throw new CliError(`--days must be a number of days above 0 and at most 3650, got "${opts.days}"`);
      let gatewayKey;
      try {
        gatewayKey = loadPublicKeyFile(opts.gatewayKey);
      } catch (e) {
        if (isWireError(e)) throw new CliError(e.message);
        throw e;
      }
      const root = signer(opts.key);
      const now = Date.now();
      // Starts a few minutes before the signing time, for clocks a little behind the signer's.
      const notBeforeMs = now - CLOCK_SKEW_MS;
      const notAfterMs = now + Math.round(days * 86_400_000);
      let bytes: Uint8Array;
      try {
        bytes = signGatewayCertificate({ gatewayId: opts.gatewayId, fleet: opts.fleet, publicKey: gatewayKey.raw, notBeforeMs, notAfterMs }, root, now);
      } catch (e) {
        if (isWireError(e)) throw new CliError(e.message.replace(/^gateway id/, '--gateway-id').replace(/^fleet/, '--fleet'));
        throw e;
      }
      const hash = toHex(openEnvelope(bytes).hash);
      writeNewFile(opts.out, bytes);
      const out = {
        out: opts.out,
        type: 'GatewayCertificate',
        hash,
        gatewayId: opts.gatewayId,
        fleet: opts.fleet,
        gatewayKeyId: gatewayKey.keyId,
        notBefore: new Date(notBeforeMs).toISOString(),
        notAfter: new Date(notAfterMs).toISOString(),
        keyId: root.keyId,
      };
      if (opts.json) writeJson(out);
      else {
        process.stdout.write(
          `wrote ${opts.out}: GatewayCertificate ${hash}\ngateway ${opts.gatewayId} of fleet ${opts.fleet}, key ${gatewayKey.keyId}\n` +
            `valid ${out.notBefore} to ${out.notAfter}\nsigned by root key ${root.keyId}\n`,
        );
      }
    });
  authz
    .command('show')
    .description('Print a signed bundle, grant, plan, revocation or gateway certificate: its hash (SHA-256 of the signed input), signer and signature status.')
    .argument('<file>', 'the signed object')
    .option('--root-pubkey <file>', 'the agency root public key, to check a bundle or a gateway certificate (or the bundle given with --bundle)')
    .option('--bundle <file>', 'the policy bundle whose issuers may have signed a grant, plan or revocation')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ bwc authz show policy-v5.bundle --root-pubkey root-key/public.hex\n  $ bwc authz show G6.grant --bundle policy-v5.bundle --root-pubkey root-key/public.hex --json | jq .signature\n',
    )
    .action((file: string, opts: { rootPubkey?: string; bundle?: string; json?: boolean }) => {
      const bytes = readInput(file, 'signed object');
      let env: OpenedEnvelope;
      try {
        env = openEnvelope(bytes);
      } catch (e) {
        if (isWireError(e)) throw new CliError(`${file}: ${e.message}`);
        throw e;
      }
      const status = statusOf(env, bytes, opts);
      const out = { type: env.type, hash: toHex(env.hash), keyId: env.keyId, ...status, body: bodyJson(env) };
      if (opts.json) writeJson(out);
      else
        process.stdout.write(
          `${env.type} ${out.hash}\nsigned by key ${env.keyId}\nsignature ${status.signature}: ${status.detail}\n${JSON.stringify(out.body, null, 2)}\n`,
        );
      if (status.signature === 'INVALID') process.exitCode = 1;
    });
}
