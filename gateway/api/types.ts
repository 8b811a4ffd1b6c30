/**
 * The HTTP API's contract: the JSON the gateway answers with and the live events it pushes. The
 * server's routes are typed against these interfaces (a route that drifts from them does not
 * compile) and the dashboard (gateway/web/) imports them, so both read the same source.
 *
 * Pure types and constants only: nothing here may import Node.js modules (the dashboard is built
 * for the browser). Times are ms since the Unix epoch as observed by the gateway unless named
 * `claimed` (a time a device signed) or given as an ISO 8601 string.
 */
import type { DecisionJson } from '../../proto/decision-json.js';
import type { Role } from './roles.js';

export type { DecisionJson };
export type { Role };

export interface ApiErrorBody {
  /** `problems`: every problem found in the request, when it was checked as a whole (a 400 names them all). */
  error: { code: string; message: string; requestId?: string; problems?: { field: string; message: string }[] };
}

// ── sign-in ─────────────────────────────────────────────────────────────────────────────────

export interface UserProfile {
  username: string;
  roles: Role[];
  offices: string[];
  personId: string | null;
}

export interface LoginResponse {
  user: UserProfile;
  csrfToken: string;
}

export interface MeResponse {
  user: UserProfile;
  via: 'session' | 'token';
  csrfToken?: string;
}

// ── fleet ───────────────────────────────────────────────────────────────────────────────────

/** The last Status a dock sent, decoded. */
export interface DeviceStatusJson {
  policyVersion: number;
  outboxDepth: number;
  outboxBytes: number;
  clipsUnverified: number;
  /** Free space in the dock's state directory; null when the dock did not report it. */
  diskFreeBytes: number | null;
  cpuTemperatureC: number | null;
  uptimeS: number;
  alertsOpen: number;
  clock: { synced: boolean; offsetMs: number } | null;
  agentVersion: string;
  statusAt: number;
}

export interface DeviceJson {
  deviceId: string;
  fleet: string;
  status: 'enrolled' | 'decommissioned';
  enrolledAt: number;
  enrolledBy: string;
  decommissionedAt: number | null;
  online: boolean;
  lastSeen: number | null;
  bdSeq: number | null;
  agentVersion: string | null;
  /** The firmware of the dock itself, where it reports one. */
  firmware: string | null;
  policyVersion: number | null;
  outboxDepth: number | null;
  clockSynced: boolean | null;
  clockOffsetMs: number | null;
  storageFree: number | null;
  /** Cameras last seen on this dock. */
  cameras: string[];
  /** Alerts about this device not yet resolved. */
  alertsOpen: number;
  state: DeviceStatusJson | null;
}

export interface DevicesResponse {
  devices: DeviceJson[];
}

export interface DeviceKeyJson {
  keyId: string;
  publicKey: string;
  validFrom: number;
  revokedAt: number | null;
}

/** GET /api/v1/keyring: a signed Keyring envelope (proto/keyring.ts), base64. */
export interface KeyringResponse {
  gatewayId: string;
  /** Device keys in it. */
  keys: number;
  keyring: string;
}

export interface DeviceDetailResponse {
  device: DeviceJson;
  keys: DeviceKeyJson[];
  /** Gaps in its manifest chain the gateway keeps asking for (doubling pauses, at most hourly). */
  chainGaps: ChainGapJson[];
}

export interface ChainGapJson {
  fromSeq: number;
  toSeq: number;
  /** When the gateway first saw the gap (its age is now minus this). */
  firstSeenAt: number;
  /** ManifestRequests sent for it so far. */
  requests: number;
  lastRequestAt: number | null;
  nextRequestAt: number;
}

/** A signed Event a device sent, decoded (device page: events and decisions). */
export interface DeviceEventJson {
  /** SHA-256 of the signed input: the event's identity in the gateway's store. */
  hash: string;
  seq: number;
  /** EVENT_KIND_ without its prefix: ACTIVATION_DECIDED, TAMPER, CLIP_RELEASED… */
  kind: string;
  /** Claimed by the device. */
  occurredAt: number | null;
  receivedAt: number;
  cameraSerial: string | null;
  clipId: string | null;
  /** ACTIVITY_TAGGED and CLIP_RELEASED: the manifest concerned (a link to the clip). */
  manifestHash: string | null;
  officerId: string | null;
  detail: string | null;
  /** ACTIVATION_DECIDED and ACTIVITY_TAGGED: the decision with its reason codes and clauses. */
  decision: DecisionJson | null;
  tamper: string | null;
  alert: string | null;
}

export interface DeviceEventsResponse {
  events: DeviceEventJson[];
}

export interface CameraJson {
  cameraSerial: string;
  model: string | null;
  firmware: string | null;
  batteryPct: number | null;
  storageFree: number | null;
  temperatureC: number | null;
  lastDock: string | null;
  lastSeen: number | null;
  officerId: string | null;
  clipsNotVerified: number;
}

export interface CamerasResponse {
  cameras: CameraJson[];
}

export interface AssignmentJson {
  officerId: string;
  from: number;
  to: number | null;
  assignedBy: string;
  source: string;
}

export interface AssignmentsResponse {
  assignments: AssignmentJson[];
}

/** `PUT /cameras/:serial/assignment`. */
export interface AssignResponse {
  cameraSerial: string;
  officerId: string;
  from: number;
}

/** `POST /devices/:id/decommission`. */
export interface DecommissionResponse {
  deviceId: string;
  status: 'decommissioned';
}

// ── clips ───────────────────────────────────────────────────────────────────────────────────

export type ClipState = 'RECEIVED' | 'VERIFIED' | 'REJECTED';
export type Verdict = DecisionJson['decision'];
export const VERDICTS: readonly Verdict[] = ['AUTHORIZED', 'UNAUTHORIZED', 'PROHIBITED', 'PENDING_CLASSIFICATION'];

export interface ClipJson {
  manifestHash: string;
  deviceId: string;
  seq: number;
  cameraSerial: string;
  clipId: string;
  officerId: string;
  sha256: string;
  byteLength: number;
  decision: Verdict | null;
  /** The 1061.2 §2.1 category of the decision's basis, when it has one. */
  category: string | null;
  state: ClipState;
  /** Claimed: when recording started. */
  startedAt: number | null;
  receivedAt: number;
  verifiedAt: number | null;
  rejectReason: string | null;
}

export interface ClipsResponse {
  clips: ClipJson[];
}

/**
 * A clip's custody, step by step: RECORDING → CLOSED → HASHED → SIGNED on the dock (claimed
 * times, signed in the manifest), then what the gateway saw: the manifest received, the last chunk
 * uploaded, the clip verified, and the dock's report that the camera released it.
 */
export interface CustodyStep {
  step: 'recorded' | 'stopped' | 'signed' | 'received' | 'uploaded' | 'verified' | 'released';
  at: number | null;
  /** Claimed by the device (signed), or observed by the gateway. */
  source: 'device' | 'gateway';
}

export interface ClipDetailJson extends ClipJson {
  chunkCount: number;
  chunkSize: number;
  prevHash: string;
  keyId: string;
  decisionDetail: DecisionJson | null;
  /** Earlier decisions about the clip, oldest first: the one its manifest signed, when a later one (a late tag) replaced it. */
  decisionHistory: DecisionJson[];
  /** Chunk index ranges [start, end) the gateway still needs (RECEIVED clips). */
  missingChunks: { start: number; end: number }[];
  mediaType: string;
  /** The signed manifest as received, base64: what an auditor verifies with `bwc verify`. */
  manifestEnvelope: string;
  timeline: CustodyStep[];
  releasedAt: number | null;
}

export interface ClipDetailResponse {
  clip: ClipDetailJson;
}

/** `bwc verify`'s report, run by the gateway on the clip it holds against the device key it enrolled. */
export interface ClipReportJson {
  verdict: string;
  content: 'AUTHENTIC' | 'AUTHENTIC_WITH_GAPS' | 'NOT_AUTHENTIC' | 'NOT_SIGNED';
  key: 'OK' | 'UNKNOWN_KEY' | 'KEY_CHANGED' | 'REVOKED_AT_RECORDING_TIME';
  keyDetail: string;
  signature: 'VALID' | 'INVALID' | 'UNCHECKED' | 'ABSENT';
  /** One mark per chunk: `.` ok, `N` altered, `M` missing. */
  chunkMap: string;
  chunks: { total: number; ok: number; altered: number; missing: number };
  problems: string[];
  summary: string;
  checkedAt: number;
}

export interface ClipReportResponse {
  manifestHash: string;
  /** Null when the gateway holds no content for it (not yet verified, or disposed of). */
  report: ClipReportJson | null;
  why: string | null;
}

// ── alerts ──────────────────────────────────────────────────────────────────────────────────

export type Severity = 'info' | 'warning' | 'critical';

export interface AlertJson {
  id: number;
  kind: string;
  severity: Severity;
  deviceId: string | null;
  cameraSerial: string | null;
  subject: string | null;
  message: string;
  detail: unknown;
  count: number;
  raisedAt: number;
  lastAt: number;
  ackedAt: number | null;
  ackedBy: string | null;
  resolvedAt: number | null;
  resolvedBy: string | null;
  /** What the person who resolved it found and did (required for a critical alert). */
  resolutionNote: string | null;
  /** The clip the alert is about, when it names one (its manifest hash, for `#/clips/:hash`). */
  manifestHash: string | null;
}

export interface AlertsResponse {
  alerts: AlertJson[];
}

/** `POST /alerts/:id/ack` and `/resolve`. */
export interface AlertActionResponse {
  id: number;
  ackedBy?: string;
  resolvedBy?: string;
  resolutionNote?: string | null;
}

/** `POST /alerts/:id/resolve`: a note is required when the alert is critical. */
export interface ResolveAlertInput {
  note?: string;
}

// ── authorizations (1061.2 §5) ──────────────────────────────────────────────────────────────

export type RequestState = 'PENDING' | 'APPROVED' | 'DENIED' | 'REVOKED';

export interface AuthzScope {
  officers: string[];
  cameras: string[];
  devices: string[];
  offices: string[];
}

export interface AuthzRequestJson {
  id: string;
  category: string;
  /** The requesting officer's person id. */
  requester: string;
  /** The username that filed it. */
  filedBy: string;
  office: string;
  scope: AuthzScope;
  methods: string[];
  reason: string;
  purpose: string;
  minimization: string;
  anticipated: { from: string; to: string; location: string };
  notBefore: string;
  expiresAt: string;
  state: RequestState;
  filedAt: string;
  decision: {
    at: string;
    by: string | null;
    personId: string | null;
    role: string | null;
    note: string | null;
    factorsConsidered: { factor: string; note: string }[] | null;
  } | null;
  grant: { id: string | null; hash: string; envelope: string | null } | null;
  revocation: { at: string; by: string | null; reason: string | null; hash: string; envelope: string | null } | null;
  contentDisposedBy: string | null;
}

export interface AuthzRequestsResponse {
  requests: AuthzRequestJson[];
}

export interface AuthzRequestResponse {
  request: AuthzRequestJson;
}

/** What filing a request sends (every 1061.2 §5.2 field). */
export interface AuthzRequestInput {
  category?: string;
  office?: string;
  reason: string;
  purpose: string;
  methods: ('video' | 'audio' | 'photo')[];
  minimization: string;
  anticipated: { from: string; to: string; location: string };
  expiresAt: string;
  notBefore?: string;
  scope?: Partial<AuthzScope>;
}

/** `POST /authz/requests/:id/approve` (and revoke: `revocationHash` instead of `grantHash`). */
export interface AuthzDecisionResponse {
  request: AuthzRequestJson;
  grantHash?: string;
  revocationHash?: string;
  deliveredTo?: number;
}

/** `POST /policy/bundles`: the bundle put in force, and how many docks it was sent to. */
export interface PublishBundleResponse {
  version: number;
  hash: string;
  deliveredTo: number;
}

export interface PolicyBundleResponse {
  version: number;
  hash: string;
  issuedAt: string;
  expiresAt: string;
  /** The bundle's source with its version bumped: the next draft, to sign offline with the root key. */
  draftSource: unknown;
  envelope: string;
  /** The officials whose keys the bundle trusts to sign grants and standing policies. */
  issuers: PolicyIssuerJson[];
}

export interface PolicyIssuerJson {
  name: string;
  personId: string;
  roles: string[];
  /** Hex SHA-256 of the raw public key: its fingerprint. */
  keyId: string;
  /** The raw Ed25519 public key, hex. */
  publicKey: string;
  compromised: boolean;
}

// ── records ─────────────────────────────────────────────────────────────────────────────────

export type RecordStatus = 'ELIGIBLE' | 'HELD' | 'NOT_DUE' | 'PERMANENT' | 'UNSCHEDULED' | 'NOT_VERIFIED' | 'DISPOSED' | 'OPEN' | 'IN_REVIEW';

export type ScheduleJson =
  | { name: string; type: 'temporary'; retentionDays: number; cutoff: string; authority?: string; description?: string }
  | { name: string; type: 'permanent'; transferAfterYears: number; cutoff: string; authority?: string; description?: string }
  | { name: string; type: 'unscheduled'; description?: string };

export interface SchedulesResponse {
  schedules: Record<string, unknown>;
  mapping: { categories: Record<string, string>; decisions: Record<string, string>; kinds: Record<string, string> };
  kinds: Record<string, ScheduleJson>;
  unnamed: string;
}

export interface HoldJson {
  holdId: string;
  reason: string;
  manifestHash: string | null;
  deviceId: string | null;
  officerId: string | null;
  cameraSerial: string | null;
  fromAt: number | null;
  toAt: number | null;
  placedAt: number;
  placedBy: string;
  releasedAt: number | null;
}

export interface HoldsResponse {
  holds: HoldJson[];
}

/** `POST /records/holds` and `/records/holds/:id/release`. */
export interface HoldResponse {
  hold: HoldJson;
}

export interface HoldInput {
  reason: string;
  holdId?: string;
  manifestHash?: string;
  deviceId?: string;
  officerId?: string;
  cameraSerial?: string;
  fromAt?: number;
  toAt?: number;
}

export interface DispositionDryRun {
  asOf: number;
  items: { manifestHash: string; clipSha256: string; byteLength: number; schedule: string; dueAt: number }[];
  paperwork: { requestId: string; kind: string; schedule: string; dueAt: number }[];
  /** What execution must name. */
  hash: string;
  bytes: number;
  /** Records not taken, by status (HELD, NOT_DUE, IN_REVIEW…). */
  kept: Record<string, number>;
  /** Clips left out while their review item is open or referred (DESIGN §6), whatever their schedule. */
  skipped: { manifestHash: string; reason: 'waiting for review'; reviewId: number; schedule: string }[];
}

export interface DispositionExecuted {
  dispositionId: string;
  listHash: string;
  records: number;
  blobsDeleted: string[];
  blobsKept: string[];
  statement: Record<string, unknown>;
  signature: { keyId: string; publicKey: string; sig: string };
  auditSeq: number;
}

export interface DispositionJson {
  dispositionId: string;
  at: number;
  by: string;
  listHash: string;
  records: number;
  statement: unknown;
  signature: { keyId: string; sig: string };
  auditSeq: number;
}

export interface DispositionsResponse {
  dispositions: DispositionJson[];
}

export interface ClipRecordResponse {
  record: {
    manifestHash: string;
    deviceId: string;
    officerId: string;
    cameraSerial: string;
    clipSha256: string;
    byteLength: number;
    state: string;
    receivedAt: number;
    verifiedAt: number | null;
    startedAt: number | null;
    disposedBy: string | null;
    recordClass: string;
    status: RecordStatus;
    schedule: ScheduleJson;
    cutoffAt: number | null;
    dueAt: number | null;
    holds: string[];
  };
}

// ── audit ───────────────────────────────────────────────────────────────────────────────────

export interface AuditEntryJson {
  seq: number;
  at: number;
  actor: string;
  action: string;
  subject: string;
  detail: Record<string, unknown>;
  prev: string;
  hash: string;
}

export interface AuditEntriesResponse {
  entries: AuditEntryJson[];
  head: { seq: number; hash: string } | null;
}

export interface AuditVerifyResponse {
  ok: boolean;
  entries: number;
  intactThrough: number;
  head: string;
  checkpoints: {
    given: number;
    verified: number;
    newest: { entryCount: number; headHash: string; at: number; gatewayId: string; source: string } | null;
  };
  firstBroken: { seq: number; reason: string } | null;
  problems: string[];
  warnings: string[];
  checkedAt: number;
  ms: number;
}

// ── charts ──────────────────────────────────────────────────────────────────────────────────

/** Activations per day (UTC) by decision, counted from the manifests received. */
export interface ActivationsResponse {
  days: { day: string; counts: Record<Verdict, number> }[];
}

/** The fleet sampled over time (every `dashboard.sampleIntervalMs`). */
export interface HistorySample {
  at: number;
  devicesOnline: number;
  devicesEnrolled: number;
  /** Manifests received whose clip is not yet VERIFIED: the upload backlog. */
  backlogClips: number;
  backlogBytes: number;
  /** Messages waiting in dock outboxes, summed over the fleet (last reported). */
  outboxDepth: number;
}

export interface HistoryResponse {
  samples: HistorySample[];
}

// ── live updates: GET /api/v1/live (text/event-stream) ─────────────────────────────────────

/**
 * Server-sent events. Each has an `event:` name and JSON `data:`. Device changes are coalesced and
 * sent at most once a second; everything else as it happens. A comment line is sent every 15 s to
 * keep proxies from closing the stream.
 */
export interface LiveEvents {
  hello: { at: number; username: string };
  /** The stream's session ended (logout, idle timeout, a disabled user); the stream closes. */
  signedout: Record<string, never>;
  devices: { devices: DeviceJson[] };
  alert: { alert: AlertJson };
  clip: { clip: ClipJson };
  authz: { id: string; state: RequestState };
}
export type LiveEventName = keyof LiveEvents;

// ── review queue: /api/v1/review (DESIGN §6, 1061.2 §4.4) ─────────────────────────────────────

export type ReviewFlagKind = 'UNAUTHORIZED' | 'PROHIBITED' | 'UNCLASSIFIED' | 'CLOCK_FLAGGED' | 'GRANT_FILED_LATE';
export type ReviewState = 'open' | 'referred' | 'resolved' | 'closed' | 'tagged_late';
export type ReviewAction = 'resolve' | 'refer' | 'close';
export type ResolutionOutcome = 'no_violation' | 'counselled' | 'policy_clarified' | 'other';
export type OprOutcome = 'sustained' | 'not_sustained' | 'unfounded' | 'exonerated';

export interface ReviewItemJson {
  id: number;
  state: ReviewState;
  /** Why it is in the queue, in the order the flags came. */
  kinds: ReviewFlagKind[];
  deviceId: string;
  cameraSerial: string;
  clipId: string;
  officerId: string;
  /** The officer's offices, which it is routed to; empty: the officer has no office on record (OPR sees it). */
  offices: string[];
  /** The clip's manifest, once the gateway holds it. */
  manifestHash: string | null;
  /** The verdict of the newest flagged decision. */
  verdict: Verdict;
  openedAt: number;
  updatedAt: number;
  referredAt: number | null;
  referredBy: string | null;
  /** The supervisor's resolution, OPR's finding, or `tagged_late`. */
  outcome: string | null;
  closedAt: number | null;
  /** `user:<name>`, or for a late tag `officer:<id>` (who tagged it) or `device:<id>`. */
  closedBy: string | null;
  /** What the caller may do now. */
  actions: ReviewAction[];
  /** The item is about the caller's own recording: readable, not theirs to act on. */
  own: boolean;
}

export interface ReviewReasonJson {
  kind: ReviewFlagKind;
  message: string;
  decidedAt: number;
  flaggedAt: number;
  decision: DecisionJson;
}

export interface ReviewStepJson {
  step: 'opened' | 'flagged' | 'viewed' | 'resolved' | 'referred' | 'closed' | 'tagged_late' | 'tagged';
  at: number;
  actor: string;
  outcome: string | null;
  note: string | null;
  detail: Record<string, unknown> | null;
}

/** The clip's custody as the gateway holds it (null fields: not yet). */
export interface ReviewCustodyJson {
  manifestHash: string;
  state: 'RECEIVED' | 'VERIFIED' | 'REJECTED';
  /** Its position in the dock's manifest chain. */
  seq: number;
  prevHash: string;
  sha256: string;
  byteLength: number;
  mediaType: string;
  startedAt: number | null;
  endedAt: number | null;
  receivedAt: number;
  verifiedAt: number | null;
  disposedBy: string | null;
}

export interface ReviewListResponse {
  items: ReviewItemJson[];
}

export interface ReviewDetailResponse {
  item: ReviewItemJson & {
    /** The clip's current decision (a late tag may have replaced the flagged one). */
    decision: DecisionJson;
    reasons: ReviewReasonJson[];
    custody: ReviewCustodyJson | null;
    history: ReviewStepJson[];
  };
}

// ── admin: users and API tokens (admin-routes.ts) ───────────────────────────────────────────

/** A user as an admin sees it (never a password or its hash). */
export interface UserAccountJson {
  username: string;
  roles: Role[];
  offices: string[];
  personId: string | null;
  createdAt: number;
  disabledAt: number | null;
}

export interface UsersResponse {
  users: UserAccountJson[];
}

export interface UserAccountResponse {
  user: UserAccountJson;
}

/** One rule of gateway/api/user-rules.ts a request broke. */
export interface UserProblemJson {
  field: 'username' | 'password' | 'roles' | 'offices';
  message: string;
}

/** A 400 from a user route: every rule broken at once, the message naming them all. */
export interface UserProblemsErrorBody {
  error: { code: string; message: string; problems: UserProblemJson[] };
}

/** An admin's password reset: `password` only when the gateway generated it (shown this once). */
export interface PasswordResetResponse {
  username: string;
  generated: boolean;
  password?: string;
}

/** An API token as listed: never its secret, which only its hash on the gateway matches. */
export interface ApiTokenJson {
  id: number;
  username: string;
  name: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
}

export interface ApiTokensResponse {
  tokens: ApiTokenJson[];
}

/** A token just created: `token` is its secret, shown this once. */
export interface CreatedApiTokenResponse {
  token: string;
  id: number;
  username: string;
  name: string;
  createdAt: number;
  expiresAt: number | null;
}

// ── audit: what an entry is about, for reading it as a sentence ─────────────────────────────

/** The people and clips a page of entries names, so each entry can read as a sentence. */
export interface AuditContextJson {
  /** Users named by an entry's actor or subject (`user:<name>`), with their current roles. */
  people: Record<string, { roles: Role[] }>;
  /** Clips named by an entry's subject (a manifest hash). */
  clips: Record<string, { deviceId: string; cameraSerial: string; clipId: string; startedAt: number | null }>;
}

export interface AuditSearchResponse extends AuditEntriesResponse {
  context: AuditContextJson;
}
