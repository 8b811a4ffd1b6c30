/**
 * The dock side of `npm run bench -- forged`, in its own process so its CPU time is its own: a
 * DockSync on a file-backed dock database (WAL, synchronous=FULL, as on a real dock), connected to
 * the parent's broker. Talks to the parent over IPC:
 *   parent → { start: { brokerUrl, password, root, certificate, expected } }   child → { ready: { pending } }
 *   parent → { flooded: true }                                                   child → { result: … }
 * The dock's logger (device/log.ts) is silent unless `BWC_LOG_LEVEL` names a level; its lines go
 * to the child's stderr, which the parent shares.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pb } from '../../proto/wire.js';
import { trustPublicKey } from '../../proto/ed25519.js';
import { DockSync } from '../../device/sync/sync.js';
import { GatewayTrust } from '../../device/sync/trust.js';
import { openDockDb } from '../../device/store/dock-db.js';
import { DockState } from '../../device/store/state.js';
import { Outbox } from '../../device/store/outbox.js';
import { signerFromSeed } from '../../device/custody/keys.js';
import { dockLogger } from '../../device/log.js';
import { pseudoRandomBytes } from './harness.js';

interface Start {
  brokerUrl: string;
  password: string;
  root: string;
  certificate: string;
  expected: number;
}

const send = (m: unknown) => process.send!(m);

process.on('message', (m: { start?: Start; flooded?: boolean }) => {
  if (m.start) void start(m.start);
});

function rowCount(db: ReturnType<typeof openDockDb>): number {
  const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all() as { name: string }[];
  return tables.reduce((n, t) => n + Number((db.prepare(`SELECT COUNT(*) AS n FROM "${t.name}"`).get() as { n: number }).n), 0);
}

async function start(s: Start): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bwc-bench-forged-'));
  const db = openDockDb(join(dir, 'dock.db'));
  const trust = new GatewayTrust(trustPublicKey(Buffer.from(s.root, 'hex')), 'f1');
  trust.addCertificate(Buffer.from(s.certificate, 'base64'), Date.now());
  let actedAt = 0;
  let pending = '';
  const outbox = new Outbox(db);
  const sync = new DockSync({
    deviceId: 'dock-bench',
    fleet: 'f1',
    signer: signerFromSeed(pseudoRandomBytes(32, 31)),
    state: new DockState(db),
    outbox,
    trust,
    session: {
      url: s.brokerUrl,
      username: 'dock-bench',
      password: s.password,
      protocolVersion: 4,
      keepaliveS: 60,
      connectTimeoutMs: 10_000,
      backoffMinMs: 100,
      backoffMaxMs: 1000,
      watchdogMs: 60_000,
    },
    maxInFlight: 16,
    chunkWindow: 4,
    ackTimeoutMs: 600_000,
    statusIntervalMs: 3_600_000,
    birth: () => ({ agentVersion: 'bench', policyVersion: 0, clock: { synced: true, offsetMs: 0 } }),
    status: () => ({ agentVersion: 'bench', outboxDepth: 0 }),
    onAck: () => {
      if (!actedAt && pending && !outbox.get(pending)) actedAt = Date.now();
    },
    onCommand: async () => 'applied',
    onUploadSent: () => {},
    onUploadError: () => {},
    onFault: (what, e) => send({ fault: `${what}: ${(e as Error).message}` }),
    log: dockLogger({ level: 'silent' }),
  });
  sync.start();
  while (!sync.connected) await new Promise((r) => setTimeout(r, 20));
  pending = sync.send('event', 'Event', { kind: pb.EventKind.EVENT_KIND_CLOCK, occurredAtMs: Date.now() });
  await new Promise((r) => setTimeout(r, 200)); // the Birth and the event published
  const rows0 = rowCount(db) - 1; // less the pending event's row, which the genuine ack removes
  const cpu0 = process.cpuUsage();
  send({ ready: { pending } });
  await new Promise<void>((resolve) =>
    process.on('message', (m: { flooded?: boolean }) => {
      if (m.flooded) resolve();
    }),
  );
  const refused = () => sync.counters.acksRefused + sync.counters.commandsRefused + sync.counters.replays;
  const deadline = Date.now() + 120_000;
  while ((refused() < s.expected || !actedAt) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const cpu = process.cpuUsage(cpu0);
  sync.flushRefusals(); // the aggregated report that the timer would send a few seconds later
  const rows = rowCount(db) - rows0;
  send({
    result: {
      cpuMs: (cpu.user + cpu.system) / 1000,
      rows,
      refused: refused(),
      actedAt,
      signatureChecks: sync.counters.signatureChecks,
      reasons: { ...sync.refusals.total, 'replays dropped': sync.counters.replays },
    },
  });
  await sync.stop();
  db.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}
