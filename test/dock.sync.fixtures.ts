/**
 * A DockSync on an in-memory dock database, for tests of the dock's side of the MQTT contract.
 * Not started unless the test starts it; `brokerUrl` is where it would connect.
 */
import { pino } from 'pino';
import { DockSync, type DockSyncOptions } from '../device/sync/sync.js';
import { GatewayTrust } from '../device/sync/trust.js';
import { openDockDb } from '../device/store/dock-db.js';
import { DockState } from '../device/store/state.js';
import { Outbox } from '../device/store/outbox.js';
import { signerFromSeed } from '../device/custody/keys.js';
import { trustPublicKey } from '../proto/ed25519.js';
import { pseudoRandomBytes } from './helpers.js';

export interface TestDockSync {
  sync: DockSync;
  outbox: Outbox;
  state: DockState;
  trust: GatewayTrust;
  close(): void;
}

export function dockSync(o: Partial<DockSyncOptions> & { brokerUrl?: string; root?: Uint8Array } = {}): TestDockSync {
  const db = openDockDb(':memory:');
  const state = new DockState(db);
  const outbox = new Outbox(db);
  const root = o.root ?? signerFromSeed(pseudoRandomBytes(32, 4242)).publicKey;
  const trust = o.trust ?? new GatewayTrust(trustPublicKey(root), 'f1');
  const sync = new DockSync({
    deviceId: 'dock-s',
    fleet: 'f1',
    signer: signerFromSeed(pseudoRandomBytes(32, 4243)),
    state,
    outbox,
    trust,
    session: {
      url: o.brokerUrl ?? 'mqtt://127.0.0.1:1',
      protocolVersion: 4,
      keepaliveS: 60,
      connectTimeoutMs: 5_000,
      backoffMinMs: 50,
      backoffMaxMs: 500,
      watchdogMs: 30_000,
    },
    maxInFlight: 16,
    chunkWindow: 4,
    ackTimeoutMs: 30_000,
    statusIntervalMs: 3_600_000,
    birth: () => ({ agentVersion: 'test', policyVersion: 0, clock: { synced: true, offsetMs: 0 } }),
    status: () => ({ agentVersion: 'test', outboxDepth: 0 }),
    onAck: () => {},
    onCommand: async () => 'applied',
    onUploadSent: () => {},
    onUploadError: () => {},
    onFault: (what, e) => {
      throw new Error(`${what}: ${(e as Error).message}`);
    },
    log: pino({ level: 'silent' }),
    ...o,
  });
  return { sync, outbox, state, trust, close: () => db.close() };
}
