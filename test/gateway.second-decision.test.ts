/**
 * The gateway decides again (DESIGN §5 "The gateway decides again", "Whole-recording coverage";
 * §6 review queue): every dock decision that reaches the gateway in a manifest or an event is
 * decided again from the signed objects the gateway holds. A dock with a tampered cache gets
 * DECISION_MISMATCH showing both decisions; an honest dock is asked for the basis object the
 * gateway lacks (PolicyObjectRequest), answers from its policy store (device/commands.ts), and no
 * mismatch is raised; a grant that reached the gateway late raises GRANT_FILED_LATE. On SQLite and
 * PostgreSQL, then over MQTT on a running gateway.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { pb, type bwc } from '../proto/wire.js';
import { openEnvelope, assertEnvelopeSigned } from '../proto/envelope.js';
import { trustPublicKey } from '../proto/ed25519.js';
import {
  bundleFromSource,
  grantFromSource,
  revocationFromSource,
  signPolicyObject,
  verifyBundle,
  verifyGrant,
  verifyRevocation,
  type Bundle,
  type BundleSource,
  type Grant,
} from '../proto/policy.js';
import { DEFAULT_TRIGGERS } from '../proto/policy-vocab.js';
import { MemoryPolicyCache } from '../proto/policy-cache.js';
import { decide } from '../proto/decide.js';
import { decisionToProto, type DecisionJson } from '../proto/decision.js';
import type { Activation } from '../proto/activation.js';
import { toHex } from '../proto/bytes.js';
import type { Db } from '../gateway/store/db.js';
import { openGatewayDb } from '../gateway/store/open.js';
import { ClipStore } from '../gateway/ingest/clip-store.js';
import { Ingest } from '../gateway/ingest/ingest.js';
import { GatewayMessenger } from '../gateway/messenger.js';
import { loadOrCreateGatewayKey } from '../gateway/signer.js';
import { Fleet } from '../gateway/fleet/registry.js';
import { Alerts, type AlertRow } from '../gateway/fleet/alerts.js';
import { PolicyObjects } from '../gateway/policy/objects.js';
import { SecondDecisions } from '../gateway/policy/second-decision.js';
import { parseGatewayConfig } from '../gateway/config.js';
import { startGateway, type RunningGateway } from '../gateway/gateway.js';
import { silentLogger } from '../gateway/api/http.js';
import { PolicyStore } from '../device/policy/store.js';
import { applyCommand, type CommandContext } from '../device/commands.js';
import { fastSignerFromSeed as signerFromSeed } from './keys.js';
import { TestDock, trustFiles } from './gateway.fixtures.js';
import { startPostgres, type TestPostgres } from './pg.js';
import { pseudoRandomBytes, tempDir, until, HARNESS_DB } from './helpers.js';
import { engines } from './tiers.js';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
/** Now, to the hour: the running gateway below reads the real clock, and the bundles must be in force for it too. */
const T0 = Math.floor(Date.now() / HOUR) * HOUR;
const iso = (t: number) => new Date(t).toISOString();

// ───────────────────────── signed policy data ─────────────────────────

/** The agency root: the one trustFiles() certifies the gateway with when given the same seed. */
const ROOT_SEED = 9101;
const root = signerFromSeed(pseudoRandomBytes(32, ROOT_SEED));
const rootKey = trustPublicKey(root.publicKey);
const fro = signerFromSeed(pseudoRandomBytes(32, 9102)); // FRO Seattle, person U7

function bundleSource(over: Partial<BundleSource>): BundleSource {
  return {
    version: 4,
    issuedAt: iso(T0 - 10 * DAY),
    expiresAt: iso(T0 + 60 * DAY),
    triggers: [...DEFAULT_TRIGGERS],
    excludedActivities: ['undercover_operation'],
    prohibitedPurposes: ['first_amendment_activity'],
    officersIssued: ['O-1', 'O-2'],
    issuers: [{ name: 'FRO Seattle', personId: 'U7', publicKey: fro.publicKeyHex, roles: ['FRO'], scope: { offices: ['SEA'] } }],
    ...over,
  };
}
const signBundle = (over: Partial<BundleSource>) =>
  signPolicyObject('PolicyBundle', bundleFromSource(bundleSource(over)), root, Date.parse(bundleSource(over).issuedAt)).bytes;

/** v4, and v5 that supersedes it from T0 − 2 days: facility protection is no longer a BWC trigger. */
const V4 = signBundle({});
const V5 = signBundle({ version: 5, issuedAt: iso(T0 - 2 * DAY), triggers: DEFAULT_TRIGGERS.filter((t) => t !== 'facility_protection') });
const v4 = verifyBundle(V4, rootKey);
const v5 = verifyBundle(V5, rootKey);

/** A §5.1 prior authorization for one officer at SEA, signed by the FRO at `createdAt`, in force over [from, to). */
function signGrant(id: string, officer: string, createdAt: number, from: number, to: number): { bytes: Uint8Array; grant: Grant } {
  const bytes = signPolicyObject(
    'AuthorizationGrant',
    grantFromSource({
      id,
      category: 'prior_authorization',
      requester: officer,
      approver: 'U7',
      approverRole: 'FRO',
      scope: { officers: [officer], cameras: [], devices: [], offices: ['SEA'] },
      methods: ['video'],
      notBefore: iso(from),
      expiresAt: iso(to),
      reason: 'document the intake of seized property',
      purpose: 'chain of custody',
      minimization: 'only the intake counter is in view',
      anticipated: { from: iso(from), to: iso(to), location: 'SEA intake room' },
      factorsConsidered: ['reason_need', 'minimization', 'privacy_impact'],
    }),
    fro,
    createdAt,
  ).bytes;
  return { bytes, grant: verifyGrant(bytes, [v4, v5]) };
}

function signRevocation(g: Grant, at: number): Uint8Array {
  const bytes = signPolicyObject(
    'Revocation',
    revocationFromSource({ id: `R-${g.id}`, revokes: g.hash, effectiveAt: iso(at), reason: 'the intake was cancelled' }, at),
    fro,
    at,
  ).bytes;
  verifyRevocation(bytes, [v4, v5]);
  return bytes;
}

/** A stopped recording by officer O-2 at SEA, as a dock records it. */
function activation(clipId: string, over: Partial<Activation> = {}): Activation {
  return {
    cameraSerial: 'CAM-7',
    officerId: 'O-2',
    deviceId: 'dock-1',
    deviceRole: 'bwc',
    trigger: 'button',
    activity: null,
    purposes: [],
    method: 'video',
    office: 'SEA',
    at: T0 - 2 * HOUR,
    stoppedAt: T0 - 2 * HOUR + 10 * 60_000,
    clock: { synced: true, offsetMs: 3 },
    replayed: false,
    clipId,
    ...over,
  };
}

/** The dock's decision with its own cache, as its agent makes it (decide() from proto/). */
function dockDecides(a: Activation, bundles: Bundle[], grants: Grant[] = []): DecisionJson {
  return decide(a, new MemoryPolicyCache({ bundles, grants, revocations: [], plans: [], updatedAt: T0 - HOUR }), T0 - HOUR);
}

// Each for an officer of its own, so no grant is another clip's basis.
const G_REVOKED = signGrant('G-REVOKED', 'O-2', T0 - 3 * DAY, T0 - 3 * DAY, T0 + 5 * DAY);
const REVOCATION = signRevocation(G_REVOKED.grant, T0 - DAY);
const G_OFFLINE = signGrant('G-OFFLINE', 'O-3', T0 - 5 * HOUR, T0 - 5 * HOUR, T0 + DAY);
const G_LATE = signGrant('G-LATE', 'O-4', T0 - 30 * HOUR, T0 - 30 * HOUR, T0 + DAY);
const G_NEVER = signGrant('G-NEVER', 'O-5', T0 - 4 * HOUR, T0 - 4 * HOUR, T0 + DAY);

// ───────────────────────── the gateway's parts on a database, fed by verified ingest ─────────────────────────

interface Harness {
  db: Db;
  alerts: Alerts;
  objects: PolicyObjects;
  second: SecondDecisions;
  clock: { now: number };
  dock: TestDock;
  /** PolicyObjectRequests the gateway sent: device and hashes. */
  requests: { deviceId: string; hashes: string[] }[];
  send(kind: 'manifest' | 'event', payload: Uint8Array): Promise<void>;
  /** The dock's manifest for a clip, its decision embedded. */
  manifest(a: Activation, d: DecisionJson): Uint8Array;
  mismatches(): Promise<AlertRow[]>;
  close(): Promise<void>;
}

let pg: TestPostgres;
beforeAll(async () => {
  if (engines().includes('postgres')) pg = await startPostgres();
}, 60_000);
afterAll(async () => {
  await pg?.stop();
});

async function harness(engine: 'sqlite' | 'postgres'): Promise<Harness> {
  const dir = tempDir();
  const db = await openGatewayDb(engine === 'sqlite' ? join(dir, 'gateway.db') : await pg.newDatabase(), HARNESS_DB);
  const clock = { now: T0 };
  const now = () => clock.now;
  const store = await new ClipStore(join(dir, 'clips')).init();
  const { signer } = loadOrCreateGatewayKey(join(dir, 'key'));
  const alerts = new Alerts(db, now);
  const fleet = new Fleet({ db, alerts, fleet: 'f1', now });
  const objects = new PolicyObjects({ db, root: rootKey, now });
  const requests: Harness['requests'] = [];
  const second = new SecondDecisions({
    db,
    objects,
    alerts,
    now,
    objectWaitMs: 10 * 60_000,
    grantFiledLateMs: DAY,
    request: async (deviceId, hashes) => {
      requests.push({ deviceId, hashes });
    },
  });
  // Ingest as gateway/compose/ingest.ts builds it; `accepted` is the Event and ClipManifest share of compose/dispatch.ts.
  const ingest = new Ingest({
    db,
    store,
    sealer: new GatewayMessenger({ db, signer, gatewayId: 'gw1', fleet: 'f1', now }),
    fleet: 'f1',
    now,
    gapSettleMs: 0,
    sink: {
      publish: async () => {},
      alert: async (a) => {
        await alerts.raise(a);
      },
      accepted: async (m) => {
        if (m.type === 'Event') {
          await fleet.applyEvent(m.deviceId, m.body, m.receivedAt);
          await second.noteEvent(m.deviceId, m.hash, m.body, m.receivedAt);
        }
        if (m.type === 'ClipManifest') second.noteManifest(m.deviceId, m.hash, m.body, m.receivedAt);
      },
    },
  });
  const dock = new TestDock('dock-1');
  await fleet.enroll(dock.deviceId, dock.key.publicKey, 'otto');
  return {
    db,
    alerts,
    objects,
    second,
    clock,
    dock,
    requests,
    send: async (kind, payload) => {
      const r = await ingest.handle(dock.topic(kind), payload);
      expect(r.status, JSON.stringify(r)).toBe('accepted');
      await second.idle();
    },
    manifest: (a, d) =>
      dock.clip(64 * 1024, {
        facts: {
          cameraSerial: a.cameraSerial,
          officerId: a.officerId ?? '',
          clipId: a.clipId!,
          startedAtMs: a.at,
          endedAtMs: a.stoppedAt ?? a.at,
          decision: decisionToProto(d),
        },
      }).manifest,
    mismatches: () => alerts.list({ kind: 'DECISION_MISMATCH' }),
    close: async () => {
      await second.idle();
      await db.close();
    },
  };
}

/** The dock's answer to a PolicyObjectRequest, made by device/commands.ts over a real policy store. */
async function dockAnswers(store: PolicyStore, hashes: string[]): Promise<bwc.v1.IEvent[]> {
  const sent: bwc.v1.IEvent[] = [];
  const ctx = {
    now: () => T0,
    policy: store,
    reloadPolicy: () => {},
    log: pino({ level: 'silent' }),
    sync: {
      send: (_kind: string, _type: string, body: bwc.v1.IEvent) => {
        sent.push(body);
      },
    },
  } as unknown as CommandContext;
  const cmd = pb.Command.decode(pb.Command.encode({ commandId: 'c1', policyObjectRequest: { hashes: hashes.map((h) => Buffer.from(h, 'hex')) } }).finish());
  const outcome = await applyCommand(cmd, ctx);
  expect(outcome).toBe(`sent ${sent.length} of ${hashes.length} policy object(s) asked for`);
  return sent;
}

function honestDockStore(objects: { grants?: Uint8Array[] } = {}): PolicyStore {
  const store = PolicyStore.open(join(tempDir(), 'policy.db'), { root: rootKey, now: () => T0 - 6 * HOUR });
  store.addBundle(V4);
  store.addBundle(V5);
  for (const g of objects.grants ?? []) store.add('AuthorizationGrant', g);
  return store;
}

describe.each(engines())('the gateway decides again, on %s', (engine) => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness(engine);
    // What the gateway holds: both bundles (v5 superseded v4), the grant its workflow issued and its revocation.
    await h.objects.hold(V4, 'config', T0 - 10 * DAY);
    await h.objects.hold(V5, 'published', T0 - 2 * DAY);
    await h.objects.hold(G_REVOKED.bytes, 'workflow', T0 - 3 * DAY);
    await h.objects.hold(REVOCATION, 'workflow', T0 - DAY);
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  it('raises DECISION_MISMATCH, once per clip and showing both decisions, for a dock still holding a grant the gateway revoked (1061.2 §4, §5.1)', async () => {
    const a = activation('clip-revoked');
    // The tampered cache: the revocation deleted.
    const dock = dockDecides(a, [v4, v5], [G_REVOKED.grant]);
    expect(dock).toMatchObject({ decision: 'AUTHORIZED', basis: { kind: 'grant', id: 'G-REVOKED', hash: G_REVOKED.grant.hash } });
    await h.send('manifest', h.manifest(a, dock));
    // The same decision reported as an event: still one alert for the clip.
    await h.send(
      'event',
      h.dock.event({
        kind: pb.EventKind.EVENT_KIND_ACTIVATION_DECIDED,
        cameraSerial: a.cameraSerial,
        clipId: a.clipId!,
        officerId: 'O-2',
        decision: decisionToProto(dock),
      }),
    );

    const alerts = (await h.mismatches()).filter((x) => x.subject === 'clip-revoked');
    expect(alerts).toHaveLength(1);
    const [m] = alerts;
    expect(m).toMatchObject({ severity: 'critical', device_id: 'dock-1', camera_serial: 'CAM-7', count: 2 });
    expect(m!.message).toContain('the dock decided AUTHORIZED on grant G-REVOKED (prior_authorization): GRANT');
    expect(m!.message).toMatch(/the gateway, deciding again from the signed objects it holds, decides UNAUTHORIZED with no basis: [^;]*GRANT_REVOKED/);
    const detail = JSON.parse(m!.detail_json!) as { dock: DecisionJson; gateway: DecisionJson };
    expect(detail.dock).toMatchObject({ decision: 'AUTHORIZED', basis: { kind: 'grant', id: 'G-REVOKED' }, reasons: ['GRANT'] });
    expect(detail.gateway).toMatchObject({ decision: 'UNAUTHORIZED', basis: null });
    expect(detail.gateway.reasons).toContain('GRANT_REVOKED');
    expect(h.requests).toEqual([]); // it held every object the dock's decision named
  });

  it('raises DECISION_MISMATCH for a late tag decided on a bundle the gateway superseded (DESIGN §5: the bundle in force at `at`)', async () => {
    const a = activation('clip-superseded', { activity: 'facility_protection' });
    // The tampered cache: v5 deleted, so v4's trigger still applies.
    const dock = dockDecides(a, [v4]);
    expect(dock).toMatchObject({ decision: 'AUTHORIZED', basis: { kind: 'trigger', id: 'facility_protection', hash: v4.hash } });
    await h.send(
      'event',
      h.dock.event({
        kind: pb.EventKind.EVENT_KIND_ACTIVITY_TAGGED,
        cameraSerial: a.cameraSerial,
        clipId: a.clipId!,
        activity: 'facility_protection',
        decision: decisionToProto(dock),
      }),
    );

    const [m] = (await h.mismatches()).filter((x) => x.subject === 'clip-superseded');
    expect(m, 'a DECISION_MISMATCH alert for the clip').toBeDefined();
    expect(m!.message).toContain('the dock decided AUTHORIZED on trigger facility_protection (directive_authorized): TRIGGER_ACTIVITY');
    expect(m!.message).toMatch(/decides UNAUTHORIZED with no basis: [^;]*NOT_A_TRIGGER/);
    expect((JSON.parse(m!.detail_json!) as { gateway: DecisionJson }).gateway).toMatchObject({
      decision: 'UNAUTHORIZED',
      policyVersion: 5,
      bundleHash: v5.hash,
    });
  });

  it('raises nothing for a decision the gateway reaches too', async () => {
    const a = activation('clip-agrees', { activity: 'at_large_arrest' });
    const dock = dockDecides(a, [v4, v5]);
    expect(dock.decision).toBe('AUTHORIZED');
    const before = h.second.counters.agreed;
    await h.send('manifest', h.manifest(a, dock));
    expect(h.second.counters.agreed).toBe(before + 1);
    expect((await h.mismatches()).filter((x) => x.subject === 'clip-agrees')).toEqual([]);
  });

  it('asks an honest dock for an offline-signed grant it has not seen, holds the grant the dock sends, and raises no mismatch once it arrives', async () => {
    const a = activation('clip-offline', { officerId: 'O-3' });
    const dock = dockDecides(a, [v4, v5], [G_OFFLINE.grant]);
    expect(dock).toMatchObject({ decision: 'AUTHORIZED', basis: { kind: 'grant', id: 'G-OFFLINE' } });
    await h.send('manifest', h.manifest(a, dock));

    // Asked, and nothing raised while the object is outstanding.
    expect(h.requests.at(-1)).toEqual({ deviceId: 'dock-1', hashes: [G_OFFLINE.grant.hash] });
    expect(await h.db.get('SELECT state, waiting_for FROM second_decisions WHERE outcome IS NULL AND clip_id = ?', ['clip-offline'])).toEqual({
      state: 'WAITING',
      waiting_for: G_OFFLINE.grant.hash,
    });
    expect((await h.mismatches()).filter((x) => x.subject === 'clip-offline')).toEqual([]);

    // The dock answers from its policy store with the grant's own signed bytes.
    const store = honestDockStore({ grants: [G_OFFLINE.bytes] });
    const answer = await dockAnswers(store, h.requests.at(-1)!.hashes);
    store.close();
    expect(answer).toHaveLength(1);
    expect(answer[0]).toMatchObject({ kind: pb.EventKind.EVENT_KIND_POLICY_OBJECT });
    expect(Buffer.from(answer[0]!.policyObject!)).toEqual(Buffer.from(G_OFFLINE.bytes));
    await h.send('event', h.dock.event(answer[0]!));

    expect(await h.objects.get(G_OFFLINE.grant.hash)).toMatchObject({
      type: 'AuthorizationGrant',
      source: 'device:dock-1',
      receivedAt: T0,
    });
    expect(await h.db.get('SELECT state, outcome FROM second_decisions WHERE clip_id = ?', ['clip-offline'])).toEqual({
      state: 'DONE',
      outcome: 'AGREE',
    });
    expect((await h.mismatches()).filter((x) => x.subject === 'clip-offline')).toEqual([]);
    expect(await h.alerts.list({ kind: 'GRANT_FILED_LATE' })).toEqual([]); // signed 5 h before it reached the gateway: timely
  });

  it('stops waiting after the settle window: the mismatch is raised anyway, saying the object never came', async () => {
    const a = activation('clip-never', { officerId: 'O-5' });
    const dock = dockDecides(a, [v4, v5], [G_NEVER.grant]);
    await h.send('manifest', h.manifest(a, dock));
    expect(h.requests.at(-1)!.hashes).toEqual([G_NEVER.grant.hash]);
    await h.second.sweep();
    expect((await h.mismatches()).filter((x) => x.subject === 'clip-never')).toEqual([]); // still within the wait

    h.clock.now = T0 + 10 * 60_000 + 1;
    try {
      await h.second.sweep();
    } finally {
      h.clock.now = T0;
    }
    const [m] = (await h.mismatches()).filter((x) => x.subject === 'clip-never');
    expect(m, 'a DECISION_MISMATCH alert once the wait ended').toBeDefined();
    expect(m!.message).toContain(`${G_NEVER.grant.hash.slice(0, 16)}… never came within 600 s`);
    expect(JSON.parse(m!.detail_json!)).toMatchObject({ objectsNeverReceived: [G_NEVER.grant.hash] });
  });

  it('raises GRANT_FILED_LATE for a grant that reached the gateway 30 h after its claimed signing and authorizes a recording that started before (DESIGN §5 whole-recording coverage)', async () => {
    const a = activation('clip-late', { officerId: 'O-4' });
    const dock = dockDecides(a, [v4, v5], [G_LATE.grant]);
    expect(dock).toMatchObject({ decision: 'AUTHORIZED', basis: { id: 'G-LATE' } });
    await h.send('manifest', h.manifest(a, dock));
    const store = honestDockStore({ grants: [G_LATE.bytes] });
    const [answer] = await dockAnswers(store, h.requests.at(-1)!.hashes);
    store.close();
    await h.send('event', h.dock.event(answer!));

    const late = (await h.alerts.list({ kind: 'GRANT_FILED_LATE' })).filter((x) => x.subject === 'clip-late');
    expect(late).toHaveLength(1);
    expect(late[0]!.message).toContain(`grant G-LATE (${G_LATE.grant.hash.slice(0, 16)}…) authorizes recording clip-late`);
    expect(late[0]!.message).toContain('(30.0 h later), after the recording started');
    expect((await h.mismatches()).filter((x) => x.subject === 'clip-late')).toEqual([]); // the decisions agree
  });

  it('raises no GRANT_FILED_LATE for a late grant when the recording started after the gateway held it', async () => {
    const a = activation('clip-after', { officerId: 'O-4', at: T0 + HOUR, stoppedAt: T0 + 2 * HOUR });
    const dock = dockDecides(a, [v4, v5], [G_LATE.grant]);
    expect(dock.decision).toBe('AUTHORIZED');
    await h.send('manifest', h.manifest(a, dock));
    expect(await h.db.get('SELECT outcome FROM second_decisions WHERE clip_id = ?', ['clip-after'])).toEqual({ outcome: 'AGREE' });
    expect((await h.alerts.list({ kind: 'GRANT_FILED_LATE' })).filter((x) => x.subject === 'clip-after')).toEqual([]);
  });

  it('refuses an object a dock sends that no held bundle lets it verify', async () => {
    const stranger = signerFromSeed(pseudoRandomBytes(32, 9199));
    const forged = signPolicyObject('AuthorizationGrant', { id: 'G-FORGED' }, stranger, T0).bytes;
    expect(await h.second.objectFromDock('dock-1', forged, T0)).toBe(false);
    expect(await h.objects.get(toHex(openEnvelope(forged).hash))).toBeNull();
  });
});

// ───────────────────────── the running gateway: the request and the answer over MQTT ─────────────────────────

describe('over MQTT on a running gateway', () => {
  let gw: RunningGateway;
  const dock = new TestDock('dock-m', 'f1', 77);
  afterAll(async () => {
    await gw?.stop();
  });

  it('sends a signed PolicyObjectRequest to the dock whose decision names an object it lacks, and decides again once the dock answers (DESIGN §5)', async () => {
    const dataDir = tempDir();
    const trust = trustFiles(dataDir, { gatewayId: 'gw1', fleet: 'f1', seed: ROOT_SEED });
    const bundleFile = join(tempDir(), 'v5.bundle');
    writeFileSync(bundleFile, V5); // only v5: not v4, and not the dock's offline grant
    gw = await startGateway({
      config: parseGatewayConfig({
        fleet: 'f1',
        gatewayId: 'gw1',
        dataDir,
        mqtt: { embedded: { port: 0 } },
        http: { port: 0 },
        sweepIntervalMs: 600_000,
        trust: { rootPublicKey: trust.rootPublicKey, certificate: trust.certificate, bundle: bundleFile },
      }),
      log: silentLogger,
    });
    const { mqttPassword } = await gw.fleet.enroll(dock.deviceId, dock.key.publicKey, 'otto');
    const client = await mqtt.connectAsync(gw.mqttUrl, {
      clientId: dock.deviceId,
      username: dock.deviceId,
      password: mqttPassword,
      protocolVersion: 4,
    });
    try {
      const commands: bwc.v1.Command[] = [];
      client.on('message', (_t, payload) => {
        const env = openEnvelope(payload, { expectType: 'Command' });
        assertEnvelopeSigned(env, trustPublicKey(trust.gatewayKey.publicKey)); // signed by the gateway's certified key
        commands.push(pb.Command.decode(env.body));
      });
      await client.subscribeAsync(dock.topic('cmd'), { qos: 1 });

      // The dock decided on v4 and v5 and a grant signed offline; the gateway holds only v5.
      const a = activation('clip-m', {
        officerId: 'O-6',
        deviceId: dock.deviceId,
        at: Date.now() - HOUR,
        stoppedAt: Date.now() - HOUR + 60_000,
      });
      const g = signGrant('G-M', 'O-6', Date.now() - 2 * HOUR, Date.now() - 2 * HOUR, Date.now() + DAY);
      const d = dockDecides(a, [v4, v5], [g.grant]);
      expect(d).toMatchObject({ decision: 'AUTHORIZED', basis: { id: 'G-M' } });
      const manifest = dock.clip(1024, {
        facts: {
          cameraSerial: 'CAM-7',
          officerId: 'O-6',
          clipId: 'clip-m',
          startedAtMs: a.at,
          endedAtMs: a.stoppedAt!,
          decision: decisionToProto(d),
        },
      }).manifest;
      await client.publishAsync(dock.topic('manifest'), Buffer.from(manifest), { qos: 1 });

      const request = await until('a PolicyObjectRequest', () => commands.find((c) => c.cmd === 'policyObjectRequest'));
      expect(request.header?.subjectDevice).toBe(dock.deviceId);
      const asked = (request.policyObjectRequest?.hashes ?? []).map((x) => toHex(x));
      expect(asked).toEqual([g.grant.hash]);
      expect(await gw.alerts.list({ kind: 'DECISION_MISMATCH' })).toEqual([]);

      const store = honestDockStore({ grants: [g.bytes] });
      const [answer] = await dockAnswers(store, asked);
      store.close();
      await client.publishAsync(dock.topic('event'), Buffer.from(dock.event(answer!)), { qos: 1 });

      await until(
        'the clip decided again',
        async () => (await gw.db.get<{ outcome: string | null }>('SELECT outcome FROM second_decisions WHERE clip_id = ?', ['clip-m']))?.outcome,
      );
      expect(await gw.db.get('SELECT state, outcome FROM second_decisions WHERE clip_id = ?', ['clip-m'])).toEqual({
        state: 'DONE',
        outcome: 'AGREE',
      });
      expect(await gw.policyObjects.get(g.grant.hash)).toMatchObject({ source: `device:${dock.deviceId}` });
      expect(await gw.alerts.list({ kind: 'DECISION_MISMATCH' })).toEqual([]);
    } finally {
      await client.endAsync();
    }
  }, 60_000);
});
