/** The writes PostgresMessageStore group-commits, and what each one answers. */
import type { NewMessage } from '../../core/types.js';
import type { ContactOp, ContactWriteOutcome, DeleteCursorsOp, ReceiptWriteOutcome, VisibilityOp } from '../shared/write-model.js';

export type { ContactOp, CursorWrite, DeleteCursorsOp, VisibilityOp, WrittenEntry } from '../shared/write-model.js';

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

/** Health probe after a failed commit: a real write (and its delete) that must commit durably. */
export interface ProbeOp {
  type: 'probe';
}

export type WriteOp = MessageOp | ReceiptOp | ContactOp | VisibilityOp | DeleteCursorsOp | ProbeOp;

export type WriteOutcome =
  | { type: 'message'; duplicate: boolean; signalId: string; storedAt: number; senderOffset: number; recipientOffset: number }
  /** The recipient blocks the sender (checked inside the append transaction): nothing written. */
  | { type: 'blocked' }
  | ReceiptWriteOutcome
  | ContactWriteOutcome
  | { type: 'done' }
  /** The op failed on its own (its savepoint was rolled back); the rest of the batch committed. */
  | { type: 'failed'; error: Error };

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
