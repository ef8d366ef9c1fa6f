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
import type { MessageStore, PruneResult } from '../../core/message-store.js';
import { ContactAction } from '../../protocol/codes.js';
import {
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
import type { MessageOp, WriteOutcome, WrittenEntry } from './writer-protocol.js';

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
}

export class SqliteMessageStore implements MessageStore, ContactStore {
  private readonly now: () => number;
  private nextSignalId: number;
  /** Every block, "blocker\0blocked": the send path checks it per message without a query. */
  private readonly blocks: Set<string>;

  private constructor(
    private readonly reads: SqliteReads,
    private readonly writer: GroupCommitWriter,
    options: SqliteMessageStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.nextSignalId = reads.maxSignalId() + 1;
    this.blocks = new Set(reads.allBlocks().map(([blocker, blocked]) => pairKey(blocker, blocked)));
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
    const writer = await GroupCommitWriter.start(options.path, {
      maxBatch: options.maxBatch ?? 512,
      cursorFlushMs: options.cursorFlushMs ?? 100,
      onCommit: options.onCommit,
    });
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
    const outcome = expect(await this.writer.write(op), 'message');
    const id = String(outcome.signalId);
    if (outcome.duplicate) return { duplicate: true, signalId: id, storedAt: outcome.storedAt, senderOffset: outcome.senderOffset, entries: [] };
    const selfMessage = op.recipientEid === op.senderEid;
    const entry = (eid: Eid, offset: Offset, author: DeviceId, target: DeviceId): QueueEntry => ({
      eid, offset, kind: EntryKind.Message, signalId: id, authorDevice: author, targetDevice: target, body: op.body, storedAt,
    });
    const entries = [entry(op.senderEid, outcome.senderOffset, op.senderDevice, selfMessage ? op.recipientDevice : '')];
    if (!selfMessage) entries.push(entry(op.recipientEid, outcome.recipientOffset, '', op.recipientDevice));
    return { duplicate: false, signalId: id, storedAt, senderOffset: outcome.senderOffset, entries };
  }

  async appendReceipt(receipt: NewReceipt): Promise<ReceiptOutcome> {
    const storedAt = this.now();
    const outcome = expect(
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
    const outcome = expect(
      await this.writer.write({ type: 'contact', action: action.action, actorEid: action.actorEid, actorDevice: action.actorDevice, otherEid: action.otherEid, body: action.body, storedAt }),
      'contact',
    );
    if (outcome.result !== 'applied') return { result: outcome.result };
    if (action.action === ContactAction.BLOCK) this.blocks.add(pairKey(action.actorEid, action.otherEid));
    if (action.action === ContactAction.UNBLOCK) this.blocks.delete(pairKey(action.actorEid, action.otherEid));
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

  async listContacts(eid: Eid): Promise<ContactRelation[]> {
    return this.reads.contacts(eid);
  }

  async isBlocked(blocker: Eid, blocked: Eid): Promise<boolean> {
    return this.blocks.has(pairKey(blocker, blocked));
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
    const { entries, messages, cursors } = expect(outcome, 'prune');
    return { entries, messages, cursors };
  }

  async ping(): Promise<void> {
    const refused = this.writer.unavailable;
    if (refused) throw refused;
    this.reads.ping();
  }

  async close(): Promise<void> {
    await this.writer.close();
    this.reads.close();
  }
}

function expect<T extends WriteOutcome['type']>(outcome: WriteOutcome, type: T): Extract<WriteOutcome, { type: T }> {
  if (outcome.type !== type) throw new Error(`writer answered ${outcome.type} to a ${type} write`);
  return outcome as Extract<WriteOutcome, { type: T }>;
}

function toEntries(written: WrittenEntry[], kind: EntryKind, signalId: string, body: Uint8Array, storedAt: number): QueueEntry[] {
  return written.map((entry) => ({ eid: entry.eid, offset: entry.offset, kind, signalId, authorDevice: entry.authorDevice, targetDevice: '', body, storedAt }));
}

function pairKey(a: string, b: string): string {
  return `${a}\u0000${b}`;
}
