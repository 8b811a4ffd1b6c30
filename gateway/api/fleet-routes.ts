/**
 * Fleet, clips and alerts over HTTP, under `/api/v1` (gateway/README.md has the table):
 *
 * | route | who |
 * |---|---|
 * | `GET /devices`, `GET /devices/:id`, `GET /cameras`, `GET /cameras/:serial/assignments`, `GET /clips`, `GET /clips/:hash`, `GET /alerts` | any signed-in user |
 * | `POST /devices` (register with a public key), `POST /devices/:id/enrollment-token`, `POST /devices/:id/decommission` | operator, admin |
 * | `PUT /cameras/:serial/assignment`, `DELETE /cameras/:serial/assignment` | operator, admin |
 * | `POST /alerts/:id/ack`, `POST /alerts/:id/resolve` | operator, supervisor, admin |
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
import { isWireError } from '../../proto/errors.js';
import type { Db } from '../store/db.js';
import type { Fleet, DeviceRow } from '../fleet/registry.js';
import { FleetError } from '../fleet/registry.js';
import type { Alerts } from '../fleet/alerts.js';
import { ALERT_KINDS } from '../fleet/alerts.js';
import type { Ingest } from '../ingest/ingest.js';
import type { GatewayMessenger } from '../messenger.js';
import type { GatewayTrust } from '../trust.js';
import { HttpError, type ApiServer } from './http.js';
import type { Role } from './roles.js';

const OPERATORS: readonly Role[] = ['operator', 'admin'];
const RESPONDERS: readonly Role[] = ['operator', 'supervisor', 'admin'];

const Id = z.string().regex(ID_PATTERN, 'must be an id ([A-Za-z0-9][A-Za-z0-9._-]{0,63})');
const DeviceParam = z.strictObject({ id: Id });
const SerialParam = z.strictObject({ serial: Id });
const HashParam = z.strictObject({ hash: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters') });
const AlertParam = z.strictObject({ id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) });

function fleetError(e: unknown): never {
  if (e instanceof FleetError) {
    const status = { BAD_INPUT: 400, EXISTS: 409, NOT_FOUND: 404, CONFLICT: 409, TOKEN_INVALID: 403 }[e.code];
    throw new HttpError(status, e.code, e.message);
  }
  throw e;
}

function deviceJson(d: DeviceRow) {
  return {
    deviceId: d.device_id, fleet: d.fleet, status: d.status, enrolledAt: d.enrolled_at, enrolledBy: d.enrolled_by, decommissionedAt: d.decommissioned_at,
    online: d.online === 1, lastSeen: d.last_seen, bdSeq: d.bd_seq, agentVersion: d.agent_version, policyVersion: d.policy_version,
    outboxDepth: d.outbox_depth, clockSynced: d.clock_synced === null ? null : d.clock_synced === 1, clockOffsetMs: d.clock_offset_ms,
    storageFree: d.storage_free, state: d.state_json ? JSON.parse(d.state_json) as unknown : null,
  };
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

export function registerFleetRoutes(server: ApiServer, deps: { fleet: Fleet; alerts: Alerts; db: Db; ingest: Ingest; enrollment: EnrollmentDeps }): void {
  const { fleet, alerts, db, ingest, enrollment } = deps;

  server.route({
    method: 'GET', path: '/api/v1/devices', roles: 'authenticated',
    handle: async () => ({ body: { devices: (await fleet.devices()).map(deviceJson) } }),
  });

  server.route({
    method: 'GET', path: '/api/v1/devices/:id', roles: 'authenticated', params: DeviceParam,
    handle: async ({ params }) => {
      const d = await fleet.device(params.id);
      if (!d) throw new HttpError(404, 'NOT_FOUND', `device ${params.id} is not enrolled`);
      const keys = (await fleet.keysOf(params.id)).map((k) => ({ keyId: k.key_id, publicKey: toHex(k.public_key), validFrom: k.valid_from, revokedAt: k.revoked_at }));
      return { body: { device: deviceJson(d), keys } };
    },
  });

  server.route({
    method: 'POST', path: '/api/v1/devices', roles: OPERATORS,
    body: z.strictObject({ deviceId: Id, publicKey: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be the 32-byte Ed25519 public key in hex (public.hex)') }),
    handle: async ({ body, user }) => {
      const r = await fleet.enroll(body.deviceId, fromHex(body.publicKey.toLowerCase(), 32)!, user.username).catch(fleetError);
      return { status: 201, body: { ...r, note: 'the MQTT password is shown once' } };
    },
  });

  server.route({
    method: 'POST', path: '/api/v1/devices/:id/enrollment-token', roles: OPERATORS, params: DeviceParam,
    body: z.strictObject({ ttlHours: z.number().positive().max(24 * 30).default(24) }).default({ ttlHours: 24 }),
    handle: async ({ params, body, user }) => {
      const r = await fleet.createEnrollmentToken(params.id, user.username, body.ttlHours * 3600_000).catch(fleetError);
      return { status: 201, body: { deviceId: params.id, token: r.token, expiresAt: r.expiresAt } };
    },
  });

  server.route({
    method: 'POST', path: '/api/v1/devices/:id/decommission', roles: OPERATORS, params: DeviceParam,
    handle: async ({ params, user }) => {
      await fleet.decommission(params.id, user.username).catch(fleetError);
      return { body: { deviceId: params.id, status: 'decommissioned' } };
    },
  });

  server.route({
    method: 'POST', path: '/api/v1/enroll', roles: 'public',
    body: z.strictObject({ request: z.string().min(1).max(64 * 1024) }),
    handle: async ({ body }) => {
      const trust = enrollment.trust;
      if (!trust) {
        throw new HttpError(503, 'TRUST_NOT_CONFIGURED', 'this gateway cannot enroll devices yet: it has no agency root key and gateway certificate. ' +
          'The operator must configure trust.rootPublicKey and trust.certificate (sign one with `bwc authz sign-gateway-cert`) and restart the gateway');
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
      const assignments = await fleet.assignmentsForDocks();
      const r = await fleet.redeemEnrollmentToken(req.token, req.deviceId, req.publicKey).catch(fleetError);
      const { messenger } = enrollment;
      const response = await messenger.sealEnrollmentResponse({
        deviceId: r.deviceId,
        gatewayCertificate: trust.certificate,
        rootPublicKey: trust.root.raw,
        policyBundle: enrollment.bundle() ?? new Uint8Array(0),
        brokerUrl: enrollment.brokerUrl,
        mqttUsername: r.mqttUsername,
        mqttPassword: r.mqttPassword,
        cameraAssignments: await messenger.sealCameraAssignmentsEnvelope(assignments, r.deviceId),
        fleet: fleet.fleet,
      }, r.deviceId);
      return { status: 201, body: { deviceId: r.deviceId, keyId: r.keyId, fleet: fleet.fleet, response: Buffer.from(response).toString('base64') } };
    },
  });

  server.route({
    method: 'GET', path: '/api/v1/cameras', roles: 'authenticated',
    handle: async () => ({
      body: {
        cameras: (await fleet.cameras()).map((c) => ({
          cameraSerial: c.camera_serial, model: c.model, firmware: c.firmware, batteryPct: c.battery_pct, storageFree: c.storage_free,
          temperatureC: c.temperature_c, lastDock: c.last_dock, lastSeen: c.last_seen, officerId: c.officer_id, clipsNotVerified: Number(c.unverified),
        })),
      },
    }),
  });

  server.route({
    method: 'GET', path: '/api/v1/cameras/:serial/assignments', roles: 'authenticated', params: SerialParam,
    handle: async ({ params }) => ({
      body: {
        assignments: (await fleet.assignmentHistory(params.serial)).map((a) => ({
          officerId: a.officer_id, from: a.from_at, to: a.to_at, assignedBy: a.assigned_by, source: a.source,
        })),
      },
    }),
  });

  server.route({
    method: 'PUT', path: '/api/v1/cameras/:serial/assignment', roles: OPERATORS, params: SerialParam,
    body: z.strictObject({ officerId: Id }),
    handle: async ({ params, body, user }) => {
      const a = await fleet.assign(params.serial, body.officerId, user.username, 'operator').catch(fleetError);
      return { body: { cameraSerial: a.camera_serial, officerId: a.officer_id, from: a.from_at } };
    },
  });

  server.route({
    method: 'DELETE', path: '/api/v1/cameras/:serial/assignment', roles: OPERATORS, params: SerialParam,
    handle: async ({ params, user }) => {
      if (!(await fleet.unassign(params.serial, undefined, user.username))) throw new HttpError(404, 'NOT_FOUND', `camera ${params.serial} has no current assignment`);
      return { status: 204 };
    },
  });

  server.route({
    method: 'GET', path: '/api/v1/clips', roles: 'authenticated',
    query: z.object({
      device: Id.optional(), camera: Id.optional(), state: z.enum(['RECEIVED', 'VERIFIED', 'REJECTED']).optional(),
      limit: z.coerce.number().int().min(1).max(1000).default(100),
    }),
    handle: async ({ query }) => {
      const where: string[] = [];
      const params: (string | number)[] = [];
      if (query.device) { where.push('device_id = ?'); params.push(query.device); }
      if (query.camera) { where.push('camera_serial = ?'); params.push(query.camera); }
      if (query.state) { where.push('state = ?'); params.push(query.state); }
      params.push(query.limit);
      const rows = await db.all<Record<string, unknown>>(
        `SELECT manifest_hash, device_id, seq, camera_serial, clip_id, officer_id, clip_sha256, byte_length, decision, state, received_at, verified_at, reject_reason
           FROM manifests ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY received_at DESC LIMIT ?`, params);
      return { body: { clips: rows.map(clipJson) } };
    },
  });

  server.route({
    method: 'GET', path: '/api/v1/clips/:hash', roles: 'authenticated', params: HashParam,
    handle: async ({ params }) => {
      const row = await db.get<Record<string, unknown>>('SELECT * FROM manifests WHERE manifest_hash = ?', [params.hash]);
      if (!row) throw new HttpError(404, 'NOT_FOUND', `no manifest ${params.hash}`);
      const missing = row.state === 'RECEIVED' ? await ingest.missingChunks(params.hash, Number(row.chunk_count)) : [];
      return {
        body: {
          clip: { ...clipJson(row), chunkCount: row.chunk_count, chunkSize: row.chunk_size, prevHash: row.prev_hash, keyId: row.key_id,
            decision: row.decision_json ? JSON.parse(String(row.decision_json)) as unknown : null, missingChunks: missing,
            manifestEnvelope: Buffer.from(row.envelope as Buffer).toString('base64') },
        },
      };
    },
  });

  server.route({
    method: 'GET', path: '/api/v1/alerts', roles: 'authenticated',
    query: z.object({
      open: z.enum(['true', 'false']).optional(), kind: z.enum(Object.keys(ALERT_KINDS) as [keyof typeof ALERT_KINDS]).optional(),
      device: Id.optional(), limit: z.coerce.number().int().min(1).max(1000).default(200),
    }),
    handle: async ({ query }) => {
      const rows = await alerts.list({
        ...(query.open ? { open: query.open === 'true' } : {}), ...(query.kind ? { kind: query.kind } : {}),
        ...(query.device ? { deviceId: query.device } : {}), limit: query.limit,
      });
      return {
        body: {
          alerts: rows.map((a) => ({
            id: a.id, kind: a.kind, severity: a.severity, deviceId: a.device_id, cameraSerial: a.camera_serial, subject: a.subject, message: a.message,
            detail: a.detail_json ? JSON.parse(a.detail_json) as unknown : null, count: a.count, raisedAt: a.raised_at, lastAt: a.last_at,
            ackedAt: a.acked_at, ackedBy: a.acked_by, resolvedAt: a.resolved_at, resolvedBy: a.resolved_by,
          })),
        },
      };
    },
  });

  for (const action of ['ack', 'resolve'] as const) {
    server.route({
      method: 'POST', path: `/api/v1/alerts/:id/${action}`, roles: RESPONDERS, params: AlertParam,
      handle: async ({ params, user }) => {
        const ok = action === 'ack' ? await alerts.acknowledge(params.id, user.username) : await alerts.resolve(params.id, user.username);
        if (!ok) {
          const a = await alerts.get(params.id);
          if (!a) throw new HttpError(404, 'NOT_FOUND', `no alert ${params.id}`);
          throw new HttpError(409, 'CONFLICT', `alert ${params.id} is already ${action === 'ack' ? 'acknowledged' : 'resolved'}`);
        }
        return { body: { id: params.id, [action === 'ack' ? 'ackedBy' : 'resolvedBy']: user.username } };
      },
    });
  }
}

function clipJson(r: Record<string, unknown>) {
  return {
    manifestHash: r.manifest_hash, deviceId: r.device_id, seq: r.seq, cameraSerial: r.camera_serial, clipId: r.clip_id, officerId: r.officer_id,
    sha256: r.clip_sha256, byteLength: r.byte_length, decision: r.decision, state: r.state, receivedAt: r.received_at, verifiedAt: r.verified_at,
    rejectReason: r.reject_reason,
  };
}
