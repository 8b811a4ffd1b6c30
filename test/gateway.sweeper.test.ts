/**
 * The gateway's periodic work (gateway/compose/sweeper.ts): one failing step is logged under its
 * name and the steps after it still run (STYLE §7), so a fleet check that throws never stops
 * expired sessions being pruned or the audit log being checkpointed.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Sweeper, type SweepStep } from '../gateway/compose/sweeper.js';

function capture(): { log: pino.Logger; lines: { msg: string; err?: { message: string } }[] } {
  const lines: { msg: string; err?: { message: string } }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as { msg: string; err?: { message: string } });
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

describe('gateway sweep', () => {
  it('runs the steps after a failing one, and logs the failure under the step name', async () => {
    const ran: string[] = [];
    const step = (name: string, fail = false): SweepStep => ({
      name,
      run: async () => {
        ran.push(name);
        if (fail) throw new Error('the database is busy');
      },
    });
    const { log, lines } = capture();
    const sweeper = new Sweeper({ steps: [step('ingest'), step('fleet', true), step('sessions'), step('audit')], log, now: () => 0 });

    await sweeper.sweep();

    expect(ran).toEqual(['ingest', 'fleet', 'sessions', 'audit']);
    expect(lines.map((l) => l.msg)).toEqual(['sweep: fleet: the database is busy']);
    expect(lines[0]?.err?.message).toBe('the database is busy');
  });

  it('tries a failed step again at the next sweep', async () => {
    let calls = 0;
    const { log } = capture();
    const sweeper = new Sweeper({
      steps: [
        {
          name: 'fleet',
          run: async () => {
            calls++;
            if (calls === 1) throw new Error('once');
          },
        },
      ],
      log,
      now: () => 0,
    });
    await sweeper.sweep();
    await sweeper.sweep();
    expect(calls).toBe(2);
  });
});
