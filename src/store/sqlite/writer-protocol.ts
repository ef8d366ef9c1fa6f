/** Messages between SqliteMessageStore (main thread) and its writer worker. */
import type { ContactOp, ContactWriteOutcome, CursorWrite, DeleteCursorsOp, ReceiptWriteOutcome, VisibilityOp } from '../shared/write-model.js';

export type { ContactOp, CursorWrite, DeleteCursorsOp, VisibilityOp, WrittenEntry } from '../shared/write-model.js';

export interface MessageOp {
  type: 'message';
  signalId: number;
  storedAt: number;
  senderEid: string;
  senderDevice: string;
  clientId: string;
  recipientEid: string;
  recipientDevice: string;
  body: Uint8Array;
}

export interface ReceiptOp {
  type: 'receipt';
  messageSignalId: number;
  status: number;
  senderEid: string;
  senderDevice: string;
  toEid: string;
  body: Uint8Array;
  storedAt: number;
}

/** SPEC §6 F10: one bounded retention batch (see MessageStore.pruneOlderThan). */
export interface PruneOp {
  type: 'prune';
  /** Epoch ms: entries stored and cursors last seen before this are removed. */
  cutoff: number;
  /** Most queue entries (and, separately, most cursors) removed by this op. */
  maxEntries: number;
}

/**
 * Health probe (SqliteMessageStore.ping after a failed commit): writes `bytes` and deletes them in
 * the same transaction, so it needs free pages and a durable commit like a real write, and leaves
 * nothing behind.
 */
export interface ProbeOp {
  type: 'probe';
  bytes: number;
}

export type WriteOp = MessageOp | ReceiptOp | ContactOp | VisibilityOp | PruneOp | DeleteCursorsOp | ProbeOp;

export type WriteOutcome =
  | { type: 'message'; duplicate: boolean; signalId: number; storedAt: number; senderOffset: number; recipientOffset: number }
  | ReceiptWriteOutcome
  | ContactWriteOutcome
  | { type: 'visibility' }
  | { type: 'delete-cursors'; deleted: number }
  | { type: 'prune'; entries: number; messages: number; cursors: number }
  | { type: 'probe' }
  /** The op failed and its savepoint was rolled back; the rest of the transaction still commits. */
  | { type: 'failed'; error: string };

export interface BatchRequest {
  type: 'batch';
  id: number;
  ops: WriteOp[];
  cursors: CursorWrite[];
}

export type WriterRequest = BatchRequest | { type: 'close'; id: number };

/**
 * One transaction's answer. It covers every batch in `ids` (the writer commits the batches posted
 * while its previous transaction ran together): `outcomes[i]` are batch `ids[i]`'s, in op order;
 * `seconds` is how long the transaction took, fsync included. A failed transaction fails all of them.
 */
export type WriterResponse =
  | { type: 'batches'; ids: number[]; outcomes: WriteOutcome[][]; seconds: number }
  | { type: 'failed'; ids: number[]; error: string }
  | { type: 'closed'; id: number };

export interface WriterOptions {
  path: string;
  /** SQLite `max_page_count` of the write connection, from SqliteMessageStoreOptions.maxDatabaseBytes. */
  maxDatabaseBytes?: number;
}
