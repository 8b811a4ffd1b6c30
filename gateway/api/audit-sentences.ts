/**
 * An audit entry read as a sentence: who did what to which clip, device, request or person, when —
 * "alice (records officer) viewed clip CAM-7 2026-11-02 14:03 (…ab12cd34) at 2026-12-05 11:40".
 * The wording of every kind of entry lives here, once; the dashboard's Audit page shows it, and a
 * kind not named here still reads as "who performed <action> on <subject>". The raw entry stays the
 * record (its hash covers it); the sentence is only a reading of it.
 *
 * Pure: no I/O, no Node modules. `context` (from `GET /api/v1/audit/entries`) supplies users'
 * roles and clips' cameras; times are formatted by the caller (the browser's local time).
 */
import type { Role } from './roles.js';
import type { AuditContextJson, AuditEntryJson } from './types.js';

const ROLE_WORDS: Record<Role, string> = {
  viewer: 'viewer',
  operator: 'operator',
  supervisor: 'supervisor',
  requester: 'requester',
  approver_fro: 'field responsible official',
  approver_hro: 'headquarters responsible official',
  director: 'director',
  records_officer: 'records officer',
  auditor: 'auditor',
  opr: 'OPR',
  admin: 'admin',
};

const FAILURES: Record<string, string> = {
  bad_password: 'wrong password',
  unknown_user: 'no such user',
  disabled: 'the account is disabled',
};

export interface SentenceOptions {
  context: AuditContextJson;
  /** A time as the reader wants it, e.g. "2026-11-02 14:03". */
  time: (ms: number) => string;
}

type Detail = Record<string, unknown>;

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const quoted = (s: string) => `“${s}”`;

/** "alice (records officer)", "device dock-7", "the gateway gw-1", "someone at 10.0.0.7". */
export function describeActor(actor: string, detail: Detail, context: AuditContextJson): string {
  if (actor.startsWith('user:')) return describeUser(actor.slice(5), context);
  if (actor.startsWith('device:')) return `device ${actor.slice(7)}`;
  if (actor.startsWith('gateway:')) return `the gateway ${actor.slice(8)}`;
  if (actor === 'gateway') return 'the gateway';
  if (actor.startsWith('token:')) return `the enrollment token of ${actor.slice(6)}`;
  if (actor === 'anonymous') {
    const ip = str(detail.ip);
    return ip ? `someone at ${ip}` : 'someone not signed in';
  }
  return actor;
}

function describeUser(username: string, context: AuditContextJson): string {
  const roles = context.people[username]?.roles ?? [];
  return roles.length ? `${username} (${roles.map((r) => ROLE_WORDS[r]).join(', ')})` : username;
}

/** "clip CAM-7 2026-11-02 14:03 (…ab12cd34)", or "clip …ab12cd34" for a clip the gateway does not hold. */
export function describeClip(hash: string, o: SentenceOptions): string {
  const c = o.context.clips[hash];
  const short = `…${hash.slice(-8)}`;
  if (!c) return `clip ${short}`;
  return `clip ${c.cameraSerial}${c.startedAt !== null ? ` ${o.time(c.startedAt)}` : ''} (${short})`;
}

/** What the entry is about, by the kind of subject its action has. */
function describeSubject(e: AuditEntryJson, o: SentenceOptions): string {
  const s = e.subject;
  if (s === '') return 'nothing in particular';
  if (s.startsWith('user:')) return `user ${s.slice(5)}`;
  if (/^[0-9a-f]{64}$/.test(s))
    return o.context.clips[s] || e.action.startsWith('clip.') || e.action.startsWith('records.') || e.action.startsWith('review.')
      ? describeClip(s, o)
      : `…${s.slice(-8)}`;
  if (s.startsWith('alert:')) return `alert ${s.slice(6)}`;
  if (s.startsWith('review:')) return 'a clip not yet received';
  const family = e.action.split('.')[0];
  if (family === 'device') return `device ${s}`;
  if (family === 'camera') return `camera ${s}`;
  if (family === 'authz') return `request ${s}`;
  if (family === 'policy') return `policy bundle …${s.slice(-8)}`;
  return s;
}

/** The verb phrase: what the actor did to the subject. */
function phrase(e: AuditEntryJson, o: SentenceOptions): string | null {
  const d = e.detail;
  const subject = describeSubject(e, o);
  const target = str(d.username) ?? (e.subject.startsWith('user:') ? e.subject.slice(5) : e.subject);
  const from = str(d.ip) ? ` from ${String(d.ip)}` : '';
  switch (e.action) {
    case 'auth.sign_in':
      return `signed in${from}`;
    case 'auth.sign_out':
      return `signed out${from}`;
    case 'auth.sign_in_failed': {
      const why = FAILURES[str(d.reason) ?? ''] ?? str(d.reason) ?? 'refused';
      return `${d.via === 'password_change' ? 'gave a wrong current password changing the password of' : 'failed to sign in as'} ${target}: ${why}`;
    }
    case 'auth.locked_out': {
      const wait = num(d.retryAfterSeconds);
      const forHow = wait !== null ? ` for ${wait} s` : '';
      return d.refused === true
        ? `was refused signing in as ${target}: locked out${forHow} after too many failures`
        : `was locked out of signing in as ${target}${forHow} after ${num(d.failures) ?? 'too many'} failures`;
    }
    case 'user.created':
      return `created user ${target} with roles ${list(d.roles).join(', ') || 'none'}${list(d.offices).length ? ` for offices ${list(d.offices).join(', ')}` : ''}`;
    case 'user.access_changed': {
      const roles = (d.roles ?? {}) as Detail;
      const offices = (d.offices ?? {}) as Detail;
      return (
        `changed the roles of ${target} from ${list(roles.from).join(', ') || 'none'} to ${list(roles.to).join(', ') || 'none'}` +
        ` and offices from ${list(offices.from).join(', ') || 'none'} to ${list(offices.to).join(', ') || 'none'}`
      );
    }
    case 'user.disabled':
      return `disabled user ${target}`;
    case 'user.enabled':
      return `enabled user ${target}`;
    case 'user.password_set':
      return d.generated === true ? `reset the password of ${target} to a generated one` : `set a new password for ${target}`;
    case 'user.password_changed':
      return 'changed their own password';
    case 'token.created':
      return `created API token ${quoted(str(d.name) ?? '?')} (#${num(d.tokenId) ?? '?'}) for ${target}`;
    case 'token.revoked':
      return `revoked API token ${quoted(str(d.name) ?? '?')} (#${num(d.tokenId) ?? '?'}) of ${target}`;
    case 'clip.content_view':
      return `viewed ${subject}`;
    case 'clip.content_download':
      return `downloaded ${subject}`;
    case 'clip.manifest_stored':
      return `sent the manifest of ${subject}`;
    case 'clip.verified':
      return `verified ${subject}`;
    case 'clip.rejected':
      return `rejected ${subject}${str(d.reason) ? `: ${String(d.reason)}` : ''}`;
    case 'records.hold_placed':
      return `placed litigation hold ${e.subject}`;
    case 'records.held':
      return `put ${subject} under litigation hold ${str(d.holdId) ?? ''}`.trimEnd();
    case 'records.hold_released':
      return `released litigation hold ${e.subject}${str(d.reason) ? `: ${String(d.reason)}` : ''}`;
    case 'records.content_disposed':
      return `disposed of the content of ${subject}`;
    case 'records.disposition_executed':
      return `executed disposition ${e.subject}`;
    case 'records.exported':
      return `exported ${subject} as a BagIt package`;
    case 'authz.request':
      return `filed ${subject}`;
    case 'authz.approve':
      return `approved ${subject}`;
    case 'authz.deny':
      return `denied ${subject}`;
    case 'authz.revoke':
      return `revoked ${subject}`;
    case 'policy.publish':
      return `published policy bundle v${num(d.version) ?? '?'} (…${e.subject.slice(-8)})`;
    case 'device.enrolled':
      return `enrolled ${subject}`;
    case 'device.enrollment_repeated':
      return `repeated the enrollment of ${subject}`;
    case 'device.enrollment_token_issued':
      return `issued an enrollment token for ${subject}`;
    case 'device.decommissioned':
      return `decommissioned ${subject}`;
    case 'camera.assigned':
      return `assigned ${subject}${str(d.officerId) ? ` to officer ${String(d.officerId)}` : ''}`;
    case 'camera.unassigned':
      return `unassigned ${subject}`;
    case 'alert.raised':
      return `raised ${subject}`;
    case 'alert.acknowledged':
      return `acknowledged ${subject}`;
    case 'alert.resolved':
      return `resolved ${subject}`;
    case 'alert.cleared':
      return `cleared ${subject}`;
    case 'review.opened':
      return `opened review item #${num(d.reviewId) ?? '?'} for ${subject}`;
    case 'review.flagged':
      return `added a reason to review item #${num(d.reviewId) ?? '?'} for ${subject}`;
    case 'review.viewed':
      return `looked at review item #${num(d.reviewId) ?? '?'} for ${subject}`;
    case 'review.resolved':
      return `resolved review item #${num(d.reviewId) ?? '?'} for ${subject}${str(d.outcome) ? ` as ${String(d.outcome).replace(/_/g, ' ')}` : ''}`;
    case 'review.referred':
      return `referred review item #${num(d.reviewId) ?? '?'} for ${subject} to OPR`;
    case 'review.closed':
      return `closed the referral of review item #${num(d.reviewId) ?? '?'} for ${subject}${str(d.outcome) ? ` as ${String(d.outcome).replace(/_/g, ' ')}` : ''}`;
    case 'review.tagged_late':
      return `closed review item #${num(d.reviewId) ?? '?'} for ${subject}: the recording was tagged late`;
    case 'review.tagged':
      return `noted a late tag on review item #${num(d.reviewId) ?? '?'} for ${subject}`;
    case 'api.request': {
      const status = num(d.status);
      return `sent ${e.subject}${status !== null ? `, answered ${status}${str(d.code) ? ` ${String(d.code)}` : ''}` : ''}`;
    }
    default:
      return null;
  }
}

/**
 * The entry as one sentence. A kind not known here still names the actor, the action and the
 * subject: "alice (auditor) performed foo.bar on X at …".
 */
export function auditSentence(e: AuditEntryJson, o: SentenceOptions): string {
  const who = describeActor(e.actor, e.detail, o.context);
  const what = phrase(e, o) ?? `performed ${e.action} on ${describeSubject(e, o)}`;
  return `${who} ${what} at ${o.time(e.at)}`;
}
