/** Messages between SqliteMessageStore (main thread) and its writer worker. */

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

export interface ContactOp {
  type: 'contact';
  action: number;
  actorEid: string;
  actorDevice: string;
  otherEid: string;
  body: Uint8Array;
  storedAt: number;
  /** Issue #7 limits, checked in the transaction (0 = unlimited): users the actor may block; contacts per user. */
  maxBlocks: number;
  maxContacts: number;
}

export interface VisibilityOp {
  type: 'visibility';
  eid: string;
  hidden: boolean;
}

/** SPEC §6 F10: one bounded retention batch (see MessageStore.pruneOlderThan). */
export interface PruneOp {
  type: 'prune';
  /** Epoch ms: entries stored and cursors last seen before this are removed. */
  cutoff: number;
  /** Most queue entries (and, separately, most cursors) removed by this op. */
  maxEntries: number;
}

/** Logout (SPEC §6 F8): forget the cursor of one device, or of every device when `device` is ''. */
export interface DeleteCursorsOp {
  type: 'delete-cursors';
  eid: string;
  device: string;
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

/** A queue entry the transaction wrote: which queue, which offset, which author device. */
export interface WrittenEntry {
  eid: string;
  offset: number;
  authorDevice: string;
}

export type WriteOutcome =
  | { type: 'message'; duplicate: boolean; signalId: number; storedAt: number; senderOffset: number; recipientOffset: number }
  | { type: 'receipt'; result: 'stored' | 'duplicate' | 'superseded' | 'not-found' | 'forbidden'; entries: WrittenEntry[] }
  | { type: 'contact'; result: 'applied' | 'unchanged' | 'not-pending' | 'blocked'; entries: WrittenEntry[] }
  /** Issue #7: the list of `owner` is full; nothing written. */
  | { type: 'contact'; result: 'limit'; list: 'blocks' | 'contacts'; owner: 'actor' | 'other'; entries: WrittenEntry[] }
  | { type: 'visibility' }
  | { type: 'delete-cursors'; deleted: number }
  | { type: 'prune'; entries: number; messages: number; cursors: number }
  | { type: 'probe' }
  /** The op failed and its savepoint was rolled back; the rest of the transaction still commits. */
  | { type: 'failed'; error: string };

export interface CursorWrite {
  eid: string;
  device: string;
  cursor: number;
  seenAt: number;
}

export type WriterRequest = { type: 'batch'; id: number; ops: WriteOp[]; cursors: CursorWrite[] } | { type: 'close'; id: number };

export type WriterResponse =
  | { type: 'batch'; id: number; outcomes: WriteOutcome[] }
  | { type: 'failed'; id: number; error: string }
  | { type: 'closed'; id: number };

export interface WriterOptions {
  path: string;
  /** SQLite `max_page_count` of the write connection, from SqliteMessageStoreOptions.maxDatabaseBytes. */
  maxDatabaseBytes?: number;
}
