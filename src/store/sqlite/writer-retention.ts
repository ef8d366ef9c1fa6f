/**
 * SPEC §6 F10 retention, run by the writer worker as one op of a transaction (so it is atomic and
 * never interleaves with an append): removes a bounded number of old entries, only ever a prefix
 * of each queue (SPEC §5: offsets stay contiguous from the first retained one to the head), then
 * the message bodies no entry refers to any more (their idempotency keys and receipt rows with
 * them), then cursors of devices unseen since the cutoff.
 */
import type Database from 'better-sqlite3';
import { EntryKind } from '../../core/types.js';
import { PRUNED_SIGNAL_ID_KEY } from './schema.js';
import type { PruneOp, WriteOutcome } from './writer-protocol.js';

interface QueueRow {
  user_offset: number;
  kind: number;
  signal_id: number;
  stored_at: number;
}

interface MessageRow {
  sender_eid: string;
  sender_offset: number;
  recipient_eid: string;
  recipient_offset: number;
}

export class RetentionPruner {
  private readonly statements;

  constructor(db: Database.Database) {
    this.statements = {
      // The queues whose first entry is old, oldest first, through queue_starts' index.
      queuesWithOldStart: db.prepare('SELECT eid FROM queue_starts WHERE first_stored_at < ? ORDER BY first_stored_at LIMIT ?').pluck(),
      moveStart: db.prepare('UPDATE queue_starts SET first_stored_at = ? WHERE eid = ?'),
      deleteStart: db.prepare('DELETE FROM queue_starts WHERE eid = ?'),
      queueFromStart: db.prepare('SELECT user_offset, kind, signal_id, stored_at FROM entries WHERE eid = ? ORDER BY user_offset'),
      deletePrefix: db.prepare('DELETE FROM entries WHERE eid = ? AND user_offset <= ?'),
      raiseFloor: db.prepare(
        `INSERT INTO queue_floors (eid, pruned_through) VALUES (?, ?)
         ON CONFLICT (eid) DO UPDATE SET pruned_through = max(pruned_through, excluded.pruned_through)`,
      ),
      message: db.prepare('SELECT sender_eid, sender_offset, recipient_eid, recipient_offset FROM messages WHERE signal_id = ?'),
      entryExists: db.prepare('SELECT 1 FROM entries WHERE eid = ? AND user_offset = ?').pluck(),
      deleteMessage: db.prepare('DELETE FROM messages WHERE signal_id = ?'),
      deleteReceipts: db.prepare('DELETE FROM receipts WHERE signal_id = ?'),
      raiseSignalFloor: db.prepare(
        `INSERT INTO meta (key, value) VALUES ('${PRUNED_SIGNAL_ID_KEY}', ?)
         ON CONFLICT (key) DO UPDATE SET value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))`,
      ),
      deleteUnseenCursors: db.prepare(
        `DELETE FROM cursors WHERE (eid, device) IN
           (SELECT eid, device FROM cursors WHERE seen_at < ? ORDER BY seen_at LIMIT ?)`,
      ),
    };
  }

  /** Runs one batch; `emptied` lists the queues it left without entries (their queue_starts row is gone). */
  prune(op: PruneOp): { outcome: Extract<WriteOutcome, { type: 'prune' }>; emptied: string[] } {
    const s = this.statements;
    const { cutoff, maxEntries } = op;
    let remaining = maxEntries;
    const prunedMessages = new Set<number>();
    const emptied: string[] = [];
    // Every queue listed has an old first entry, so each one walked removes at least one entry.
    for (const eid of s.queuesWithOldStart.all(cutoff, maxEntries) as string[]) {
      if (remaining === 0) break;
      // Walk the queue from its first entry and stop at the first one young enough to keep: only
      // a prefix goes, even if the clock once stepped back and a later entry looks older.
      const prefix: QueueRow[] = [];
      let kept: QueueRow | undefined;
      for (const row of s.queueFromStart.iterate(eid) as IterableIterator<QueueRow>) {
        if (row.stored_at >= cutoff || prefix.length === remaining) {
          kept = row;
          break;
        }
        prefix.push(row);
      }
      if (kept) s.moveStart.run(kept.stored_at, eid);
      else {
        s.deleteStart.run(eid);
        emptied.push(eid);
      }
      const last = prefix.at(-1);
      if (!last) continue;
      s.deletePrefix.run(eid, last.user_offset);
      s.raiseFloor.run(eid, last.user_offset);
      remaining -= prefix.length;
      for (const row of prefix) if (row.kind === EntryKind.Message) prunedMessages.add(row.signal_id);
    }

    let messages = 0;
    let highestSignalId = 0;
    for (const signalId of prunedMessages) {
      const message = s.message.get(signalId) as MessageRow | undefined;
      if (!message || this.referenced(message)) continue;
      s.deleteMessage.run(signalId);
      s.deleteReceipts.run(signalId);
      messages++;
      highestSignalId = Math.max(highestSignalId, signalId);
    }
    if (highestSignalId > 0) s.raiseSignalFloor.run(highestSignalId);

    const cursors = s.deleteUnseenCursors.run(cutoff, maxEntries).changes;
    return { outcome: { type: 'prune', entries: maxEntries - remaining, messages, cursors }, emptied };
  }

  /** Whether an entry still refers to the message: its sender's, or its recipient's (none for a note to oneself). */
  private referenced(message: MessageRow): boolean {
    const { entryExists } = this.statements;
    if (entryExists.get(message.sender_eid, message.sender_offset) !== undefined) return true;
    return message.recipient_offset > 0 && entryExists.get(message.recipient_eid, message.recipient_offset) !== undefined;
  }
}
