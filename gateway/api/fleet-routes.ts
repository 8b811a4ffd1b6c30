/**
 * Fleet and alerts over HTTP, under `/api/v1` (gateway/README.md has the table; the clips are in
 * clip-routes.ts):
 *
 * | route | who |
 * |---|---|
 * | `GET /devices`, `GET /devices/:id`, `GET /devices/:id/events`, `GET /keyring`, `GET /cameras`, `GET /cameras/:serial/assignments`, `GET /alerts` | any signed-in user |
 * | `POST /devices` (register with a public key), `POST /devices/:id/enrollment-token`, `POST /devices/:id/decommission` | operator, admin |
 * | `PUT /cameras/:serial/assignment`, `DELETE /cameras/:serial/assignment` | operator, admin |
 * | `POST /alerts/:id/ack`, `POST /alerts/:id/resolve` (`{ note }`: required for a critical alert) | operator, supervisor, admin |
 * | `GET /enroll` (the gateway's proof of itself, before a dock sends its token) | anyone (public route) |
 * | `POST /enroll` (a device redeems its one-time token with a signed EnrollmentRequest) | the device (public route; the token and the signature are the credentials) |
 *
 * Enrollment answers with an EnrollmentResponse signed by the gateway key (DESIGN §8): the gateway's
 * root-signed certificate, the root key, the policy bundle, the broker URL, the device's MQTT
 * credentials and the camera assignments. A gateway without a configured root key and certificate
 * refuses enrollment (503) before the token is looked at, so the token stays usable.
 */
import { z } from 'zod';
import { pb } from '../../proto/wire.js';
import { openEnvelope, assertEnvelopeSigned } from '../../proto/envelope.js';
import { trustPublicKey } from '../../proto/ed25519.js';
import { fromHex, toHex } from '../../proto/bytes.js';
import { ID_PATTERN } from '../../proto/topics.js';
import { zId } from '../../proto/canonical.js';
import { isWireError } from '../../proto/errors.js';
import type { Db } from '../store/db.js';
import type { Fleet } from '../fleet/registry.js';
import { FleetError } from '../fleet/registry.js';
import type { Alerts } from '../fleet/alerts.js';
import { ALERT_KINDS, AlertError, RESOLUTION_NOTE_MAX } from '../fleet/alerts.js';
import type { Ingest } from '../ingest/ingest.js';
import type { GatewayMessenger } from '../messenger.js';
import type { GatewayTrust } from '../trust.js';
import type { AuditAppender } from '../audit/log.js';
import { EVENT_KINDS, TAMPER_KINDS, ALERT_KINDS as DOCK_ALERT_KINDS } from '../../proto/vocab.js';
import { decisionToJson } from '../../proto/decision.js';
import { sealKeyring } from '../../proto/keyring.js';
import { enrollmentProofInput, NONCE_HEX, type EnrollmentProof } from '../../proto/enrollment-proof.js';
import { HttpError, type ApiServer } from './http.js';
import { alertJson, deviceViews } from './views.js';
import { registerClipRoutes } from './clip-routes.js';
import type {
  AlertActionResponse,
  AssignResponse,
  DecommissionResponse,
  AlertsResponse,
  AssignmentsResponse,
  CamerasResponse,
  DeviceDetailResponse,
  DeviceEventJson,
  DeviceEventsResponse,
  DevicesResponse,
  KeyringResponse,
} from './types.js';
import type { Role } from './roles.js';

const OPERATORS: readonly Role[] = ['operator', 'admin'];
const RESPONDERS: readonly Role[] = ['operator', 'supervisor', 'admin'];

const Id = z.string().regex(ID_PATTERN, 'must be an id ([A-Za-z0-9][A-Za-z0-9._-]{0,63})');
const DeviceParam = z.strictObject({ id: Id });
// Camera serials and officer ids are policy ids (proto/canonical.ts); device ids are topic ids.
const SerialParam = z.strictObject({ serial: zId });
const AlertParam = z.strictObject({ id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) });

function fleetError(e: unknown): never {
  if (e instanceof FleetError) {
    const status = { BAD_INPUT: 400, EXISTS: 409, NOT_FOUND: 404, CONFLICT: 409, TOKEN_INVALID: 403 }[e.code];
    throw new HttpError(status, e.code, e.message);
  }
  throw e;
}

export interface EnrollmentDeps {
  /** Null: trust is not configured, and enrollment is refused. */
  trust: GatewayTrust | null;
  messenger: GatewayMessenger;
  /** The broker URL docks are told to use. */
  brokerUrl: string;
  /** The policy bundle in force (the configured one or a newer published one). */
  bundle(): Uint8Array | null;
}

export function registerFleetRoutes(
  server: ApiServer,
  deps: {
    fleet: Fleet;
    alerts: Alerts;
    db: Db;
    ingest: Ingest;
    enrollment: EnrollmentDeps;
    /** Where the clip store keeps a verified clip's content. */
    blobPath: (sha256: string) => string;
    audit: AuditAppender | null;
  },
): void {
  const { fleet, alerts, db, ingest, enrollment, blobPath, audit } = deps;

  server.route({
    method: 'GET',
    path: '/api/v1/devices',
    roles: 'authenticated',
    handle: async () => ({ body: { devices: await deviceViews(db) } satisfies DevicesResponse }),
  });

  // The keyring an auditor checks clips against (`bwc verify --keyring`): every device key, signed
  // by this gateway and carrying its root-signed certificate, so the file stands alone.
  server.route({
    method: 'GET',
    path: '/api/v1/keyring',
    roles: 'authenticated',
    handle: async () => {
      const { trust, messenger } = enrollment;
      if (!trust) throw new HttpError(409, 'NO_TRUST', 'this gateway has no certificate (trust.certificate): nobody could tie its keyring to the agency root');
      const keys = await fleet.keyring();
      const keyring = sealKeyring(keys, trust.certificate, messenger.signer, {
        gatewayId: messenger.gatewayId,
        fleet: messenger.fleet,
        createdAtMs: Date.now(),
      });
      return {
        body: {
          gatewayId: messenger.gatewayId,
          keys: keys.length,
          keyring: Buffer.from(keyring).toString('base64'),
        } satisfies KeyringResponse,
      };
    },
  });

  server.route({
    method: 'GET',
    path: '/api/v1/devices/:id',
    roles: 'authenticated',
    params: DeviceParam,
    handle: async ({ params }) => {
      const [d] = await deviceViews(db, [params.id]);
      if (!d) throw new HttpError(404, 'NOT_FOUND', `device ${params.id} is not enrolled`);
      const keys = (await fleet.keysOf(params.id)).map((k) => ({
        keyId: k.key_id,
        publicKey: toHex(k.public_key),
        validFrom: Number(k.valid_from),
        revokedAt: k.revoked_at === null ? null : Number(k.revoked_at),
      }));
      const chainGaps = (await ingest.chainGaps(params.id)).map(({ deviceId: _, ...g }) => g);
      return { body: { device: d, keys, chainGaps } satisfies DeviceDetailResponse };
    },
  });

  server.route({
    method: 'GET',
    path: '/api/v1/devices/:id/events',
    roles: 'authenticated',
    params: DeviceParam,
    query: z.object({
      limit: z.coerce.number().int().min(1).max(1000).default(200),
      before: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
    }),
    handle: async ({ params, query }) => {
      const rows = await db.all<{ hash: string; seq: number; received_at: number; envelope: Buffer }>(
        `SELECT hash, seq, received_at, envelope FROM messages WHERE device_id = ? AND type = 'Event' ${query.before ? 'AND seq < ?' : ''} ORDER BY seq DESC LIMIT ?`,
        query.before ? [params.id, query.before, query.limit] : [params.id, query.limit],
      );
      return { body: { events: rows.map(eventJson) } satisfies DeviceEventsResponse };
    },
  });

  server.route({
    method: 'POST',
    path: '/api/v1/devices',
    roles: OPERATORS,
    body: z.strictObject({
      deviceId: Id,
      publicKey: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be the 32-byte Ed25519 public key in hex (public.hex)'),
    }),
    handle: async ({ body, user }) => {
      const r = await fleet.enroll(body.deviceId, fromHex(body.publicKey.toLowerCase(), 32)!, user.username).catch(fleetError);
      return { status: 201, body: { ...r, note: 'the MQTT password is shown once' } };
    },
  });

  server.route({
    method: 'POST',
    path: '/api/v1/devices/:id/enrollment-token',
    roles: OPERATORS,
    params: DeviceParam,
    body: z
      .strictObject({
        ttlHours: z
          .number()
          .positive()
          .max(24 * 30)
          .default(24),
      })
      .default({ ttlHours: 24 }),
    handle: async ({ params, body, user }) => {
      const r = await fleet.createEnrollmentToken(params.id, user.username, body.ttlHours * 3600_000).catch(fleetError);
      return { status: 201, body: { deviceId: params.id, token: r.token, expiresAt: r.expiresAt } };
    },
  });

  server.route({
    method: 'POST',
    path: '/api/v1/devices/:id/decommission',
    roles: OPERATORS,
    params: DeviceParam,
    handle: async ({ params, user }) => {
      await fleet.decommission(params.id, user.username).catch(fleetError);
      return { body: { deviceId: params.id, status: 'decommissioned' } satisfies DecommissionResponse };
    },
  });

  // DESIGN §8 (second round): the gateway proves itself before a dock sends its token.
  server.route({
    method: 'GET',
    path: '/api/v1/enroll',
    roles: 'public',
    query: z.strictObject({ nonce: z.string().regex(NONCE_HEX, 'hex of 16 to 64 random bytes') }),
    handle: async ({ query }) => {
      const trust = enrollment.trust;
      if (!trust) {
        throw new HttpError(
          503,
          'TRUST_NOT_CONFIGURED',
          'this gateway cannot enroll devices yet: it has no agency root key and gateway certificate. ' +
            'The operator must configure trust.rootPublicKey and trust.certificate (sign one with `bwc authz sign-gateway-cert`) and restart the gateway',
        );
      }
      const { messenger } = enrollment;
      const signature = messenger.signer.sign(enrollmentProofInput(Buffer.from(query.nonce, 'hex')));
      return {
        body: {
          gatewayId: messenger.gatewayId,
          fleet: messenger.fleet,
          certificate: Buffer.from(trust.certificate).toString('base64'),
          rootPublicKey: toHex(trust.root.raw),
          nonceSignature: Buffer.from(signature).toString('base64'),
        } satisfies EnrollmentProof,
      };
    },
  });

  server.route({
    method: 'POST',
    path: '/api/v1/enroll',
    roles: 'public',
    body: z.strictObject({
      request: z
        .string()
        .min(1)
        .max(64 * 1024),
    }),
    handle: async ({ body }) => {
      const trust = enrollment.trust;
      if (!trust) {
        throw new HttpError(
          503,
          'TRUST_NOT_CONFIGURED',
          'this gateway cannot enroll devices yet: it has no agency root key and gateway certificate. ' +
            'The operator must configure trust.rootPublicKey and trust.certificate (sign one with `bwc authz sign-gateway-cert`) and restart the gateway',
        );
      }
      const bytes = Buffer.from(body.request, 'base64');
      let req;
      try {
        const env = openEnvelope(bytes, { expectType: 'EnrollmentRequest', maxBytes: 64 * 1024 });
        req = pb.EnrollmentRequest.decode(env.body);
        const key = trustPublicKey(req.publicKey, 'enrollment public key');
        assertEnvelopeSigned(env, key); // proof of possession of the private key
      } catch (e) {
        throw new HttpError(400, 'BAD_REQUEST', isWireError(e) ? e.message : `not a signed EnrollmentRequest: ${(e as Error).message}`);
      }
      if (req.header?.issuer !== req.deviceId) throw new HttpError(400, 'BAD_REQUEST', 'the request header must name the device id being enrolled');
      if (req.header.subjectDevice && req.header.subjectDevice !== req.deviceId) {
        throw new HttpError(400, 'BAD_REQUEST', `the request header names ${req.header.subjectDevice} as its subject, not the device being enrolled`);
      }
      const assignments = await fleet.assignmentsForDocks();
      const r = await fleet.redeemEnrollmentToken(req.token, req.deviceId, req.publicKey).catch(fleetError);
      const { messenger } = enrollment;
      const response = await messenger.sealEnrollmentResponse(
        {
          deviceId: r.deviceId,
          gatewayCertificate: trust.certificate,
          rootPublicKey: trust.root.raw,
          policyBundle: enrollment.bundle() ?? new Uint8Array(0),
          brokerUrl: enrollment.brokerUrl,
          mqttUsername: r.mqttUsername,
          mqttPassword: r.mqttPassword,
          cameraAssignments: await messenger.sealCameraAssignmentsEnvelope(assignments, r.deviceId),
          fleet: fleet.fleet,
        },
        r.deviceId,
      );
      return {
        status: 201,
        body: { deviceId: r.deviceId, keyId: r.keyId, fleet: fleet.fleet, response: Buffer.from(response).toString('base64') },
      };
    },
  });

  server.route({
    method: 'GET',
    path: '/api/v1/cameras',
    roles: 'authenticated',
    handle: async () => ({
      body: {
        cameras: (await fleet.cameras()).map((c) => ({
          cameraSerial: c.camera_serial,
          model: c.model,
          firmware: c.firmware,
          batteryPct: c.battery_pct,
          storageFree: c.storage_free,
          temperatureC: c.temperature_c,
          lastDock: c.last_dock,
          lastSeen: c.last_seen,
          officerId: c.officer_id,
          clipsNotVerified: Number(c.unverified),
        })),
      } satisfies CamerasResponse,
    }),
  });

  server.route({
    method: 'GET',
    path: '/api/v1/cameras/:serial/assignments',
    roles: 'authenticated',
    params: SerialParam,
    handle: async ({ params }) => ({
      body: {
        assignments: (await fleet.assignmentHistory(params.serial)).map((a) => ({
          officerId: a.officer_id,
          from: a.from_at,
          to: a.to_at,
          assignedBy: a.assigned_by,
          source: a.source,
        })),
      } satisfies AssignmentsResponse,
    }),
  });

  server.route({
    method: 'PUT',
    path: '/api/v1/cameras/:serial/assignment',
    roles: OPERATORS,
    params: SerialParam,
    body: z.strictObject({ officerId: zId }),
    handle: async ({ params, body, user }) => {
      const a = await fleet.assign(params.serial, body.officerId, user.username, 'operator').catch(fleetError);
      return { body: { cameraSerial: a.camera_serial, officerId: a.officer_id, from: Number(a.from_at) } satisfies AssignResponse };
    },
  });

  server.route({
    method: 'DELETE',
    path: '/api/v1/cameras/:serial/assignment',
    roles: OPERATORS,
    params: SerialParam,
    handle: async ({ params, user }) => {
      if (!(await fleet.unassign(params.serial, undefined, user.username)))
        throw new HttpError(404, 'NOT_FOUND', `camera ${params.serial} has no current assignment`);
      return { status: 204 };
    },
  });

  registerClipRoutes(server, { db, ingest, fleet, blobPath, audit });

  server.route({
    method: 'GET',
    path: '/api/v1/alerts',
    roles: 'authenticated',
    query: z.object({
      open: z.enum(['true', 'false']).optional(),
      kind: z.enum(Object.keys(ALERT_KINDS) as [keyof typeof ALERT_KINDS]).optional(),
      device: Id.optional(),
      limit: z.coerce.number().int().min(1).max(1000).default(200),
    }),
    handle: async ({ query }) => {
      const rows = await alerts.list({
        ...(query.open ? { open: query.open === 'true' } : {}),
        ...(query.kind ? { kind: query.kind } : {}),
        ...(query.device ? { deviceId: query.device } : {}),
        limit: query.limit,
      });
      return { body: { alerts: rows.map(alertJson) } satisfies AlertsResponse };
    },
  });

  const answer = async (id: number, ok: boolean, action: 'acknowledged' | 'resolved'): Promise<void> => {
    if (ok) return;
    if (!(await alerts.get(id))) throw new HttpError(404, 'NOT_FOUND', `no alert ${id}`);
    throw new HttpError(409, 'CONFLICT', `alert ${id} is already ${action}`);
  };

  server.route({
    method: 'POST',
    path: '/api/v1/alerts/:id/ack',
    roles: RESPONDERS,
    params: AlertParam,
    handle: async ({ params, user }) => {
      await answer(params.id, await alerts.acknowledge(params.id, user.username), 'acknowledged');
      return { body: { id: params.id, ackedBy: user.username } satisfies AlertActionResponse };
    },
  });

  server.route({
    method: 'POST',
    path: '/api/v1/alerts/:id/resolve',
    roles: RESPONDERS,
    params: AlertParam,
    body: z.strictObject({ note: z.string().max(RESOLUTION_NOTE_MAX, `must be at most ${RESOLUTION_NOTE_MAX} characters`).optional() }).optional(),
    handle: async ({ params, body, user }) => {
      const note = body?.note?.trim() || null;
      const ok = await alerts.resolve(params.id, user.username, note).catch((e: unknown) => {
        if (e instanceof AlertError) throw new HttpError(400, e.code, e.message);
        throw e;
      });
      await answer(params.id, ok, 'resolved');
      return { body: { id: params.id, resolvedBy: user.username, resolutionNote: note } satisfies AlertActionResponse };
    },
  });
}

/** A stored Event envelope, decoded for the device page (it was verified when it arrived). */
function eventJson(r: { hash: string; seq: number; received_at: number; envelope: Buffer }): DeviceEventJson {
  const e = pb.Event.decode(openEnvelope(r.envelope, { expectType: 'Event' }).body);
  return {
    hash: r.hash,
    seq: Number(r.seq),
    kind: EVENT_KINDS.code(e.kind) ?? String(e.kind),
    occurredAt: Number(e.occurredAtMs) || null,
    receivedAt: Number(r.received_at),
    cameraSerial: e.cameraSerial || null,
    clipId: e.clipId || null,
    manifestHash: e.manifestHash?.length ? toHex(e.manifestHash) : null,
    officerId: e.officerId || null,
    detail: e.detail || null,
    decision: e.decision ? decisionToJson(e.decision) : null,
    tamper: TAMPER_KINDS.code(e.tamper) ?? null,
    alert: DOCK_ALERT_KINDS.code(e.alert) ?? null,
  };
}
