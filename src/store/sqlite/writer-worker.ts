/**
 * The SQLite writer, on its own thread so the event loop keeps the other core. It owns the only
 * write connection; each request is one transaction (group commit: many appends, one fsync).
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { configureConnection, migrate } from './schema.js';
import type { AppendItem, AppendOutcome, CursorWrite, WriterOptions, WriterRequest, WriterResponse } from './writer-protocol.js';

const MESSAGE_KIND = 1;
const options = workerData as WriterOptions;
const db = new Database(options.path);
configureConnection(db, 'writer');
migrate(db);

const insertMessage = db.prepare(
  `INSERT INTO messages (signal_id, sender_eid, client_id, sender_offset, body, stored_at)
   VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sender_eid, client_id) DO NOTHING`,
);
const findMessage = db.prepare('SELECT signal_id, sender_offset, stored_at FROM messages WHERE sender_eid = ? AND client_id = ?');
const insertEntry = db.prepare(
  `INSERT INTO entries (eid, user_offset, kind, signal_id, author_device, target_device, body, stored_at)
   VALUES (?, ?, ?, ?, ?, ?, NULL, ?)`,
);
const headOf = db.prepare('SELECT max(user_offset) AS head FROM entries WHERE eid = ?').pluck();
const upsertCursor = db.prepare(
  `INSERT INTO cursors (eid, device, cursor, seen_at) VALUES (?, ?, ?, ?)
   ON CONFLICT (eid, device) DO UPDATE SET cursor = max(cursor, excluded.cursor), seen_at = excluded.seen_at`,
);

/** Committed heads; a batch works on a copy-on-write overlay so a failed transaction leaves this intact. */
const heads = new Map<string, number>();

function runBatch(appends: AppendItem[], cursors: CursorWrite[]): AppendOutcome[] {
  const pendingHeads = new Map<string, number>();
  const head = (eid: string): number => {
    let value = pendingHeads.get(eid) ?? heads.get(eid);
    if (value === undefined) {
      value = (headOf.get(eid) as number | null) ?? 0;
      heads.set(eid, value);
    }
    return value;
  };
  const outcomes = db.transaction(() => {
    const results: AppendOutcome[] = [];
    for (const item of appends) {
      const senderOffset = head(item.senderEid) + 1;
      const inserted = insertMessage.run(
        item.signalId, item.senderEid, item.clientId, senderOffset, item.body, item.storedAt,
      ).changes === 1;
      if (!inserted) {
        const original = findMessage.get(item.senderEid, item.clientId) as { signal_id: number; sender_offset: number; stored_at: number };
        results.push({ duplicate: true, signalId: original.signal_id, storedAt: original.stored_at, senderOffset: original.sender_offset, recipientOffset: 0 });
        continue;
      }
      // A note to oneself has one entry; its target is the recipient device, if any.
      const selfTarget = item.recipientEid === item.senderEid ? item.recipientDevice : '';
      insertEntry.run(item.senderEid, senderOffset, MESSAGE_KIND, item.signalId, item.senderDevice, selfTarget, item.storedAt);
      pendingHeads.set(item.senderEid, senderOffset);
      let recipientOffset = 0;
      if (item.recipientEid !== item.senderEid) {
        recipientOffset = head(item.recipientEid) + 1;
        // The author device belongs to the sender: in the recipient's queue no device authored it.
        insertEntry.run(item.recipientEid, recipientOffset, MESSAGE_KIND, item.signalId, '', item.recipientDevice, item.storedAt);
        pendingHeads.set(item.recipientEid, recipientOffset);
      }
      results.push({ duplicate: false, signalId: item.signalId, storedAt: item.storedAt, senderOffset, recipientOffset });
    }
    for (const cursor of cursors) upsertCursor.run(cursor.eid, cursor.device, cursor.cursor, cursor.seenAt);
    return results;
  }).immediate();
  for (const [eid, value] of pendingHeads) heads.set(eid, value);
  return outcomes;
}

parentPort!.on('message', (request: WriterRequest) => {
  let response: WriterResponse;
  try {
    if (request.type === 'close') {
      db.close();
      response = { type: 'closed', id: request.id };
    } else {
      response = { type: 'batch', id: request.id, outcomes: runBatch(request.appends, request.cursors) };
    }
  } catch (err) {
    response = { type: 'failed', id: request.id, error: (err as Error).message };
  }
  parentPort!.postMessage(response);
});
