/**
 * The main-thread side of the SQLite writer worker: queues writes and sends them as group commits.
 *
 * The writes of one event-loop turn leave together at its end (setImmediate, at most `maxBatch` per
 * post), whether or not a transaction is committing. The worker commits everything posted while its
 * last transaction ran in its next one (writer-worker.ts), so durability costs one fsync per
 * transaction, not per write; a lone message waits for nothing but its own fsync; and the next
 * transaction starts as soon as the last is durable (issue #10: before, it waited for this thread
 * to get the answer and post again). Cursor commits ride along with the next batch; with no writes,
 * a timer forces one after `cursorFlushMs`.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { StoreOverloadedError, StoreUnavailableError } from '../../core/errors.js';
import type { CursorWrite, WriteOp, WriteOutcome, WriterOptions, WriterRequest, WriterResponse } from './writer-protocol.js';

export interface GroupCommitOptions {
  maxBatch: number;
  cursorFlushMs: number;
  /**
   * Issue #7: most writes waiting for their transaction (posted or not; the oldest batch posted not
   * counted, it is the one committing), and most bytes of their bodies; past either, a message
   * write is refused at once with
   * StoreOverloadedError (SPEC §10: 503, retry later) instead of queueing without limit. Other writes count towards
   * the bound but are never refused by it: receipts and contact actions are small and throttled by
   * the per-connection rate limit, and a logout's cursor delete or a retention batch must not be
   * lost. A single body larger than `maxQueuedBytes` is accepted when nothing else waits.
   */
  maxQueuedWrites: number;
  maxQueuedBytes: number;
  /** Called after each durable transaction that carried writes, with their number and its duration (fsync included). */
  onCommit?: (writes: number, seconds: number) => void;
  /** Called when commits start failing (false, with the error) and when one succeeds again (true). */
  onWriteHealth?: (healthy: boolean, error?: string) => void;
}

interface PendingWrite {
  /** Dropped once posted: the worker has its own copy, and the bound counts the bytes separately. */
  op: WriteOp | undefined;
  resolve(outcome: WriteOutcome): void;
  reject(error: Error): void;
}

/** A batch posted to the worker and not yet answered. */
interface PostedBatch {
  writes: PendingWrite[];
  bytes: number;
  /** Its cursor values, still visible to readers until the batch lands. */
  cursors: Map<string, CursorWrite>;
}

export class GroupCommitWriter {
  private queued: PendingWrite[] = [];
  /** Bytes of the bodies in `queued`. */
  private queuedBytes = 0;
  /** Why the last transaction failed to commit; cleared by the next one that commits. */
  private lastCommitError: string | undefined;
  private dirtyCursors = new Map<string, CursorWrite>();
  /** Batches posted and not yet answered, by id, oldest first. */
  private readonly posted = new Map<number, PostedBatch>();
  /** Writes and body bytes in `posted`. */
  private postedWrites = 0;
  private postedBytes = 0;
  private flushScheduled = false;
  private cursorTimer: NodeJS.Timeout | undefined;
  private requestId = 0;
  private failure: Error | undefined;
  private closing: { id: number; resolve(): void } | undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly options: GroupCommitOptions,
  ) {
    worker.on('message', (response: WriterResponse) => this.onResponse(response));
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => this.fail(new Error(`SQLite writer exited with code ${code}`)));
  }

  static async start(workerOptions: WriterOptions, options: GroupCommitOptions): Promise<GroupCommitWriter> {
    const worker = startWorker(workerOptions);
    await new Promise<void>((resolve, reject) => {
      worker.once('online', resolve);
      worker.once('error', reject);
    });
    return new GroupCommitWriter(worker, options);
  }

  /** Why writes are refused, if they are. */
  get unavailable(): StoreUnavailableError | undefined {
    if (this.failure) return new StoreUnavailableError('message store is unavailable', { cause: this.failure });
    if (this.closing) return new StoreUnavailableError('message store is closing');
    return undefined;
  }

  /** The error of the last transaction if it failed to commit (disk full, I/O error), until one commits. */
  get commitFailure(): string | undefined {
    return this.lastCommitError;
  }

  /** Queues one write; resolves with its outcome once its transaction is durable. */
  write(op: WriteOp): Promise<WriteOutcome> {
    const refused = this.unavailable;
    if (refused) return Promise.reject(refused);
    const bytes = bodyBytes(op);
    if (op.type === 'message' && this.overloadedBy(bytes)) {
      return Promise.reject(new StoreOverloadedError(`message store overloaded: ${this.waitingWrites} writes (${this.waitingBytes} bytes) waiting`));
    }
    return new Promise((resolve, reject) => {
      this.queued.push({ op, resolve, reject });
      this.queuedBytes += bytes;
      this.scheduleFlush();
    });
  }

  private overloadedBy(bytes: number): boolean {
    const { maxQueuedWrites, maxQueuedBytes } = this.options;
    const waitingBytes = this.waitingBytes;
    return this.waitingWrites >= maxQueuedWrites || (waitingBytes > 0 && waitingBytes + bytes > maxQueuedBytes);
  }

  /** The oldest posted batch is the one committing (or next to): it does not count as waiting. */
  private get committing(): PostedBatch | undefined {
    for (const batch of this.posted.values()) return batch;
    return undefined;
  }

  private get waitingWrites(): number {
    return this.queued.length + this.postedWrites - (this.committing?.writes.length ?? 0);
  }

  private get waitingBytes(): number {
    return this.queuedBytes + this.postedBytes - (this.committing?.bytes ?? 0);
  }

  /** Records a cursor commit (forward only); persisted with the next transaction. */
  commitCursor(key: string, cursor: CursorWrite): void {
    const pending = this.pendingCursor(key);
    if (pending !== undefined && pending >= cursor.cursor) return;
    this.dirtyCursors.set(key, cursor);
    this.cursorTimer ??= setTimeout(() => {
      this.cursorTimer = undefined;
      this.scheduleFlush();
    }, this.options.cursorFlushMs);
  }

  /**
   * Forgets cursor commits not yet written for the keys `matches` accepts (a deleted cursor must
   * not come back from a pending write). The delete itself must be queued after this call.
   */
  dropPendingCursors(matches: (cursor: CursorWrite) => boolean): void {
    for (const [key, cursor] of this.dirtyCursors) if (matches(cursor)) this.dirtyCursors.delete(key);
  }

  /** The highest cursor for `key` committed but not yet known to be on disk. */
  pendingCursor(key: string): number | undefined {
    let highest = this.dirtyCursors.get(key)?.cursor;
    for (const batch of this.posted.values()) {
      const posted = batch.cursors.get(key)?.cursor;
      if (posted !== undefined && (highest === undefined || posted > highest)) highest = posted;
    }
    return highest;
  }

  /** Devices of `eid` with a cursor commit not yet known to be on disk (issue #7: the device limit counts them). */
  pendingDevices(eid: string): Set<string> {
    const devices = new Set<string>();
    for (const pending of [this.dirtyCursors, ...[...this.posted.values()].map((batch) => batch.cursors)]) {
      for (const cursor of pending.values()) if (cursor.eid === eid) devices.add(cursor.device);
    }
    return devices;
  }

  /** Writes everything queued (writes and cursors), then stops the worker. */
  async close(): Promise<void> {
    if (this.closing) return;
    clearTimeout(this.cursorTimer);
    while (!this.failure && (this.posted.size > 0 || this.queued.length > 0 || this.dirtyCursors.size > 0)) {
      this.flush();
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await new Promise<void>((resolve) => {
      this.closing = { id: ++this.requestId, resolve };
      if (this.failure) return resolve();
      this.post({ type: 'close', id: this.closing.id });
    });
    await this.worker.terminate();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // setImmediate: every frame read in this turn joins the same transaction.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.failure) return;
    if (this.queued.length === 0 && this.dirtyCursors.size === 0) return;
    clearTimeout(this.cursorTimer);
    this.cursorTimer = undefined;
    do {
      const writes = this.queued.splice(0, this.options.maxBatch);
      const ops: WriteOp[] = [];
      let bytes = 0;
      for (const write of writes) {
        const op = write.op!;
        ops.push(op);
        bytes += bodyBytes(op);
        write.op = undefined;
      }
      this.queuedBytes -= bytes;
      const cursors = this.dirtyCursors;
      this.dirtyCursors = new Map();
      const id = ++this.requestId;
      this.posted.set(id, { writes, bytes, cursors });
      this.postedWrites += writes.length;
      this.postedBytes += bytes;
      this.post({ type: 'batch', id, ops, cursors: [...cursors.values()] });
    } while (this.queued.length > 0);
  }

  private post(request: WriterRequest): void {
    this.worker.postMessage(request);
  }

  private onResponse(response: WriterResponse): void {
    if (response.type === 'closed') {
      this.closing?.resolve();
      return;
    }
    // Kept by position: `outcomes[i]` belongs to `ids[i]` (a batch no longer posted leaves a hole).
    const batches: Array<PostedBatch | undefined> = response.ids.map((id) => {
      const batch = this.posted.get(id);
      if (!batch) return undefined;
      this.posted.delete(id);
      this.postedWrites -= batch.writes.length;
      this.postedBytes -= batch.bytes;
      return batch;
    });
    if (response.type === 'failed') {
      if (this.lastCommitError === undefined) this.options.onWriteHealth?.(false, response.error);
      this.lastCommitError = response.error;
      const error = new StoreUnavailableError(`commit failed: ${response.error}`);
      for (const batch of batches) for (const write of batch?.writes ?? []) write.reject(error);
      return;
    }
    if (this.lastCommitError !== undefined) {
      this.lastCommitError = undefined;
      this.options.onWriteHealth?.(true);
    }
    const writes = batches.reduce((sum, batch) => sum + (batch?.writes.length ?? 0), 0);
    if (writes > 0) this.options.onCommit?.(writes, response.seconds);
    for (const [i, batch] of batches.entries()) {
      if (!batch) continue;
      const outcomes = response.outcomes[i]!;
      for (const [index, outcome] of outcomes.entries()) batch.writes[index]!.resolve(outcome);
    }
  }

  private fail(error: Error): void {
    if (this.failure || this.closing) return;
    this.failure = error;
    const unavailable = new StoreUnavailableError('message store is unavailable', { cause: error });
    for (const batch of this.posted.values()) for (const write of batch.writes) write.reject(unavailable);
    for (const write of this.queued) write.reject(unavailable);
    this.posted.clear();
    this.postedWrites = 0;
    this.postedBytes = 0;
    this.queued = [];
    this.queuedBytes = 0;
  }
}

function bodyBytes(op: WriteOp): number {
  return 'body' in op ? op.body.byteLength : 0;
}

/**
 * Starts the writer worker from compiled code. When this module itself runs from the TypeScript
 * sources (the test suite), the worker still loads the build in dist/ (`npm test` builds first):
 * Node 20 worker threads cannot load .ts files.
 */
function startWorker(workerData: WriterOptions): Worker {
  const fromSources = import.meta.url.endsWith('.ts');
  const url = new URL(fromSources ? '../../../dist/store/sqlite/writer-worker.js' : './writer-worker.js', import.meta.url);
  if (fromSources && !existsSync(url)) throw new Error(`${url.pathname} is missing: run \`npm run build\` first`);
  return new Worker(url, { workerData });
}
