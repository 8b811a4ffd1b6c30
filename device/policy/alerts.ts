/**
 * What the camera is told about a decision (DESIGN §2: evidence is never destroyed; the officer is
 * alerted, the recording goes on). Pure: a decision in, the Alert to send out (or none).
 */
import { pb, type bwc } from '../../proto/wire.js';
import type { DecisionJson } from '../../proto/decision.js';

/** Vibration patterns (on/off ms): distinct enough to tell apart without looking at the camera. */
export const PATTERNS: Readonly<Record<'prohibited' | 'unauthorized' | 'pending' | 'clock', bwc.v1.IndicatorPattern.$Properties>> = {
  prohibited: { onOffMs: [600, 200, 600, 200, 600, 200], repeat: 2 },
  unauthorized: { onOffMs: [300, 150, 300, 150], repeat: 2 },
  pending: { onOffMs: [120, 880], repeat: 1 },
  clock: { onOffMs: [80, 80, 80, 760], repeat: 1 },
};

export function alertFor(d: DecisionJson, clipId: string): bwc.v1.Alert.$Properties | null {
  const message = d.reasons.slice(0, 3).join(' ');
  switch (d.decision) {
    case 'PROHIBITED':
      return { kind: pb.AlertKind.ALERT_KIND_PROHIBITED, clipId, vibrate: PATTERNS.prohibited, led: PATTERNS.prohibited, message };
    case 'UNAUTHORIZED':
      return { kind: pb.AlertKind.ALERT_KIND_UNAUTHORIZED, clipId, vibrate: PATTERNS.unauthorized, led: PATTERNS.unauthorized, message };
    case 'PENDING_CLASSIFICATION':
      return {
        kind: pb.AlertKind.ALERT_KIND_PENDING_CLASSIFICATION,
        clipId,
        vibrate: PATTERNS.pending,
        led: PATTERNS.pending,
        message: 'TAG ACTIVITY',
      };
    default:
      if (d.reasons.includes('CLOCK_UNSYNCED')) return { kind: pb.AlertKind.ALERT_KIND_CLOCK_UNSYNCED, clipId, led: PATTERNS.clock, message: 'CLOCK_UNSYNCED' };
      return null;
  }
}
