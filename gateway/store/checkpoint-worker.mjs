// WAL checkpoints for a gateway SQLite database, on a worker thread (gateway/store/checkpointer.ts).
//
// The writer connection checkpoints by itself only past 32 MiB of WAL: an automatic checkpoint runs
// inside a COMMIT on the event loop, copy the WAL back into the database and fsync it (15–25 ms here with
// ingest load, every few commits). This thread holds a connection of its own and runs a PASSIVE
// checkpoint when asked: it never blocks the writer or readers, and it copies only frames no
// reader still needs. Plain JavaScript so it runs from source and from dist.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const Database = require('better-sqlite3');

const db = new Database(workerData.file, { fileMustExist: true, timeout: workerData.busyTimeoutMs });
// The checkpointer syncs the WAL before it copies frames and the database after (synchronous=NORMAL
// does both for checkpoints); it never commits anything of its own.
db.pragma('synchronous = NORMAL');
db.pragma('wal_autocheckpoint = 0');

parentPort.on('message', (m) => {
  if (m.op === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const [row] = db.pragma(`wal_checkpoint(${m.mode === 'TRUNCATE' ? 'TRUNCATE' : 'PASSIVE'})`);
    parentPort.postMessage({ id: m.id, ok: true, busy: row.busy, log: row.log, checkpointed: row.checkpointed });
  } catch (e) {
    parentPort.postMessage({ id: m.id, ok: false, error: e instanceof Error ? e.message : String(e) });
  }
});
