/** Time for the link layer (proto/clock.ts): retransmission is tested with a fake clock, not sleeps. */
export { systemClock, FakeClock, type Clock as LinkClock } from '../../proto/clock.js';
