/**
 * MQTT topic layout (proto/README.md, "Topics"):
 *
 *   bwc/v1/{fleet}/{deviceId}/{kind}           dock <-> gateway
 *   bwc/v1/{fleet}/_gateway/{gatewayId}/state  a gateway replica's retained presence
 *
 * Ids match [A-Za-z0-9][A-Za-z0-9._-]{0,63}; a leading "_" is reserved, so "+", "#", "/" and NUL can
 * never appear inside a level.
 */
import { WireError } from './errors.js';

export const TOPIC_ROOT = 'bwc/v1';
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const DOCK_KINDS = ['birth', 'death', 'status', 'event', 'manifest', 'chunk', 'log'] as const;
export const GATEWAY_KINDS = ['cmd', 'ack'] as const;
export type DockKind = (typeof DOCK_KINDS)[number];
export type GatewayKind = (typeof GATEWAY_KINDS)[number];
export type TopicKind = DockKind | GatewayKind;

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

export function assertId(id: string, what: string): void {
  if (!isValidId(id)) {
    throw new WireError('BAD_ID', `${what} "${id.slice(0, 80)}" must match ${ID_PATTERN.source}`);
  }
}

function isKind(kind: string): kind is TopicKind {
  return (DOCK_KINDS as readonly string[]).includes(kind) || (GATEWAY_KINDS as readonly string[]).includes(kind);
}

export function deviceTopic(fleet: string, deviceId: string, kind: TopicKind): string {
  assertId(fleet, 'fleet');
  assertId(deviceId, 'device id');
  if (!isKind(kind)) throw new WireError('BAD_TOPIC', `unknown topic kind "${String(kind)}"`);
  return `${TOPIC_ROOT}/${fleet}/${deviceId}/${kind}`;
}

export function gatewayStateTopic(fleet: string, gatewayId: string): string {
  assertId(fleet, 'fleet');
  assertId(gatewayId, 'gateway id');
  return `${TOPIC_ROOT}/${fleet}/_gateway/${gatewayId}/state`;
}

export type ParsedTopic =
  | { readonly kind: TopicKind; readonly fleet: string; readonly deviceId: string; readonly direction: 'up' | 'down' }
  | { readonly kind: 'gateway-state'; readonly fleet: string; readonly gatewayId: string };

/** Parses a concrete topic (never a filter). Throws WireError BAD_TOPIC naming the problem. */
export function parseTopic(topic: string): ParsedTopic {
  const levels = topic.split('/');
  if (levels[0] !== 'bwc' || levels[1] !== 'v1') throw new WireError('BAD_TOPIC', `topic "${clip(topic)}" is not under ${TOPIC_ROOT}/`);
  if (levels.some((l) => l.includes('+') || l.includes('#'))) {
    throw new WireError('BAD_TOPIC', `topic "${clip(topic)}" contains a wildcard`);
  }
  const fleet = levels[2] ?? '';
  if (!isValidId(fleet)) throw new WireError('BAD_TOPIC', `topic "${clip(topic)}" has an invalid fleet id`);
  if (levels[3] === '_gateway') {
    const gatewayId = levels[4] ?? '';
    if (levels.length !== 6 || levels[5] !== 'state' || !isValidId(gatewayId)) {
      throw new WireError('BAD_TOPIC', `topic "${clip(topic)}" is not bwc/v1/{fleet}/_gateway/{gatewayId}/state`);
    }
    return { kind: 'gateway-state', fleet, gatewayId };
  }
  if (levels.length !== 5) throw new WireError('BAD_TOPIC', `topic "${clip(topic)}" must have 5 levels`);
  const deviceId = levels[3]!;
  const kind = levels[4]!;
  if (!isValidId(deviceId)) throw new WireError('BAD_TOPIC', `topic "${clip(topic)}" has an invalid device id`);
  if (!isKind(kind)) throw new WireError('BAD_TOPIC', `topic "${clip(topic)}" has an unknown kind "${kind}"`);
  const direction = (DOCK_KINDS as readonly string[]).includes(kind) ? 'up' : 'down';
  return { kind, fleet, deviceId, direction };
}

/** Subscription filter for one kind from every device of a fleet, optionally as a shared subscription. */
export function fleetFilter(fleet: string, kind: TopicKind, shareGroup?: string): string {
  assertId(fleet, 'fleet');
  if (!isKind(kind)) throw new WireError('BAD_TOPIC', `unknown topic kind "${String(kind)}"`);
  const filter = `${TOPIC_ROOT}/${fleet}/+/${kind}`;
  if (shareGroup === undefined) return filter;
  assertId(shareGroup, 'share group');
  return `$share/${shareGroup}/${filter}`;
}

function clip(s: string): string {
  return s.length > 120 ? `${s.slice(0, 120)}…` : s;
}
