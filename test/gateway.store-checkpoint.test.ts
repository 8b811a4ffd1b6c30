/**
 * SQLite WAL checkpoints run on a worker thread with a connection of their own, never inside a
 * COMMIT on the event loop (gateway/store/checkpointer.ts): the writer checkpoints by itself only
 * past 32 MiB, the WAL stays bounded under a stream of writes, nothing written is lost across
 * a close and a reopen, and a checkpoint thread that cannot run hands checkpoints back to SQLite.
 */
import { existsSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openGatewayDb } from '../gateway/store/open.js';
import { openSqlite } from '../gateway/store/sqlite.js';
import type { Checkpointer } from '../gateway/store/checkpointer.js';
import type { Db } from '../gateway/store/db.js';
import { tempDir, until } from './helpers.js';

const BLOCK = Buffer.alloc(64 * 1024, 7); // one write of about 16 pages

async function writeMany(db: Db, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    await db.tx(async (q) => {
      await q.run('INSERT INTO scratch (k, v) VALUES (?, ?)', [i, BLOCK]);
    });
  }
}

describe('SQLite checkpoints off the event loop', () => {
  it("keeps the WAL bounded with the writer's own checkpoints only past 32 MiB, and loses nothing across close and reopen", async () => {
    const path = join(tempDir('bwc-ckpt-'), 'gw.db');
    const db = await openGatewayDb(path);
    try {
      expect(await db.get('PRAGMA wal_autocheckpoint')).toEqual({ wal_autocheckpoint: 8192 });
      await db.run('CREATE TABLE scratch (k INTEGER PRIMARY KEY, v BLOB NOT NULL)');
      // Bursts of 20 commits of 64 KiB with pauses: 15 MiB through the WAL. Without checkpoints that
      // let SQLite start the file over, the WAL would hold all of it.
      const checkpointer = (db as Db & { checkpointer?: Checkpointer | null }).checkpointer;
      if (!checkpointer) throw new Error('a gateway database file without its checkpoint thread');
      let largest = 0;
      for (let round = 0; round < 12; round++) {
        await writeMany(db, round * 20, 20);
        // A pause in the writes: the checkpoint thread's next checkpoint copies the rest.
        const runs = checkpointer.stats.runs;
        await until(
          'a checkpoint that copied the whole WAL after the burst',
          () => checkpointer.stats.runs > runs && checkpointer.stats.checkpointed === checkpointer.stats.log,
          10_000,
        );
        largest = Math.max(largest, statSync(`${path}-wal`).size);
      }
      expect(largest).toBeLessThan(4 * 1024 * 1024);
      expect(await db.get('PRAGMA integrity_check')).toEqual({ integrity_check: 'ok' });
    } finally {
      await db.close();
    }
    // The checkpoint thread's connection closed first: the writer's close checkpointed and removed the WAL.
    expect(existsSync(`${path}-wal`)).toBe(false);
    const again = await openGatewayDb(path);
    try {
      expect(await again.get('SELECT COUNT(*) AS n, SUM(length(v)) AS bytes FROM scratch')).toEqual({ n: 240, bytes: 240 * BLOCK.length });
    } finally {
      await again.close();
    }
  });

  it("goes back to SQLite's automatic checkpoints when the checkpoint thread cannot open the database", async () => {
    const dir = tempDir('bwc-ckpt-fail-');
    const path = join(dir, 'gw.db');
    const db = openSqlite(path);
    try {
      await db.run('CREATE TABLE scratch (k INTEGER PRIMARY KEY, v BLOB NOT NULL)');
      expect(await db.get('PRAGMA wal_autocheckpoint')).toEqual({ wal_autocheckpoint: 8192 });
      // The open connection keeps working under the new name; a new connection to the old path cannot open.
      renameSync(path, join(dir, 'moved.db'));
      await writeMany(db, 0, 40);
      const setting = await until(
        "SQLite's automatic checkpoints back on",
        async () => {
          const s = await db.get<{ wal_autocheckpoint: number }>('PRAGMA wal_autocheckpoint');
          return s?.wal_autocheckpoint === 8192 ? undefined : s;
        },
        10_000,
      ).catch(() => db.get<{ wal_autocheckpoint: number }>('PRAGMA wal_autocheckpoint'));
      expect(setting).toEqual({ wal_autocheckpoint: 1000 });
      expect(await db.get('SELECT COUNT(*) AS n FROM scratch')).toEqual({ n: 40 });
    } finally {
      await db.close();
    }
  });
});
