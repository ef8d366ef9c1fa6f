/**
 * What both message-store engines (SQLite, PostgreSQL) share about their group-committed writes:
 * the op and outcome shapes that do not depend on how the engine names a signal id, and the small
 * helpers each store uses to turn an outcome into queue entries.
 */
import type { EntryKind, QueueEntry } from '../../core/types.js';

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

/** Logout (SPEC §6 F8): forget the cursor of one device, or of every device when `device` is ''. */
export interface DeleteCursorsOp {
  type: 'delete-cursors';
  eid: string;
  device: string;
}

/** A queue entry the transaction wrote: which queue, which offset, which author device. */
export interface WrittenEntry {
  eid: string;
  offset: number;
  authorDevice: string;
}

export type ReceiptWriteOutcome = { type: 'receipt'; result: 'stored' | 'duplicate' | 'superseded' | 'not-found' | 'forbidden'; entries: WrittenEntry[] };

export type ContactWriteOutcome =
  | { type: 'contact'; result: 'applied' | 'unchanged' | 'not-pending' | 'blocked'; entries: WrittenEntry[] }
  /** Issue #7: the list of `owner` is full; nothing written. */
  | { type: 'contact'; result: 'limit'; list: 'blocks' | 'contacts'; owner: 'actor' | 'other'; entries: WrittenEntry[] };

export interface CursorWrite {
  eid: string;
  device: string;
  cursor: number;
  seenAt: number;
}

/** Narrows a write's outcome to the type its op must answer; anything else is a bug of the engine. */
export function expectOutcome<O extends { type: string }, T extends O['type']>(outcome: O, type: T): Extract<O, { type: T }> {
  if (outcome.type !== type) throw new Error(`the writer answered ${outcome.type} to a ${type} write`);
  return outcome as Extract<O, { type: T }>;
}

/** The queue entries of a receipt or contact action the transaction wrote (`targetDevice` ''). */
export function toEntries(written: WrittenEntry[], kind: EntryKind, signalId: string, body: Uint8Array, storedAt: number): QueueEntry[] {
  return written.map((entry) => ({ eid: entry.eid, offset: entry.offset, kind, signalId, authorDevice: entry.authorDevice, targetDevice: '', body, storedAt }));
}

/** A map key for a pair of ids (eid + device, blocker + blocked), joined by U+0000. */
export function pairKey(a: string, b: string): string {
  return `${a}\u0000${b}`;
}
