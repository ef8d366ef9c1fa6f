/**
 * The main-thread side of the push outbox: the same operations as SqliteOutboxFile (push/outbox.ts), answered by the
 * outbox worker thread, so no SQLite call (and no fsync) ever blocks the event loop (issue #7).
 * Requests are answered in the order they are made.
 *
 * The embedded engine of the PushOutbox port (core/push-outbox.ts). The file belongs to one node,
 * so claims are kept here, in memory, not in the file: a claimed row is filtered out of later polls
 * until `remove` or `reschedule` ends the claim or the lease lapses. A restart forgets claims, which
 * is what a lapsed lease means (the dead process POSTs nothing). Ids are the file's AUTOINCREMENT:
 * unique for this file, which is all a single node needs.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { StoreUnavailableError } from '../core/errors.js';
import type { PushOutbox, PushOutboxPoll } from '../core/push-outbox.js';
import type { OutboxRequest, OutboxResponse, OutboxResults, OutboxWorkerData } from './outbox-protocol.js';

/** Distributes Omit over the request union, so each request keeps its own fields. */
type Unsent<R> = R extends { id: number } ? Omit<R, 'id'> : never;

interface Waiting {
  resolve(result: unknown): void;
  reject(error: Error): void;
}

/** Options of {@link OutboxClient.open}. */
export interface OutboxClientOptions {
  /** How long a polled row stays claimed without `remove` or `reschedule`; default 30000 ms. */
  leaseMs?: number;
}

export class OutboxClient implements PushOutbox {
  private readonly waiting = new Map<number, Waiting>();
  /** Claimed row ids → when their claim lapses. */
  private readonly claims = new Map<number, number>();
  private lastId = 0;
  private failure: StoreUnavailableError | undefined;
  private closed: Promise<void> | undefined;

  private constructor(
    private readonly worker: Worker,
    /** Rows in the file when it was opened. */
    readonly pendingAtOpen: number,
    private readonly leaseMs: number,
  ) {
    worker.on('message', (response: OutboxResponse) => this.onResponse(response));
    worker.on('error', (error) => this.fail(error));
    worker.on('exit', (code) => this.fail(new Error(`push outbox worker exited with code ${code}`)));
  }

  /** Starts the worker and opens (creating and migrating if needed) the outbox file at `path`. */
  static async open(path: string, options: OutboxClientOptions = {}): Promise<OutboxClient> {
    const leaseMs = options.leaseMs ?? 30_000;
    if (!Number.isInteger(leaseMs) || leaseMs < 1) throw new Error('push outbox: leaseMs must be a positive integer');
    const worker = startWorker(path);
    let first: OutboxResponse;
    try {
      first = await firstResponse(worker);
    } catch (error) {
      await worker.terminate();
      throw error;
    }
    if (first.type !== 'opened') {
      await worker.terminate();
      throw new Error(`push outbox could not be opened: ${first.type === 'open-failed' ? first.error : first.type}`);
    }
    return new OutboxClient(worker, first.pending, leaseMs);
  }

  /** Stores the notices in one durable transaction; resolves with their delivery ids, in order. */
  enqueue(bodies: string[], now: number): Promise<number[]> {
    return this.call<'enqueue'>({ type: 'enqueue', bodies, now });
  }

  /**
   * Claims up to `limit` unclaimed rows due at `now` (oldest first); `nextAttemptAt` is the earliest
   * next attempt or claim lapse after `now`.
   */
  async poll(now: number, limit: number): Promise<PushOutboxPoll> {
    for (const [rowId, until] of this.claims) if (until <= now) this.claims.delete(rowId);
    // Claimed rows may be among the oldest due: ask for enough to fill `limit` without them.
    const { due, nextAttemptAt } = await this.call<'poll'>({ type: 'poll', now, limit: limit + this.claims.size });
    const claimed = due.filter((row) => !this.claims.has(row.id)).slice(0, limit);
    for (const row of claimed) this.claims.set(row.id, now + this.leaseMs);
    let next = nextAttemptAt;
    for (const until of this.claims.values()) if (next === undefined || until < next) next = until;
    return { due: claimed, nextAttemptAt: next };
  }

  /** Removes a row (delivered or given up), ending its claim; true if it existed. */
  remove(rowId: number): Promise<boolean> {
    // Dropped at once: a later poll reaches the worker after this request, when the row is gone.
    this.claims.delete(rowId);
    return this.call<'remove'>({ type: 'remove', rowId });
  }

  /** Records a failed attempt and when to try again, ending the row's claim. */
  async reschedule(rowId: number, attempts: number, nextAttemptAt: number, lastStatus: number): Promise<void> {
    this.claims.delete(rowId);
    await this.call<'reschedule'>({ type: 'reschedule', rowId, attempts, nextAttemptAt, lastStatus });
  }

  /** Answers what was asked before, closes the file and stops the worker. Idempotent. */
  close(): Promise<void> {
    this.closed ??= this.shutDown();
    return this.closed;
  }

  private async shutDown(): Promise<void> {
    if (!this.failure) await this.call<'close'>({ type: 'close' }, true).catch(() => undefined);
    this.failure ??= new StoreUnavailableError('push outbox is closed');
    await this.worker.terminate();
  }

  private call<K extends keyof OutboxResults>(request: Unsent<OutboxRequest> & { type: K }, closing = false): Promise<OutboxResults[K]> {
    const refused = this.failure ?? (this.closed && !closing ? new StoreUnavailableError('push outbox is closed') : undefined);
    if (refused) return Promise.reject(refused);
    const id = ++this.lastId;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (result: unknown) => void, reject });
      this.worker.postMessage({ ...request, id } as OutboxRequest);
    });
  }

  private onResponse(response: OutboxResponse): void {
    if (response.type !== 'done' && response.type !== 'failed') return;
    const waiting = this.waiting.get(response.id);
    if (!waiting) return;
    this.waiting.delete(response.id);
    if (response.type === 'done') waiting.resolve(response.result);
    else waiting.reject(new StoreUnavailableError(`push outbox: ${response.error}`));
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = new StoreUnavailableError('push outbox is unavailable', { cause: error });
    for (const waiting of this.waiting.values()) waiting.reject(this.failure);
    this.waiting.clear();
  }
}

/** The worker's first message (opened or not), or its error or exit; no listener is left behind. */
function firstResponse(worker: Worker): Promise<OutboxResponse> {
  return new Promise((resolve, reject) => {
    const onMessage = (response: OutboxResponse) => {
      detach();
      resolve(response);
    };
    const onError = (error: Error) => {
      detach();
      reject(error);
    };
    const onExit = (code: number) => onError(new Error(`push outbox worker exited with code ${code}`));
    const detach = () => worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
  });
}

/**
 * Starts the worker from compiled code. When this module runs from the TypeScript sources (the
 * test suite), the worker still loads the build in dist/: Node 20 worker threads cannot load .ts
 * files (the same rule as the message store's writer, store/sqlite/group-commit-writer.ts).
 */
function startWorker(path: string): Worker {
  const fromSources = import.meta.url.endsWith('.ts');
  const url = new URL(fromSources ? '../../dist/push/outbox-worker.js' : './outbox-worker.js', import.meta.url);
  if (fromSources && !existsSync(url)) throw new Error(`${url.pathname} is missing: run \`npm run build\` first`);
  const workerData: OutboxWorkerData = { path };
  return new Worker(url, { workerData });
}
