/**
 * The writes of one transaction, run by the writer worker. Each op checks what it must inside the
 * transaction (idempotency, receipt rules, contact state) so check and write are atomic.
 */
import type Database from 'better-sqlite3';
import { EntryKind } from '../../core/types.js';
import { ContactAction } from '../../protocol/index.js';
import { SubscriptionState } from './schema.js';
import type { WriteOp, ContactOp, MessageOp, ReceiptOp, WriteOutcome, WrittenEntry } from './writer-protocol.js';
import { RetentionPruner } from './writer-retention.js';

const READ = 3;
const DELIVERED = 2;

export class WriterOps {
  private readonly statements;
  /** Committed queue heads; a transaction works on `pendingHeads` until it commits. */
  private readonly heads = new Map<string, number>();
  private pendingHeads = new Map<string, number>();
  /**
   * Whether each queue has entries (a queue_starts row), known so far; like the heads, a
   * transaction works on `pendingStarted` until it commits. Appends query nothing once known.
   */
  private readonly started = new Map<string, boolean>();
  private pendingStarted = new Map<string, boolean>();
  private readonly pruner: RetentionPruner;

  constructor(private readonly db: Database.Database) {
    this.pruner = new RetentionPruner(db);
    this.statements = {
      insertMessage: db.prepare(
        `INSERT INTO messages (signal_id, sender_eid, client_id, sender_offset, body, stored_at, recipient_eid, recipient_offset)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sender_eid, client_id) DO NOTHING`,
      ),
      findMessage: db.prepare('SELECT signal_id, sender_offset, stored_at FROM messages WHERE sender_eid = ? AND client_id = ?'),
      messageParties: db.prepare('SELECT sender_eid, recipient_eid FROM messages WHERE signal_id = ?'),
      insertEntry: db.prepare(
        `INSERT INTO entries (eid, user_offset, kind, signal_id, author_device, target_device, body, stored_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      // SPEC §6 F10: retention may have emptied the queue; the head never goes back.
      headOf: db
        .prepare(
          `SELECT max(coalesce((SELECT max(user_offset) FROM entries WHERE eid = $eid), 0),
                      coalesce((SELECT pruned_through FROM queue_floors WHERE eid = $eid), 0))`,
        )
        .pluck(),
      hasStart: db.prepare('SELECT 1 FROM queue_starts WHERE eid = ?').pluck(),
      insertStart: db.prepare('INSERT INTO queue_starts (eid, first_stored_at) VALUES (?, ?) ON CONFLICT (eid) DO NOTHING'),
      insertReceipt: db.prepare('INSERT INTO receipts (signal_id, status) VALUES (?, ?) ON CONFLICT DO NOTHING'),
      hasReceipt: db.prepare('SELECT 1 FROM receipts WHERE signal_id = ? AND status = ?').pluck(),
      subscription: db.prepare('SELECT state FROM subscriptions WHERE subscriber = ? AND target = ?').pluck(),
      upsertSubscription: db.prepare(
        `INSERT INTO subscriptions (subscriber, target, state, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (subscriber, target) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
      ),
      deleteSubscription: db.prepare('DELETE FROM subscriptions WHERE subscriber = ? AND target = ?'),
      isBlocked: db.prepare('SELECT 1 FROM blocks WHERE blocker = ? AND blocked = ?').pluck(),
      insertBlock: db.prepare('INSERT INTO blocks (blocker, blocked, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
      deleteBlock: db.prepare('DELETE FROM blocks WHERE blocker = ? AND blocked = ?'),
      // Issue #7 limits: each count stops at the limit, so a check costs at most `limit` index steps.
      blocksOf: db.prepare('SELECT count(*) FROM (SELECT 1 FROM blocks WHERE blocker = ? LIMIT ?)').pluck(),
      contactsOf: db
        .prepare(
          `SELECT count(*) FROM (SELECT target FROM subscriptions WHERE subscriber = $eid
                                 UNION SELECT subscriber FROM subscriptions WHERE target = $eid LIMIT $max)`,
        )
        .pluck(),
      deleteUserCursors: db.prepare('DELETE FROM cursors WHERE eid = ?'),
      deleteDeviceCursor: db.prepare('DELETE FROM cursors WHERE eid = ? AND device = ?'),
      upsertHidden: db.prepare('INSERT INTO user_settings (eid, hidden) VALUES (?, ?) ON CONFLICT (eid) DO UPDATE SET hidden = excluded.hidden'),
    };
  }

  beginTransaction(): void {
    this.pendingHeads = new Map();
    this.pendingStarted = new Map();
  }

  /** The transaction committed: its heads (and queue starts) become the committed ones. */
  commitTransaction(): void {
    for (const [eid, head] of this.pendingHeads) this.heads.set(eid, head);
    for (const [eid, started] of this.pendingStarted) this.started.set(eid, started);
    this.pendingHeads = new Map();
    this.pendingStarted = new Map();
  }

  run(op: WriteOp): WriteOutcome {
    switch (op.type) {
      case 'message':
        return this.message(op);
      case 'receipt':
        return this.receipt(op);
      case 'contact':
        return this.contact(op);
      case 'visibility':
        this.statements.upsertHidden.run(op.eid, op.hidden ? 1 : 0);
        return { type: 'visibility' };
      case 'prune':
        return this.prune(op);
      case 'delete-cursors': {
        const s = this.statements;
        const deleted = op.device === '' ? s.deleteUserCursors.run(op.eid).changes : s.deleteDeviceCursor.run(op.eid, op.device).changes;
        return { type: 'delete-cursors', deleted };
      }
      case 'probe':
        return this.probe(op.bytes);
    }
  }

  /** See ProbeOp: rare (health checks while writes fail), so its statements are prepared per call. */
  private probe(bytes: number): WriteOutcome {
    this.db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('health_probe', zeroblob(?))").run(bytes);
    this.db.prepare("DELETE FROM meta WHERE key = 'health_probe'").run();
    return { type: 'probe' };
  }

  /**
   * Retention runs in a savepoint of the batch's transaction: if it fails, only its own changes
   * are rolled back and the appends beside it still commit.
   */
  private prune(op: Extract<WriteOp, { type: 'prune' }>): WriteOutcome {
    try {
      const { outcome, emptied } = this.db.transaction(() => this.pruner.prune(op))();
      for (const eid of emptied) this.pendingStarted.set(eid, false);
      return outcome;
    } catch (err) {
      return { type: 'failed', error: (err as Error).message };
    }
  }

  private head(eid: string): number {
    let value = this.pendingHeads.get(eid) ?? this.heads.get(eid);
    if (value === undefined) {
      value = this.statements.headOf.get({ eid }) as number;
      this.heads.set(eid, value);
    }
    return value;
  }

  /** Appends one entry at the next offset of `eid`'s queue. */
  private append(eid: string, kind: number, signalId: number, author: string, target: string, body: Uint8Array | null, storedAt: number): number {
    const offset = this.head(eid) + 1;
    this.statements.insertEntry.run(eid, offset, kind, signalId, author, target, body, storedAt);
    this.pendingHeads.set(eid, offset);
    if (!this.hasEntries(eid)) {
      // SPEC §6 F10: the queue's first entry; retention finds the queue by its time.
      this.statements.insertStart.run(eid, storedAt);
      this.pendingStarted.set(eid, true);
    }
    return offset;
  }

  /** Whether `eid`'s queue had entries before this append (it has a queue_starts row). */
  private hasEntries(eid: string): boolean {
    let value = this.pendingStarted.get(eid) ?? this.started.get(eid);
    if (value === undefined) {
      value = this.statements.hasStart.get(eid) !== undefined;
      this.started.set(eid, value);
    }
    return value;
  }

  private message(op: MessageOp): WriteOutcome {
    const s = this.statements;
    const selfMessage = op.recipientEid === op.senderEid;
    const senderOffset = this.head(op.senderEid) + 1;
    const expectedRecipientOffset = selfMessage ? 0 : this.head(op.recipientEid) + 1;
    const inserted =
      s.insertMessage.run(op.signalId, op.senderEid, op.clientId, senderOffset, op.body, op.storedAt, op.recipientEid, expectedRecipientOffset).changes === 1;
    if (!inserted) {
      const original = s.findMessage.get(op.senderEid, op.clientId) as { signal_id: number; sender_offset: number; stored_at: number };
      return {
        type: 'message',
        duplicate: true,
        signalId: original.signal_id,
        storedAt: original.stored_at,
        senderOffset: original.sender_offset,
        recipientOffset: 0,
      };
    }
    // A note to oneself has one entry; its target is the recipient device, if any.
    this.append(op.senderEid, EntryKind.Message, op.signalId, op.senderDevice, selfMessage ? op.recipientDevice : '', null, op.storedAt);
    // The author device belongs to the sender: in the recipient's queue no device authored it.
    const recipientOffset = selfMessage ? 0 : this.append(op.recipientEid, EntryKind.Message, op.signalId, '', op.recipientDevice, null, op.storedAt);
    return { type: 'message', duplicate: false, signalId: op.signalId, storedAt: op.storedAt, senderOffset, recipientOffset };
  }

  private receipt(op: ReceiptOp): WriteOutcome {
    const s = this.statements;
    const parties = s.messageParties.get(op.messageSignalId) as { sender_eid: string; recipient_eid: string } | undefined;
    if (!parties) return { type: 'receipt', result: 'not-found', entries: [] };
    if (parties.recipient_eid !== op.senderEid || parties.sender_eid !== op.toEid) return { type: 'receipt', result: 'forbidden', entries: [] };
    if (op.status === DELIVERED && s.hasReceipt.get(op.messageSignalId, READ)) return { type: 'receipt', result: 'superseded', entries: [] };
    if (s.insertReceipt.run(op.messageSignalId, op.status).changes === 0) return { type: 'receipt', result: 'duplicate', entries: [] };
    const entries: WrittenEntry[] = [
      { eid: op.toEid, offset: this.append(op.toEid, EntryKind.Signal, op.messageSignalId, '', '', op.body, op.storedAt), authorDevice: '' },
    ];
    if (op.senderEid !== op.toEid) {
      const offset = this.append(op.senderEid, EntryKind.Signal, op.messageSignalId, op.senderDevice, '', op.body, op.storedAt);
      entries.push({ eid: op.senderEid, offset, authorDevice: op.senderDevice });
    }
    return { type: 'receipt', result: 'stored', entries };
  }

  private contact(op: ContactOp): WriteOutcome {
    const s = this.statements;
    const { actorEid: actor, otherEid: other, storedAt } = op;
    const outcome = (result: 'unchanged' | 'not-pending' | 'blocked'): WriteOutcome => ({ type: 'contact', result, entries: [] });
    const full = (list: 'blocks' | 'contacts', owner: 'actor' | 'other'): WriteOutcome => ({ type: 'contact', result: 'limit', list, owner, entries: [] });
    // Which queues get the event: the actor's (other devices stay in sync) and, unless it is a
    // block or unblock (never shown to the blocked user), the other user's.
    let notifyOther = true;
    switch (op.action) {
      case ContactAction.SUBSCRIBE: {
        if (s.isBlocked.get(other, actor)) return outcome('blocked');
        if (s.subscription.get(actor, other) !== undefined) return outcome('unchanged');
        // Issue #7: a pair not yet related either way takes a contact of each; checked here, in the
        // transaction, so two requests cannot both take the last one.
        if (op.maxContacts > 0 && s.subscription.get(other, actor) === undefined) {
          if (this.contactCount(actor, op.maxContacts) >= op.maxContacts) return full('contacts', 'actor');
          if (this.contactCount(other, op.maxContacts) >= op.maxContacts) return full('contacts', 'other');
        }
        s.upsertSubscription.run(actor, other, SubscriptionState.Pending, storedAt);
        break;
      }
      case ContactAction.APPROVE: {
        if (s.subscription.get(other, actor) !== SubscriptionState.Pending) return outcome('not-pending');
        s.upsertSubscription.run(other, actor, SubscriptionState.Active, storedAt);
        s.upsertSubscription.run(actor, other, SubscriptionState.Active, storedAt);
        break;
      }
      case ContactAction.DENY: {
        if (s.subscription.get(other, actor) !== SubscriptionState.Pending) return outcome('not-pending');
        s.deleteSubscription.run(other, actor);
        break;
      }
      case ContactAction.UNSUBSCRIBE: {
        const removed = s.deleteSubscription.run(actor, other).changes + s.deleteSubscription.run(other, actor).changes;
        if (removed === 0) return outcome('unchanged');
        break;
      }
      case ContactAction.BLOCK: {
        if (op.maxBlocks > 0 && !s.isBlocked.get(actor, other) && (s.blocksOf.get(actor, op.maxBlocks) as number) >= op.maxBlocks) {
          return full('blocks', 'actor');
        }
        if (s.insertBlock.run(actor, other, storedAt).changes === 0) return outcome('unchanged');
        s.deleteSubscription.run(actor, other);
        s.deleteSubscription.run(other, actor);
        notifyOther = false;
        break;
      }
      case ContactAction.UNBLOCK: {
        if (s.deleteBlock.run(actor, other).changes === 0) return outcome('unchanged');
        notifyOther = false;
        break;
      }
      default:
        throw new Error(`contact action ${op.action} does not change state`);
    }
    const entries: WrittenEntry[] = [
      { eid: actor, offset: this.append(actor, EntryKind.Contact, 0, op.actorDevice, '', op.body, storedAt), authorDevice: op.actorDevice },
    ];
    if (notifyOther && other !== actor) {
      entries.push({ eid: other, offset: this.append(other, EntryKind.Contact, 0, '', '', op.body, storedAt), authorDevice: '' });
    }
    return { type: 'contact', result: 'applied', entries };
  }

  /** Other users `eid` has a subscription with, either way, counted up to `max`. */
  private contactCount(eid: string, max: number): number {
    return this.statements.contactsOf.get({ eid, max }) as number;
  }
}
