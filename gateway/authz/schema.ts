/**
 * Tables of the recording-authorization workflow (1061.2 §5; DESIGN §6). One row per request, from
 * its filing to its decision and, for an approval, the signed grant and any revocation: the exact
 * signed bytes the docks received, so a grant can be shown and re-sent as it was. Every step is
 * also a record in the audit log.
 */
import type { Migration } from '../store/migration.js';

export const AUTHZ_MIGRATION: Migration = {
  version: 4,
  name: 'recording authorization requests, grants and revocations; published policy bundles',
  sql: `
CREATE TABLE authz_requests (
  id TEXT PRIMARY KEY,
  category TEXT NOT NULL,
  requester TEXT NOT NULL,              -- the officer's person id (1061.2 §5.1: never the approver)
  filed_by TEXT NOT NULL,               -- the user who filed it
  office TEXT NOT NULL,                 -- the office it falls under (an FRO approves within its offices)
  scope_json TEXT NOT NULL,             -- { officers, cameras, devices, offices }
  methods TEXT NOT NULL,                -- video,audio,photo (§5.2(2))
  reason TEXT NOT NULL,                 -- §5.2(1)
  purpose TEXT NOT NULL,                -- §5.2(1)
  minimization TEXT NOT NULL,           -- §5.2(3)
  anticipated_from {INT} NOT NULL,      -- §5.2(4)
  anticipated_to {INT} NOT NULL,
  location TEXT NOT NULL,
  not_before {INT} NOT NULL,
  expires_at {INT} NOT NULL,            -- §5.2(5)
  state TEXT NOT NULL,                  -- PENDING | APPROVED | DENIED | REVOKED
  filed_at {INT} NOT NULL,
  decided_at {INT},
  decided_by TEXT,                      -- username of the approver or denier
  decided_person TEXT,                  -- their person id
  decided_role TEXT,                    -- FRO | HRO | DIRECTOR | DEPUTY_DIRECTOR
  decision_note TEXT,
  factors_json TEXT,                    -- §5.3 factors considered, with notes
  grant_id TEXT,
  grant_hash TEXT UNIQUE,               -- SHA-256 of the grant's signed input
  grant_envelope {BLOB},
  revoked_at {INT},
  revoked_by TEXT,
  revocation_reason TEXT,
  revocation_hash TEXT,
  revocation_envelope {BLOB}
);
CREATE INDEX authz_requests_state ON authz_requests (state);
CREATE INDEX authz_requests_requester ON authz_requests (requester);

-- Root-signed policy bundles published through the gateway, newest version in force.
CREATE TABLE policy_bundles (
  version {INT} PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,            -- SHA-256 of the bundle's signed input
  envelope {BLOB} NOT NULL,
  published_at {INT} NOT NULL,
  published_by TEXT NOT NULL
);
`,
};

export const AUTHZ_DISPOSITION_MIGRATION: Migration = {
  version: 5,
  name: 'authorization paperwork disposed of under its records schedule',
  sql: `
-- Set when a disposition removed the request's content (its words, notes, factors and the signed
-- grant and revocation); who asked, who decided, when and the hashes stay.
ALTER TABLE authz_requests ADD COLUMN disposition_id TEXT;
`,
};
