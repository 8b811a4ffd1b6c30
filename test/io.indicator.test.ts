/**
 * The dock's light and button as the agent drives them (device/io/indicator.ts), on fake pins and
 * a fake clock: the most urgent state wins; an unauthorized recording flickers until a short press
 * or its time is up; a dock off the broker for a minute shows a fault; a long press asks for a
 * re-sync.
 */
import { describe, expect, it } from 'vitest';
import { DockIndicator } from '../device/io/indicator.js';
import { LED_PATTERNS, type GpioBackend, type PinValue } from '../device/io/gpio.js';
import { FakeClock } from '../device/link/clock.js';

function fakeGpio() {
  const writes: PinValue[] = [];
  let onValue: ((v: PinValue) => void) | null = null;
  const gpio: GpioBackend = {
    kind: 'sysfs',
    output: () => ({
      write: (v) => {
        writes.push(v);
      },
      close: () => {},
    }),
    input: () => ({
      read: () => 1,
      watch: (cb) => {
        onValue = cb;
      },
      close: () => {},
    }),
  };
  return { gpio, writes, press: (v: PinValue) => onValue?.(v) };
}

describe('the dock indicator', () => {
  it('shows the most urgent state, flags an unauthorized recording until a short press, and turns a long offline into a fault', () => {
    const clock = new FakeClock(1_000_000);
    const g = fakeGpio();
    const sig = { recording: false, busy: false, fault: false, connected: true };
    const presses: string[] = [];
    const ind = new DockIndicator({
      gpio: g.gpio,
      led: 17,
      button: 27,
      timers: clock,
      flagMs: 600_000,
      offlineAfterMs: 60_000,
      signals: { recording: () => sig.recording, busy: () => sig.busy, fault: () => sig.fault, connected: () => sig.connected },
      onShortPress: () => presses.push('short'),
      onLongPress: () => presses.push('long'),
    });
    ind.refresh();
    expect(ind.state).toBe('idle');
    sig.busy = true;
    ind.refresh();
    expect(ind.state).toBe('syncing');
    sig.recording = true;
    ind.refresh();
    expect(ind.state).toBe('recording');
    // Solid on while recording: the pin was driven high and stays so.
    expect(g.writes.at(-1)).toBe(1);
    ind.flagUnauthorized();
    expect(ind.state).toBe('unauthorized');
    clock.advance(LED_PATTERNS.unauthorized[0]!);
    expect(g.writes.at(-1)).toBe(0); // flickering
    // A short press (active low: 0 pressed, 1 released) acknowledges it.
    g.press(0);
    clock.advance(50);
    g.press(1);
    clock.advance(50);
    expect(presses).toEqual(['short']);
    expect(ind.state).toBe('recording');
    // The same recording decided again (at its stop) does not flag again; another one does.
    ind.flagUnauthorized();
    expect(ind.state).toBe('recording');
    // Unacknowledged, the flag ends by itself.
    ind.flagUnauthorized('CAM-2/clip-9/PROHIBITED');
    clock.advance(599_000);
    ind.refresh();
    expect(ind.state).toBe('unauthorized');
    clock.advance(2_000);
    ind.refresh();
    expect(ind.state).toBe('recording');
    // Off the broker: a fault only after a minute.
    sig.recording = false;
    sig.connected = false;
    ind.refresh();
    expect(ind.state).toBe('syncing');
    clock.advance(60_000);
    ind.refresh();
    expect(ind.state).toBe('error');
    sig.connected = true;
    sig.busy = false;
    ind.refresh();
    expect(ind.state).toBe('idle');
    sig.fault = true;
    ind.refresh();
    expect(ind.state).toBe('error');
    // A long press.
    g.press(0);
    clock.advance(3100);
    g.press(1);
    clock.advance(50);
    expect(presses).toEqual(['short', 'long']);
    ind.close();
  });

  it('works without a light or a button, reporting what it would show', () => {
    const ind = new DockIndicator({
      gpio: fakeGpio().gpio,
      timers: new FakeClock(0),
      signals: { recording: () => false, busy: () => true, fault: () => false, connected: () => true },
    });
    expect(ind.state).toBe('syncing');
    ind.close();
  });
});
