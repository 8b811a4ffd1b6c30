/**
 * The dock's MQTT contract on its own (device/sync/sync.ts): what the dock signs is typed per
 * message, and nothing it cannot encode leaves it silently.
 */
import { describe, expect, it } from 'vitest';
import { pb } from '../proto/wire.js';
import { openEnvelope } from '../proto/envelope.js';
import { dockSync } from './dock.sync.fixtures.js';

describe('DockSync.send: one payload type per message kind', () => {
  it('signs exactly the fields given, under a Header naming this dock', () => {
    const { sync, outbox, close } = dockSync();
    const hash = sync.send('event', 'Event', { kind: pb.EventKind.EVENT_KIND_CLOCK, detail: 'x', occurredAtMs: 5 });
    const row = outbox.due(Date.now(), 10).find((r) => r.hash === hash)!;
    const ev = pb.Event.decode(openEnvelope(row.envelope, { expectType: 'Event' }).body);
    expect(ev).toMatchObject({
      kind: pb.EventKind.EVENT_KIND_CLOCK,
      detail: 'x',
      occurredAtMs: 5,
      header: { issuer: 'dock-s', subjectDevice: 'dock-s', fleet: 'f1' },
    });
    close();
  });

  it('refuses a misspelt field at compile time and at run time, instead of dropping it', () => {
    const { sync, outbox, close } = dockSync();
    const misspelt = () => {
      // @ts-expect-error `occuredAtMs` is not a field of Event
      sync.send('event', 'Event', { kind: pb.EventKind.EVENT_KIND_CLOCK, occuredAtMs: 5 });
    };
    expect(misspelt).toThrow(/Event has no field "occuredAtMs"/);
    // @ts-expect-error a Status body is not an Event's
    expect(() => sync.send('event', 'Status', { outboxDepth: 1 })).toThrow();
    // @ts-expect-error the header is the dock's to write
    expect(() => sync.seal('Log', { header: { issuer: 'dock-x' } })).toThrow(/no field "header"/);
    expect(outbox.depth().messages).toBe(0);
    close();
  });
});
