/** Messages between the push hook (main thread, outbox-client.ts) and the outbox worker. */
import type { OutboxRow } from './outbox.js';

/** What each request answers, by request type. */
export interface OutboxResults {
  /** The delivery ids of the new rows, in order. */
  enqueue: number[];
  /** Rows due now, oldest first, and the earliest later attempt (for the wake-up timer). */
  poll: { due: OutboxRow[]; nextAttemptAt: number | undefined };
  /** Whether the row existed. */
  remove: boolean;
  reschedule: null;
  close: null;
}

export type OutboxRequest =
  | { type: 'enqueue'; id: number; bodies: string[]; now: number }
  | { type: 'poll'; id: number; now: number; limit: number }
  | { type: 'remove'; id: number; rowId: number }
  | { type: 'reschedule'; id: number; rowId: number; attempts: number; nextAttemptAt: number; lastStatus: number }
  | { type: 'close'; id: number };

export type OutboxResponse =
  /** First message of the worker: the file is open and migrated; `pending` rows wait in it. */
  | { type: 'opened'; pending: number }
  | { type: 'open-failed'; error: string }
  | { type: 'done'; id: number; result: OutboxResults[keyof OutboxResults] }
  | { type: 'failed'; id: number; error: string };

export interface OutboxWorkerData {
  path: string;
}
