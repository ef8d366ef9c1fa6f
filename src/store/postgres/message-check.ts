/**
 * The idempotency and block check of a batch's messages (SPEC §6 F1.2, F7), run after the batch
 * holds its queue locks: which (sender, id) are stored already, and which recipients block their
 * sender. Built as parameters or, in the batch's first simple query, as inlined literals.
 */
import { escapeLiteral } from 'pg';
import { pairKey } from '../shared/write-model.js';
import type { MessageOp } from './write-ops.js';

/** A message already stored: what a duplicate of it answers. */
export interface Stored {
  signalId: string;
  storedAt: number;
  senderOffset: number;
}

export type CheckRow = { k: string; a: string; b: string; signal_id: string | null; sender_offset: string | null; stored_at: string | null };

/** What the idempotency and block check found for a set of messages. */
export interface Checked {
  existing: Map<string, Stored>;
  blocked: Set<string>;
}

/**
 * The idempotency keys already stored and the blocks in the way of `ops` (SPEC §6 F1.2, F7); `array`
 * renders a list of strings as an SQL array (a parameter, or an inlined literal).
 */
export function checkSql(ops: MessageOp[], array: (values: string[]) => string): string {
  const guarded = ops.filter((op) => op.message.recipientEid !== op.message.senderEid);
  return `SELECT 'd' AS k, sender_eid AS a, client_id AS b, signal_id::text AS signal_id, sender_offset::text AS sender_offset, stored_at::text AS stored_at FROM messages
            WHERE (sender_eid, client_id) IN (SELECT * FROM unnest(${array(ops.map((op) => op.message.senderEid))}, ${array(ops.map((op) => op.message.clientId))}))
          UNION ALL
          SELECT 'b', blocker, blocked, NULL, NULL, NULL FROM blocks
            WHERE (blocker, blocked) IN (SELECT * FROM unnest(${array(guarded.map((op) => op.message.recipientEid))}, ${array(guarded.map((op) => op.message.senderEid))}))`;
}

export function checked(rows: CheckRow[]): Checked {
  const result: Checked = { existing: new Map(), blocked: new Set() };
  for (const row of rows) {
    if (row.k === 'b') result.blocked.add(pairKey(row.a, row.b));
    else result.existing.set(pairKey(row.a, row.b), { signalId: row.signal_id!, storedAt: Number(row.stored_at), senderOffset: Number(row.sender_offset) });
  }
  return result;
}

/** A string array inlined as an SQL literal (simple protocol; no value holds U+0000). */
export function literalArray(values: string[]): string {
  return `ARRAY[${values.map((value) => escapeLiteral(value)).join(',')}]::text[]`;
}
