/**
 * The SQLite writer, on its own thread so the event loop keeps the other core. It owns the only
 * write connection; each transaction is a group commit: many writes, one fsync.
 *
 * Issue #10: the main thread posts each event-loop turn's writes at once, also while a transaction
 * is committing. When the writer turns to the next transaction it takes every request already
 * posted (`receiveMessageOnPort`), up to MAX_OPS_PER_TRANSACTION writes, and commits them together. So the
 * writes that arrived during one fsync share the next, and the next starts the moment the last is
 * durable, not after a round trip through a busy event loop.
 */
import Database from 'better-sqlite3';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { configureConnection, migrate } from './schema.js';
import { WriterOps } from './writer-ops.js';
import type { BatchRequest, CursorWrite, WriteOp, WriteOutcome, WriterOptions, WriterRequest, WriterResponse } from './writer-protocol.js';

/**
 * Writes per transaction when requests pile up: bounds how long the first of them waits for its
 * fsync, and how many writes one failing transaction takes down with it (the same 512 as one batch
 * before issue #10; a single posted batch is never split).
 */
const MAX_OPS_PER_TRANSACTION = 512;

const port = parentPort!;
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

/** Requests taken from the port and not yet answered, in the order they were posted. */
const pending: WriterRequest[] = [];
let closed = false;

function applyBatch(batch: WriteOp[], cursors: CursorWrite[]): WriteOutcome[] {
  // Cursors first, so a retention op in the same batch judges them by their latest seen_at.
  for (const cursor of cursors) upsertCursor.run(cursor.eid, cursor.device, cursor.cursor, cursor.seenAt);
  return batch.map((op) => ops.run(op));
}

/** One transaction for `batches`, each applied in the order it was posted. */
function commit(batches: BatchRequest[]): WriteOutcome[][] {
  ops.beginTransaction();
  const outcomes = db.transaction(() => batches.map((batch) => applyBatch(batch.ops, batch.cursors))).immediate();
  ops.commitTransaction();
  return outcomes;
}

function takeBatches(): BatchRequest[] {
  const batches: BatchRequest[] = [];
  let size = 0;
  while (pending.length > 0 && pending[0]!.type === 'batch') {
    const next = pending[0] as BatchRequest;
    if (batches.length > 0 && size + next.ops.length > MAX_OPS_PER_TRANSACTION) break;
    pending.shift();
    batches.push(next);
    size += next.ops.length;
  }
  return batches;
}

function drainPort(): void {
  for (let next = receiveMessageOnPort(port); next !== undefined; next = receiveMessageOnPort(port)) pending.push(next.message as WriterRequest);
}

function work(): void {
  drainPort();
  while (pending.length > 0 && !closed) {
    const head = pending[0]!;
    if (head.type === 'close') {
      pending.shift();
      db.close();
      closed = true;
      port.postMessage({ type: 'closed', id: head.id } satisfies WriterResponse);
      return;
    }
    const batches = takeBatches();
    const ids = batches.map((batch) => batch.id);
    let response: WriterResponse;
    try {
      const startedAt = performance.now();
      const outcomes = commit(batches);
      response = { type: 'batches', ids, outcomes, seconds: (performance.now() - startedAt) / 1000 };
    } catch (err) {
      response = { type: 'failed', ids, error: (err as Error).message };
    }
    port.postMessage(response);
    // Whatever was posted while this transaction committed goes into the next one.
    drainPort();
  }
}

port.on('message', (request: WriterRequest) => {
  pending.push(request);
  work();
});
