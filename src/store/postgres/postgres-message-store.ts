/**
 * PostgresMessageStore: the MessageStore and ContactStore of cluster mode (SPEC §11), every node
 * over one PostgreSQL database. Writes are group-committed (pg-group-commit.ts) in transactions
 * that lock the queue rows they append to (batch-transaction.ts); reads go straight to the pool.
 * Nothing another node needs lives only in this process: heads, the signal id sequence, blocks,
 * idempotency keys and the epoch are in the database; only cursor commits wait here, at most
 * `cursorFlushMs`, and `flushCursor` makes them durable on demand.
 */
import type { Pool } from 'pg';
import type { ContactStore } from '../../core/contact-store.js';
import { ProtocolError, StoreUnavailableError, StoreWritesFailingError } from '../../core/errors.js';
import type { MessageStore, PruneResult } from '../../core/message-store.js';
import {
  DEFAULT_USER_LIMITS,
  EntryKind,
  type AppendedMessage,
  type ContactOutcome,
  type ContactRelation,
  type DeviceId,
  type Eid,
  type NewContactAction,
  type NewMessage,
  type NewReceipt,
  type Offset,
  type QueueEntry,
  type QueueInfo,
  type ReceiptOutcome,
} from '../../core/types.js';
import { Code } from '../../protocol/index.js';
import { migrate } from './migrate.js';
import { inTransaction } from './pg-client.js';
import { PgGroupCommit } from './pg-group-commit.js';
import { PgReads } from './pg-reads.js';
import { pruneBatch } from './pg-retention.js';
import { MESSAGE_STORE_COMPONENT, MESSAGE_STORE_MIGRATIONS } from './schema.js';
import { expectOutcome, pairKey, toEntries } from '../shared/write-model.js';
import { hasNul, type MessageOp, type WriteOp, type WriteOutcome } from './write-ops.js';

export interface PostgresMessageStoreOptions {
  /** A ready pool; the store never ends it (its owner does, after `close`). */
  pool: Pool;
  /** Schema to create if missing; it must be first on the pool connections' search_path. */
  schema?: string;
  /** Most writes in one transaction (default 256). */
  maxBatch?: number;
  /** How long a cursor commit may wait for a transaction to ride on before one is forced (default 100 ms). */
  cursorFlushMs?: number;
  /** Issue #7: most writes waiting for a transaction (default 20,000); past it a send gets 503 at once. */
  maxQueuedWrites?: number;
  now?: () => number;
  onCommit?: (writes: number, seconds: number) => void;
  onWriteHealth?: (healthy: boolean, error?: string) => void;
  /** Issue #7: users one user may block (default 10,000; 0 = unlimited). */
  maxBlocksPerUser?: number;
  /** Issue #7: other users one user may have a subscription with (default 5,000; 0 = unlimited). */
  maxContactsPerUser?: number;
  /** Errors of idle pool connections (the server restarted): logged by the owner; the pool replaces them. */
  onPoolError?: (error: Error) => void;
}

export class PostgresMessageStore implements MessageStore, ContactStore {
  /** Blocks are checked in the append transaction, under the recipient's queue lock. */
  readonly refusesBlockedOnAppend = true;
  private readonly now: () => number;
  private readonly maxBlocks: number;
  private readonly maxContacts: number;
  private closed = false;
  private readonly onPoolError: (error: Error) => void;

  private constructor(
    private readonly pool: Pool,
    private readonly reads: PgReads,
    private readonly writer: PgGroupCommit,
    options: PostgresMessageStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.maxBlocks = options.maxBlocksPerUser ?? DEFAULT_USER_LIMITS.maxBlocksPerUser;
    this.maxContacts = options.maxContactsPerUser ?? DEFAULT_USER_LIMITS.maxContactsPerUser;
    // An idle client's error is emitted on the pool; unheard, it would crash the node when
    // PostgreSQL restarts (SPEC §11 Faults: the node recovers by itself).
    this.onPoolError = options.onPoolError ?? (() => undefined);
    pool.on('error', this.onPoolError);
  }

  /** Migrates the schema (safe when several nodes start at once) and opens the store. */
  static async open(options: PostgresMessageStoreOptions): Promise<PostgresMessageStore> {
    await migrate(options.pool, MESSAGE_STORE_COMPONENT, MESSAGE_STORE_MIGRATIONS, { schema: options.schema });
    const reads = await PgReads.open(options.pool);
    const writer = new PgGroupCommit(options.pool, {
      maxBatch: options.maxBatch ?? 256,
      cursorFlushMs: options.cursorFlushMs ?? 100,
      maxQueuedWrites: options.maxQueuedWrites ?? 20_000,
      onCommit: options.onCommit,
      onWriteHealth: options.onWriteHealth,
    });
    return new PostgresMessageStore(options.pool, reads, writer, options);
  }

  /**
   * SPEC §6 F1. Rejects with ProtocolError 403 when the recipient blocks the sender (checked in
   * the append transaction, under the recipient's queue lock a BLOCK also takes), with
   * StoreUnavailableError while PostgreSQL is unreachable (503; a resend is answered 409 if the
   * commit did land).
   */
  async appendMessage(message: NewMessage): Promise<AppendedMessage> {
    const storedAt = this.now();
    const op: MessageOp = { type: 'message', message, storedAt };
    const outcome = await this.write(op);
    if (outcome.type === 'blocked') throw new ProtocolError(Code.Forbidden, 'the recipient does not accept messages from you');
    const result = expectOutcome(outcome, 'message');
    if (result.duplicate) return { duplicate: true, signalId: result.signalId, storedAt: result.storedAt, senderOffset: result.senderOffset, entries: [] };
    const self = message.recipientEid === message.senderEid;
    const body = op.body!;
    const entry = (eid: Eid, offset: Offset, author: DeviceId, target: DeviceId): QueueEntry => ({
      eid,
      offset,
      kind: EntryKind.Message,
      signalId: result.signalId,
      authorDevice: author,
      targetDevice: target,
      body,
      storedAt,
    });
    const entries = [entry(message.senderEid, result.senderOffset, message.senderDevice, self ? message.recipientDevice : '')];
    if (!self) entries.push(entry(message.recipientEid, result.recipientOffset, '', message.recipientDevice));
    return { duplicate: false, signalId: result.signalId, storedAt, senderOffset: result.senderOffset, entries };
  }

  async appendReceipt(receipt: NewReceipt): Promise<ReceiptOutcome> {
    const storedAt = this.now();
    const outcome = expectOutcome(await this.write({ type: 'receipt', ...receipt, storedAt }), 'receipt');
    if (outcome.result !== 'stored') return { result: outcome.result };
    return { result: 'stored', entries: toEntries(outcome.entries, EntryKind.Signal, receipt.messageSignalId, receipt.body, storedAt) };
  }

  async applyContactAction(action: NewContactAction): Promise<ContactOutcome> {
    const storedAt = this.now();
    const outcome = expectOutcome(
      await this.write({ type: 'contact', ...action, storedAt, maxBlocks: this.maxBlocks, maxContacts: this.maxContacts }),
      'contact',
    );
    if (outcome.result === 'limit') {
      return { result: 'limit', list: outcome.list, owner: outcome.owner, max: outcome.list === 'blocks' ? this.maxBlocks : this.maxContacts };
    }
    if (outcome.result !== 'applied') return { result: outcome.result };
    return { result: 'applied', entries: toEntries(outcome.entries, EntryKind.Contact, '0', action.body, storedAt) };
  }

  readEntries(eid: Eid, afterOffset: Offset, limit: number): Promise<QueueEntry[]> {
    return this.reads.entries(eid, afterOffset, limit);
  }

  queueInfo(eid: Eid): Promise<QueueInfo> {
    return this.reads.queueInfo(eid);
  }

  async getCursor(eid: Eid, device: DeviceId): Promise<Offset | undefined> {
    const stored = await this.reads.cursor(eid, device);
    const pending = this.writer.pendingCursor(pairKey(eid, device));
    return pending === undefined ? stored : Math.max(pending, stored ?? 0);
  }

  async commitCursor(eid: Eid, device: DeviceId, offset: Offset): Promise<void> {
    if (eid.includes('\u0000') || device.includes('\u0000')) throw new RangeError('an eid or device with U+0000 cannot be stored');
    this.writer.commitCursor(pairKey(eid, device), { eid, device, cursor: offset, seenAt: this.now() });
  }

  /**
   * Makes the device's committed cursor durable now (every pending cursor commit goes in one
   * transaction). SPEC §11: the node a device leaves calls it before the device's new session on
   * another node reads its cursor.
   */
  async flushCursor(_eid: Eid, _device: DeviceId): Promise<void> {
    await this.writer.flushCursors();
  }

  async deleteCursors(eid: Eid, device: DeviceId): Promise<void> {
    this.writer.dropPendingCursors((cursor) => cursor.eid === eid && (device === '' || cursor.device === device));
    await this.write({ type: 'delete-cursors', eid, device });
  }

  knownDevices(eid: Eid): Promise<DeviceId[]> {
    return this.reads.devices(eid);
  }

  async deviceCount(eid: Eid): Promise<number> {
    let count = await this.reads.deviceCount(eid);
    // First commits still on their way count too (the device limit checks right after one).
    for (const device of this.writer.pendingDevices(eid)) if ((await this.reads.cursor(eid, device)) === undefined) count++;
    return count;
  }

  listContacts(eid: Eid): Promise<ContactRelation[]> {
    return this.reads.contacts(eid);
  }

  isBlocked(blocker: Eid, blocked: Eid): Promise<boolean> {
    return this.reads.isBlocked(blocker, blocked);
  }

  subscribersOf(eid: Eid): Promise<Eid[]> {
    return this.reads.subscribersOf(eid);
  }

  subscriptionsOf(eid: Eid): Promise<Eid[]> {
    return this.reads.subscriptionsOf(eid);
  }

  isSubscribed(subscriber: Eid, target: Eid): Promise<boolean> {
    return this.reads.isSubscribed(subscriber, target);
  }

  isHidden(eid: Eid): Promise<boolean> {
    return this.reads.isHidden(eid);
  }

  async setHidden(eid: Eid, hidden: boolean): Promise<void> {
    await this.write({ type: 'visibility', eid, hidden });
  }

  /** SPEC §6 F10: one retention batch in its own transaction (pg-retention.ts), after pending cursors land. */
  async pruneOlderThan(cutoffMs: number, maxEntries: number): Promise<PruneResult> {
    if (!Number.isFinite(cutoffMs) || !Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`pruneOlderThan(${cutoffMs}, ${maxEntries}): need a finite cutoff and a positive integer batch size`);
    }
    if (this.closed) throw new StoreUnavailableError('message store is closed');
    // Judged by their latest seen_at, as the SQLite writer applies cursors before a prune op.
    await this.writer.flushCursors();
    return inTransaction(this.pool, 'retention', (client) => pruneBatch(client, Math.floor(cutoffMs), maxEntries));
  }

  /**
   * A trivial query; while the last commit failed, also a probe write that must commit, so health
   * recovers by itself once PostgreSQL accepts writes again.
   */
  async ping(): Promise<void> {
    if (this.closed) throw new StoreUnavailableError('message store is closed');
    await this.reads.ping();
    const failure = this.writer.commitFailure;
    if (failure === undefined) return;
    try {
      expectOutcome(await this.write({ type: 'probe' }), 'done');
    } catch (err) {
      if (err instanceof StoreUnavailableError && !(err instanceof StoreWritesFailingError)) throw err;
      throw new StoreWritesFailingError(`store writes failing: ${this.writer.commitFailure ?? failure}`, { cause: err });
    }
  }

  /** Writes what is pending (appends and cursors); the pool stays open (its owner ends it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writer.close();
    this.pool.off('error', this.onPoolError);
  }

  private async write(op: WriteOp): Promise<WriteOutcome> {
    if (this.closed) throw new StoreUnavailableError('message store is closed');
    if (hasNul(op)) throw new ProtocolError(Code.BadRequest, 'ids cannot contain U+0000');
    const outcome = await this.writer.write(op);
    if (outcome.type === 'failed') throw outcome.error;
    return outcome;
  }
}
