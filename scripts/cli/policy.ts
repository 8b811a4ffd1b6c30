/**
 * `bwc policy decide`: a dry run of the dock's decide() on one activation, with the bundle, grants,
 * plans and revocations given as files. Officials use it before publishing; tests use it too.
 */
import type { Command } from 'commander';
import { isWireError } from '../../proto/errors.js';
import { loadPublicKeyFile } from '../../proto/keyfile.js';
import { readBundleUnverified, verifyBundle, verifyGrant, verifyPlan, verifyRevocation, type Bundle } from '../../proto/policy.js';
import { activationFromJson, ActivationError } from '../../proto/activation.js';
import { MemoryPolicyCache } from '../../proto/policy-cache.js';
import { decide } from '../../proto/decide.js';
import { InputError, parseTime } from '../../proto/canonical.js';
import { CliError, writeJson } from './common.js';
import { filesIn, readInput, readStructured } from './files.js';

interface DecideOptions {
  bundle: string[];
  grants?: string;
  plans?: string;
  revocations?: string;
  activation: string;
  now?: string;
  rootPubkey?: string;
  json?: boolean;
}

function loadAll<T>(dir: string | undefined, what: string, verify: (b: Uint8Array) => T, warn: (s: string) => void): T[] {
  if (!dir) return [];
  const out: T[] = [];
  for (const f of filesIn(dir, what)) {
    try {
      out.push(verify(readInput(f, what)));
    } catch (e) {
      if (!isWireError(e) && !(e instanceof CliError)) throw e;
      warn(`skipped ${what} ${f}: ${(e as Error).message}`); // never enters the cache
    }
  }
  return out;
}

function run(opts: DecideOptions): void {
  const warn = (s: string) => process.stderr.write(`warning: ${s}\n`);
  let now = Date.now();
  if (opts.now !== undefined) {
    try {
      now = parseTime(opts.now, '--now');
    } catch (e) {
      if (e instanceof InputError) throw new CliError(e.message);
      throw e;
    }
  }
  const root = opts.rootPubkey
    ? (() => {
        try {
          return loadPublicKeyFile(opts.rootPubkey!);
        } catch (e) {
          throw new CliError(`--root-pubkey: ${(e as Error).message}`);
        }
      })()
    : null;
  if (!root) warn('no --root-pubkey: bundle signatures are not checked (a dry run only; a dock never does this)');
  const bundles: Bundle[] = opts.bundle.map((path) => {
    try {
      const bytes = readInput(path, 'bundle');
      return root ? verifyBundle(bytes, root) : readBundleUnverified(bytes);
    } catch (e) {
      if (isWireError(e)) throw new CliError(`bundle ${path}: ${e.message}`);
      throw e;
    }
  });
  const grants = loadAll(opts.grants, 'grant', (b) => verifyGrant(b, bundles), warn);
  const plans = loadAll(opts.plans, 'plan', (b) => verifyPlan(b, bundles), warn);
  const revocations = loadAll(opts.revocations, 'revocation', (b) => verifyRevocation(b, bundles), warn);
  let activation;
  try {
    activation = activationFromJson(readStructured(opts.activation, 'activation'), opts.activation === '-' ? 'activation' : opts.activation);
  } catch (e) {
    if (e instanceof ActivationError) throw new CliError(e.message);
    throw e;
  }
  const cache = new MemoryPolicyCache({ bundles, grants, plans, revocations, updatedAt: now });
  const d = decide(activation, cache, now);
  if (opts.json) {
    writeJson(d);
    return;
  }
  const basis = d.basis ? ` by ${d.basis.kind} ${d.basis.id}${d.basis.category ? ` (${d.basis.category})` : ''}` : '';
  const cover = d.coveredUntil
    ? `\ncovered until ${d.coveredUntil}${d.decision === 'AUTHORIZED' ? ' (the basis ends then)' : ' (the rest of the recording had no basis)'}`
    : '';
  process.stdout.write(
    `${d.decision}${basis}\nreasons ${d.reasons.join(', ')}\nclauses ${d.clauses.join(', ')}\npolicy  v${d.policyVersion}, evaluated as of ${d.evaluatedAt}${cover}\n`,
  );
}

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('The recording policy engine (DESIGN §5).');
  policy
    .command('decide')
    .description('Dry-run decide() on one activation (JSON, DESIGN §5 / device/README.md) and print the decision, its reasons and clauses.')
    .requiredOption('--bundle <file...>', 'signed policy bundle(s); the one in force at the activation time applies')
    .requiredOption('--activation <file>', 'activation JSON, or - for stdin')
    .option('--grants <dir>', 'directory of signed grants')
    .option('--plans <dir>', 'directory of signed operation plans')
    .option('--revocations <dir>', 'directory of signed revocations')
    .option('--now <iso>', 'the decision time (default: now); rules are judged as of the activation time, this only ages the cache')
    .option('--root-pubkey <file>', 'the agency root public key: check the bundle signature')
    .option('--json', 'print the decision as JSON')
    .addHelpText(
      'after',
      `
Example:
  $ echo '{"cameraSerial":"CAM-0042","officerId":"O1","deviceRole":"bwc","trigger":"button",
          "activity":"at_large_arrest","method":"video","at":"2026-11-22T14:03:00Z"}' |
    bwc policy decide --bundle policy-v5.bundle --root-pubkey root.pub --grants grants/ --activation -
`,
    )
    .action(run);
}
