/**
 * The recording-authorization workflow (Directive 1061.2 §5, DESIGN §6): an officer files a
 * written request with every §5.2 field; an FRO (within its offices), an HRO or the Director
 * approves it — having considered the nine §5.3 factors, which are recorded — or denies it; an
 * approval becomes an AuthorizationGrant signed with the approving official's issuer key, which
 * the policy bundle lists with that official's person id and role, and is sent to the docks in
 * its scope as a signed command; a revocation likewise. Nobody approves or denies their own
 * request, except the Director or Deputy Director (§5.1). Every step is a record (§6): it is a
 * row here and an entry in the audit log, written in the same transaction.
 *
 * Officials' issuer keys live on the gateway host (`authz.issuerKeysDir/{personId}/`, made with
 * `bwc authz keygen`): the gateway signs for an official only after that official, signed in,
 * approves. A key the bundle does not list for that person and role is never used.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { grantFromSource, PolicyDataError, revocationFromSource, signPolicyObject, verifyGrant, verifyRevocation, type Bundle } from '../../proto/policy.js';
import { CATEGORIES, DEFAULT_CATEGORY_ISSUERS, EXECUTIVE_ROLES, FACTORS, type Category, type Role as IssuerRole } from '../../proto/policy-vocab.js';
import { idProblem, sameId, timeOrNull, zId, zText, zTime } from '../../proto/canonical.js';
import type { Db, Queryable } from '../store/db.js';
import { loadGatewayKey, type GatewaySigner } from '../signer.js';

/** The gateway roles that decide requests, and the issuer roles (in the bundle) each may sign as. */
const DECIDING_ROLES: Readonly<Record<string, readonly IssuerRole[]>> = {
  approver_fro: ['FRO'],
  approver_hro: ['HRO'],
  director: ['DIRECTOR', 'DEPUTY_DIRECTOR'],
};

/** 1061.2 §5.3: the factors an approver considers, by code. */
export { FACTORS };
export type Factor = keyof typeof FACTORS;

export type AuthzErrorCode = 'BAD_INPUT' | 'NOT_FOUND' | 'FORBIDDEN' | 'SELF_DECISION' | 'OUT_OF_SCOPE' | 'CONFLICT' | 'NO_ISSUER_KEY';

export class AuthzError extends Error {
  override name = 'AuthzError';
  /** Every problem, when the input was checked as a whole. */
  constructor(
    readonly code: AuthzErrorCode,
    message: string,
    readonly problems?: readonly { field: string; message: string }[],
  ) {
    super(message);
  }
}

/** Who acts: a signed-in gateway user. */
export interface Actor {
  readonly username: string;
  readonly roles: readonly string[];
  readonly offices: readonly string[];
  readonly personId: string | null;
}

/** Writes one audit entry inside the caller's transaction (the audit log's `append`). */
export type AuditAppend = (q: Queryable, entry: { actor: string; action: string; subject: string; detail: Record<string, unknown> }) => Promise<void>;

export interface AuthzOptions {
  db: Db;
  /** Directory of officials' issuer keys: `{dir}/{personId}/private.pem`. Null: no approvals on this gateway. */
  issuerKeysDir: string | null;
  /** The policy bundle in force (the one sent to the docks); null: none configured. */
  bundle(): Bundle | null;
  /** Sends a signed policy object (grant or revocation envelope) to the docks in a scope. */
  deliver(kind: 'grant' | 'revocation', envelope: Uint8Array, scope: RequestScope): Promise<number>;
  audit?: AuditAppend;
  now?: () => number;
}

export interface RequestScope {
  officers: string[];
  cameras: string[];
  devices: string[];
  offices: string[];
}

// Times, ids and articulated texts are read by proto/canonical.ts, as everywhere (DESIGN §5 exact inputs).
const time = zTime;
const id = zId;
const text = zText;

/** A request as filed: every 1061.2 §5.2 field is required and named when missing. */
export const RequestInput = z.strictObject({
  category: z.enum(CATEGORIES).default('prior_authorization'),
  office: zId.optional(),
  reason: text('§5.2(1)'),
  purpose: text('§5.2(1)'),
  methods: z
    .array(z.enum(['video', 'audio', 'photo']), { error: 'is required (1061.2 §5.2(2)): video, audio and/or photo' })
    .min(1, 'must name at least one method (1061.2 §5.2(2))'),
  minimization: text('§5.2(3)'),
  anticipated: z.strictObject(
    {
      from: time,
      to: time,
      location: text('§5.2(4)'),
    },
    { error: 'is required (1061.2 §5.2(4)): { from, to, location }' },
  ),
  expiresAt: z.string({ error: 'is required (1061.2 §5.2(5))' }).pipe(time),
  notBefore: time.optional(),
  scope: z
    .strictObject({
      officers: z.array(id).default([]),
      cameras: z.array(id).default([]),
      devices: z.array(id).default([]),
      offices: z.array(id).default([]),
    })
    .optional(),
});
export type RequestInput = z.input<typeof RequestInput>;

export interface RequestRow {
  id: string;
  category: string;
  requester: string;
  filed_by: string;
  office: string;
  scope_json: string;
  methods: string;
  reason: string;
  purpose: string;
  minimization: string;
  anticipated_from: number;
  anticipated_to: number;
  location: string;
  not_before: number;
  expires_at: number;
  state: 'PENDING' | 'APPROVED' | 'DENIED' | 'REVOKED';
  filed_at: number;
  decided_at: number | null;
  decided_by: string | null;
  decided_person: string | null;
  decided_role: string | null;
  decision_note: string | null;
  factors_json: string | null;
  grant_id: string | null;
  grant_hash: string | null;
  grant_envelope: Uint8Array | null;
  revoked_at: number | null;
  revoked_by: string | null;
  revocation_reason: string | null;
  revocation_hash: string | null;
  revocation_envelope: Uint8Array | null;
  /** Set when a records disposition removed its content (gateway/records/). */
  disposition_id: string | null;
}

/** Every zod issue as "field: message", all in one error (the form shows them together). */
function invalid(e: z.ZodError): AuthzError {
  const problems = e.issues.map((i) => ({ field: i.path.join('.'), message: i.message }));
  return new AuthzError('BAD_INPUT', problems.map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)).join('; '), problems);
}

/**
 * Who may read a request: its requester; an FRO of its office; an HRO, the Director, supervisors,
 * records officers and auditors any.
 */
export function mayRead(actor: Actor, row: RequestRow): boolean {
  return (
    actor.roles.some((r) => ['approver_hro', 'director', 'records_officer', 'auditor', 'supervisor'].includes(r)) ||
    sameId(row.requester, actor.personId) ||
    (actor.roles.includes('approver_fro') && actor.offices.some((o) => sameId(o, row.office)))
  );
}

function decidingRoles(actor: Actor): IssuerRole[] {
  return actor.roles.flatMap((r) => DECIDING_ROLES[r] ?? []);
}

export class Authorizations {
  readonly #o: AuthzOptions;
  readonly #now: () => number;

  constructor(options: AuthzOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  async #audit(q: Queryable, actor: string, action: string, subject: string, detail: Record<string, unknown>): Promise<void> {
    await this.#o.audit?.(q, { actor, action, subject, detail });
  }

  /** Files a request for the signed-in officer (the requester is always the filer's person id). */
  async request(actor: Actor, raw: unknown): Promise<RequestRow> {
    const parsed = RequestInput.safeParse(raw ?? {});
    if (!parsed.success) throw invalid(parsed.error);
    const r = parsed.data;
    if (!actor.personId) throw new AuthzError('BAD_INPUT', `user ${actor.username} has no person id: a request is filed by the officer who will record`);
    const office = r.office ?? actor.offices[0];
    if (!office) throw new AuthzError('BAD_INPUT', 'office: is required (the office the request falls under; the user has none)');
    if (idProblem(actor.personId))
      throw new AuthzError('BAD_INPUT', `user ${actor.username}'s person id "${actor.personId}" is not a canonical id: ${idProblem(actor.personId)}`);
    const from = timeOrNull(r.anticipated.from)!;
    const to = timeOrNull(r.anticipated.to)!;
    const expires = timeOrNull(r.expiresAt)!;
    const notBefore = r.notBefore ? timeOrNull(r.notBefore)! : Math.min(from, this.#now());
    if (to < from) throw new AuthzError('BAD_INPUT', 'anticipated.to: must not be before anticipated.from');
    if (expires <= notBefore) throw new AuthzError('BAD_INPUT', 'expiresAt: must be after notBefore (1061.2 §5.2(5))');
    if (expires <= this.#now()) throw new AuthzError('BAD_INPUT', 'expiresAt: is in the past');
    // 1061.2 §5.2(4)–(5): the anticipated recording lies inside the authorization's own validity.
    if (from < notBefore)
      throw new AuthzError('BAD_INPUT', 'anticipated.from: is before notBefore: the anticipated recording must lie inside [notBefore, expiresAt]');
    if (to > expires)
      throw new AuthzError(
        'BAD_INPUT',
        'anticipated.to: is after expiresAt: the authorization would expire before its own anticipated recording ends (1061.2 §5.2(5))',
      );
    const scope: RequestScope = r.scope ?? { officers: [actor.personId], cameras: [], devices: [], offices: [] };
    if (scope.officers.length === 0 && scope.cameras.length === 0 && scope.devices.length === 0) scope.officers = [actor.personId];
    const requestId = `AR-${new Date(this.#now()).toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(4).toString('hex')}`;
    const now = this.#now();
    await this.#o.db.tx(async (q) => {
      await q.run(
        `INSERT INTO authz_requests (id, category, requester, filed_by, office, scope_json, methods, reason, purpose, minimization,
           anticipated_from, anticipated_to, location, not_before, expires_at, state, filed_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'PENDING', ?)`,
        [
          requestId,
          r.category,
          actor.personId,
          actor.username,
          office,
          JSON.stringify(scope),
          r.methods.join(','),
          r.reason,
          r.purpose,
          r.minimization,
          from,
          to,
          r.anticipated.location,
          notBefore,
          expires,
          now,
        ],
      );
      await this.#audit(q, actor.username, 'authz.request', requestId, {
        category: r.category,
        requester: actor.personId,
        office,
        scope,
        methods: r.methods,
        expiresAt: expires,
      });
    });
    return (await this.get(requestId))!;
  }

  async get(requestId: string): Promise<RequestRow | undefined> {
    return this.#o.db.get<RequestRow>('SELECT * FROM authz_requests WHERE id = ?', [requestId]);
  }

  /**
   * Requests the actor may see: a requester their own, an FRO those of its offices, an HRO, the
   * Director, records officers and auditors all.
   */
  async list(actor: Actor, filter: { state?: string } = {}): Promise<RequestRow[]> {
    const rows = await this.#o.db.all<RequestRow>(
      `SELECT * FROM authz_requests ${filter.state ? 'WHERE state = ?' : ''} ORDER BY filed_at DESC, id LIMIT 1000`,
      filter.state ? [filter.state] : [],
    );
    return rows.filter((row) => mayRead(actor, row));
  }

  /** Checks that the actor may decide this request; returns the issuer roles they may sign as. */
  #mayDecide(actor: Actor, row: RequestRow, what: string): IssuerRole[] {
    const roles = decidingRoles(actor);
    if (roles.length === 0) throw new AuthzError('FORBIDDEN', `${what} needs an FRO, HRO or Director role (1061.2 §5.1)`);
    if (row.state !== 'PENDING') throw new AuthzError('CONFLICT', `request ${row.id} is ${row.state}, not PENDING`);
    if (!actor.personId) throw new AuthzError('FORBIDDEN', `user ${actor.username} has no person id, so cannot sign as an official`);
    const executive = roles.some((r) => EXECUTIVE_ROLES.has(r));
    if (sameId(row.requester, actor.personId) && !executive) {
      throw new AuthzError(
        'SELF_DECISION',
        `${actor.username} filed request ${row.id}; nobody ${what === 'approval' ? 'approves' : 'denies'} their own request except the Director or Deputy Director (1061.2 §5.1)`,
      );
    }
    // 1061.2 §5.1: an approver's own recordings need another official's grant, whoever filed the request.
    const scoped = (JSON.parse(row.scope_json) as RequestScope).officers.find((o) => sameId(o, actor.personId));
    if (scoped && !executive && what === 'approval') {
      throw new AuthzError(
        'SELF_DECISION',
        `request ${row.id} covers ${scoped}, which is ${actor.username}'s own person id; an approver's own recordings need another official's grant (1061.2 §5.1)`,
      );
    }
    const canDecide = roles.filter((r) => r !== 'FRO' || actor.offices.some((o) => sameId(o, row.office)));
    if (canDecide.length === 0)
      throw new AuthzError(
        'OUT_OF_SCOPE',
        `request ${row.id} falls under office ${row.office}, outside ${actor.username}'s offices (${actor.offices.join(', ') || 'none'})`,
      );
    return canDecide;
  }

  /** The actor's issuer key and the bundle role it signs as for this category. */
  #issuer(actor: Actor, roles: readonly IssuerRole[], category: string): { signer: GatewaySigner; role: IssuerRole; bundle: Bundle } {
    const bundle = this.#o.bundle();
    if (!bundle) throw new AuthzError('NO_ISSUER_KEY', 'no policy bundle is configured (trust.bundle): grants cannot be checked against the issuers it lists');
    const dir = this.#o.issuerKeysDir;
    const keyDir = dir ? join(dir, actor.personId!) : null;
    if (!keyDir || !existsSync(join(keyDir, 'private.pem'))) {
      throw new AuthzError(
        'NO_ISSUER_KEY',
        `this gateway holds no issuer key for ${actor.personId} (authz.issuerKeysDir/${actor.personId}/, made with bwc authz keygen)`,
      );
    }
    const signer = loadGatewayKey(keyDir);
    const issuer = bundle.issuers.get(signer.keyId);
    if (!issuer || issuer.personId !== actor.personId || issuer.compromised) {
      throw new AuthzError(
        'NO_ISSUER_KEY',
        `policy bundle v${bundle.version} does not list the issuer key ${signer.keyId.slice(0, 16)}… for ${actor.personId}${issuer?.compromised ? ' (it is marked compromised)' : ''}`,
      );
    }
    const allowed = bundle.categoryIssuers.get(category) ?? new Set(DEFAULT_CATEGORY_ISSUERS[category as Category] ?? []);
    const role = roles.find((r) => issuer.roles.has(r) && (allowed.has(r) || EXECUTIVE_ROLES.has(r)));
    if (!role) {
      throw new AuthzError(
        'FORBIDDEN',
        `${actor.personId}'s issuer key is listed as ${[...issuer.roles].join(', ')}; none of those may issue ${category} as ${roles.join('/')}`,
      );
    }
    return { signer, role, bundle };
  }

  /** Approves: records the §5.3 factors, signs the grant with the approver's issuer key, sends it to the docks in scope. */
  async approve(actor: Actor, requestId: string, raw: unknown): Promise<{ request: RequestRow; grantHash: string; delivered: number }> {
    const body = z
      .strictObject({
        factorsConsidered: z.array(
          z.union([
            z.enum(Object.keys(FACTORS) as [Factor, ...Factor[]]),
            z.strictObject({ factor: z.enum(Object.keys(FACTORS) as [Factor, ...Factor[]]), note: z.string().max(4000).default('') }),
          ]),
          { error: 'is required: the 1061.2 §5.3 factors considered' },
        ),
        note: z.string().max(4000).default(''),
      })
      .safeParse(raw ?? {});
    if (!body.success) throw invalid(body.error);
    const factors = body.data.factorsConsidered.map((f) => (typeof f === 'string' ? { factor: f, note: '' } : f));
    const missing = (Object.keys(FACTORS) as Factor[]).filter((k) => !factors.some((f) => f.factor === k));
    if (missing.length)
      throw new AuthzError('BAD_INPUT', `factorsConsidered: the approval must record every 1061.2 §5.3 factor; missing: ${missing.join(', ')}`);
    const row = await this.get(requestId);
    if (!row) throw new AuthzError('NOT_FOUND', `no request ${requestId}`);
    const roles = this.#mayDecide(actor, row, 'approval');
    const { signer, role, bundle } = this.#issuer(actor, roles, row.category);
    const now = this.#now();
    const scope = JSON.parse(row.scope_json) as RequestScope;
    let grant;
    try {
      grant = grantFromSource({
        id: `G-${row.id}`,
        category: row.category,
        requester: row.requester,
        approver: actor.personId,
        approverRole: role,
        scope,
        // The grant covers recordings only from its signing (the approval) on, whatever notBefore
        // says (1061.2 §5.1; decide()'s GRANT_SIGNED_AFTER_START); notBefore stays as requested so
        // the anticipated window lies inside [notBefore, expiresAt].
        methods: row.methods.split(','),
        notBefore: new Date(Number(row.not_before)).toISOString(),
        expiresAt: new Date(Number(row.expires_at)).toISOString(),
        reason: row.reason,
        purpose: row.purpose,
        minimization: row.minimization,
        anticipated: {
          from: new Date(row.anticipated_from).toISOString(),
          to: new Date(row.anticipated_to).toISOString(),
          location: row.location,
        },
        factorsConsidered: factors.map((f) => (f.note ? `${f.factor}: ${f.note}` : f.factor)),
        requestId: row.id,
      });
    } catch (e) {
      if (e instanceof PolicyDataError) throw new AuthzError('BAD_INPUT', e.message);
      throw e;
    }
    const signed = signPolicyObject('AuthorizationGrant', grant, signer, now);
    verifyGrant(signed.bytes, [bundle]); // what a dock will check, checked here first
    const updated = await this.#o.db.tx(async (q) => {
      const r = await q.run(
        `UPDATE authz_requests SET state = 'APPROVED', decided_at = ?, decided_by = ?, decided_person = ?, decided_role = ?, decision_note = ?,
           factors_json = ?, grant_id = ?, grant_hash = ?, grant_envelope = ? WHERE id = ? AND state = 'PENDING'`,
        [now, actor.username, actor.personId, role, body.data.note, JSON.stringify(factors), grant.id ?? null, signed.hash, Buffer.from(signed.bytes), row.id],
      );
      if (r.changes !== 1) return false;
      await this.#audit(q, actor.username, 'authz.approve', row.id, {
        grantId: grant.id,
        grantHash: signed.hash,
        approver: actor.personId,
        role,
        factors,
      });
      return true;
    });
    if (!updated) throw new AuthzError('CONFLICT', `request ${row.id} was decided meanwhile`);
    const delivered = await this.#o.deliver('grant', signed.bytes, scope);
    return { request: (await this.get(row.id))!, grantHash: signed.hash, delivered };
  }

  async deny(actor: Actor, requestId: string, raw: unknown): Promise<RequestRow> {
    const body = z.strictObject({ reason: z.string().trim().min(1, 'is required: why the request is denied').max(4000) }).safeParse(raw ?? {});
    if (!body.success) throw invalid(body.error);
    const row = await this.get(requestId);
    if (!row) throw new AuthzError('NOT_FOUND', `no request ${requestId}`);
    const roles = this.#mayDecide(actor, row, 'denial');
    const now = this.#now();
    const updated = await this.#o.db.tx(async (q) => {
      const r = await q.run(
        `UPDATE authz_requests SET state = 'DENIED', decided_at = ?, decided_by = ?, decided_person = ?, decided_role = ?, decision_note = ?
          WHERE id = ? AND state = 'PENDING'`,
        [now, actor.username, actor.personId, roles[0] ?? null, body.data.reason, row.id],
      );
      if (r.changes !== 1) return false;
      await this.#audit(q, actor.username, 'authz.deny', row.id, { by: actor.personId, role: roles[0], reason: body.data.reason });
      return true;
    });
    if (!updated) throw new AuthzError('CONFLICT', `request ${row.id} was decided meanwhile`);
    return (await this.get(row.id))!;
  }

  /**
   * Revokes an approved grant from now on (no retroactive revocation): by its approver, by an
   * official of the same role whose offices cover the request, or by the Director.
   */
  async revoke(actor: Actor, requestId: string, raw: unknown): Promise<{ request: RequestRow; revocationHash: string; delivered: number }> {
    const body = z.strictObject({ reason: z.string().trim().min(1, 'is required: why the grant is revoked').max(4000) }).safeParse(raw ?? {});
    if (!body.success) throw invalid(body.error);
    const row = await this.get(requestId);
    if (!row) throw new AuthzError('NOT_FOUND', `no request ${requestId}`);
    if (row.state !== 'APPROVED' || !row.grant_hash) throw new AuthzError('CONFLICT', `request ${row.id} is ${row.state}; only an approved grant is revoked`);
    const roles = decidingRoles(actor);
    if (roles.length === 0 || !actor.personId) throw new AuthzError('FORBIDDEN', 'revoking needs an FRO, HRO or Director role and a person id');
    const executive = roles.some((r) => EXECUTIVE_ROLES.has(r));
    const sameRole = roles.some((r) => r === row.decided_role && (r !== 'FRO' || actor.offices.some((o) => sameId(o, row.office))));
    if (!(executive || sameId(actor.personId, row.decided_person) || sameRole)) {
      throw new AuthzError(
        'OUT_OF_SCOPE',
        `grant ${row.grant_id} was approved by ${row.decided_person} as ${row.decided_role}; ${actor.username} may not revoke it`,
      );
    }
    const { signer, bundle } = this.#issuer(
      actor,
      executive ? roles : roles.filter((r) => r === row.decided_role || sameId(actor.personId, row.decided_person)),
      row.category,
    );
    if (!executive && !sameId(actor.personId, row.decided_person)) {
      // Another official of the approver's role: a dock honours the revocation only if that
      // official's scope in the bundle covers every office the grant covers (a grant naming no
      // office covers them all). Refused here rather than recorded as REVOKED and ignored there.
      const mine = bundle.issuers.get(signer.keyId)?.scope.offices ?? [];
      const theirs = (JSON.parse(row.scope_json) as RequestScope).offices;
      const covers = mine.length === 0 || (theirs.length > 0 && theirs.every((o) => mine.includes(o)));
      if (!covers) {
        throw new AuthzError(
          'OUT_OF_SCOPE',
          `grant ${row.grant_id} covers ${theirs.length ? `offices ${theirs.join(', ')}` : 'every office'}, beyond ${actor.username}'s scope in ` +
            `policy bundle v${bundle.version} (${mine.join(', ')}): the docks would not honour this revocation; the approver (${row.decided_person}) or the Director revokes it`,
        );
      }
    }
    const now = this.#now();
    const revocation = revocationFromSource(
      { id: `R-${row.id}`, revokes: row.grant_hash, effectiveAt: new Date(now).toISOString(), reason: body.data.reason },
      now,
    );
    const signed = signPolicyObject('Revocation', revocation, signer, now);
    verifyRevocation(signed.bytes, [bundle]);
    const updated = await this.#o.db.tx(async (q) => {
      const r = await q.run(
        `UPDATE authz_requests SET state = 'REVOKED', revoked_at = ?, revoked_by = ?, revocation_reason = ?, revocation_hash = ?, revocation_envelope = ?
          WHERE id = ? AND state = 'APPROVED'`,
        [now, actor.username, body.data.reason, signed.hash, Buffer.from(signed.bytes), row.id],
      );
      if (r.changes !== 1) return false;
      await this.#audit(q, actor.username, 'authz.revoke', row.id, {
        grantId: row.grant_id,
        grantHash: row.grant_hash,
        revocationHash: signed.hash,
        reason: body.data.reason,
      });
      return true;
    });
    if (!updated) throw new AuthzError('CONFLICT', `request ${row.id} changed meanwhile`);
    const delivered = await this.#o.deliver('revocation', signed.bytes, JSON.parse(row.scope_json) as RequestScope);
    return { request: (await this.get(row.id))!, revocationHash: signed.hash, delivered };
  }

  /**
   * The grants and revocations a dock should hold now (sent again at each Birth): every approved
   * or revoked grant not yet expired, whose scope names the dock or no dock at all.
   */
  async forDevice(deviceId: string): Promise<{ kind: 'grant' | 'revocation'; envelope: Uint8Array }[]> {
    const rows = await this.#o.db.all<RequestRow>(
      `SELECT * FROM authz_requests WHERE state IN ('APPROVED', 'REVOKED') AND expires_at > ? ORDER BY decided_at`,
      [this.#now()],
    );
    const out: { kind: 'grant' | 'revocation'; envelope: Uint8Array }[] = [];
    for (const r of rows) {
      const scope = JSON.parse(r.scope_json) as RequestScope;
      if (scope.devices.length > 0 && !scope.devices.includes(deviceId)) continue;
      if (r.grant_envelope) out.push({ kind: 'grant', envelope: r.grant_envelope });
      if (r.revocation_envelope) out.push({ kind: 'revocation', envelope: r.revocation_envelope });
    }
    return out;
  }
}

/** A request as the API shows it. */
export function requestJson(r: RequestRow): Record<string, unknown> {
  return {
    id: r.id,
    category: r.category,
    requester: r.requester,
    filedBy: r.filed_by,
    office: r.office,
    scope: JSON.parse(r.scope_json) as unknown,
    methods: r.methods.split(','),
    reason: r.reason,
    purpose: r.purpose,
    minimization: r.minimization,
    anticipated: {
      from: new Date(Number(r.anticipated_from)).toISOString(),
      to: new Date(Number(r.anticipated_to)).toISOString(),
      location: r.location,
    },
    notBefore: new Date(Number(r.not_before)).toISOString(),
    expiresAt: new Date(Number(r.expires_at)).toISOString(),
    state: r.state,
    filedAt: new Date(Number(r.filed_at)).toISOString(),
    decision:
      r.decided_at === null
        ? null
        : {
            at: new Date(Number(r.decided_at)).toISOString(),
            by: r.decided_by,
            personId: r.decided_person,
            role: r.decided_role,
            note: r.decision_note,
            factorsConsidered: r.factors_json ? (JSON.parse(r.factors_json) as unknown) : null,
          },
    grant: r.grant_hash ? { id: r.grant_id, hash: r.grant_hash, envelope: r.grant_envelope ? Buffer.from(r.grant_envelope).toString('base64') : null } : null,
    revocation: r.revocation_hash
      ? {
          at: new Date(Number(r.revoked_at)).toISOString(),
          by: r.revoked_by,
          reason: r.revocation_reason,
          hash: r.revocation_hash,
          envelope: r.revocation_envelope ? Buffer.from(r.revocation_envelope).toString('base64') : null,
        }
      : null,
    contentDisposedBy: r.disposition_id ?? null,
  };
}
