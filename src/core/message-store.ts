import type { AppendedMessage, DeviceId, Eid, NewMessage, NewReceipt, Offset, QueueEntry, QueueInfo, ReceiptOutcome } from './types.js';

/**
 * The single source of truth: per-user queues of stored entries (SPEC §5).
 *
 * Contract every engine keeps (test/contract/message-store.contract.ts checks it):
 * - `appendMessage` stores the message once and appends one entry to the sender's queue and, unless
 *   the recipient is the sender, one to the recipient's, in one atomic transaction. It resolves only
 *   after that transaction is durable (fsynced); a crash after it resolves loses nothing.
 * - Offsets start at 1 per user and grow by exactly 1 per entry; `signalId`s come from one global
 *   increasing sequence.
 * - Idempotent on (senderEid, clientId): a repeat resolves with `duplicate: true`, the original
 *   signalId and sender offset, and writes nothing.
 * - Appends resolve in the order they were called for the same user.
 * - Cursors only move forward. `commitCursor` may be persisted lazily (a crash can lose the last few
 *   commits, never an acked message); `close()` persists everything pending.
 * - Only retention (`pruneOlderThan`) removes entries, and only a prefix of a queue: offsets stay
 *   contiguous from `first` to `head`, and `head` never goes back, even when a queue is emptied.
 *
 * Cluster contract (SPEC §11), for engines several nodes share (PostgreSQL; the contract suite runs
 * it with two instances over the same data). Embedded engines (SQLite) serve one instance per file.
 * - Ordering: offsets stay gap-free per user whichever instance appends; offset N + 1 of a user is
 *   never visible (nor committed) before N. Calls on one instance resolve in call order per user;
 *   calls on different instances are ordered by their commits.
 * - Atomicity: a message's entries in both queues, and its idempotency key, commit together; the
 *   same (sender, id) raced on two instances is stored once and both answer its signalId and
 *   sender offset. A receipt is stored once per (message, status) cluster-wide.
 * - Visibility: every read (`readEntries`, `queueInfo`, `getCursor`, `knownDevices`,
 *   `deviceCount`) sees what any instance committed before the read began; nothing is cached
 *   across instances. The epoch and the signalId sequence are the same whichever instance is asked.
 * - Cursors may wait in the instance that received the commit (at most ~100 ms, or until
 *   `flushCursor`); another instance reads the last durable value until then.
 * - An engine may check blocks inside the append transaction (PostgreSQL does): `appendMessage`
 *   then rejects with ProtocolError 403 when the recipient blocks the sender, never storing it.
 * - While the database is unreachable, writes and reads reject with StoreUnavailableError (503);
 *   the engine recovers by itself when it answers again. An append whose commit outcome is unknown
 *   rejects too; a resend is answered as a duplicate if it did commit.
 */
export interface MessageStore {
  appendMessage(message: NewMessage): Promise<AppendedMessage>;
  /**
   * SPEC §6 F4: stores a receipt once per (message, status) in the message sender's queue and the
   * receipt sender's queue (author: its device), durably. DELIVERED after READ is dropped.
   */
  appendReceipt(receipt: NewReceipt): Promise<ReceiptOutcome>;
  /** Entries of `eid`'s queue with offset > afterOffset, ascending, at most `limit`. */
  readEntries(eid: Eid, afterOffset: Offset, limit: number): Promise<QueueEntry[]>;
  queueInfo(eid: Eid): Promise<QueueInfo>;
  /** The device's committed cursor, or undefined if the device has none yet. */
  getCursor(eid: Eid, device: DeviceId): Promise<Offset | undefined>;
  /** Moves the cursor forward (a lower value is ignored); committing the same value marks the device seen. */
  commitCursor(eid: Eid, device: DeviceId, offset: Offset): Promise<void>;
  /** Logout: forgets the cursor of `device`, or of every device of the user when `device` is ''. Durable when it resolves. */
  deleteCursors(eid: Eid, device: DeviceId): Promise<void>;
  /**
   * Cluster mode (SPEC §11, optional: engines that keep cursor commits pending implement it).
   * Resolves once every cursor commit this instance received for (eid, device) is durable, so
   * another instance reads it: a device's old node calls it before the device's new session on
   * another node reads the cursor. Rejects with StoreUnavailableError if the commit failed.
   */
  flushCursor?(eid: Eid, device: DeviceId): Promise<void>;
  /**
   * True when `appendMessage` itself refuses a blocked sender (rejecting with ProtocolError 403),
   * inside its transaction: the caller then skips its own `isBlocked` check. That check is a
   * round trip on such engines, and awaiting it would let a session's pipelined sends reach the
   * store in another order than they were sent (SPEC §7.3 keeps a sender's order).
   */
  readonly refusesBlockedOnAppend?: boolean;
  /** The user's devices that have a cursor (connected before and not forgotten). */
  knownDevices(eid: Eid): Promise<DeviceId[]>;
  /**
   * How many devices of the user have a cursor, counting commits not yet persisted (a device is
   * counted as soon as its first `commitCursor` was called) and not counting deleted cursors. Checked
   * on every first-time connect against the device limit (issue #7): cheap, one index range.
   */
  deviceCount(eid: Eid): Promise<number>;
  /**
   * SPEC §6 F10 retention, one bounded batch. Removes, atomically and never concurrently with an
   * append (so a batch delays appends only briefly; keep `maxEntries` small, e.g. 500):
   * - at most `maxEntries` queue entries stored before `cutoffMs` (epoch ms), oldest first per
   *   queue and only as a prefix of it (an entry stays while an earlier one of its queue stays).
   *   `queueInfo(eid).first` moves past them; `head` does not change (an emptied queue reports
   *   `first = head + 1`) and the next append still gets `head + 1`;
   * - the messages no entry refers to any more (a message's sender entry and recipient entry both
   *   pruned), with their idempotency keys (SPEC §6 F1.2: idempotency lasts as long as the message
   *   is retained; a resend afterwards is stored as a new message) and their receipt records (a
   *   receipt for it is then `not-found`); signal ids are never reused;
   * - at most `maxEntries` cursors whose device was last seen (committed) before `cutoffMs`: such a
   *   device is "first time" again on its next connect (cursor = head, SPEC §5).
   * Resolves with what it removed, once durable. Fewer than `maxEntries` entries and cursors
   * removed means nothing older than the cutoff is left to remove (for now).
   */
  pruneOlderThan(cutoffMs: number, maxEntries: number): Promise<PruneResult>;
  /**
   * Health check: resolves when the store answers a trivial query and can commit writes. After a
   * failed commit it probes with a real write and rejects with StoreWritesFailingError until one
   * commits again; any other StoreUnavailableError means the store is down.
   */
  ping(): Promise<void>;
  /** Persists pending cursor commits and releases resources. */
  close(): Promise<void>;
}

/** What one `pruneOlderThan` batch removed. */
export interface PruneResult {
  /** Queue entries. */
  entries: number;
  /** Message bodies (with their idempotency keys and receipt records). */
  messages: number;
  /** Cursors of devices unseen since the cutoff. */
  cursors: number;
}
