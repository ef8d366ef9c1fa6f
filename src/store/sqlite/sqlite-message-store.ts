/**
 * SqliteMessageStore: the embedded default MessageStore and ContactStore (one SQLite file, WAL,
 * synchronous=FULL). Writes are group-committed by a writer worker thread (group-commit-writer.ts,
 * writer-ops.ts); reads use a read-only connection on this thread (WAL readers never block the
 * writer).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ContactStore } from '../../core/contact-store.js';
import { StoreWritesFailingError } from '../../core/errors.js';
import type { MessageStore, PruneResult } from '../../core/message-store.js';
import { ContactAction } from '../../protocol/index.js';
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
import { GroupCommitWriter } from './group-commit-writer.js';
import { configureConnection, migrate } from './schema.js';
import { SqliteReads } from './sqlite-reads.js';
import { expectOutcome, pairKey, toEntries } from '../shared/write-model.js';
import type { MessageOp } from './writer-protocol.js';

/** Bytes a health probe writes (and deletes): room for a typical message and its queue entries. */
const HEALTH_PROBE_BYTES = 16 * 1024;

export interface SqliteMessageStoreOptions {
  /** Path of the database file. */
  path: string;
  /** Most writes in one transaction (default 512). */
  maxBatch?: number;
  /** How long a cursor commit may wait for a transaction to ride on before one is forced (default 100 ms). */
  cursorFlushMs?: number;
  now?: () => number;
  /** Called after each durable transaction with its number of writes and its duration. */
  onCommit?: (writes: number, seconds: number) => void;
  /**
   * Issue #7: most writes waiting for the writer (default 20,000) and most bytes of their bodies
   * (default 64 MiB); past either a send is refused at once (StoreOverloadedError → Ack 503)
   * instead of queueing without limit. See GroupCommitOptions.
   */
  maxQueuedWrites?: number;
  maxQueuedBytes?: number;
  /**
   * Caps the database file (SQLite `max_page_count` on the write connection): past it commits fail
   * as on a full disk (sends get Ack 503, /healthz 503) and recover once rows are removed. An
   * operational ceiling that keeps the disk from filling; the tests use it to simulate a full disk.
   * Default: no cap. The WAL file is not counted.
   */
  maxDatabaseBytes?: number;
  /** Called when commits start failing (false, with the error) and when one commits again (true). */
  onWriteHealth?: (healthy: boolean, error?: string) => void;
  /** Issue #7: users one user may block (default 10,000; 0 = unlimited). */
  maxBlocksPerUser?: number;
  /** Issue #7: other users one user may have a subscription with, either way, pending or active (default 5,000; 0 = unlimited). */
  maxContactsPerUser?: number;
  /** Block answers kept in memory, blocked or not (default 10,000; 0 = none). */
  blockCacheEntries?: number;
}

export class SqliteMessageStore implements MessageStore, ContactStore {
  private readonly now: () => number;
  /** The health probe in progress (ping), shared by concurrent checks. */
  private probe: Promise<void> | undefined;
  private nextSignalId: number;
  private readonly maxBlocks: number;
  private readonly maxContacts: number;
  /**
   * Recent isBlocked answers, "blocker\0blocked" → blocked, oldest first; bounded (issue #7: never
   * every block). The send path asks per message and a query costs ~5 µs (a WAL read transaction);
   * a hit ~0.5 µs. Only this store writes blocks, and it drops a pair's answer when it changes it.
   */
  private readonly blockCache = new Map<string, boolean>();
  private readonly blockCacheEntries: number;

  private constructor(
    private readonly reads: SqliteReads,
    private readonly writer: GroupCommitWriter,
    options: SqliteMessageStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.nextSignalId = reads.maxSignalId() + 1;
    this.maxBlocks = options.maxBlocksPerUser ?? DEFAULT_USER_LIMITS.maxBlocksPerUser;
    this.maxContacts = options.maxContactsPerUser ?? DEFAULT_USER_LIMITS.maxContactsPerUser;
    this.blockCacheEntries = options.blockCacheEntries ?? 10_000;
  }

  /** Opens (creating and migrating if needed) the database at `options.path`. */
  static async open(options: SqliteMessageStoreOptions): Promise<SqliteMessageStore> {
    mkdirSync(dirname(options.path), { recursive: true });
    // Migrate on this thread first so the reader sees the schema; the worker's migrate is then a no-op.
    const setup = new Database(options.path);
    configureConnection(setup, 'writer');
    migrate(setup);
    setup.close();
    const reader = new Database(options.path, { readonly: true });
    configureConnection(reader, 'reader');
    const writer = await GroupCommitWriter.start(
      { path: options.path, maxDatabaseBytes: options.maxDatabaseBytes },
      {
        maxBatch: options.maxBatch ?? 512,
        cursorFlushMs: options.cursorFlushMs ?? 100,
        maxQueuedWrites: options.maxQueuedWrites ?? 20_000,
        maxQueuedBytes: options.maxQueuedBytes ?? 64 * 1024 * 1024,
        onCommit: options.onCommit,
        onWriteHealth: options.onWriteHealth,
      },
    );
    return new SqliteMessageStore(new SqliteReads(reader), writer, options);
  }

  async appendMessage(message: NewMessage): Promise<AppendedMessage> {
    const refused = this.writer.unavailable;
    if (refused) throw refused;
    // Signal ids come from one sequence on this thread (gaps after a crash or a duplicate are fine;
    // an acked id is never reused because the sequence restarts above the stored maximum).
    const signalId = this.nextSignalId++;
    const storedAt = this.now();
    const op: MessageOp = {
      type: 'message',
      signalId,
      storedAt,
      senderEid: message.senderEid,
      senderDevice: message.senderDevice,
      clientId: message.clientId,
      recipientEid: message.recipientEid,
      recipientDevice: message.recipientDevice,
      body: message.encodeBody({ signalId: String(signalId), storedAt }),
    };
    const outcome = expectOutcome(await this.writer.write(op), 'message');
    const id = String(outcome.signalId);
    if (outcome.duplicate) return { duplicate: true, signalId: id, storedAt: outcome.storedAt, senderOffset: outcome.senderOffset, entries: [] };
    const selfMessage = op.recipientEid === op.senderEid;
    const entries = [messageEntry(op, id, op.senderEid, outcome.senderOffset, op.senderDevice, selfMessage ? op.recipientDevice : '')];
    if (!selfMessage) entries.push(messageEntry(op, id, op.recipientEid, outcome.recipientOffset, '', op.recipientDevice));
    return { duplicate: false, signalId: id, storedAt, senderOffset: outcome.senderOffset, entries };
  }

  async appendReceipt(receipt: NewReceipt): Promise<ReceiptOutcome> {
    const storedAt = this.now();
    const outcome = expectOutcome(
      await this.writer.write({
        type: 'receipt',
        messageSignalId: Number(receipt.messageSignalId),
        status: receipt.status,
        senderEid: receipt.senderEid,
        senderDevice: receipt.senderDevice,
        toEid: receipt.toEid,
        body: receipt.body,
        storedAt,
      }),
      'receipt',
    );
    if (outcome.result !== 'stored') return { result: outcome.result };
    return { result: 'stored', entries: toEntries(outcome.entries, EntryKind.Signal, receipt.messageSignalId, receipt.body, storedAt) };
  }

  async applyContactAction(action: NewContactAction): Promise<ContactOutcome> {
    const storedAt = this.now();
    const outcome = expectOutcome(
      await this.writer.write({
        type: 'contact',
        action: action.action,
        actorEid: action.actorEid,
        actorDevice: action.actorDevice,
        otherEid: action.otherEid,
        body: action.body,
        storedAt,
        maxBlocks: this.maxBlocks,
        maxContacts: this.maxContacts,
      }),
      'contact',
    );
    if (outcome.result === 'limit') {
      return { result: 'limit', list: outcome.list, owner: outcome.owner, max: outcome.list === 'blocks' ? this.maxBlocks : this.maxContacts };
    }
    // Committed: the next isBlocked for this pair asks the database.
    if (action.action === ContactAction.BLOCK || action.action === ContactAction.UNBLOCK) this.blockCache.delete(pairKey(action.actorEid, action.otherEid));
    if (outcome.result !== 'applied') return { result: outcome.result };
    return { result: 'applied', entries: toEntries(outcome.entries, EntryKind.Contact, '0', action.body, storedAt) };
  }

  async readEntries(eid: Eid, afterOffset: Offset, limit: number): Promise<QueueEntry[]> {
    return this.reads.entries(eid, afterOffset, limit);
  }

  async queueInfo(eid: Eid): Promise<QueueInfo> {
    return this.reads.queueInfo(eid);
  }

  async getCursor(eid: Eid, device: DeviceId): Promise<Offset | undefined> {
    const stored = this.reads.cursor(eid, device);
    const pending = this.writer.pendingCursor(pairKey(eid, device));
    if (pending === undefined) return stored;
    return Math.max(pending, stored ?? 0);
  }

  async commitCursor(eid: Eid, device: DeviceId, offset: Offset): Promise<void> {
    this.writer.commitCursor(pairKey(eid, device), { eid, device, cursor: offset, seenAt: this.now() });
  }

  async deleteCursors(eid: Eid, device: DeviceId): Promise<void> {
    // Cursor writes of the batch in flight land before this delete (the writer applies cursors
    // before ops); pending ones are dropped so they cannot bring the cursor back.
    this.writer.dropPendingCursors((cursor) => cursor.eid === eid && (device === '' || cursor.device === device));
    await this.writer.write({ type: 'delete-cursors', eid, device });
  }

  async knownDevices(eid: Eid): Promise<DeviceId[]> {
    return this.reads.devices(eid);
  }

  async deviceCount(eid: Eid): Promise<number> {
    let count = this.reads.deviceCount(eid);
    // First commits still on their way to disk count too (the device limit checks right after one).
    for (const device of this.writer.pendingDevices(eid)) if (this.reads.cursor(eid, device) === undefined) count++;
    return count;
  }

  async listContacts(eid: Eid): Promise<ContactRelation[]> {
    return this.reads.contacts(eid);
  }

  async isBlocked(blocker: Eid, blocked: Eid): Promise<boolean> {
    const key = pairKey(blocker, blocked);
    let answer = this.blockCache.get(key);
    if (answer === undefined) {
      answer = this.reads.isBlocked(blocker, blocked);
      if (this.blockCacheEntries > 0) {
        if (this.blockCache.size >= this.blockCacheEntries) this.blockCache.delete(this.blockCache.keys().next().value!);
        this.blockCache.set(key, answer);
      }
    }
    return answer;
  }

  async subscribersOf(eid: Eid): Promise<Eid[]> {
    return this.reads.subscribersOf(eid);
  }

  async subscriptionsOf(eid: Eid): Promise<Eid[]> {
    return this.reads.subscriptionsOf(eid);
  }

  async isSubscribed(subscriber: Eid, target: Eid): Promise<boolean> {
    return this.reads.isSubscribed(subscriber, target);
  }

  async isHidden(eid: Eid): Promise<boolean> {
    return this.reads.isHidden(eid);
  }

  async setHidden(eid: Eid, hidden: boolean): Promise<void> {
    await this.writer.write({ type: 'visibility', eid, hidden });
  }

  /** SPEC §6 F10: one retention batch, queued as one op of the writer's transactions (see the port). */
  async pruneOlderThan(cutoffMs: number, maxEntries: number): Promise<PruneResult> {
    if (!Number.isFinite(cutoffMs) || !Number.isSafeInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`pruneOlderThan(${cutoffMs}, ${maxEntries}): need a finite cutoff and a positive integer batch size`);
    }
    const outcome = await this.writer.write({ type: 'prune', cutoff: cutoffMs, maxEntries });
    if (outcome.type === 'failed') throw new Error(`retention batch failed: ${outcome.error}`);
    const { entries, messages, cursors } = expectOutcome(outcome, 'prune');
    return { entries, messages, cursors };
  }

  /**
   * A read; and, while the last commit failed, a probe write (see ProbeOp) so health recovers by
   * itself once the disk has room again, without waiting for user traffic. Concurrent checks share
   * one probe.
   */
  async ping(): Promise<void> {
    const refused = this.writer.unavailable;
    if (refused) throw refused;
    this.reads.ping();
    if (this.writer.commitFailure === undefined) return;
    this.probe ??= this.writer
      .write({ type: 'probe', bytes: HEALTH_PROBE_BYTES })
      .then(
        () => undefined,
        (err: unknown) => {
          throw (
            this.writer.unavailable ??
            new StoreWritesFailingError(`store writes failing: ${this.writer.commitFailure ?? (err as Error).message}`, { cause: err })
          );
        },
      )
      .finally(() => {
        this.probe = undefined;
      });
    await this.probe;
  }

  async close(): Promise<void> {
    await this.writer.close();
    this.reads.close();
  }
}

/** A stored message's entry in one user's queue (module level: no closure per append). */
function messageEntry(op: MessageOp, signalId: string, eid: Eid, offset: Offset, author: DeviceId, target: DeviceId): QueueEntry {
  return { eid, offset, kind: EntryKind.Message, signalId, authorDevice: author, targetDevice: target, body: op.body, storedAt: op.storedAt };
}
