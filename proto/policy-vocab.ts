/**
 * The policy vocabulary of DESIGN §2 and §5: the 13 categories of Directive 1061.2 §2.1 with the
 * roles that may issue each, the issuer roles, the default BWC triggers of the 2024 policy, and
 * every reason code with the clause it rests on.
 */

/** 1061.2 §2.1 items 1–13, in order. */
export const CATEGORIES = [
  'physical_security',
  'directive_authorized',
  'opr_investigation',
  'disciplinary_reply',
  'legal_proceeding',
  'opa_ope_ocr',
  'public_affairs_production',
  'authorized_investigation',
  'eeo_investigation',
  'reasonable_accommodation',
  'training_town_hall',
  'work_duty_authorized',
  'prior_authorization',
] as const;
export type Category = (typeof CATEGORIES)[number];

export const ROLES = ['FRO', 'HRO', 'OPR', 'OPLA', 'LER', 'OPA', 'OPE', 'OCR', 'EEO', 'DIRECTOR', 'DEPUTY_DIRECTOR'] as const;
export type Role = (typeof ROLES)[number];

/** 1061.2 §5.1: the roles that promulgate standing local policies and issue operation plans. */
export const PROMULGATING_ROLES: ReadonlySet<Role> = new Set<Role>(['FRO', 'HRO', 'DIRECTOR', 'DEPUTY_DIRECTOR']);

/** DESIGN §2 table: `physical_security` is for fixed cameras only. */
export const FIXED_CAMERA_ROLES: ReadonlySet<string> = new Set(['facility-camera', 'recorder']);

/** The default of the bundle's `clockSkewMs`: how far before its signed created-at a grant applies. */
export const DEFAULT_CLOCK_SKEW_MS = 5 * 60_000;

/** 1061.2 §5.1: the Director and Deputy Director may approve their own requests, and issue any category. */
export const EXECUTIVE_ROLES: ReadonlySet<Role> = new Set<Role>(['DIRECTOR', 'DEPUTY_DIRECTOR']);

/** Who may issue a grant for each category (DESIGN §2 table); a bundle may only narrow it. */
export const DEFAULT_CATEGORY_ISSUERS: Readonly<Record<Category, readonly Role[]>> = {
  physical_security: ['FRO', 'HRO'],
  directive_authorized: ['FRO', 'HRO'],
  opr_investigation: ['OPR'],
  disciplinary_reply: ['FRO', 'HRO'],
  legal_proceeding: ['OPLA', 'LER'],
  opa_ope_ocr: ['OPA', 'OPE', 'OCR'],
  public_affairs_production: ['OPA'],
  authorized_investigation: ['FRO', 'HRO'],
  eeo_investigation: ['EEO'],
  reasonable_accommodation: ['FRO', 'HRO'],
  training_town_hall: ['FRO', 'HRO'],
  work_duty_authorized: ['FRO', 'HRO'],
  prior_authorization: ['FRO', 'HRO'],
};

/** The clause of each category: 1061.2 §2.1(n); a prior authorization rests on §5.1. */
export function categoryClause(category: string): string {
  if (category === 'prior_authorization') return '1061.2§5.1';
  const n = (CATEGORIES as readonly string[]).indexOf(category);
  return n >= 0 ? `1061.2§2.1(${n + 1})` : '1061.2§2.1';
}

/** The 2024 BWC policy's activities (trigger codes of the default bundle). */
export const DEFAULT_TRIGGERS = [
  'at_large_arrest',
  'investigatory_detention',
  'arrest_warrant',
  'in_person_subpoena',
  'search_warrant',
  'removal_order',
  'facility_protection',
  'facility_disturbance',
  'public_interaction',
  'emergency_response',
] as const;

/** Counts only alongside another trigger: the policy covers public interaction *during* the listed activities. */
export const PUBLIC_INTERACTION = 'public_interaction';

export const REASONS = {
  // bases found
  TRIGGER_ACTIVITY: { clause: 'BWC-2024:covered-activities', text: 'a BWC activity trigger of the policy bundle' },
  GRANT: { clause: '1061.2§2.1', text: 'an authorization grant in force' },
  PLAN_ACTIVITY: { clause: 'BWC-2021:pre-planned-operations', text: 'a pre-planned operation supplied the activity' },
  STANDING_POLICY: { clause: '1061.2§5.1', text: 'a standing local policy of an FRO or HRO' },
  // outcomes without a basis
  NO_BASIS: { clause: '1061.2§2', text: 'no authorized category, trigger, plan or grant applies' },
  NO_POLICY: { clause: '1061.2§2', text: 'no policy bundle was in force at the recording time' },
  PENDING_ACTIVITY: { clause: 'BWC-2024:covered-activities', text: 'recording; no activity declared yet' },
  UNCLASSIFIED: { clause: '1061.2§4.4', text: 'stopped without an activity; reviewed after the grace period' },
  FIRST_AMENDMENT_ONLY: { clause: 'BWC-2024:first-amendment', text: 'sole purpose is recording First Amendment activity' },
  // trigger basis
  NOT_A_TRIGGER: { clause: 'BWC-2024:covered-activities', text: 'the declared activity is not a BWC trigger' },
  PUBLIC_INTERACTION_ALONE: { clause: 'BWC-2024:covered-activities', text: 'public interaction counts only during a listed activity' },
  EXCLUDED_ACTIVITY: { clause: 'BWC-2024:excluded-investigations', text: 'the activity is an excluded investigative activity' },
  OFFICER_NOT_ISSUED: { clause: 'BWC-2024:issued-personnel', text: 'the officer is not issued a BWC' },
  CAMERA_UNASSIGNED: { clause: 'BWC-2024:issued-personnel', text: 'the camera had no assigned officer at the recording time' },
  DEVICE_NOT_BWC: { clause: 'BWC-2024:covered-activities', text: 'BWC triggers apply only to body-worn cameras' },
  // grants, plans, standing policies
  GRANT_EXPIRED: { clause: '1061.2§5.2(5)', text: 'the grant had expired' },
  GRANT_NOT_YET_VALID: { clause: '1061.2§5.2(4)', text: 'the grant was not yet in force' },
  GRANT_REVOKED: { clause: '1061.2§5.1', text: 'the grant was revoked' },
  SCOPE_MISMATCH: { clause: '1061.2§5.2(2)', text: 'the officer, camera, device or office is outside the scope' },
  METHOD_NOT_COVERED: { clause: '1061.2§5.2(2)', text: 'the recording method is not covered' },
  SELF_APPROVED: { clause: '1061.2§5.1', text: 'approved by its own requester' },
  APPROVER_ROLE_INVALID: { clause: '1061.2§5.1', text: 'the approver does not hold a role that may issue this category' },
  MISSING_REQUIRED_FIELD: { clause: '1061.2§5.2', text: 'a field required of a written request is missing' },
  UNTRUSTED_ISSUER: { clause: '1061.2§5.1', text: 'signed by a key the policy bundle does not trust' },
  PLAN_OUTSIDE_WINDOW: { clause: 'BWC-2021:pre-planned-operations', text: 'outside the operation plan window' },
  PLAN_REVOKED: { clause: '1061.2§5.1', text: 'the operation plan was revoked' },
  STANDING_POLICY_ISSUER_INVALID: {
    clause: '1061.2§5.1',
    text: 'standing local policies come only from an FRO or HRO (or the Director); this one does not',
  },
  CATEGORY_NOT_FOR_DEVICE: {
    clause: '1061.2§2.1(1)',
    text: 'the category does not fit the recording: physical security covers fixed cameras only',
  },
  FACTORS_NOT_CONSIDERED: { clause: '1061.2§5.3', text: 'the prior authorization names none of the §5.3 factors its approver considered' },
  GRANT_WINDOW_INVALID: { clause: '1061.2§5.2(4)', text: "the anticipated recording lies outside the grant's own validity" },
  // whole-recording coverage (1061.2 §5.1: before the recording; §5.2(5): an expiration)
  GRANT_SIGNED_AFTER_START: {
    clause: '1061.2§5.1',
    text: 'the grant was signed after the recording started; authorization comes before the recording',
  },
  GRANT_EXPIRED_DURING_RECORDING: {
    clause: '1061.2§5.2(5)',
    text: 'the grant expired while the recording ran; covered only until coveredUntil',
  },
  GRANT_REVOKED_DURING_RECORDING: {
    clause: '1061.2§5.1',
    text: 'the grant was revoked, or its issuer withdrawn, while the recording ran; covered only until coveredUntil',
  },
  PLAN_ENDED_DURING_RECORDING: {
    clause: 'BWC-2021:pre-planned-operations',
    text: 'the operation plan ended while the recording ran; covered only until coveredUntil',
  },
  STANDING_POLICY_ENDED_DURING_RECORDING: {
    clause: '1061.2§5.1',
    text: 'the standing policy was withdrawn while the recording ran; covered only until coveredUntil',
  },
  // the inputs themselves
  UNKNOWN_ACTIVITY: {
    clause: 'BWC-2024:covered-activities',
    text: 'a declared code the policy in force does not know; kept, and no purpose of its own',
  },
  STOPPED_BEFORE_START: {
    clause: '1061.2§4',
    text: 'the recording claims to stop before it started; its times are malformed and reviewed',
  },
  // raised by the gateway (review items)
  GRANT_FILED_LATE: {
    clause: '1061.2§5.1',
    text: 'the grant reached the gateway long after its claimed signing time and authorizes a recording made before the gateway had it',
  },
  DECISION_MISMATCH: { clause: '1061.2§4', text: 'the gateway, deciding again from the signed objects it holds, disagrees with the dock' },
  // flags on any decision
  POLICY_STALE: { clause: '1061.2§5.1', text: 'decided on an expired policy bundle' },
  CLOCK_UNSYNCED: { clause: '1061.2§6', text: 'decided on an unsynchronized clock; the time is flagged for review' },
} as const;
export type ReasonCode = keyof typeof REASONS;

/** The factors an approving official considers, each recorded with the approval (1061.2 §5.3(1)–(9)). */
export const FACTORS = {
  reason_need: '§5.3(1) the specific reason or need for the anticipated recording',
  tailored: '§5.3(2) whether the request is tailored to that reason',
  minimization: '§5.3(3) how ambient communications, sensitive information and unaware individuals will be kept out',
  less_intrusive_means: '§5.3(4) whether less intrusive means exist',
  notification: '§5.3(5) whether notifying the individuals recorded is possible, appropriate or required',
  privacy_impact: '§5.3(6) whether privacy rights may be impacted',
  privileged_information: '§5.3(7) whether privileged communications or non-public information may be recorded',
  agency_interest: '§5.3(8) whether approving is in the interest of the Agency',
  other_circumstances: '§5.3(9) any other case-specific facts and circumstances',
} as const;

/**
 * The §5.3 factor codes a grant's `factorsConsidered` names: an entry is a code, or a code followed
 * by ": " and the approver's note (as the gateway's workflow writes them).
 */
export function factorCodesIn(entries: readonly string[]): string[] {
  const codes = new Set<string>();
  for (const e of entries) {
    const code = e.split(':', 1)[0]!.trim().toLowerCase();
    if (Object.hasOwn(FACTORS, code)) codes.add(code);
  }
  return [...codes];
}
