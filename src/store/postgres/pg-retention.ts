/**
 * SPEC §6 F10 retention for PostgresMessageStore: one bounded batch in one transaction. It locks
 * the queue rows it prunes, FOR UPDATE in eid order like an append batch, so it never interleaves
 * with an append to those queues on any node (offsets stay contiguous from first to head, and head,
 * kept on the row, never goes back). Batches of several nodes are serialized by an advisory lock,
 * so a message whose two entries two batches prune at once is still seen unreferenced by one.
 */
import type { PoolClient } from 'pg';
import { EntryKind } from '../../core/types.js';
import type { PruneResult } from '../../core/message-store.js';

/** Advisory lock namespace (first key) of retention batches; the second key is the schema's hash. */
const RETENTION_LOCK_CLASS = 0x42494d52; // "BIMR"

type EntryRow = {
  user_offset: string;
  kind: number;
  signal_id: string;
  stored_at: string;
};

export async function pruneBatch(client: PoolClient, cutoff: number, maxEntries: number): Promise<PruneResult> {
  const sql = <R extends Record<string, unknown>>(text: string, values: unknown[] = []) => client.query<R>(text, values);
  await sql('SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))', [RETENTION_LOCK_CLASS]);
  // Queues whose first retained entry is old, oldest first (no lock yet), then locked in eid order.
  const candidates = await sql<{ eid: string }>('SELECT eid FROM queues WHERE first_stored_at < $1 ORDER BY first_stored_at LIMIT $2', [cutoff, maxEntries]);
  if (candidates.rows.length === 0) return { entries: 0, messages: 0, cursors: await pruneCursors(client, cutoff, maxEntries) };
  const locked = await sql<{ eid: string; first_stored_at: string | null }>(
    'SELECT eid, first_stored_at FROM queues WHERE eid = ANY($1::text[]) ORDER BY eid FOR UPDATE',
    [candidates.rows.map((row) => row.eid)],
  );
  // Walk them oldest first, as SQLite does; an append may have moved nothing (only retention does).
  const queues = locked.rows
    .filter((row) => row.first_stored_at !== null && Number(row.first_stored_at) < cutoff)
    .sort((a, b) => Number(a.first_stored_at) - Number(b.first_stored_at));
  let remaining = maxEntries;
  const prunedMessages: string[] = [];
  for (const { eid } of queues) {
    if (remaining === 0) break;
    // Only a prefix goes: stop at the first entry young enough to keep, even if the clock once
    // stepped back and a later entry looks older.
    const rows = (
      await sql<EntryRow>('SELECT user_offset, kind, signal_id::text, stored_at FROM entries WHERE eid = $1 ORDER BY user_offset LIMIT $2', [
        eid,
        remaining + 1,
      ])
    ).rows;
    let count = 0;
    while (count < rows.length && count < remaining && Number(rows[count]!.stored_at) < cutoff) count++;
    const kept = rows[count];
    await sql('UPDATE queues SET first_stored_at = $2 WHERE eid = $1', [eid, kept ? Number(kept.stored_at) : null]);
    if (count === 0) continue;
    await sql('DELETE FROM entries WHERE eid = $1 AND user_offset <= $2', [eid, rows[count - 1]!.user_offset]);
    remaining -= count;
    for (const row of rows.slice(0, count)) if (row.kind === EntryKind.Message) prunedMessages.push(row.signal_id);
  }
  // Messages no entry refers to any more go, with their idempotency keys and receipts.
  const deleted = await sql<{ signal_id: string }>(
    `DELETE FROM messages m WHERE m.signal_id = ANY($1::bigint[])
       AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.eid = m.sender_eid AND e.user_offset = m.sender_offset)
       AND (m.recipient_offset = 0 OR NOT EXISTS (SELECT 1 FROM entries e WHERE e.eid = m.recipient_eid AND e.user_offset = m.recipient_offset))
     RETURNING m.signal_id::text`,
    [prunedMessages],
  );
  const gone = deleted.rows.map((row) => row.signal_id);
  if (gone.length > 0) await sql('DELETE FROM receipts WHERE signal_id = ANY($1::bigint[])', [gone]);
  return { entries: maxEntries - remaining, messages: gone.length, cursors: await pruneCursors(client, cutoff, maxEntries) };
}

/**
 * Cursors of devices unseen since the cutoff. SKIP LOCKED: a cursor row locked right now is being
 * committed, so its device is seen; waiting for it could only deadlock with that batch.
 */
async function pruneCursors(client: PoolClient, cutoff: number, maxEntries: number): Promise<number> {
  const deleted = await client.query(
    `DELETE FROM cursors WHERE (eid, device) IN
       (SELECT eid, device FROM cursors WHERE seen_at < $1 ORDER BY seen_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
    [cutoff, maxEntries],
  );
  return deleted.rowCount ?? 0;
}
