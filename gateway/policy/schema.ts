/**
 * Tables of the gateway's second decision (DESIGN §5 "The gateway decides again"): the signed
 * policy objects it holds, each with the time it first held it, and its own decision about every
 * decision a dock recorded.
 */
import type { Migration } from '../store/migration.js';

export const SECOND_DECISION_MIGRATION: Migration = {
  version: 11,
  name: "signed policy objects held, and the gateway's second decisions",
  sql: `
-- Every signed policy object this gateway holds: bundles (configured, published, superseded),
-- grants and revocations its workflow issued, objects docks sent when asked. Verified on receipt.
CREATE TABLE policy_objects (
  hash TEXT PRIMARY KEY,                -- SHA-256 of the signed input
  type TEXT NOT NULL,                   -- PolicyBundle | AuthorizationGrant | Revocation | OperationPlan
  envelope {BLOB} NOT NULL,             -- the exact signed bytes
  created_at {INT} NOT NULL,            -- claimed: the signed Header's created-at (a bundle: its issuedAt)
  received_at {INT} NOT NULL,           -- when this gateway first held it (GRANT_FILED_LATE counts from it)
  source TEXT NOT NULL                  -- config | published | workflow | device:<id>
);
CREATE INDEX policy_objects_received ON policy_objects(received_at);

-- The gateway's decision about each decision a dock recorded (a manifest's, or an event's).
CREATE TABLE second_decisions (
  subject TEXT PRIMARY KEY,             -- the hash of the manifest or event that carried the dock's decision
  device_id TEXT NOT NULL,
  camera_serial TEXT NOT NULL,
  clip_id TEXT NOT NULL,
  received_at {INT} NOT NULL,           -- when the gateway received the dock's decision
  dock_json TEXT NOT NULL,              -- the dock's decision
  state TEXT NOT NULL,                  -- PENDING | WAITING (for objects asked of the dock) | DONE
  waiting_for TEXT,                     -- hashes asked of the dock, comma-separated
  wait_until {INT},                     -- then decided without them
  gateway_json TEXT,                    -- the gateway's decision
  outcome TEXT,                         -- AGREE | MISMATCH | UNREADABLE | NO_ACTIVATION
  done_at {INT}
);
CREATE INDEX second_decisions_state ON second_decisions(state, wait_until);
CREATE INDEX second_decisions_received ON second_decisions(received_at);
`,
};
