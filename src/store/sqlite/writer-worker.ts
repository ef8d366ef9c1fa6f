/**
 * The SQLite writer, on its own thread so the event loop keeps the other core. It owns the only
 * write connection; each request is one transaction (group commit: many writes, one fsync).
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { configureConnection, migrate } from './schema.js';
import { WriterOps } from './writer-ops.js';
import type { CursorWrite, WriteOp, WriteOutcome, WriterOptions, WriterRequest, WriterResponse } from './writer-protocol.js';

const options = workerData as WriterOptions;
const db = new Database(options.path);
configureConnection(db, 'writer');
migrate(db);
if (options.maxDatabaseBytes !== undefined) {
  // Per connection, not stored: only this writer's transactions are capped. SQLite never lowers it
  // below the file's current size.
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  db.pragma(`max_page_count = ${Math.max(1, Math.floor(options.maxDatabaseBytes / pageSize))}`);
}

const ops = new WriterOps(db);
const upsertCursor = db.prepare(
  `INSERT INTO cursors (eid, device, cursor, seen_at) VALUES (?, ?, ?, ?)
   ON CONFLICT (eid, device) DO UPDATE SET cursor = max(cursor, excluded.cursor), seen_at = excluded.seen_at`,
);

function runBatch(batch: WriteOp[], cursors: CursorWrite[]): WriteOutcome[] {
  ops.beginTransaction();
  const outcomes = db
    .transaction(() => {
      // Cursors first, so a retention op in the same batch judges them by their latest seen_at.
      for (const cursor of cursors) upsertCursor.run(cursor.eid, cursor.device, cursor.cursor, cursor.seenAt);
      return batch.map((op) => ops.run(op));
    })
    .immediate();
  ops.commitTransaction();
  return outcomes;
}

parentPort!.on('message', (request: WriterRequest) => {
  let response: WriterResponse;
  try {
    if (request.type === 'close') {
      db.close();
      response = { type: 'closed', id: request.id };
    } else {
      response = { type: 'batch', id: request.id, outcomes: runBatch(request.ops, request.cursors) };
    }
  } catch (err) {
    response = { type: 'failed', id: request.id, error: (err as Error).message };
  }
  parentPort!.postMessage(response);
});
