/** The writes PostgresMessageStore group-commits, and what each one answers. */
import type { NewMessage } from '../../core/types.js';

export interface MessageOp {
  type: 'message';
  message: NewMessage;
  storedAt: number;
  /** Set by the batch transaction, from the signal_ids sequence. */
  signalId?: string;
  /** `message.encodeBody` once signalId is known. */
  body?: Uint8Array;
  /** Why `message.encodeBody` failed, if it did (the op is then answered with it). */
  encodeError?: Error;
}

export interface ReceiptOp {
  type: 'receipt';
  messageSignalId: string;
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
  /** Issue #7 limits, checked in the transaction (0 = unlimited). */
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

/** Health probe after a failed commit: a real write (and its delete) that must commit durably. */
export interface ProbeOp {
  type: 'probe';
}

export type WriteOp = MessageOp | ReceiptOp | ContactOp | VisibilityOp | DeleteCursorsOp | ProbeOp;

/** A queue entry a transaction wrote. */
export interface WrittenEntry {
  eid: string;
  offset: number;
  authorDevice: string;
}

export type WriteOutcome =
  | { type: 'message'; duplicate: boolean; signalId: string; storedAt: number; senderOffset: number; recipientOffset: number }
  /** The recipient blocks the sender (checked inside the append transaction): nothing written. */
  | { type: 'blocked' }
  | { type: 'receipt'; result: 'stored' | 'duplicate' | 'superseded' | 'not-found' | 'forbidden'; entries: WrittenEntry[] }
  | { type: 'contact'; result: 'applied' | 'unchanged' | 'not-pending' | 'blocked'; entries: WrittenEntry[] }
  | { type: 'contact'; result: 'limit'; list: 'blocks' | 'contacts'; owner: 'actor' | 'other'; entries: WrittenEntry[] }
  | { type: 'done' }
  /** The op failed on its own (its savepoint was rolled back); the rest of the batch committed. */
  | { type: 'failed'; error: Error };

export interface CursorWrite {
  eid: string;
  device: string;
  cursor: number;
  seenAt: number;
}

/** The queues an op appends to or checks, all locked (in eid order) at the start of its transaction. */
export function queuesOf(op: WriteOp): string[] {
  switch (op.type) {
    case 'message':
      return [op.message.senderEid, op.message.recipientEid];
    case 'receipt':
      return [op.toEid, op.senderEid];
    case 'contact':
      return [op.actorEid, op.otherEid];
    default:
      return [];
  }
}

/** PostgreSQL text cannot hold U+0000: such an op would fail its statement, so it is refused up front. */
export function hasNul(op: WriteOp): boolean {
  const strings =
    op.type === 'message'
      ? [op.message.senderEid, op.message.senderDevice, op.message.clientId, op.message.recipientEid, op.message.recipientDevice]
      : op.type === 'receipt'
        ? [op.senderEid, op.senderDevice, op.toEid]
        : op.type === 'contact'
          ? [op.actorEid, op.actorDevice, op.otherEid]
          : op.type === 'probe'
            ? []
            : [op.eid, 'device' in op ? op.device : ''];
  return strings.some((value) => value.includes('\u0000'));
}
