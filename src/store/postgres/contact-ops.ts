/**
 * SPEC §6 F7 contact actions and §6 F4 receipts inside a batch transaction of the PostgreSQL
 * store, mirroring the SQLite writer (src/store/sqlite/writer-ops.ts) rule for rule. Both users'
 * queue rows are locked before these run (BatchTransaction.lockQueues), so a check and the write
 * it guards are atomic across nodes: two nodes cannot both take the last contact or block slot,
 * nor store the same receipt twice, nor a DELIVERED after a READ.
 */
import { EntryKind } from '../../core/types.js';
import { ContactAction, Status } from '../../protocol/index.js';
import { SubscriptionState } from './schema.js';
import type { ContactOp, ReceiptOp, WriteOutcome, WrittenEntry } from './write-ops.js';

/** Runs one statement of the batch's transaction. */
export type Sql = (text: string, values?: unknown[]) => Promise<{ rows: Array<Record<string, unknown>>; rowCount: number | null }>;
/** Appends one entry at the next offset of a locked queue; returns the offset. */
export type Append = (eid: string, kind: number, signalId: string, author: string, body: Uint8Array, storedAt: number) => number;

/** A signal_id as the sequence makes them: a positive bigint in decimal. */
const SIGNAL_ID = /^[1-9][0-9]{0,17}$/;

export async function applyReceipt(sql: Sql, op: ReceiptOp, append: Append): Promise<WriteOutcome> {
  const none = (result: 'duplicate' | 'superseded' | 'not-found' | 'forbidden'): WriteOutcome => ({ type: 'receipt', result, entries: [] });
  if (!SIGNAL_ID.test(op.messageSignalId)) return none('not-found');
  // KEY SHARE: retention cannot delete the message (and its receipts) under this receipt.
  const found = await sql(
    `SELECT sender_eid, recipient_eid, EXISTS (SELECT 1 FROM receipts r WHERE r.signal_id = m.signal_id AND r.status = ${Status.READ}) AS read
     FROM messages m WHERE m.signal_id = $1 FOR KEY SHARE OF m`,
    [op.messageSignalId],
  );
  const parties = found.rows[0] as { sender_eid: string; recipient_eid: string; read: boolean } | undefined;
  if (!parties) return none('not-found');
  if (parties.recipient_eid !== op.senderEid || parties.sender_eid !== op.toEid) return none('forbidden');
  if (op.status === Status.DELIVERED && parties.read) return none('superseded');
  const inserted = await sql('INSERT INTO receipts (signal_id, status) VALUES ($1, $2) ON CONFLICT DO NOTHING', [op.messageSignalId, op.status]);
  if (inserted.rowCount === 0) return none('duplicate');
  const entries: WrittenEntry[] = [
    { eid: op.toEid, offset: append(op.toEid, EntryKind.Signal, op.messageSignalId, '', op.body, op.storedAt), authorDevice: '' },
  ];
  if (op.senderEid !== op.toEid) {
    entries.push({
      eid: op.senderEid,
      offset: append(op.senderEid, EntryKind.Signal, op.messageSignalId, op.senderDevice, op.body, op.storedAt),
      authorDevice: op.senderDevice,
    });
  }
  return { type: 'receipt', result: 'stored', entries };
}

export async function applyContact(sql: Sql, op: ContactOp, append: Append): Promise<WriteOutcome> {
  const { actorEid: actor, otherEid: other, storedAt } = op;
  const outcome = (result: 'unchanged' | 'not-pending' | 'blocked'): WriteOutcome => ({ type: 'contact', result, entries: [] });
  const full = (list: 'blocks' | 'contacts', owner: 'actor' | 'other'): WriteOutcome => ({ type: 'contact', result: 'limit', list, owner, entries: [] });
  const isBlocked = async (blocker: string, blocked: string) =>
    (await sql('SELECT 1 FROM blocks WHERE blocker = $1 AND blocked = $2', [blocker, blocked])).rows.length > 0;
  const subscription = async (subscriber: string, target: string) =>
    (await sql('SELECT state FROM subscriptions WHERE subscriber = $1 AND target = $2', [subscriber, target])).rows[0]?.state as number | undefined;
  const upsert = (subscriber: string, target: string, state: number) =>
    sql(
      `INSERT INTO subscriptions (subscriber, target, state, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (subscriber, target) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
      [subscriber, target, state, storedAt],
    );
  const remove = async (subscriber: string, target: string) =>
    (await sql('DELETE FROM subscriptions WHERE subscriber = $1 AND target = $2', [subscriber, target])).rowCount ?? 0;
  // Which queues get the event: the actor's (other devices stay in sync) and, unless it is a
  // block or unblock (never shown to the blocked user), the other user's.
  let notifyOther = true;
  switch (op.action) {
    case ContactAction.SUBSCRIBE: {
      if (await isBlocked(other, actor)) return outcome('blocked');
      if ((await subscription(actor, other)) !== undefined) return outcome('unchanged');
      // Issue #7: a pair not yet related either way takes a contact of each.
      if (op.maxContacts > 0 && (await subscription(other, actor)) === undefined) {
        if ((await contactCount(sql, actor, op.maxContacts)) >= op.maxContacts) return full('contacts', 'actor');
        if ((await contactCount(sql, other, op.maxContacts)) >= op.maxContacts) return full('contacts', 'other');
      }
      await upsert(actor, other, SubscriptionState.Pending);
      break;
    }
    case ContactAction.APPROVE: {
      if ((await subscription(other, actor)) !== SubscriptionState.Pending) return outcome('not-pending');
      await upsert(other, actor, SubscriptionState.Active);
      await upsert(actor, other, SubscriptionState.Active);
      break;
    }
    case ContactAction.DENY: {
      if ((await subscription(other, actor)) !== SubscriptionState.Pending) return outcome('not-pending');
      await remove(other, actor);
      break;
    }
    case ContactAction.UNSUBSCRIBE: {
      if ((await remove(actor, other)) + (await remove(other, actor)) === 0) return outcome('unchanged');
      break;
    }
    case ContactAction.BLOCK: {
      if (op.maxBlocks > 0 && !(await isBlocked(actor, other))) {
        const count = await sql('SELECT count(*)::int AS n FROM (SELECT 1 FROM blocks WHERE blocker = $1 LIMIT $2) AS b', [actor, op.maxBlocks]);
        if ((count.rows[0]!.n as number) >= op.maxBlocks) return full('blocks', 'actor');
      }
      const inserted = await sql('INSERT INTO blocks (blocker, blocked, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [actor, other, storedAt]);
      if (inserted.rowCount === 0) return outcome('unchanged');
      await remove(actor, other);
      await remove(other, actor);
      notifyOther = false;
      break;
    }
    case ContactAction.UNBLOCK: {
      const deleted = await sql('DELETE FROM blocks WHERE blocker = $1 AND blocked = $2', [actor, other]);
      if (deleted.rowCount === 0) return outcome('unchanged');
      notifyOther = false;
      break;
    }
    default:
      throw new Error(`contact action ${op.action} does not change state`);
  }
  const entries: WrittenEntry[] = [
    { eid: actor, offset: append(actor, EntryKind.Contact, '0', op.actorDevice, op.body, storedAt), authorDevice: op.actorDevice },
  ];
  if (notifyOther && other !== actor) entries.push({ eid: other, offset: append(other, EntryKind.Contact, '0', '', op.body, storedAt), authorDevice: '' });
  return { type: 'contact', result: 'applied', entries };
}

/** Other users `eid` has a subscription with, either way, counted up to `max`. */
async function contactCount(sql: Sql, eid: string, max: number): Promise<number> {
  const result = await sql(
    `SELECT count(*)::int AS n FROM (SELECT target FROM subscriptions WHERE subscriber = $1
                                     UNION SELECT subscriber FROM subscriptions WHERE target = $1 LIMIT $2) AS c`,
    [eid, max],
  );
  return result.rows[0]!.n as number;
}
