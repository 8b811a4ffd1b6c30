/**
 * Line noise for the simulator (`--chaos RATE`): with probability RATE per frame written, one of
 * garbage bytes before it, a corrupted byte in it (bad CRC or COBS), the frame twice, or the frame
 * dropped. The random source is injectable so tests reproduce.
 */
export interface ChaosCounters {
  garbage: number;
  corrupted: number;
  duplicated: number;
  dropped: number;
}

export function chaosWriter(rate: number, write: (b: Buffer) => void, random: () => number = Math.random) {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`chaos rate ${rate} must be between 0 and 1`);
  const counters: ChaosCounters = { garbage: 0, corrupted: 0, duplicated: 0, dropped: 0 };
  const fn = (frame: Buffer): void => {
    if (rate === 0 || random() >= rate) {
      write(frame);
      return;
    }
    const pick = Math.floor(random() * 4);
    if (pick === 0) {
      counters.garbage++;
      const junk = Buffer.alloc(1 + Math.floor(random() * 40));
      for (let i = 0; i < junk.length; i++) junk[i] = Math.floor(random() * 256);
      write(junk);
      write(frame);
    } else if (pick === 1) {
      counters.corrupted++;
      const bad = Buffer.from(frame);
      const at = Math.floor(random() * Math.max(1, bad.length - 1));
      bad[at] = bad[at]! ^ (1 + Math.floor(random() * 254)) || 0x5a;
      write(bad);
    } else if (pick === 2) {
      counters.duplicated++;
      write(frame);
      write(frame);
    } else {
      counters.dropped++;
    }
  };
  return Object.assign(fn, { counters });
}
