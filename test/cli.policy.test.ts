/** bwc authz (offline signing) and bwc policy decide (dry run), end to end through the CLI. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runBwc, tempDir } from './helpers.js';

const dir = tempDir();
// Grants are signed now, by the CLI, and authorize only recordings after their signing (1061.2 §5.1):
// every time in these cases is relative to the day the tests run.
const DAY = 86_400_000;
const TODAY = Math.floor(Date.now() / DAY) * DAY;
const t = (days: number, hours = 0) => new Date(TODAY + days * DAY + hours * 3_600_000).toISOString();
const p = (name: string) => join(dir, name);
let froHex: string;

beforeAll(() => {
  for (const k of ['root', 'fro']) expect(runBwc(['authz', 'keygen', '--out', p(k)]).code).toBe(0);
  froHex = readFileSync(p('fro/public.hex'), 'utf8').trim();
  const policy = YAML.parse(readFileSync(join(ROOT, 'device/policy/default-policy.yaml'), 'utf8'));
  policy.version = 5;
  policy.issuedAt = t(-30);
  policy.expiresAt = t(365);
  policy.officersIssued = ['O1', 'O2'];
  policy.issuers = [{ name: 'FRO Seattle', personId: 'U7', publicKey: froHex, roles: ['FRO'], scope: { offices: ['SEA'] } }];
  writeFileSync(p('policy.yaml'), YAML.stringify(policy));
  const signed = runBwc(['authz', 'sign-bundle', p('policy.yaml'), '--key', p('root'), '--out', p('policy.bundle')]);
  expect(signed.stderr).toBe('');
  expect(signed.code).toBe(0);
  mkdirSync(p('grants'));
  writeFileSync(
    p('g6.json'),
    JSON.stringify({
      id: 'G6',
      category: 'prior_authorization',
      requester: 'O2',
      approver: 'U7',
      approverRole: 'FRO',
      scope: { officers: ['O2'] },
      methods: ['video'],
      notBefore: t(0),
      expiresAt: t(10),
      reason: 'evidence intake',
      purpose: 'chain of custody',
      minimization: 'intake counter only',
      anticipated: { from: t(1), to: t(9), location: 'SEA' },
      factorsConsidered: ['reason_need', 'tailored: the intake counter only'],
    }),
  );
  expect(runBwc(['authz', 'sign-grant', p('g6.json'), '--key', p('fro'), '--out', p('grants/G6.grant')]).code).toBe(0);
});

const activation = (over: Record<string, unknown> = {}) =>
  JSON.stringify({
    cameraSerial: 'CAM-0042',
    officerId: 'O1',
    deviceRole: 'bwc',
    trigger: 'button',
    activity: 'at_large_arrest',
    method: 'video',
    location: { office: 'SEA' },
    at: t(2, 14),
    clock: { synced: true, offsetMs: 120 },
    ...over,
  });

function decideJson(act: string, extra: string[] = []) {
  writeFileSync(p('activation.json'), act);
  const r = runBwc([
    'policy',
    'decide',
    '--bundle',
    p('policy.bundle'),
    '--root-pubkey',
    p('root/public.hex'),
    '--grants',
    p('grants'),
    '--activation',
    p('activation.json'),
    '--now',
    t(2, 15),
    '--json',
    ...extra,
  ]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

describe('bwc policy decide', () => {
  it('prints the DESIGN §5 decision object for a BWC trigger', () => {
    expect(decideJson(activation())).toMatchObject({
      decision: 'AUTHORIZED',
      basis: { kind: 'trigger', id: 'at_large_arrest', category: 'directive_authorized' },
      reasons: ['TRIGGER_ACTIVITY'],
      policyVersion: 5,
      evaluatedAt: t(2, 14),
      decidedAt: t(2, 15),
    });
  });

  it('authorizes by a signed prior authorization, and flags a First Amendment-only recording', () => {
    expect(decideJson(activation({ officerId: 'O2', activity: null }))).toMatchObject({
      decision: 'AUTHORIZED',
      basis: { kind: 'grant', id: 'G6' },
    });
    expect(decideJson(activation({ activity: 'first_amendment_activity' }))).toMatchObject({
      decision: 'PROHIBITED',
      reasons: ['FIRST_AMENDMENT_ONLY'],
    });
  });

  it('reads the activation from stdin and prints a readable decision', () => {
    const r = runBwc(['policy', 'decide', '--bundle', p('policy.bundle'), '--root-pubkey', p('root/public.hex'), '--activation', '-'], {
      input: activation({ activity: 'lunch' }),
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^UNAUTHORIZED\nreasons NO_BASIS, NOT_A_TRIGGER, UNKNOWN_ACTIVITY\nclauses /);
  });

  it('refuses a bundle not signed by the given root', () => {
    const r = runBwc(['policy', 'decide', '--bundle', p('policy.bundle'), '--root-pubkey', p('fro/public.hex'), '--activation', '-'], {
      input: activation(),
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^bwc policy decide: bundle .*policy\.bundle: PolicyBundle is signed by key/);
  });

  it('skips, and names, a grant signed by a key the bundle does not list', () => {
    mkdirSync(p('bad-grants'));
    expect(runBwc(['authz', 'keygen', '--out', p('rogue')]).code).toBe(0);
    expect(runBwc(['authz', 'sign-grant', p('g6.json'), '--key', p('rogue'), '--out', p('bad-grants/rogue.grant')]).code).toBe(0);
    writeFileSync(p('activation.json'), activation({ officerId: 'O2', activity: null }));
    const r = runBwc([
      'policy',
      'decide',
      '--bundle',
      p('policy.bundle'),
      '--root-pubkey',
      p('root/public.hex'),
      '--grants',
      p('bad-grants'),
      '--activation',
      p('activation.json'),
      '--json',
    ]);
    expect(r.stderr).toMatch(/skipped grant .*rogue\.grant: AuthorizationGrant is signed by key .* which no cached policy bundle names/);
    expect(JSON.parse(r.stdout).decision).toBe('PENDING_CLASSIFICATION');
  });

  it('names the field of a bad activation', () => {
    const r = runBwc(['policy', 'decide', '--bundle', p('policy.bundle'), '--activation', '-'], {
      input: activation({ trigger: 'telepathy' }),
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/activation: trigger: must be one of/);
  });
});

describe('bwc authz', () => {
  it('show prints the hash, the signer and a VALID signature checked against the bundle', () => {
    const r = runBwc(['authz', 'show', p('grants/G6.grant'), '--bundle', p('policy.bundle'), '--root-pubkey', p('root/public.hex'), '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ type: 'AuthorizationGrant', signature: 'VALID', body: { id: 'G6', category: 'prior_authorization' } });
    expect(j.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(j.detail).toMatch(/FRO Seattle \(U7, FRO\) of bundle v5/);
  });

  it.each([
    ['a §5.2 field missing', { minimization: '' }, /grant\.minimization: is required of a prior authorization \(1061\.2 §5\.2\)/],
    ['expiry before notBefore', { expiresAt: t(-5) }, /grant\.expiresAt: must be after notBefore/],
    ['an unknown category', { category: 'vibes' }, /grant\.category: /],
    ['self-approval by an FRO', { requester: 'U7' }, /grant\.approver: is the requester/],
    ['a role that may not issue the category', { category: 'opr_investigation' }, /grant\.approverRole: FRO may not issue opr_investigation/],
    // Second round (DESIGN §5): exact inputs, who may authorize whom, the anticipated window.
    ['self-approval written "U7 "', { requester: 'U7 ' }, /grant\.requester: must be an id/],
    ['self-approval written "u7"', { requester: 'u7' }, /grant\.approver: is the requester/],
    ['a scope naming the approver', { scope: { officers: ['O2', 'u7'] } }, /grant\.scope\.officers\.1: names the approver/],
    ['a time without an offset', { notBefore: '2026-12-04T23:30:00' }, /grant\.notBefore: .*RFC 3339 time with an explicit offset/],
    ['a time given as "1"', { expiresAt: '1' }, /grant\.expiresAt: .*RFC 3339/],
    ['a time given as "Nov 22 2026 10:00"', { notBefore: 'Nov 22 2026 10:00' }, /grant\.notBefore: .*RFC 3339/],
    [
      'a minimization of one zero-width space',
      { minimization: '\u200b' },
      /grant\.minimization: is required of a prior authorization \(1061\.2 §5\.2\) and must be articulated/,
    ],
    ['no §5.3 factor by code', { factorsConsidered: ['looked fine'] }, /grant\.factorsConsidered: must name at least one 1061\.2 §5\.3 factor/],
    ['an expiry before its own anticipated window ends', { expiresAt: t(5) }, /grant\.anticipated\.to: is after expiresAt/],
  ])('sign-grant refuses %s, naming the field', (_n, over, message) => {
    const src = { ...JSON.parse(readFileSync(p('g6.json'), 'utf8')), ...over };
    writeFileSync(p('bad.json'), JSON.stringify(src));
    const r = runBwc(['authz', 'sign-grant', p('bad.json'), '--key', p('fro'), '--out', p(`never-${Math.random()}.grant`)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it("sign-grant with --bundle refuses an approver who is not the signing key's person", () => {
    const src = { ...JSON.parse(readFileSync(p('g6.json'), 'utf8')), approver: 'U8' };
    writeFileSync(p('other.json'), JSON.stringify(src));
    const r = runBwc([
      'authz',
      'sign-grant',
      p('other.json'),
      '--key',
      p('fro'),
      '--bundle',
      p('policy.bundle'),
      '--root-pubkey',
      p('root/public.hex'),
      '--out',
      p('never-other.grant'),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/grant\.approver: is U8, but the signing key belongs to FRO Seattle \(U7\)/);
  });

  it('sign-grant says from when a grant with an earlier notBefore really applies (1061.2 §5.1)', () => {
    const src = {
      ...JSON.parse(readFileSync(p('g6.json'), 'utf8')),
      notBefore: t(-10),
      anticipated: { from: t(-10), to: t(9), location: 'SEA' },
    };
    writeFileSync(p('backdated.json'), JSON.stringify(src));
    const r = runBwc(['authz', 'sign-grant', p('backdated.json'), '--key', p('fro'), '--out', p('grants-backdated.grant'), '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.note).toMatch(/authorizes recordings from .* \(signing time less 5 min\), never earlier/);
    expect(Date.parse(out.note.match(/from (\S+)/)[1])).toBe(Date.parse(out.createdAt) - 5 * 60_000);
  });

  it('sign-plan refuses a First Amendment-only plan and, with --bundle, one naming its own issuer', () => {
    writeFileSync(p('fa.json'), JSON.stringify({ id: 'OP-FA', activities: ['first_amendment_activity'], officers: ['O1'], from: t(1), to: t(2) }));
    expect(runBwc(['authz', 'sign-plan', p('fa.json'), '--key', p('fro'), '--out', p('never-fa.plan')]).stderr).toMatch(
      /plan\.activities: are all prohibited purposes/,
    );
    writeFileSync(p('own.json'), JSON.stringify({ id: 'OP-OWN', activities: ['arrest_warrant'], officers: ['O1', 'U7'], from: t(1), to: t(2) }));
    const r = runBwc([
      'authz',
      'sign-plan',
      p('own.json'),
      '--key',
      p('fro'),
      '--bundle',
      p('policy.bundle'),
      '--root-pubkey',
      p('root/public.hex'),
      '--out',
      p('never-own.plan'),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/plan\.officers\.1: names the plan's own issuer \(U7\)/);
  });

  it('a grant signed today does not authorize a recording made before it was signed (GRANT_SIGNED_AFTER_START)', () => {
    expect(decideJson(activation({ officerId: 'O2', activity: null, at: t(-1), stoppedAt: t(-1, 1) }), ['--now', t(0, 1)])).toMatchObject({
      decision: 'UNAUTHORIZED',
      reasons: expect.arrayContaining(['GRANT_SIGNED_AFTER_START']),
    });
  });

  it('sign-bundle refuses a standing policy from an issuer who is not an FRO or HRO', () => {
    const policy = YAML.parse(readFileSync(p('policy.yaml'), 'utf8'));
    writeFileSync(
      p('opa.yaml'),
      YAML.stringify({
        ...policy,
        issuers: [{ ...policy.issuers[0], roles: ['OPA'] }],
        standingPolicies: [{ id: 'SP-OPA', issuer: froHex, category: 'opa_ope_ocr', activities: ['press_event'], methods: ['video'] }],
      }),
    );
    const r = runBwc(['authz', 'sign-bundle', p('opa.yaml'), '--key', p('root'), '--out', p('never-opa.bundle')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bundle\.standingPolicies\.0\.issuer: .*only an FRO or HRO issues a standing local policy/);
  });

  it('sign-bundle refuses a weak issuer key and a widened category table', () => {
    const policy = YAML.parse(readFileSync(p('policy.yaml'), 'utf8'));
    writeFileSync(p('weak.yaml'), YAML.stringify({ ...policy, issuers: [{ ...policy.issuers[0], publicKey: '01'.padEnd(64, '0') }] }));
    expect(runBwc(['authz', 'sign-bundle', p('weak.yaml'), '--key', p('root'), '--out', p('weak.bundle')]).stderr).toMatch(
      /bundle\.issuers\.0\.publicKey: public key is a small-order/,
    );
    writeFileSync(p('wide.yaml'), YAML.stringify({ ...policy, categoryIssuers: { opr_investigation: ['FRO'] } }));
    expect(runBwc(['authz', 'sign-bundle', p('wide.yaml'), '--key', p('root'), '--out', p('wide.bundle')]).stderr).toMatch(/may only narrow/);
  });
});
