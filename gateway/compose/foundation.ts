/**
 * What every other part of the gateway stands on, opened in this order: the data directory, the
 * database (SQLite or PostgreSQL), the content-addressed clip store, the gateway key, its place in
 * the chain of trust (the root key, its certificate, the policy bundle; reported in the log with
 * what will soon stop working), the crypto worker pool, and the messenger that seals and records
 * what the gateway sends. Each part registers its stop as it opens.
 */
import { mkdirSync } from 'node:fs';
import type { Logger } from '../api/http.js';
import { resolvedPaths, type GatewayConfig } from '../config.js';
import { CryptoPool } from '../ingest/crypto-pool.js';
import { ClipStore } from '../ingest/clip-store.js';
import { GatewayMessenger } from '../messenger.js';
import { loadOrCreateGatewayKey, type GatewaySigner } from '../signer.js';
import type { Db } from '../store/db.js';
import { openGatewayDb } from '../store/open.js';
import { loadGatewayTrust, type GatewayTrust, type LoadedTrust } from '../trust.js';
import type { Shutdown } from './shutdown.js';

export interface Foundation {
  readonly paths: ReturnType<typeof resolvedPaths>;
  readonly db: Db;
  readonly store: ClipStore;
  readonly signer: GatewaySigner;
  /** The chain of trust as loaded (null when not configured: no enrollment). */
  readonly loaded: LoadedTrust | null;
  readonly trust: GatewayTrust | null;
  /** Signing and verification off the main thread (null when `ingest.cryptoThreads` is 0). */
  readonly pool: CryptoPool | null;
  readonly messenger: GatewayMessenger;
}

export async function openFoundation(o: { config: GatewayConfig; log: Logger; now: () => number; shutdown: Shutdown }): Promise<Foundation> {
  const { config: c, log, now, shutdown } = o;
  const paths = resolvedPaths(c);
  mkdirSync(paths.dataDir, { recursive: true, mode: 0o750 });
  const db = await openGatewayDb(paths.db);
  shutdown.add(() => db.close());
  log.info({}, `database ${db.description}`);
  const store = await new ClipStore(paths.clips).init();
  shutdown.add(() => store.close());
  const { signer, created } = loadOrCreateGatewayKey(paths.keyDir);
  log.info({}, `gateway ${c.gatewayId} key ${signer.keyId.slice(0, 16)}…${created ? ' (new)' : ''}`);
  const loaded = loadGatewayTrust(c, signer.keyId, now());
  reportTrust(loaded, log.child({ part: 'trust' }), now());
  const threads = c.ingest.cryptoThreads;
  const pool = threads > 0 ? new CryptoPool(threads, signer.keyObject) : null;
  if (pool) shutdown.add(() => pool.close());
  const signWith = pool ? { signWith: (m: Uint8Array) => pool.sign(m) } : {};
  const messenger = new GatewayMessenger({ db, signer, gatewayId: c.gatewayId, fleet: c.fleet, now, ...signWith });
  return { paths, db, store, signer, loaded, trust: loaded?.trust ?? null, pool, messenger };
}

/** The chain of trust as the log shows it at start, with what will soon stop working. */
function reportTrust(loaded: LoadedTrust | null, log: Logger, now: number): void {
  if (!loaded) {
    log.warn({}, 'trust: no agency root key configured (trust.rootPublicKey, trust.certificate): devices cannot enroll');
    return;
  }
  log.info(
    {},
    `trust: root key ${loaded.trust.root.keyId.slice(0, 16)}…, certificate ${loaded.cert.hash.slice(0, 16)}… valid until ${new Date(loaded.cert.notAfterMs).toISOString()}` +
      (loaded.bundle ? `, policy bundle v${loaded.bundle.version}` : ', no policy bundle'),
  );
  if (loaded.cert.notAfterMs - now < 30 * 24 * 3600_000)
    log.warn({}, `trust: the gateway certificate expires at ${new Date(loaded.cert.notAfterMs).toISOString()}; sign a new one (bwc authz sign-gateway-cert)`);
  if (loaded.bundle && loaded.bundle.expiresAt <= now)
    log.warn({}, `trust: policy bundle v${loaded.bundle.version} expired at ${new Date(loaded.bundle.expiresAt).toISOString()}`);
}
