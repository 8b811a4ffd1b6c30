/**
 * The whole system on one machine (`bwc demo`, `npm start`): the gateway with its embedded MQTT
 * broker and dashboard, an agency root with an FRO and the Director, people for every role, and
 * three enrolled docks with two simulated cameras each playing the shift of demo-shift.ts. The
 * cameras are linked over real pty pairs when socat is installed and over in-memory streams
 * otherwise. A third into the shift the broker goes down for 4 s and comes back. When every clip is
 * verified and released, a records officer places a litigation hold and runs a disposition dry
 * run, and the end state is checked: every decision as expected, every clip verified and released,
 * the expected alerts raised, the audit log intact.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { pino } from 'pino';
import { generateKeyDir } from '../../proto/keydir.js';
import { decodeManifest } from '../../proto/manifest.js';
import { decisionToJson } from '../../proto/decision.js';
import { FACTORS } from '../../proto/policy-vocab.js';
import { parseGatewayConfig } from '../../gateway/config.js';
import { startGateway, type RunningGateway } from '../../gateway/gateway.js';
import type { Role } from '../../gateway/api/roles.js';
import type { AuditVerifyResponse, DeviceEventsResponse, DispositionDryRun } from '../../gateway/api/types.js';
import { parseDockConfig } from '../../device/config.js';
import { DockAgent, type ProgressEntry } from '../../device/agent.js';
import { enrollDock } from '../../device/enrollment.js';
import { CameraSim } from '../../device/link/sim/camera.js';
import { parseScenario } from '../../device/link/sim/scenario.js';
import { memoryDuplexPair, serialLinkPort, type LinkPort } from '../../device/link/transport.js';
import { agencyTrust } from './agency.js';
import { socatPtyPair, type PtyPair } from './pty.js';
import { DEMO_DOCKS, DEMO_OFFICERS, PRIOR_AUTHORIZATION_OFFICER, shiftLengthMs, type DemoDock } from './demo-shift.js';

export type LinkMode = 'auto' | 'pty' | 'memory';

export interface DemoOptions {
  /** Working directory: the gateway's data, the docks' state, the cameras' storage, the logs. */
  dir: string;
  /** The dashboard and API port (0: any free port). */
  httpPort: number;
  /** The embedded broker's port (0: any free port). */
  mqttPort: number;
  link: LinkMode;
  /** How long the shift plays, seconds. */
  durationS: number;
  /** A line for the person watching. */
  say(line: string): void;
  /** Transfers under way on the docks (hashing, upload), twice a second. */
  onProgress?(entries: (ProgressEntry & { deviceId: string })[]): void;
}

export interface DemoLogin {
  username: string;
  password: string;
  roles: Role[];
  who: string;
}

export interface DemoCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface RunningDemo {
  readonly gateway: RunningGateway;
  readonly url: string;
  readonly logins: readonly DemoLogin[];
  /** `pty` or `memory`, and why. */
  readonly link: { mode: 'pty' | 'memory'; why: string };
  /** Plays the shift to its end and checks the end state. */
  play(): Promise<DemoCheck[]>;
  stop(): Promise<void>;
}

const FLEET = 'demo';
const GATEWAY_ID = 'gw-demo';

const PEOPLE: { username: string; roles: Role[]; offices: string[]; personId: string | null; who: string }[] = [
  { username: 'otto', roles: ['operator'], offices: [], personId: null, who: 'gateway operator: fleet, cameras, alerts' },
  { username: 'sue', roles: ['supervisor'], offices: ['SEA'], personId: 'S-1', who: 'supervisor: alerts, clip review' },
  {
    username: 'olive',
    roles: ['requester'],
    offices: ['SEA'],
    personId: PRIOR_AUTHORIZATION_OFFICER,
    who: `officer ${PRIOR_AUTHORIZATION_OFFICER}: files authorization requests`,
  },
  {
    username: 'fred',
    roles: ['approver_fro', 'requester'],
    offices: ['SEA'],
    personId: 'U7',
    who: 'field responsible official (FRO), Seattle',
  },
  { username: 'dora', roles: ['director'], offices: ['HQ'], personId: 'D1', who: 'Director: approvals, policy bundles' },
  { username: 'rita', roles: ['records_officer'], offices: [], personId: 'R1', who: 'records officer: holds, disposition, export' },
  { username: 'aldo', roles: ['auditor'], offices: [], personId: 'A1', who: 'auditor: audit log, verification' },
  { username: 'vera', roles: ['viewer'], offices: [], personId: null, who: 'viewer' },
  { username: 'ada', roles: ['admin'], offices: [], personId: null, who: 'user administrator' },
];

function socatAvailable(): boolean {
  return spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0;
}

/** A camera cable in memory: the dock opens its end, the camera gets the other. */
function memoryCable(name: string): { dock: LinkPort; cam: LinkPort } {
  let pending: Duplex | null = null;
  let waiter: ((d: Duplex) => void) | null = null;
  return {
    dock: {
      path: `memory:${name}`,
      open: async () => {
        const [dockEnd, camEnd] = memoryDuplexPair();
        if (waiter) {
          const w = waiter;
          waiter = null;
          w(camEnd);
        } else pending = camEnd;
        return dockEnd;
      },
    },
    cam: {
      path: `memory:${name}`,
      open: () =>
        new Promise<Duplex>((resolve) => {
          if (pending) {
            const p = pending;
            pending = null;
            resolve(p);
          } else waiter = resolve;
        }),
    },
  };
}

export async function startDemo(o: DemoOptions): Promise<RunningDemo> {
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  const logFile = (name: string) => pino({ name, level: 'info' }, pino.destination({ dest: join(o.dir, `${name}.log`), mkdir: true, sync: false }));
  const stops: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const f of stops.reverse()) {
      try {
        await f();
      } catch {
        /* stopping anyway */
      }
    }
    stops.length = 0;
  };

  try {
    // ── the agency: root key, gateway certificate, policy bundle, issuer keys of its officials ──
    const gwData = join(o.dir, 'gateway');
    const issuerKeysDir = join(o.dir, 'issuer-keys');
    const fro = generateKeyDir(join(issuerKeysDir, 'U7'));
    const director = generateKeyDir(join(issuerKeysDir, 'D1'));
    const { root, trust } = agencyTrust(o.dir, gwData, {
      fleet: FLEET,
      gatewayId: GATEWAY_ID,
      officers: DEMO_OFFICERS,
      issuers: [
        { name: 'FRO Seattle', personId: 'U7', publicKey: fro.publicKeyHex, roles: ['FRO'] },
        { name: 'Director', personId: 'D1', publicKey: director.publicKeyHex, roles: ['DIRECTOR'] },
      ],
    });

    // ── the gateway ──
    const gateway = await startGateway({
      log: logFile('gateway'),
      config: parseGatewayConfig({
        fleet: FLEET,
        gatewayId: GATEWAY_ID,
        dataDir: gwData,
        http: { port: o.httpPort },
        mqtt: { embedded: { port: o.mqttPort } },
        trust: { rootPublicKey: trust.rootPublicKey, certificate: trust.certificate, bundle: trust.bundle },
        authz: { issuerKeysDir },
        sweepIntervalMs: 1000,
        dashboard: { sampleIntervalMs: 5000 },
      }),
    });
    stops.push(() => gateway.stop());
    const url = `http://127.0.0.1:${gateway.httpPort}`;

    const logins: DemoLogin[] = [];
    const tokens = new Map<string, string>();
    for (const p of PEOPLE) {
      const password = `demo-${randomBytes(9).toString('base64url')}`;
      await gateway.auth.createUser({ username: p.username, password, roles: p.roles, offices: p.offices, personId: p.personId });
      tokens.set(p.username, (await gateway.auth.createApiToken(p.username, 'demo')).token);
      logins.push({ username: p.username, password, roles: p.roles, who: p.who });
    }
    writeFileSync(join(o.dir, 'logins.txt'), `${logins.map((l) => `${l.username}\t${l.password}\t${l.roles.join(',')}\t${l.who}`).join('\n')}\n`, {
      mode: 0o600,
    });
    const api = async <T>(who: string, method: string, path: string, body?: unknown): Promise<T> => {
      const r = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${tokens.get(who)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const json = (await r.json().catch(() => ({}))) as T & { error?: { code: string; message: string } };
      if (!r.ok) throw new Error(`${method} ${path} as ${who}: ${r.status} ${json.error?.code ?? ''} ${json.error?.message ?? ''}`);
      return json;
    };

    // ── cameras issued to officers, and the prior authorization (1061.2 §5) ──
    // Issued since yesterday: a recording's pre-event buffer reaches back before the demo started.
    const issuedAt = Date.now() - 86_400_000;
    for (const d of DEMO_DOCKS) for (const c of d.cameras) await gateway.fleet.assign(c.serial, c.officerId, 'otto', 'operator', issuedAt);
    const now = Date.now();
    const filed = await api<{ request: { id: string } }>('olive', 'POST', '/api/v1/authz/requests', {
      category: 'prior_authorization',
      office: 'SEA',
      reason: 'meeting with a cooperating witness about a stolen-equipment ring',
      purpose: 'a record of the information the witness gives',
      methods: ['video', 'audio'],
      minimization: 'recording only inside the interview room; no third parties; stop when the witness leaves',
      anticipated: {
        from: new Date(now - 60_000).toISOString(),
        to: new Date(now + 8 * 3600_000).toISOString(),
        location: 'Portland field office, interview room 2',
      },
      expiresAt: new Date(now + 12 * 3600_000).toISOString(),
      scope: { officers: [PRIOR_AUTHORIZATION_OFFICER] },
    });
    const approved = await api<{ request: { grant: { id: string } } }>('fred', 'POST', `/api/v1/authz/requests/${filed.request.id}/approve`, {
      factorsConsidered: Object.keys(FACTORS).map((factor) => ({
        factor,
        note: factor === 'less_intrusive_means' ? "notes alone would not capture the witness's account" : '',
      })),
      note: 'approved for the interview only',
    });
    o.say(
      `prior authorization ${filed.request.id} filed by olive (officer ${PRIOR_AUTHORIZATION_OFFICER}), approved by fred (FRO) with the nine §5.3 factors: grant ${approved.request.grant.id}`,
    );

    // ── the docks ──
    const wantPty = o.link !== 'memory';
    const haveSocat = wantPty && socatAvailable();
    if (o.link === 'pty' && !haveSocat) throw new Error('--link pty needs socat (Debian package socat); use --link memory or auto');
    const link = haveSocat
      ? { mode: 'pty' as const, why: 'socat is installed: each camera is on a real pty pair, as on a serial port' }
      : {
          mode: 'memory' as const,
          why: o.link === 'memory' ? '--link memory was given' : 'socat is not installed: cameras are linked over in-process streams',
        };
    const docks: { d: DemoDock; agent: DockAgent; camPorts: LinkPort[] }[] = [];
    for (const d of DEMO_DOCKS) {
      const stateDir = join(o.dir, 'docks', d.deviceId);
      const { token } = await gateway.fleet.createEnrollmentToken(d.deviceId, 'otto');
      await enrollDock({ stateDir, gatewayUrl: url, deviceId: d.deviceId, token, rootFingerprint: root.keyId, hardware: 'demo' });
      const camPorts: LinkPort[] = [];
      const dockPorts: LinkPort[] = [];
      const ptyPaths: string[] = [];
      const mounts: Record<string, string> = {};
      for (const c of d.cameras) {
        mounts[c.serial] = join(o.dir, 'cameras', c.serial);
        mkdirSync(mounts[c.serial]!, { recursive: true });
        if (haveSocat) {
          const pty: PtyPair = await socatPtyPair(join(o.dir, 'docks'), c.serial);
          stops.push(() => pty.kill());
          ptyPaths.push(pty.dock);
          camPorts.push(serialLinkPort(pty.cam));
        } else {
          const cable = memoryCable(c.serial);
          dockPorts.push(cable.dock);
          camPorts.push(cable.cam);
        }
      }
      const config = parseDockConfig(
        {
          stateDir,
          office: d.office,
          link: { ports: ptyPaths },
          storage: { mounts },
          clock: { ntp: 'synced' },
          sync: { statusIntervalS: 5, ackTimeoutMs: 5000 },
          mqtt: { backoffMinMs: 200, backoffMaxMs: 3000 },
          log: { level: 'info' },
        },
        `${d.deviceId} configuration`,
      );
      const agent = DockAgent.open({ config, log: logFile(d.deviceId), ...(haveSocat ? {} : { ports: dockPorts }) });
      await agent.start();
      stops.push(() => agent.stop());
      docks.push({ d, agent, camPorts });
    }
    o.say(
      `docks ${DEMO_DOCKS.map((d) => d.deviceId).join(', ')} enrolled (device keys made on each, tokens redeemed) and started; ${link.mode === 'pty' ? 'pty pairs' : 'in-memory links'}: ${link.why}`,
    );

    const play = async (): Promise<DemoCheck[]> => {
      const speed = shiftLengthMs() / Math.max(1, o.durationS * 1000);
      const progress = setInterval(() => {
        o.onProgress?.(docks.flatMap(({ d, agent }) => agent.progress().map((p) => ({ ...p, deviceId: d.deviceId }))));
      }, 500);
      // The broker goes down a third into the shift, for a few seconds: docks keep recording,
      // keep everything in their outboxes, reconnect and resend; nothing is lost.
      const outage = setTimeout(
        () => {
          o.say('broker outage: every MQTT connection dropped for 4 s');
          void gateway.broker?.interrupt(4000).then(() => o.say('broker back: docks reconnect and resend what was not acknowledged'));
        },
        Math.round((o.durationS * 1000) / 3),
      );
      try {
        await Promise.all(
          docks.flatMap(({ d, camPorts }) =>
            d.cameras.map(async (c, i) => {
              const sim = new CameraSim({
                scenario: parseScenario({ camera: { serial: c.serial, model: 'SIM-1', firmware: 'sim-1.0.0' }, steps: c.steps }, `${c.serial} scenario`),
                storageDir: join(o.dir, 'cameras', c.serial),
                port: camPorts[i]!,
                speed,
                settleMs: 60_000,
                untilReleasedMs: 180_000,
              });
              const r = await sim.run();
              o.say(
                `${c.serial} (officer ${c.officerId}, ${d.deviceId}): shift played, ${r.released.length} clip(s) released by the dock after the gateway's VERIFIED ack`,
              );
              return r;
            }),
          ),
        );
      } finally {
        clearInterval(progress);
        clearTimeout(outage);
        o.onProgress?.([]);
      }

      // The docks report each release (the camera freed the verified bytes) as they drain their outboxes.
      const expected = DEMO_DOCKS.flatMap((d) => d.cameras.flatMap((c) => Object.keys(c.expect)));
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const r = await gateway.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM manifests WHERE released_at IS NOT NULL`);
        if (Number(r?.n ?? 0) >= expected.length) break;
        await new Promise((res) => setTimeout(res, 250));
      }

      // Records: a litigation hold on every recording of one officer, then a disposition dry run.
      const officer = DEMO_DOCKS[0]!.cameras[0]!.officerId;
      await api('rita', 'POST', '/api/v1/records/holds', {
        holdId: 'HOLD-DEMO-1',
        reason: 'Doe v. Agency: preservation letter for the arrest of 23 November',
        officerId: officer,
      });
      o.say(`litigation hold HOLD-DEMO-1 placed by rita on every recording of officer ${officer}`);
      const dry = await api<DispositionDryRun>('rita', 'GET', '/api/v1/records/disposition');
      o.say(
        `disposition dry run: ${dry.items.length} clip(s) due, kept ${
          Object.entries(dry.kept)
            .map(([k, v]) => `${k}: ${v}`)
            .join(', ') || 'none'
        } (list ${dry.hash.slice(0, 16)}…)`,
      );
      return check(gateway, api, dry);
    };

    return { gateway, url, logins, link, play, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

async function check(
  gateway: RunningGateway,
  api: <T>(who: string, method: string, path: string, body?: unknown) => Promise<T>,
  dry: DispositionDryRun,
): Promise<DemoCheck[]> {
  const checks: DemoCheck[] = [];
  const add = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
  const rows = await gateway.db.all<{
    device_id: string;
    clip_id: string;
    state: string;
    released_at: number | null;
    decision: string | null;
    envelope: Buffer;
  }>('SELECT device_id, clip_id, state, released_at, decision, envelope FROM manifests');
  const byClip = new Map(rows.map((r) => [r.clip_id, r]));
  for (const d of DEMO_DOCKS) {
    for (const c of d.cameras) {
      for (const [clipId, want] of Object.entries(c.expect)) {
        const r = byClip.get(clipId);
        if (!r) {
          add(`${clipId}: at the gateway`, false, 'no manifest');
          continue;
        }
        // The decision the manifest signed; a late tag may have replaced the current one (checked below).
        const signed = decodeManifest(r.envelope).manifest.decision;
        const dj = signed ? decisionToJson(signed) : null;
        const okDecision =
          dj?.decision === want.decision && (!want.basis || dj?.basis?.kind === want.basis) && (!want.reason || (dj?.reasons ?? []).includes(want.reason));
        add(
          `${clipId}: ${want.decision}${want.basis ? ` (${want.basis})` : ''}${want.reason ? ` ${want.reason}` : ''}`,
          okDecision,
          `${dj?.decision ?? '-'} ${dj?.basis?.kind ?? '-'} ${(dj?.reasons ?? []).join(',')}`,
        );
        add(
          `${clipId}: verified and released`,
          r.state === 'VERIFIED' && r.released_at !== null,
          `${r.state}${r.released_at !== null ? ', released' : ', not released'}`,
        );
      }
      for (const [clipId, want] of Object.entries(c.tagged ?? {})) {
        const events = (await api<DeviceEventsResponse>('vera', 'GET', `/api/v1/devices/${d.deviceId}/events?limit=1000`)).events;
        // The tag travels as ACTIVITY_TAGGED, and the dock's fresh decision as ACTIVATION_DECIDED ("tagged").
        const tag = events.find((e) => e.kind === 'ACTIVITY_TAGGED' && e.clipId === clipId);
        const fresh = events.find((e) => e.kind === 'ACTIVATION_DECIDED' && e.clipId === clipId && e.detail === 'tagged');
        add(
          `${clipId}: late tag, then ${want}`,
          tag !== undefined && fresh?.decision?.decision === want,
          `${tag ? 'tagged' : 'no ACTIVITY_TAGGED event'}, ${fresh?.decision?.decision ?? 'no fresh decision'}`,
        );
        const current = byClip.get(clipId)?.decision ?? null;
        add(`${clipId}: shown as ${want} everywhere (the current decision)`, current === want, `${current ?? 'no manifest'}`);
        const stillOpen = (await gateway.alerts.list({ kind: 'UNAUTHORIZED_RECORDING', open: true })).filter((a) => a.subject === clipId).length;
        add(`${clipId}: not reported to the supervisor (tagged within the review grace period)`, stillOpen === 0, `${stillOpen} open`);
      }
    }
  }
  const expected = Object.keys(Object.assign({}, ...DEMO_DOCKS.flatMap((d) => d.cameras.map((c) => c.expect))) as Record<string, unknown>);
  add('no unexpected clips', rows.length === expected.length, `${rows.length} manifests, ${expected.length} expected`);
  for (const kind of ['PROHIBITED_RECORDING', 'UNAUTHORIZED_RECORDING', 'TAMPER'] as const) {
    const n = (await gateway.alerts.list({ kind })).length;
    add(`alert ${kind} raised`, n > 0, `${n}`);
  }
  const heldWant = Object.keys(DEMO_DOCKS[0]!.cameras[0]!.expect).length;
  add(`litigation hold keeps the officer's ${heldWant} recordings`, (dry.kept.HELD ?? 0) === heldWant, `HELD: ${dry.kept.HELD ?? 0}`);
  const audit = await api<AuditVerifyResponse>('aldo', 'POST', '/api/v1/audit/verify');
  add(
    'audit log intact (bwc audit verify)',
    audit.ok,
    audit.ok ? `${audit.entries} entries, ${audit.checkpoints.verified} checkpoint(s) verified` : `${audit.firstBroken?.seq}: ${audit.problems.join('; ')}`,
  );
  return checks;
}
