/**
 * Recording authorizations end to end (1061.2 §5): an officer files a request with every §5.2 field
 * over the gateway's API; an FRO approves it, recording the nine §5.3 factors; the gateway signs
 * the grant with the FRO's issuer key (listed in the root-signed bundle) and sends it to the dock;
 * a later activation of an excluded activity (undercover, otherwise UNAUTHORIZED) is AUTHORIZED
 * with that grant; the FRO revokes it, the revocation reaches the dock, and the next activation
 * is UNAUTHORIZED with GRANT_REVOKED. Everything real: gateway, embedded broker, `bwc dock`,
 * `bwc sim camera` on a socat pty. Also: nobody approves or denies their own request except the
 * Director (§5.1), a request missing a §5.2 field is refused naming the field, an FRO decides
 * only within its offices, and the CLI (`bwc authz request|approve|deny|revoke|list`) does the same
 * against the running gateway.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyDir } from '../proto/keydir.js';
import { bundleFromSource, bundleToSource, signPolicyObject } from '../proto/policy.js';
import { signerFromSeed } from '../device/custody/keys.js';
import { parseGatewayConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { silentLogger } from '../gateway/api/http.js';
import type { Role } from '../gateway/api/roles.js';
import { FACTORS } from '../gateway/authz/workflow.js';
import { ptyPair, runBwcAsync, tempDir, until } from './helpers.js';
import { agencyTrust, exited, killAll, spawnBwc, OFFICER, type AgencyTrust } from './dock.fixtures.js';

const FLEET = 'az';
const DEVICE = 'dock-az-1';
const CAMERA = 'CAM-AZ-1';
const ALL_FACTORS = Object.keys(FACTORS);

const dir = tempDir('bwc-authz-');
let gw: RunningGateway;
let root: AgencyTrust['root'];
let base: string;
const tokens: Record<string, string> = {};

async function api(who: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${tokens[who]}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: r.status, json: (await r.json().catch(() => ({}))) as Record<string, unknown> };
}

function request(over: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Date.now();
  return {
    category: 'prior_authorization',
    office: 'SEA',
    reason: 'buy-bust meeting with a cooperating witness',
    purpose: 'evidence of the transaction',
    methods: ['video', 'audio'],
    minimization: 'camera on only inside the meeting room; no bystanders',
    anticipated: {
      from: new Date(now - 60_000).toISOString(),
      to: new Date(now + 3600_000).toISOString(),
      location: 'Seattle field office, room 4',
    },
    expiresAt: new Date(now + 2 * 3600_000).toISOString(),
    ...over,
  };
}

beforeAll(async () => {
  const gwData = join(dir, 'gateway');
  const issuerKeysDir = join(dir, 'issuer-keys');
  const fro = generateKeyDir(join(issuerKeysDir, 'U7'));
  const director = generateKeyDir(join(issuerKeysDir, 'D1'));
  ({ root } = {
    root: agencyTrust(dir, gwData, {
      fleet: FLEET,
      gatewayId: 'gw-az',
      issuers: [
        { name: 'FRO Seattle', personId: 'U7', publicKey: fro.publicKeyHex, roles: ['FRO'] },
        { name: 'Director', personId: 'D1', publicKey: director.publicKeyHex, roles: ['DIRECTOR'] },
      ],
    }).root,
  });
  gw = await startGateway({
    log: silentLogger,
    config: parseGatewayConfig({
      fleet: FLEET,
      gatewayId: 'gw-az',
      dataDir: gwData,
      http: { port: 0 },
      mqtt: { embedded: { port: 0 } },
      sweepIntervalMs: 500,
      trust: { rootPublicKey: join(dir, 'root.hex'), certificate: join(dir, 'gw-az.cert'), bundle: join(dir, 'policy.bundle') },
      authz: { issuerKeysDir },
    }),
  });
  base = `http://127.0.0.1:${gw.httpPort}`;
  const users: [string, Role[], string[], string][] = [
    ['officer', ['requester'], ['SEA'], OFFICER],
    ['fro', ['approver_fro'], ['SEA'], 'U7'],
    ['fro-pdx', ['approver_fro'], ['PDX'], 'U9'],
    ['director', ['director', 'requester'], ['HQ'], 'D1'],
    ['viewer', ['viewer'], [], 'V1'],
  ];
  for (const [username, roles, offices, personId] of users) {
    await gw.auth.createUser({ username, password: `${username}-password-long-enough`, roles, offices, personId });
    tokens[username] = (await gw.auth.createApiToken(username, 'test')).token;
  }
  // The FRO files a request too (to show it cannot approve it itself).
  tokens['fro-as-requester'] = tokens.fro!;
  await gw.fleet.assign(CAMERA, OFFICER, 'operator-1', 'operator');
}, 60_000);

afterAll(async () => {
  killAll();
  await gw?.stop();
});

describe('policy bundle source', () => {
  it('reads a signed bundle back into its source: signing that source again gives the same bundle', async () => {
    const { readFileSync } = await import('node:fs');
    const bytes = readFileSync(join(dir, 'policy.bundle'));
    const source = bundleToSource(bytes);
    expect(source.issuers?.map((i) => i.personId)).toEqual(['U7', 'D1']);
    const again = signPolicyObject('PolicyBundle', bundleFromSource(source), root);
    const { openEnvelope } = await import('../proto/envelope.js');
    const { pb } = await import('../proto/wire.js');
    const content = (b: Uint8Array) => JSON.stringify({ ...pb.PolicyBundle.decode(openEnvelope(b).body), header: null });
    expect(content(again.bytes)).toEqual(content(bytes));
  });
});

describe('authorization requests over the API (1061.2 §5)', () => {
  it('refuses a request missing any §5.2 field, naming the field', async () => {
    for (const [field, without] of [
      ['reason', { reason: undefined }],
      ['purpose', { purpose: ' ' }],
      ['methods', { methods: [] }],
      ['minimization', { minimization: undefined }],
      ['anticipated', { anticipated: undefined }],
      ['anticipated.location', { anticipated: { from: new Date().toISOString(), to: new Date(Date.now() + 1000).toISOString() } }],
      ['expiresAt', { expiresAt: undefined }],
    ] as const) {
      const r = await api('officer', 'POST', '/api/v1/authz/requests', JSON.parse(JSON.stringify(request(without as Record<string, unknown>))));
      expect(r.status, field).toBe(400);
      expect((r.json.error as { message: string }).message, field).toMatch(new RegExp(`^${field.replace('.', '\\.')}\\b`));
      expect((r.json.error as { message: string }).message, field).toMatch(/1061\.2 §5\.2|§5\.2/);
    }
    // An empty request: every missing field at once, each with its clause.
    const empty = await api('officer', 'POST', '/api/v1/authz/requests', { category: 'prior_authorization' });
    expect(empty.status).toBe(400);
    const problems = (empty.json.error as { problems: { field: string; message: string }[] }).problems;
    for (const field of ['reason', 'purpose', 'methods', 'minimization', 'anticipated', 'expiresAt']) {
      expect(
        problems.some((p) => p.field.startsWith(field)),
        `${field} in ${JSON.stringify(problems)}`,
      ).toBe(true);
    }
    expect((await api('officer', 'GET', '/api/v1/authz/requests')).json.requests).toEqual([]);
  });

  it('lets nobody approve or deny their own request except the Director, and an FRO only within its offices', async () => {
    const own = await api('fro', 'POST', '/api/v1/authz/requests', request());
    expect(own.status).toBe(201);
    const ownId = (own.json.request as { id: string }).id;
    const self = await api('fro', 'POST', `/api/v1/authz/requests/${ownId}/approve`, { factorsConsidered: ALL_FACTORS });
    expect(self.status).toBe(403);
    expect((self.json.error as { code: string }).code).toBe('SELF_DECISION');
    expect((await api('fro', 'POST', `/api/v1/authz/requests/${ownId}/deny`, { reason: 'x' })).status).toBe(403);

    const officers = await api('officer', 'POST', '/api/v1/authz/requests', request());
    const id = (officers.json.request as { id: string }).id;
    // An officer (requester only) cannot decide; an FRO of another office cannot either; a viewer cannot even file.
    expect((await api('officer', 'POST', `/api/v1/authz/requests/${id}/approve`, { factorsConsidered: ALL_FACTORS })).status).toBe(403);
    const pdx = await api('fro-pdx', 'POST', `/api/v1/authz/requests/${id}/approve`, { factorsConsidered: ALL_FACTORS });
    expect([pdx.status, (pdx.json.error as { code: string }).code]).toEqual([403, 'OUT_OF_SCOPE']);
    expect((await api('viewer', 'POST', '/api/v1/authz/requests', request())).status).toBe(403);
    // The §5.3 factors must all be recorded.
    const partial = await api('fro', 'POST', `/api/v1/authz/requests/${id}/approve`, { factorsConsidered: ['reason_need', 'tailored'] });
    expect(partial.status).toBe(400);
    expect((partial.json.error as { message: string }).message).toMatch(/factorsConsidered.*missing: minimization, less_intrusive_means/);
    // The FRO of the office denies it, with a reason; it stays denied.
    const denied = await api('fro', 'POST', `/api/v1/authz/requests/${id}/deny`, { reason: 'less intrusive means exist' });
    expect(denied.status).toBe(200);
    expect((denied.json.request as { state: string }).state).toBe('DENIED');
    expect((await api('fro', 'POST', `/api/v1/authz/requests/${id}/approve`, { factorsConsidered: ALL_FACTORS })).status).toBe(409);

    // The Director may approve a request of their own (1061.2 §5.1).
    const dirOwn = await api('director', 'POST', '/api/v1/authz/requests', request({ office: 'HQ' }));
    const dirId = (dirOwn.json.request as { id: string }).id;
    const dirApproved = await api('director', 'POST', `/api/v1/authz/requests/${dirId}/approve`, { factorsConsidered: ALL_FACTORS });
    expect(dirApproved.status, JSON.stringify(dirApproved.json)).toBe(200);
    expect((dirApproved.json.request as { decision: { role: string } }).decision.role).toBe('DIRECTOR');
    // The officer sees only their own requests; the FRO those of its office.
    const mine = (await api('officer', 'GET', '/api/v1/authz/requests')).json.requests as { id: string }[];
    expect(mine.map((r) => r.id)).toEqual([id]);
    const frosView = (await api('fro', 'GET', '/api/v1/authz/requests')).json.requests as { id: string }[];
    expect(frosView.map((r) => r.id).sort()).toEqual([id, ownId].sort());
  });
});

const tokenFile = (who: string) => {
  const f = join(dir, `${who}.token`);
  writeFileSync(f, `${tokens[who]}\n`, { mode: 0o600 });
  return f;
};

describe('the same through `bwc authz request|approve|deny|revoke|list`', () => {
  const bwc = (who: string, args: string[]) => runBwcAsync(['authz', ...args, '--gateway', base, '--token-file', tokenFile(who)]);
  const fields = () => {
    const r = request();
    const a = r.anticipated as { from: string; to: string; location: string };
    return [
      '--reason',
      r.reason as string,
      '--purpose',
      r.purpose as string,
      '--method',
      'video',
      '--minimization',
      r.minimization as string,
      '--from',
      a.from,
      '--to',
      a.to,
      '--location',
      a.location,
      '--expires',
      r.expiresAt as string,
      '--office',
      'SEA',
    ];
  };

  it('files, refuses self-approval and a missing field, approves with the §5.3 factors, lists and revokes', async () => {
    const missing = await bwc('officer', ['request', ...fields().filter((_, i, a) => a[i] !== '--minimization' && a[i - 1] !== '--minimization')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/400 BAD_INPUT\): minimization: is required \(1061\.2 §5\.2\(3\)\)/);

    const own = await bwc('fro', ['request', ...fields(), '--json']);
    expect(own.code, own.stderr).toBe(0);
    const ownId = (JSON.parse(own.stdout) as { id: string }).id;
    const self = await bwc('fro', ['approve', ownId, '--considered', 'all']);
    expect(self.code).toBe(1);
    expect(self.stderr).toMatch(/SELF_DECISION.*1061\.2 §5\.1/);

    const filed = await bwc('officer', ['request', ...fields(), '--json']);
    expect(filed.code, filed.stderr).toBe(0);
    const id = (JSON.parse(filed.stdout) as { id: string; state: string }).id;
    const noFactors = await bwc('fro', ['approve', id]);
    expect([noFactors.code, noFactors.stderr]).toEqual([2, expect.stringMatching(/--considered is required/)]);
    const approved = await bwc('fro', ['approve', id, '--considered', 'all', '--factor-note', 'notification=not possible: covert meeting', '--json']);
    expect(approved.code, approved.stderr).toBe(0);
    const a = JSON.parse(approved.stdout) as {
      grantHash: string;
      request: { state: string; decision: { factorsConsidered: { factor: string; note: string }[] } };
    };
    expect(a.request.state).toBe('APPROVED');
    expect(a.grantHash).toMatch(/^[0-9a-f]{64}$/);
    expect(a.request.decision.factorsConsidered.find((f) => f.factor === 'notification')?.note).toBe('not possible: covert meeting');

    const listed = await bwc('officer', ['list']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(`${id}  APPROVED`);
    expect(listed.stdout).not.toContain(ownId);
    const revoked = await bwc('fro', ['revoke', id, '--reason', 'no longer needed']);
    expect([revoked.code, revoked.stdout]).toEqual([0, expect.stringMatching(new RegExp(`^revoked ${id}: revocation [0-9a-f]{64}`))]);
    const noToken = await runBwcAsync(['authz', 'list', '--gateway', base]);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/no API token/);
  }, 60_000);
});

describe('a grant reaches the dock and authorizes; its revocation reaches the dock and does not', () => {
  const stateDir = join(dir, 'dock-state');
  const storage = join(dir, 'camera-storage');

  async function record(clip: string, camPort: string): Promise<{ decision: string; basisId: string | null; reasons: string[] }> {
    const scenario = join(dir, `${clip}.json`);
    writeFileSync(
      scenario,
      JSON.stringify({
        camera: { serial: CAMERA, model: 'SIM-1', firmware: 'sim-1.0.0' },
        steps: [{ start: { clip, activity: 'undercover_operation', preEventBufferS: 0 } }, { stop: { clip } }, { ready: { clip, size: 50_000 } }],
      }),
    );
    const cam = spawnBwc(
      ['sim', 'camera', '--port', camPort, '--storage', storage, '--scenario', scenario, '--until-released', '60', '--json'],
      `camera ${clip}`,
    );
    expect(await exited(cam, 90_000), cam.output()).toBe(0);
    const row = await until(
      `${clip} at the gateway`,
      async () => {
        const m = await gw.db.get<{ decision: string; decision_json: string }>(
          'SELECT decision, decision_json FROM manifests WHERE device_id = ? AND clip_id = ?',
          [DEVICE, clip],
        );
        return m ?? undefined;
      },
      30_000,
    );
    const d = JSON.parse(row.decision_json) as { basis?: { id?: string } | null; reasons: string[] };
    return { decision: row.decision, basisId: d.basis?.id ?? null, reasons: d.reasons };
  }

  const policyObjects = (): { hash: string; type: string }[] => {
    const db = new Database(join(stateDir, 'policy.db'), { readonly: true });
    try {
      return db.prepare('select hash, type from policy_objects').all() as { hash: string; type: string }[];
    } finally {
      db.close();
    }
  };

  it('authorizes an excluded activity under an approved grant, then refuses it once revoked (GRANT_REVOKED)', async () => {
    mkdirSync(storage, { recursive: true });
    const { token } = await gw.fleet.createEnrollmentToken(DEVICE, 'operator-1');
    const e = await runBwcAsync([
      'dock',
      'enroll',
      '--state-dir',
      stateDir,
      '--gateway',
      base,
      '--token',
      token,
      '--device-id',
      DEVICE,
      '--root-fingerprint',
      root.keyId,
    ]);
    expect(e.code, e.stderr).toBe(0);
    const pty = await ptyPair(dir, 'az');
    const config = join(dir, 'dock.json');
    writeFileSync(
      config,
      JSON.stringify({
        stateDir,
        link: { ports: [pty.dock] },
        storage: { mounts: { [CAMERA]: storage } },
        clock: { ntp: 'synced' },
        sync: { statusIntervalS: 2, ackTimeoutMs: 5000 },
        mqtt: { backoffMinMs: 100, backoffMaxMs: 2000 },
      }),
    );
    const dock = spawnBwc(['dock', '--config', config], 'dock');
    try {
      await until(
        'dock online',
        async () => Number((await gw.db.get<{ online: number }>('SELECT online FROM devices WHERE device_id = ?', [DEVICE]))?.online) === 1,
        30_000,
      );
      // Without a grant the undercover activity is excluded from the BWC triggers: UNAUTHORIZED.
      const before = await record('az-before', pty.cam);
      expect(before.decision).toBe('UNAUTHORIZED');

      const filed = await api('officer', 'POST', '/api/v1/authz/requests', request({ scope: { officers: [OFFICER], cameras: [], devices: [], offices: [] } }));
      expect(filed.status, JSON.stringify(filed.json)).toBe(201);
      const id = (filed.json.request as { id: string }).id;
      const approved = await api('fro', 'POST', `/api/v1/authz/requests/${id}/approve`, {
        factorsConsidered: ALL_FACTORS.map((f) => ({ factor: f, note: f === 'less_intrusive_means' ? 'none achieve the purpose' : '' })),
        note: 'approved for the meeting only',
      });
      expect(approved.status, JSON.stringify(approved.json)).toBe(200);
      const grantHash = approved.json.grantHash as string;
      const req = approved.json.request as {
        state: string;
        grant: { id: string; hash: string };
        decision: { role: string; personId: string; factorsConsidered: unknown[] };
      };
      expect(req.state).toBe('APPROVED');
      expect(req.grant).toMatchObject({ id: `G-${id}`, hash: grantHash });
      expect(req.decision).toMatchObject({ role: 'FRO', personId: 'U7' });
      expect(req.decision.factorsConsidered).toHaveLength(9);
      expect(approved.json.deliveredTo).toBe(1);
      await until("the grant in the dock's policy cache", () => policyObjects().some((o) => o.hash === grantHash && o.type === 'AuthorizationGrant'), 20_000);

      const during = await record('az-granted', pty.cam);
      expect(during).toMatchObject({ decision: 'AUTHORIZED', basisId: `G-${id}` });

      const revoked = await api('fro', 'POST', `/api/v1/authz/requests/${id}/revoke`, { reason: 'meeting cancelled' });
      expect(revoked.status, JSON.stringify(revoked.json)).toBe(200);
      const revocationHash = revoked.json.revocationHash as string;
      await until("the revocation in the dock's policy cache", () => policyObjects().some((o) => o.hash === revocationHash && o.type === 'Revocation'), 20_000);
      // Revocations are not retroactive, and the dock judges an activation as of its own time (the
      // dock and the camera share this machine's clock): record once that clock has entered the
      // whole second after the revocation.
      const revokedAt = Date.parse((revoked.json.request as { revocation: { at: string } }).revocation.at);
      await until('the clock past the second of the revocation', () => Date.now() >= Math.floor(revokedAt / 1000) * 1000 + 1100, 5000);
      const after = await record('az-revoked', pty.cam);
      expect(after.decision).toBe('UNAUTHORIZED');
      expect(after.reasons).toContain('GRANT_REVOKED');

      // The next policy bundle: drafted from the one in force (version bumped), signed offline by
      // the root, published by the Director, in force at the gateway and on the dock.
      const current = await api('viewer', 'GET', '/api/v1/policy/bundle');
      expect(current.json).toMatchObject({ version: 3, draftSource: { version: 4 } });
      const draft = current.json.draftSource as Record<string, unknown>;
      const v4 = signPolicyObject('PolicyBundle', bundleFromSource({ ...draft, officersIssued: [OFFICER, 'O-18'] }), root);
      const envelope = Buffer.from(v4.bytes).toString('base64');
      expect((await api('viewer', 'POST', '/api/v1/policy/bundles', { envelope })).status).toBe(403);
      const forged = signPolicyObject('PolicyBundle', bundleFromSource({ ...draft, version: 9 }), signerFromSeed(Buffer.alloc(32, 3)));
      const refused = await api('director', 'POST', '/api/v1/policy/bundles', { envelope: Buffer.from(forged.bytes).toString('base64') });
      expect([refused.status, (refused.json.error as { message: string }).message]).toEqual([
        400,
        expect.stringMatching(/not a policy bundle signed by the agency root/),
      ]);
      // Drafted and published with the CLI as an official would.
      const draftFile = join(dir, 'v4-draft.json');
      const drafted = await runBwcAsync(['authz', 'draft-bundle', '--out', draftFile, '--gateway', base, '--token-file', tokenFile('viewer')]);
      expect(drafted.code, drafted.stderr).toBe(0);
      const { readFileSync } = await import('node:fs');
      expect((JSON.parse(readFileSync(draftFile, 'utf8')) as { version: number }).version).toBe(4);
      const v4File = join(dir, 'v4.bundle');
      writeFileSync(v4File, v4.bytes);
      const published = await runBwcAsync(['authz', 'publish-bundle', v4File, '--json', '--gateway', base, '--token-file', tokenFile('director')]);
      expect(published.code, published.stderr).toBe(0);
      expect(JSON.parse(published.stdout)).toMatchObject({ version: 4, hash: v4.hash, deliveredTo: 1 });
      expect((await api('director', 'POST', '/api/v1/policy/bundles', { envelope })).status).toBe(409);
      expect((await api('viewer', 'GET', '/api/v1/policy/bundle')).json.version).toBe(4);
      await until(
        'bundle v4 on the dock',
        () => {
          const db = new Database(join(stateDir, 'policy.db'), { readonly: true });
          try {
            return (db.prepare('select version from policy_bundles where hash = ?').get(v4.hash) as { version: number } | undefined)?.version === 4;
          } finally {
            db.close();
          }
        },
        20_000,
      );
    } finally {
      dock.kill('SIGTERM');
      expect(await exited(dock, 15_000), dock.output()).toBe(0);
    }
  }, 180_000);
});
