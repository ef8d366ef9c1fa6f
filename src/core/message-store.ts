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
  /** Moves the cursor forward (a lower value is ignored). */
  commitCursor(eid: Eid, device: DeviceId, offset: Offset): Promise<void>;
  /** Resolves when the store answers a trivial query (health check). */
  ping(): Promise<void>;
  /** Persists pending cursor commits and releases resources. */
  close(): Promise<void>;
}
