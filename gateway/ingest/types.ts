/**
 * What ingest exchanges with the rest of the gateway: its options and the ports it reports through
 * (a sink for acks, alerts and accepted messages; a sealer for the gateway's signatures), its
 * results, its counters and the reasons it refuses a message. The work is in ingest.ts.
 */
import type { bwc } from '../../proto/wire.js';
import type { TrustedKey } from '../../proto/ed25519.js';
import type { Db } from '../store/db.js';
import type { ClipStore } from './clip-store.js';
import type { DeviceKeys } from './device-keys.js';

/** Why a message was refused; each is a counter (`bwc_ingest_rejected_total{reason}`). */
export const REJECT_REASONS = [
  'BAD_TOPIC',
  'WRONG_FLEET',
  'WRONG_DIRECTION',
  'TOO_LARGE',
  'EMPTY',
  'UNDECODABLE',
  'TRUNCATED',
  'NON_CANONICAL',
  'BAD_TYPE',
  'TYPE_TOPIC_MISMATCH',
  'UNKNOWN_DEVICE',
  'DECOMMISSIONED',
  'NOT_SIGNED',
  'KEY_MISMATCH',
  'BAD_SIGNATURE',
  'UNDECODABLE_BODY',
  'ID_MISMATCH',
  'SUBJECT_MISMATCH',
  'SEQ_INVALID',
  'SEQ_REUSED',
  'CHAIN_FORK',
  'UNSUPPORTED_VERSION',
  'MANIFEST_INCONSISTENT',
  'CHUNK_SIZE_TOO_LARGE',
  'CHUNK_UNKNOWN_MANIFEST',
  'CHUNK_DEVICE_MISMATCH',
  'CHUNK_BAD_INDEX',
  'CHUNK_BAD_LENGTH',
  'CHUNK_HASH_MISMATCH',
  'CLIP_HASH_MISMATCH',
  'STORE_FAILED',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** The alerts ingest raises; the fleet stores them (gateway/fleet/alerts.ts has the same kinds). */
export type IngestAlertKind =
  | 'UNKNOWN_DEVICE'
  | 'BAD_SIGNATURE'
  | 'ID_MISMATCH'
  | 'SEQ_REUSED'
  | 'CHAIN_FORK'
  | 'CHAIN_GAP'
  | 'MALFORMED_MESSAGE'
  | 'CHUNK_REJECTED'
  | 'CLIP_REJECTED';

export interface IngestAlert {
  kind: IngestAlertKind;
  message: string;
  deviceId?: string | null;
  subject?: string | null;
  detail?: Record<string, unknown>;
  dedupeKey?: string | null;
}

/** A verified, stored message for the fleet to apply. */
export type FleetMessage =
  | { type: 'Birth'; deviceId: string; hash: string; body: bwc.v1.Birth; receivedAt: number }
  | { type: 'Death'; deviceId: string; hash: string; body: bwc.v1.Death; receivedAt: number }
  | { type: 'Status'; deviceId: string; hash: string; body: bwc.v1.Status; receivedAt: number }
  | { type: 'Event'; deviceId: string; hash: string; body: bwc.v1.Event; receivedAt: number }
  | { type: 'Log'; deviceId: string; hash: string; body: bwc.v1.Log; receivedAt: number }
  | { type: 'ClipManifest'; deviceId: string; hash: string; body: bwc.v1.ClipManifest; receivedAt: number }
  | { type: 'ClipVerified'; deviceId: string; hash: string; cameraSerial: string; clipId: string; sha256: string; receivedAt: number };

/** Seals gateway messages (the gateway key, a persisted per-type seq). */
export interface GatewaySealer {
  readonly gatewayId: string;
  sealAck(ack: Omit<bwc.v1.Ack.$Properties, 'header'>, subjectDevice: string): Promise<Uint8Array>;
  sealCommand(cmd: Omit<bwc.v1.Command.$Properties, 'header'>, subjectDevice: string): Promise<Uint8Array>;
}

export interface IngestSink {
  publish(topic: string, payload: Uint8Array): Promise<void>;
  alert(a: IngestAlert): Promise<void>;
  /** Called after the message is durably stored (and before or while its ack is sent). */
  accepted(m: FleetMessage): Promise<void>;
}

export interface IngestOptions {
  db: Db;
  store: ClipStore;
  sealer: GatewaySealer;
  sink: IngestSink;
  fleet: string;
  /** Largest envelope accepted from the broker. */
  maxEnvelopeBytes?: number;
  /** How long a chain gap must persist before it is raised (replicas see messages out of order). */
  gapSettleMs?: number;
  /** How long a replica may hold an assembly lease. */
  leaseMs?: number;
  now?: () => number;
  keys?: DeviceKeys;
  /** Strict verification elsewhere (crypto-pool.ts); default: on this thread with verifyStrict. */
  verifier?: {
    verify(key: TrustedKey, msg: Uint8Array, sig: Uint8Array): Promise<boolean>;
    merkleMatches(leaves: readonly Uint8Array[], root: Uint8Array): Promise<boolean>;
  };
}

export type IngestResult =
  | { status: 'accepted'; type: string; deviceId: string; hash?: string; verified?: boolean }
  | { status: 'duplicate'; type: string; deviceId: string; hash?: string }
  | { status: 'rejected'; reason: RejectReason; detail: string; type?: string; deviceId?: string };

export interface IngestCounters {
  received: Record<string, number>;
  accepted: Record<string, number>;
  duplicates: Record<string, number>;
  rejected: Partial<Record<RejectReason, number>>;
  verified: number;
  acksSent: number;
  /** Verify latency samples (ms) since the last drain, for a histogram. */
  verifyMs: number[];
}
