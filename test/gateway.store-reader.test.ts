/**
 * SQLite reads while a transaction holds the writer: a read outside any transaction does not queue
 * behind it (a dashboard listing the fleet while ingest commits), and sees exactly the last
 * committed state — never the transaction's uncommitted rows, always what was committed before.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openGatewayDb } from '../gateway/store/open.js';
import { tempDir } from './helpers.js';

describe('SQLite reads beside a transaction', () => {
  it('reads the committed snapshot at once while a transaction is open, and its result once committed', async () => {
    const db = await openGatewayDb(join(tempDir('bwc-reader-'), 'gw.db'));
    try {
      await db.run(`INSERT INTO devices (device_id, fleet, status, enrolled_at, enrolled_by) VALUES ('d-1', 'f', 'enrolled', 1, 't')`);
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      let inside!: () => void;
      const entered = new Promise<void>((r) => {
        inside = r;
      });
      const tx = db.tx(async (q) => {
        await q.run(`INSERT INTO devices (device_id, fleet, status, enrolled_at, enrolled_by) VALUES ('d-2', 'f', 'enrolled', 2, 't')`);
        inside();
        await gate; // the transaction stays open, holding the writer
      });
      await entered;
      const during = await Promise.race([
        db.all<{ device_id: string }>('SELECT device_id FROM devices ORDER BY device_id'),
        new Promise<'waited'>((r) => setTimeout(() => r('waited'), 1000)),
      ]);
      expect(during).toEqual([{ device_id: 'd-1' }]);
      expect(await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM devices')).toEqual({ n: 1 });
      // A write outside the transaction still waits its turn.
      const write = db.run(`UPDATE devices SET online = 1 WHERE device_id = 'd-1'`);
      const early = await Promise.race([write.then(() => 'written'), new Promise((r) => setTimeout(() => r('waiting'), 200))]);
      expect(early).toBe('waiting');
      release();
      await tx;
      await write;
      expect(await db.all('SELECT device_id, online FROM devices ORDER BY device_id')).toEqual([
        { device_id: 'd-1', online: 1 },
        { device_id: 'd-2', online: 0 },
      ]);
    } finally {
      await db.close();
    }
  });
});
