/** bwc authz (offline signing) and bwc policy decide (dry run), end to end through the CLI. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runBwc, tempDir } from './helpers.js';

const dir = tempDir();
const p = (name: string) => join(dir, name);
let froHex: string;

beforeAll(() => {
  for (const k of ['root', 'fro']) expect(runBwc(['authz', 'keygen', '--out', p(k)]).code).toBe(0);
  froHex = readFileSync(p('fro/public.hex'), 'utf8').trim();
  const policy = YAML.parse(readFileSync(join(ROOT, 'device/policy/default-policy.yaml'), 'utf8'));
  policy.version = 5;
  policy.officersIssued = ['O1', 'O2'];
  policy.issuers = [{ name: 'FRO Seattle', personId: 'U7', publicKey: froHex, roles: ['FRO'], scope: { offices: ['SEA'] } }];
  writeFileSync(p('policy.yaml'), YAML.stringify(policy));
  const signed = runBwc(['authz', 'sign-bundle', p('policy.yaml'), '--key', p('root'), '--out', p('policy.bundle')]);
  expect(signed.stderr).toBe('');
  expect(signed.code).toBe(0);
  mkdirSync(p('grants'));
  writeFileSync(p('g6.json'), JSON.stringify({
    id: 'G6', category: 'prior_authorization', requester: 'O2', approver: 'U7', approverRole: 'FRO', scope: { officers: ['O2'] },
    methods: ['video'], notBefore: '2026-11-20T00:00:00Z', expiresAt: '2026-11-30T00:00:00Z', reason: 'evidence intake',
    purpose: 'chain of custody', minimization: 'intake counter only', anticipated: { from: '2026-11-20T00:00:00Z', to: '2026-11-30T00:00:00Z', location: 'SEA' },
    factorsConsidered: ['specific need', 'tailored'],
  }));
  expect(runBwc(['authz', 'sign-grant', p('g6.json'), '--key', p('fro'), '--out', p('grants/G6.grant')]).code).toBe(0);
});

const activation = (over: Record<string, unknown> = {}) => JSON.stringify({
  cameraSerial: 'CAM-0042', officerId: 'O1', deviceRole: 'bwc', trigger: 'button', activity: 'at_large_arrest', method: 'video',
  location: { office: 'SEA' }, at: '2026-11-22T14:03:00Z', clock: { synced: true, offsetMs: 120 }, ...over,
});

function decideJson(act: string, extra: string[] = []) {
  writeFileSync(p('activation.json'), act);
  const r = runBwc(['policy', 'decide', '--bundle', p('policy.bundle'), '--root-pubkey', p('root/public.hex'), '--grants', p('grants'), '--activation', p('activation.json'), '--now', '2026-11-22T15:00:00Z', '--json', ...extra]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

describe('bwc policy decide', () => {
  it('prints the DESIGN §5 decision object for a BWC trigger', () => {
    expect(decideJson(activation())).toMatchObject({
      decision: 'AUTHORIZED', basis: { kind: 'trigger', id: 'at_large_arrest', category: 'directive_authorized' },
      reasons: ['TRIGGER_ACTIVITY'], policyVersion: 5, evaluatedAt: '2026-11-22T14:03:00.000Z', decidedAt: '2026-11-22T15:00:00.000Z',
    });
  });

  it('authorizes by a signed prior authorization, and flags a First Amendment-only recording', () => {
    expect(decideJson(activation({ officerId: 'O2', activity: null }))).toMatchObject({ decision: 'AUTHORIZED', basis: { kind: 'grant', id: 'G6' } });
    expect(decideJson(activation({ activity: 'first_amendment_activity' }))).toMatchObject({ decision: 'PROHIBITED', reasons: ['FIRST_AMENDMENT_ONLY'] });
  });

  it('reads the activation from stdin and prints a readable decision', () => {
    const r = runBwc(['policy', 'decide', '--bundle', p('policy.bundle'), '--root-pubkey', p('root/public.hex'), '--activation', '-'], { input: activation({ activity: 'lunch' }) });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^UNAUTHORIZED\nreasons NO_BASIS, NOT_A_TRIGGER\nclauses /);
  });

  it('refuses a bundle not signed by the given root', () => {
    const r = runBwc(['policy', 'decide', '--bundle', p('policy.bundle'), '--root-pubkey', p('fro/public.hex'), '--activation', '-'], { input: activation() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^bwc policy decide: bundle .*policy\.bundle: PolicyBundle is signed by key/);
  });

  it('skips, and names, a grant signed by a key the bundle does not list', () => {
    mkdirSync(p('bad-grants'));
    expect(runBwc(['authz', 'keygen', '--out', p('rogue')]).code).toBe(0);
    expect(runBwc(['authz', 'sign-grant', p('g6.json'), '--key', p('rogue'), '--out', p('bad-grants/rogue.grant')]).code).toBe(0);
    writeFileSync(p('activation.json'), activation({ officerId: 'O2', activity: null }));
    const r = runBwc(['policy', 'decide', '--bundle', p('policy.bundle'), '--root-pubkey', p('root/public.hex'), '--grants', p('bad-grants'), '--activation', p('activation.json'), '--json']);
    expect(r.stderr).toMatch(/skipped grant .*rogue\.grant: AuthorizationGrant is signed by key .* which no cached policy bundle names/);
    expect(JSON.parse(r.stdout).decision).toBe('PENDING_CLASSIFICATION');
  });

  it('names the field of a bad activation', () => {
    const r = runBwc(['policy', 'decide', '--bundle', p('policy.bundle'), '--activation', '-'], { input: activation({ trigger: 'telepathy' }) });
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
    ['expiry before notBefore', { expiresAt: '2026-11-01T00:00:00Z' }, /grant\.expiresAt: must be after notBefore/],
    ['an unknown category', { category: 'vibes' }, /grant\.category: /],
    ['self-approval by an FRO', { requester: 'U7' }, /grant\.approver: is the requester/],
    ['a role that may not issue the category', { category: 'opr_investigation' }, /grant\.approverRole: FRO may not issue opr_investigation/],
  ])('sign-grant refuses %s, naming the field', (_n, over, message) => {
    const src = { ...JSON.parse(readFileSync(p('g6.json'), 'utf8')), ...over };
    writeFileSync(p('bad.json'), JSON.stringify(src));
    const r = runBwc(['authz', 'sign-grant', p('bad.json'), '--key', p('fro'), '--out', p(`never-${Math.random()}.grant`)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('sign-bundle refuses a weak issuer key and a widened category table', () => {
    const policy = YAML.parse(readFileSync(p('policy.yaml'), 'utf8'));
    writeFileSync(p('weak.yaml'), YAML.stringify({ ...policy, issuers: [{ ...policy.issuers[0], publicKey: '01'.padEnd(64, '0') }] }));
    expect(runBwc(['authz', 'sign-bundle', p('weak.yaml'), '--key', p('root'), '--out', p('weak.bundle')]).stderr).toMatch(/bundle\.issuers\.0\.publicKey: public key is a small-order/);
    writeFileSync(p('wide.yaml'), YAML.stringify({ ...policy, categoryIssuers: { opr_investigation: ['FRO'] } }));
    expect(runBwc(['authz', 'sign-bundle', p('wide.yaml'), '--key', p('root'), '--out', p('wide.bundle')]).stderr).toMatch(/may only narrow/);
  });
});
