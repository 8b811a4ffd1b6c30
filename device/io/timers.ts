/** Timers for device I/O (proto/clock.ts): blink patterns and debouncing are tested without sleeping. */
export { systemClock as systemTimers, type Clock as Timers } from '../../proto/clock.js';
