/**
 * The decision JSON of DESIGN §5 (what `bwc policy decide --json` prints) and its protobuf form,
 * embedded whole in manifests and events. Conversion both ways lives here so dock, gateway and
 * auditors read decisions the same way.
 */
import type { bwc } from './wire.js';
import { BASIS_KINDS, DEVICE_ROLES, METHODS, TRIGGERS, VERDICTS } from './vocab.js';
import { fromHex, toHex } from './bytes.js';
import type { ActivationJson, DecisionJson } from './decision-json.js';
import { TIME_RULE, timeOrNull } from './canonical.js';

export type { ActivationJson, DecisionJson };

function ms(iso: string | null | undefined, field: string): number {
  if (!iso) return 0;
  const t = timeOrNull(iso);
  if (t === null) throw new RangeError(`${field}: "${iso}" ${TIME_RULE}`);
  return t;
}

function need(value: number | undefined, field: string, got: string): number {
  if (value === undefined) throw new RangeError(`${field}: unknown code "${got}"`);
  return value;
}

export function activationToProto(a: ActivationJson): bwc.v1.Activation.$Properties {
  return {
    cameraSerial: a.cameraSerial,
    officerId: a.officerId ?? '',
    deviceRole: need(DEVICE_ROLES.value(a.deviceRole), 'deviceRole', a.deviceRole),
    trigger: need(TRIGGERS.value(a.trigger), 'trigger', a.trigger),
    activity: a.activity ?? '',
    purposes: a.purposes ?? [],
    method: need(METHODS.value(a.method), 'method', a.method),
    location: a.location?.office ? { office: a.location.office } : null,
    atMs: ms(a.at, 'at'),
    stoppedAtMs: ms(a.stoppedAt, 'stoppedAt'),
    clock: a.clock ? { synced: a.clock.synced, offsetMs: a.clock.offsetMs } : null,
    replayed: a.replayed ?? false,
    clipId: a.clipId ?? '',
  };
}

export function decisionToProto(d: DecisionJson): bwc.v1.ActivationDecision.$Properties {
  const hash = d.bundleHash ? fromHex(d.bundleHash, 32) : null;
  if (d.bundleHash && !hash) throw new RangeError('bundleHash: not 64 hex characters');
  const basisHash = d.basis?.hash ? fromHex(d.basis.hash, 32) : null;
  if (d.basis?.hash && !basisHash) throw new RangeError('basis.hash: not 64 hex characters');
  return {
    decision: need(VERDICTS.value(d.decision), 'decision', d.decision),
    basis: d.basis
      ? {
          kind: need(BASIS_KINDS.value(d.basis.kind), 'basis.kind', d.basis.kind),
          id: d.basis.id,
          category: d.basis.category ?? '',
          hash: basisHash ?? new Uint8Array(0),
        }
      : null,
    reasons: d.reasons,
    clauses: d.clauses,
    policyVersion: d.policyVersion,
    cacheAgeMs: d.cacheAgeMs,
    evaluatedAtMs: ms(d.evaluatedAt, 'evaluatedAt'),
    decidedAtMs: ms(d.decidedAt, 'decidedAt'),
    activation: d.activation ? activationToProto(d.activation) : null,
    bundleHash: hash ?? new Uint8Array(0),
    coveredUntilMs: ms(d.coveredUntil, 'coveredUntil'),
  };
}

function iso(t: number | null | undefined): string | null {
  return t ? new Date(t).toISOString() : null;
}

export function activationToJson(a: bwc.v1.Activation.$Properties): ActivationJson {
  return {
    cameraSerial: a.cameraSerial ?? '',
    officerId: a.officerId || null,
    deviceRole: DEVICE_ROLES.code(a.deviceRole) ?? 'unspecified',
    trigger: TRIGGERS.code(a.trigger) ?? 'unspecified',
    activity: a.activity || null,
    purposes: a.purposes ?? [],
    method: METHODS.code(a.method) ?? 'unspecified',
    location: a.location?.office ? { office: a.location.office } : null,
    at: iso(a.atMs) ?? '',
    stoppedAt: iso(a.stoppedAtMs),
    replayed: a.replayed ?? false,
    clock: a.clock ? { synced: a.clock.synced ?? false, offsetMs: a.clock.offsetMs ?? 0 } : null,
    ...(a.clipId ? { clipId: a.clipId } : {}),
  };
}

export function decisionToJson(d: bwc.v1.ActivationDecision.$Properties): DecisionJson {
  return {
    decision: (VERDICTS.code(d.decision) ?? 'UNAUTHORIZED') as DecisionJson['decision'],
    basis: d.basis
      ? {
          kind: BASIS_KINDS.code(d.basis.kind) ?? 'unspecified',
          id: d.basis.id ?? '',
          category: d.basis.category ?? '',
          ...(d.basis.hash?.byteLength ? { hash: toHex(d.basis.hash) } : {}),
        }
      : null,
    reasons: d.reasons ?? [],
    clauses: d.clauses ?? [],
    policyVersion: d.policyVersion ?? 0,
    cacheAgeMs: d.cacheAgeMs ?? 0,
    evaluatedAt: iso(d.evaluatedAtMs) ?? '',
    decidedAt: iso(d.decidedAtMs) ?? '',
    ...(d.activation ? { activation: activationToJson(d.activation) } : {}),
    bundleHash: d.bundleHash?.byteLength ? toHex(d.bundleHash) : null,
    coveredUntil: iso(d.coveredUntilMs),
  };
}
