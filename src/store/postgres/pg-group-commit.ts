/**
 * Group commit for PostgresMessageStore. SPEC §6 F1.3: an append resolves only after the COMMIT
 * holding it returned (`synchronous_commit` stays on: the WAL is flushed before COMMIT answers).
 *
 * One transaction is in flight at a time per store; writes arriving meanwhile queue and go
 * together in the next one (at most `maxBatch`), so a commit's flush is shared by many sends.
 * With nothing in flight a write leaves at the end of the current event-loop turn. Cursor commits
 * ride on the next transaction, or a timer forces one after `cursorFlushMs`; `flushCursors`
 * forces one now.
 */
import type { Pool, PoolClient } from 'pg';
import { withClient } from './pg-client.js';
import { StoreOverloadedError, StoreUnavailableError } from '../../core/errors.js';
import { BatchTransaction, IdempotencyRaceError } from './batch-transaction.js';
import { connectionLost, retryable, toStoreError, writesFailing } from './pg-errors.js';
import type { CursorWrite, WriteOp, WriteOutcome } from './write-ops.js';

export interface PgGroupCommitOptions {
  maxBatch: number;
  cursorFlushMs: number;
  /** Issue #7: most writes waiting (the batch in flight not counted); past it a message is refused (503). */
  maxQueuedWrites: number;
  onCommit?: (writes: number, seconds: number) => void;
  onWriteHealth?: (healthy: boolean, error?: string) => void;
}

interface PendingWrite {
  op: WriteOp;
  resolve(outcome: WriteOutcome): void;
  reject(error: unknown): void;
}

interface CursorWaiter {
  resolve(): void;
  reject(error: unknown): void;
}

/** Runs of a batch after a deadlock or an idempotency race before it is given up. */
const MAX_ATTEMPTS = 4;
/** Queue rows known to exist (they are never deleted), so a batch skips creating them; bounded. */
const KNOWN_QUEUES_MAX = 100_000;

export class PgGroupCommit {
  private queued: PendingWrite[] = [];
  private dirtyCursors = new Map<string, CursorWrite>();
  /** Cursor values of the batch in flight, still answered by pendingCursor until it lands. */
  private inFlightCursors = new Map<string, CursorWrite>();
  private cursorWaiters: CursorWaiter[] = [];
  private inFlight: Promise<boolean> | undefined;
  private flushScheduled = false;
  private cursorTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly knownQueues = new Set<string>();
  /** Why the last transaction failed to commit, until one commits. */
  private lastCommitError: string | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly options: PgGroupCommitOptions,
  ) {}

  get commitFailure(): string | undefined {
    return this.lastCommitError;
  }

  write(op: WriteOp): Promise<WriteOutcome> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('message store is closed'));
    if (op.type === 'message' && this.queued.length >= this.options.maxQueuedWrites) {
      return Promise.reject(new StoreOverloadedError(`message store overloaded: ${this.queued.length} writes waiting`));
    }
    return new Promise((resolve, reject) => {
      this.queued.push({ op, resolve, reject });
      this.scheduleFlush();
    });
  }

  /** Records a cursor commit (forward only), written with the next transaction. */
  commitCursor(key: string, cursor: CursorWrite): void {
    if (this.closed) return;
    const pending = this.pendingCursor(key);
    if (pending !== undefined && pending >= cursor.cursor) {
      // Same or lower value: still "seen" now (SPEC §6 F10), but never a lower cursor.
      const dirty = this.dirtyCursors.get(key);
      if (dirty) dirty.seenAt = Math.max(dirty.seenAt, cursor.seenAt);
      else this.dirtyCursors.set(key, { ...cursor, cursor: pending });
    } else this.dirtyCursors.set(key, cursor);
    this.cursorTimer ??= setTimeout(() => {
      this.cursorTimer = undefined;
      this.scheduleFlush();
    }, this.options.cursorFlushMs);
  }

  /** Resolves once every cursor commit made before the call is durable. */
  flushCursors(): Promise<void> {
    if (this.dirtyCursors.size === 0 && this.inFlightCursors.size === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.cursorWaiters.push({ resolve, reject });
      // Written by the batch in flight only if nothing new came since; the next batch carries the rest.
      this.scheduleFlush(true);
    });
  }

  /** Forgets unwritten cursor commits `matches` accepts (a deleted cursor must not come back). */
  dropPendingCursors(matches: (cursor: CursorWrite) => boolean): void {
    for (const [key, cursor] of this.dirtyCursors) if (matches(cursor)) this.dirtyCursors.delete(key);
  }

  pendingCursor(key: string): number | undefined {
    const dirty = this.dirtyCursors.get(key)?.cursor;
    const inFlight = this.inFlightCursors.get(key)?.cursor;
    if (dirty === undefined) return inFlight;
    return inFlight === undefined ? dirty : Math.max(dirty, inFlight);
  }

  pendingDevices(eid: string): Set<string> {
    const devices = new Set<string>();
    for (const pending of [this.dirtyCursors, this.inFlightCursors]) for (const cursor of pending.values()) if (cursor.eid === eid) devices.add(cursor.device);
    return devices;
  }

  /**
   * Writes everything queued (writes and cursors); later writes are refused. Stops at the first
   * batch that fails (PostgreSQL down): its writes are rejected, and close does not wait for it to return.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.cursorTimer);
    this.cursorTimer = undefined;
    while (this.inFlight || this.queued.length > 0 || this.dirtyCursors.size > 0 || this.cursorWaiters.length > 0) {
      this.flush();
      if (!this.inFlight || !(await this.inFlight)) break;
    }
  }

  private scheduleFlush(cursorsToo = false): void {
    if (this.flushScheduled || this.inFlight) return;
    if (!cursorsToo && this.queued.length === 0 && this.dirtyCursors.size === 0) return;
    this.flushScheduled = true;
    // setImmediate: every frame read in this turn joins the same transaction.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.inFlight) return;
    if (this.queued.length === 0 && this.dirtyCursors.size === 0) {
      // Nothing left to write: waiters' cursors landed with an earlier batch.
      for (const waiter of this.cursorWaiters.splice(0)) waiter.resolve();
      return;
    }
    const writes = this.queued.splice(0, this.options.maxBatch);
    const cursors = this.dirtyCursors;
    const waiters = this.cursorWaiters.splice(0);
    this.dirtyCursors = new Map();
    this.inFlightCursors = cursors;
    clearTimeout(this.cursorTimer);
    this.cursorTimer = undefined;
    this.inFlight = this.commit(writes, cursors, waiters).finally(() => {
      this.inFlight = undefined;
      this.inFlightCursors = new Map();
      if (this.closed) return; // close() drives the remaining batches itself
      if (this.queued.length > 0 || this.cursorWaiters.length > 0) this.scheduleFlush(true);
      else if (this.dirtyCursors.size > 0 && !this.closed) {
        this.cursorTimer ??= setTimeout(() => {
          this.cursorTimer = undefined;
          this.scheduleFlush();
        }, this.options.cursorFlushMs);
      }
    });
  }

  /** Runs one batch and settles its writes; resolves with whether it committed. */
  private async commit(writes: PendingWrite[], cursors: Map<string, CursorWrite>, waiters: CursorWaiter[]): Promise<boolean> {
    const startedAt = process.hrtime.bigint();
    try {
      const outcomes = await this.runBatch(
        writes.map((write) => write.op),
        [...cursors.values()],
      );
      if (this.lastCommitError !== undefined) {
        this.lastCommitError = undefined;
        this.options.onWriteHealth?.(true);
      }
      if (writes.length > 0) this.options.onCommit?.(writes.length, Number(process.hrtime.bigint() - startedAt) / 1e9);
      for (const [index, outcome] of outcomes.entries()) writes[index]!.resolve(outcome);
      for (const waiter of waiters) waiter.resolve();
      return true;
    } catch (err) {
      const error = toStoreError(err, 'committing a batch');
      if (writesFailing(err) || !connectionLost(err)) {
        if (this.lastCommitError === undefined) this.options.onWriteHealth?.(false, (err as Error).message);
        this.lastCommitError = (err as Error).message;
      }
      // Unwritten cursor commits are kept for the next transaction (forward only, so merging is safe).
      for (const [key, cursor] of cursors) if ((this.dirtyCursors.get(key)?.cursor ?? -1) < cursor.cursor) this.dirtyCursors.set(key, cursor);
      for (const write of writes) write.reject(error);
      for (const waiter of waiters) waiter.reject(error);
      if (connectionLost(err)) {
        // PostgreSQL is unreachable (refused, reset, or silent past query_timeout): the writes that
        // queued meanwhile would wait a whole timeout more each; they get their 503 now (SPEC §11).
        for (const write of this.queued.splice(0)) write.reject(error);
      }
      return false;
    }
  }

  /** Takes signal ids and creates queue rows, then runs the transaction, again after a deadlock. */
  private runBatch(ops: WriteOp[], cursors: CursorWrite[]): Promise<WriteOutcome[]> {
    return withClient(this.pool, 'committing a batch', async (client, connection) => {
      await this.prepare(client, ops);
      let isolate = false;
      for (let attempt = 1; ; attempt++) {
        try {
          return await new BatchTransaction(client, isolate).run(ops, cursors);
        } catch (err) {
          if (connection.lost || connectionLost(err)) throw err;
          await client.query('ROLLBACK');
          if (attempt >= MAX_ATTEMPTS || writesFailing(err)) throw err;
          // A deadlock or race: run it again as it was. Anything else: isolate the op that fails.
          if (!(retryable(err) || err instanceof IdempotencyRaceError)) {
            if (isolate) throw err;
            isolate = true;
          }
        }
      }
    });
  }

  /**
   * Outside the transaction: creates the queue rows of users not seen before, committed at once,
   * so a new user's row never waits on a batch that holds other locks (rows are inserted in eid
   * order, and hold nothing else). Skipped when every queue is known (rows are never deleted).
   */
  private async prepare(client: PoolClient, ops: WriteOp[]): Promise<void> {
    const creates = new Set<string>();
    for (const op of ops) {
      if (op.type === 'message') for (const eid of [op.message.senderEid, op.message.recipientEid]) creates.add(eid);
      // A receipt appends only to queues its message already wrote: it never creates one.
      if (op.type === 'contact') for (const eid of [op.actorEid, op.otherEid]) creates.add(eid);
    }
    const unknown = [...creates].filter((eid) => !this.knownQueues.has(eid)).sort();
    if (unknown.length === 0) return;
    await client.query({
      name: 'bimip_create_queues',
      text: 'INSERT INTO queues (eid) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING',
      values: [unknown],
    });
    if (this.knownQueues.size + unknown.length > KNOWN_QUEUES_MAX) this.knownQueues.clear();
    for (const eid of unknown) this.knownQueues.add(eid);
  }
}
