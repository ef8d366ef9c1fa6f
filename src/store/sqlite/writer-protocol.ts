/** Messages between SqliteMessageStore (main thread) and its writer worker. */

export interface AppendItem {
  signalId: number;
  storedAt: number;
  senderEid: string;
  senderDevice: string;
  clientId: string;
  recipientEid: string;
  recipientDevice: string;
  body: Uint8Array;
}

export interface AppendOutcome {
  duplicate: boolean;
  signalId: number;
  storedAt: number;
  senderOffset: number;
  /** 0 when the recipient is the sender (one entry) or for a duplicate. */
  recipientOffset: number;
}

export interface CursorWrite {
  eid: string;
  device: string;
  cursor: number;
  seenAt: number;
}

export type WriterRequest =
  | { type: 'batch'; id: number; appends: AppendItem[]; cursors: CursorWrite[] }
  | { type: 'close'; id: number };

export type WriterResponse =
  | { type: 'batch'; id: number; outcomes: AppendOutcome[] }
  | { type: 'failed'; id: number; error: string }
  | { type: 'closed'; id: number };

export interface WriterOptions {
  path: string;
}
