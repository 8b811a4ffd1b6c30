/**
 * Tables of the review queue (DESIGN §6 "Review queue", 1061.2 §4.4): one item per flagged clip,
 * the flags that sent it to the supervisor, and every step taken on it.
 */
import type { Migration } from '../store/migration.js';

export const REVIEW_MIGRATION: Migration = {
  version: 12,
  name: 'review items for flagged recordings',
  sql: `
-- A recording that went to the supervisor: one item per clip (dock, camera, clip id) while it
-- waits (open, or referred to OPR); a later flag about the same clip adds a reason to it.
CREATE TABLE review_items (
  id {ID},
  device_id TEXT NOT NULL,
  camera_serial TEXT NOT NULL,          -- '' when the decision named no camera
  clip_id TEXT NOT NULL,                -- '' when the decision named no clip (never merged)
  officer_id TEXT NOT NULL,             -- '' when unknown; routes the item to the officer's offices
  state TEXT NOT NULL,                  -- open | referred | resolved | closed | tagged_late
  decision_json TEXT NOT NULL,          -- the newest decision that flagged it
  opened_at {INT} NOT NULL,
  updated_at {INT} NOT NULL,
  referred_at {INT},
  referred_by TEXT,
  outcome TEXT,                         -- the supervisor's resolution, or OPR's finding
  closed_at {INT},                      -- resolved, closed by OPR, or tagged late
  closed_by TEXT                        -- user:<name>, or officer:<id> / device:<id> for a late tag
);
CREATE UNIQUE INDEX review_items_one_waiting ON review_items(device_id, camera_serial, clip_id) WHERE state IN ('open', 'referred') AND clip_id <> '';
CREATE INDEX review_items_state ON review_items(state, opened_at);
CREATE INDEX review_items_clip ON review_items(device_id, camera_serial, clip_id);

-- Why an item is in the queue: each flag once (by its kind and the decision time it is about).
CREATE TABLE review_reasons (
  item_id {INT} NOT NULL REFERENCES review_items(id),
  kind TEXT NOT NULL,                   -- UNAUTHORIZED | PROHIBITED | UNCLASSIFIED | CLOCK_FLAGGED | GRANT_FILED_LATE
  decided_at {INT} NOT NULL,            -- claimed: the flagged decision's time
  flagged_at {INT} NOT NULL,
  message TEXT NOT NULL,
  decision_json TEXT NOT NULL,
  PRIMARY KEY (item_id, kind, decided_at)
);

-- The item's history: opened, flagged, viewed, resolved, referred, closed, tagged_late, tagged.
CREATE TABLE review_steps (
  id {ID},
  item_id {INT} NOT NULL REFERENCES review_items(id),
  step TEXT NOT NULL,
  at {INT} NOT NULL,
  actor TEXT NOT NULL,                  -- user:<name>, gateway:<id>, device:<id>
  outcome TEXT,
  note TEXT,
  detail_json TEXT
);
CREATE INDEX review_steps_item ON review_steps(item_id, id);
`,
};
