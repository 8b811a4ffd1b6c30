import { describe, expect, it } from 'vitest';
import { deviceTopic, fleetFilter, gatewayStateTopic, parseTopic } from '../proto/topics.js';

describe('MQTT topics bwc/v1/{fleet}/{deviceId}/{kind}', () => {
  it('builds and parses every kind in both directions', () => {
    for (const kind of ['birth', 'death', 'status', 'event', 'manifest', 'chunk', 'log'] as const) {
      expect(parseTopic(deviceTopic('sea', 'DOCK-7', kind))).toEqual({ kind, fleet: 'sea', deviceId: 'DOCK-7', direction: 'up' });
    }
    for (const kind of ['cmd', 'ack'] as const) {
      expect(parseTopic(deviceTopic('sea', 'DOCK-7', kind))).toMatchObject({ kind, direction: 'down' });
    }
  });

  it('gives each gateway replica its own retained presence topic', () => {
    expect(gatewayStateTopic('sea', 'gw-1')).toBe('bwc/v1/sea/_gateway/gw-1/state');
    expect(parseTopic('bwc/v1/sea/_gateway/gw-1/state')).toEqual({ kind: 'gateway-state', fleet: 'sea', gatewayId: 'gw-1' });
  });

  it.each(['+', '#', 'a/b', '', '_reserved', '-dash-first', 'x'.repeat(65), 'DOCK 7', 'dock\u0000'])('refuses the id %j when building', (id) => {
    expect(() => deviceTopic('sea', id, 'status')).toThrow(expect.objectContaining({ code: 'BAD_ID' }));
    expect(() => deviceTopic(id, 'DOCK-7', 'status')).toThrow(expect.objectContaining({ code: 'BAD_ID' }));
  });

  it.each([
    'bwc/v1/sea/+/status',
    'bwc/v1/sea/#',
    'bwc/v1/sea/DOCK-7/status/extra',
    'bwc/v2/sea/DOCK-7/status',
    'bwc/v1/sea/DOCK-7/unknown',
    'bwc/v1/sea/_gateway/gw-1/other',
    'bwc/v1//DOCK-7/status',
    'other/v1/sea/D/status',
    'bwc/v1/sea/_x/status',
  ])('refuses the topic %s when parsing', (topic) => {
    expect(() => parseTopic(topic)).toThrow(expect.objectContaining({ code: 'BAD_TOPIC' }));
  });

  it('builds fleet-wide and shared-subscription filters', () => {
    expect(fleetFilter('sea', 'manifest')).toBe('bwc/v1/sea/+/manifest');
    expect(fleetFilter('sea', 'manifest', 'bwc-gateway')).toBe('$share/bwc-gateway/bwc/v1/sea/+/manifest');
  });
});
