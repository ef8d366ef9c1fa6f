/**
 * The push outbox port (SPEC §6 F9, §11): notices waiting to be POSTed by the push webhook engine.
 * Engines: the embedded per-node SQLite file (push/outbox-client.ts) and, in cluster mode, one table
 * every node shares (store/postgres/postgres-push-outbox.ts).
 *
 * Contract (test/contract/push-outbox.contract.ts checks it):
 * - Durability: once `enqueue` resolves, its notices survive a crash or restart of the node and of
 *   the backend, until `remove`.
 * - Ids: `enqueue` resolves with one delivery id per body, in the bodies' order. Ids increase with
 *   each call and are never reused, across every instance over the same data (cluster-wide).
 * - Claims: `poll(now, limit)` returns up to `limit` rows due at `now` (`nextAttemptAt <= now`),
 *   lowest id first, and CLAIMS them: a claimed row is returned to no poller (this instance or any
 *   other) until its claim ends. `remove` and `reschedule` end the claim; otherwise it lapses after
 *   the engine's lease (default 30 s), so the row of an instance that died mid-POST is retried by
 *   another after the lease. Two instances polling at once never get the same row. A POST that
 *   outlives the lease may be repeated by another instance: delivery is at least once, and
 *   receivers de-duplicate by `X-Bimip-Delivery` (the id).
 * - `nextAttemptAt` (from `poll`): the earliest time after `now` at which a row may become due (a
 *   later retry or a claim lapsing); a hint for the wake-up timer, which may come early, never late
 *   for rows this instance knows of. Rows other instances enqueue later are not announced: an
 *   instance sharing the outbox also polls periodically.
 * - Failures: every operation rejects with StoreUnavailableError (or StoreWritesFailingError) when
 *   the backend cannot answer; callers log and retry, nothing latches (SPEC §11 Faults).
 * - `close` is idempotent; operations after it reject with StoreUnavailableError. It never ends
 *   clients it was given (a shared pool).
 *
 * Departure from issue #8 ("written in the append transaction"): notices are written right after
 * the message store's commit, not inside its transaction, because deciding to push needs presence
 * (Redis), which the store transaction must not wait on. A node that dies between its commit and
 * the outbox insert loses that notice: a push is a wake-up, never a message (the entry is stored;
 * the device gets it on its next connection).
 *
 * Times are ms since the epoch from the caller's clock; in cluster mode the nodes' clocks must
 * agree to well within the lease.
 */

/** A notice waiting for delivery. */
export interface PushOutboxRow {
  /** The delivery id (X-Bimip-Delivery). */
  id: number;
  /** The exact JSON body to POST (the bytes that get signed). */
  body: string;
  enqueuedAt: number;
  /** Failed attempts so far. */
  attempts: number;
  nextAttemptAt: number;
}

/** What {@link PushOutbox.poll} answers. */
export interface PushOutboxPoll {
  /** Rows due now, lowest id first, now claimed by the caller. */
  due: PushOutboxRow[];
  /** The earliest time after `now` at which a known row may become due, if any. */
  nextAttemptAt: number | undefined;
}

export interface PushOutbox {
  /** Rows in the outbox when it was opened (every node's, for a shared outbox). */
  readonly pendingAtOpen: number;
  /** Stores the notices, due at `now`, in one durable transaction; resolves with their ids, in order. */
  enqueue(bodies: string[], now: number): Promise<number[]>;
  /** Claims and returns up to `limit` rows due at `now`, lowest id first (see the contract above). */
  poll(now: number, limit: number): Promise<PushOutboxPoll>;
  /** Removes a row (delivered or given up), ending its claim; true if it existed. */
  remove(id: number): Promise<boolean>;
  /** Records a failed attempt and when to try again, ending the row's claim. */
  reschedule(id: number, attempts: number, nextAttemptAt: number, lastStatus: number): Promise<void>;
  /** Releases the engine's own resources (never a pool it was given). Idempotent. */
  close(): Promise<void>;
}
