/**
 * The push webhook engine (SPEC §6 F9): every notice goes into a durable outbox first, then a
 * dispatcher POSTs it, signed, to the configured URL, retrying with exponential backoff until a
 * 2xx or `maxAttempts`. Delivery is at least once: a receiver may see a delivery id twice (e.g.
 * after a crash between its 2xx and our delete) and should de-duplicate by `X-Bimip-Delivery`.
 *
 * The outbox lives on a worker thread (outbox-client.ts), so `notify` never waits for a disk
 * (issue #7): it queues the notice in memory, and every notice queued in one event-loop turn is
 * written in one transaction, one fsync (group commit, like the message store's writer). While a
 * batch is being written, new notices queue for the next. The memory queue is bounded; past
 * `maxQueuedNotices` notices are dropped (counted, one warn line per overload).
 *
 * The outbox is a PushOutbox (core/push-outbox.ts): `open` makes the embedded per-node SQLite one;
 * `withOutbox` takes any engine, e.g. the PostgreSQL one every node of a cluster shares (SPEC §11).
 * Each poll claims the rows it starts, so nodes sharing an outbox never POST a notice at the same
 * time; they also poll every `pollIntervalMs`, to see rows other nodes enqueued or left behind.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Registry } from 'prom-client';
import { systemClock, type Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { PushHook, PushNotice } from '../core/push-hook.js';
import type { PushOutbox } from '../core/push-outbox.js';
import { backoffDelay, type BackoffPolicy } from './backoff.js';
import { toNoticeBody } from './notice-body.js';
import type { OutboxRow } from './outbox.js';
import { OutboxClient } from './outbox-client.js';
import { PushMetrics } from './push-metrics.js';
import { postWebhook } from './webhook-request.js';

/** Options of {@link WebhookPushHook.withOutbox}. Durations in ms. */
export interface WebhookPushHookEngineOptions {
  /** http(s) URL that receives the POSTs (BIMIP_PUSH_WEBHOOK_URL). */
  url: string;
  /** HMAC-SHA256 key for X-Bimip-Signature (BIMIP_PUSH_WEBHOOK_SECRET); required, non-empty. */
  secret: string;
  logger: Logger;
  /**
   * Longest sleep between two polls of the outbox even when no row of this node is due: how soon
   * rows other nodes enqueued, or left claimed when they died, are seen. Default 1000 for
   * `withOutbox`; none for `open` (a node's own file holds only its own rows).
   */
  pollIntervalMs?: number;
  /** Schedules retries; default the system clock. */
  clock?: Clock;
  /** Where the bimip_push_* metrics are registered; default a private registry. */
  registry?: Registry;
  /** POSTs per notice before it is dropped; default 8. */
  maxAttempts?: number;
  /** First retry delay, doubled on each further failure; default 1000. */
  baseDelayMs?: number;
  /** Cap on any retry delay; default 300000 (5 min). */
  maxDelayMs?: number;
  /** ± spread of each retry delay; default 0.2. */
  jitterRatio?: number;
  /** Bound on one POST, response body included; default 5000. */
  requestTimeoutMs?: number;
  /** POSTs in flight at most; default 4. */
  concurrency?: number;
  /** How long `close` lets in-flight POSTs finish before aborting them; default 2000. */
  closeTimeoutMs?: number;
  /**
   * Notices waiting in memory for their outbox write (besides the batch being written); past it
   * notices are dropped; default 10000.
   */
  maxQueuedNotices?: number;
}

/** Options of {@link WebhookPushHook.open}. Durations in ms. */
export interface WebhookPushHookOptions extends WebhookPushHookEngineOptions {
  /** The outbox's own SQLite file, e.g. `<dataDir>/push-outbox.sqlite`; its folder is created. */
  outboxPath: string;
}

/** The durable, signed, retrying webhook {@link PushHook}. Create with {@link WebhookPushHook.open}. */
export class WebhookPushHook implements PushHook {
  /** The metrics, for tests and the composition root. */
  readonly metrics: PushMetrics;

  private readonly url: string;
  private readonly secret: string;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly maxAttempts: number;
  private readonly policy: BackoffPolicy;
  private readonly requestTimeoutMs: number;
  private readonly concurrency: number;
  private readonly closeTimeoutMs: number;
  private readonly maxQueuedNotices: number;
  private readonly pollIntervalMs: number | undefined;
  /** Bodies of notices accepted by notify() and not yet handed to the outbox. */
  private queued: string[] = [];
  private flushScheduled = false;
  /** The running write loop, while one runs. */
  private writing: Promise<void> | undefined;
  /** Notices dropped for overload since the queue last caught up (one warn line per overload). */
  private overloadDrops = 0;
  private readonly inFlight = new Map<number, Promise<void>>();
  /** Aborts in-flight POSTs that outlive close's grace period. */
  private readonly shutdown = new AbortController();
  private depth: number;
  private wake: { at: number; timer: { cancel(): void } } | undefined;
  private pumpQueued = false;
  private pumping = false;
  private pumpAgain = false;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly outbox: PushOutbox,
    options: WebhookPushHookEngineOptions,
  ) {
    this.url = options.url;
    this.secret = options.secret;
    this.clock = options.clock ?? systemClock;
    this.log = options.logger.child({ component: 'push-webhook' });
    this.maxAttempts = positiveInt(options.maxAttempts ?? 8, 'maxAttempts');
    this.policy = {
      baseDelayMs: positiveInt(options.baseDelayMs ?? 1000, 'baseDelayMs'),
      maxDelayMs: positiveInt(options.maxDelayMs ?? 300_000, 'maxDelayMs'),
      jitterRatio: options.jitterRatio ?? 0.2,
    };
    this.requestTimeoutMs = positiveInt(options.requestTimeoutMs ?? 5000, 'requestTimeoutMs');
    this.concurrency = positiveInt(options.concurrency ?? 4, 'concurrency');
    this.closeTimeoutMs = positiveInt(options.closeTimeoutMs ?? 2000, 'closeTimeoutMs');
    this.maxQueuedNotices = positiveInt(options.maxQueuedNotices ?? 10_000, 'maxQueuedNotices');
    this.pollIntervalMs = options.pollIntervalMs === undefined ? undefined : positiveInt(options.pollIntervalMs, 'pollIntervalMs');
    this.metrics = new PushMetrics(options.registry ?? new Registry());
    this.depth = outbox.pendingAtOpen;
    this.metrics.outboxDepth.set(this.depth);
  }

  /**
   * Validates the options, opens (or creates) the outbox and schedules every pending notice at
   * its stored next attempt time, so notices accepted before a restart are still delivered.
   * Throws on a missing secret, a non-http(s) URL or an unusable outbox file.
   */
  static async open(options: WebhookPushHookOptions): Promise<WebhookPushHook> {
    validateOptions(options);
    await mkdir(dirname(options.outboxPath), { recursive: true });
    const { outboxPath, ...rest } = options;
    return WebhookPushHook.start(await OutboxClient.open(outboxPath), rest);
  }

  /**
   * The same over an outbox the caller opened (e.g. PostgresPushOutbox, shared by every node); the
   * hook owns it from then on and closes it on `close` (or here, if the options are invalid).
   * Polls at least every `pollIntervalMs` (default 1000).
   */
  static async withOutbox(outbox: PushOutbox, options: WebhookPushHookEngineOptions): Promise<WebhookPushHook> {
    try {
      validateOptions(options);
    } catch (error) {
      await outbox.close();
      throw error;
    }
    return WebhookPushHook.start(outbox, { ...options, pollIntervalMs: options.pollIntervalMs ?? 1000 });
  }

  private static async start(outbox: PushOutbox, options: WebhookPushHookEngineOptions): Promise<WebhookPushHook> {
    let hook: WebhookPushHook;
    try {
      hook = new WebhookPushHook(outbox, options);
    } catch (error) {
      await outbox.close();
      throw error;
    }
    if (hook.depth > 0) hook.log.info({ pending: hook.depth }, 'push outbox has pending notices');
    hook.schedulePump();
    return hook;
  }

  /**
   * Queues the notice for the outbox and returns at once; it is durable (and survives a restart)
   * once its batch is written, normally within one fsync. Never throws: a notice that cannot be
   * stored (hook closed, outbox failing, queue full) is counted, logged without its content, and lost.
   */
  notify(notice: PushNotice): void {
    try {
      if (this.closing) {
        this.metrics.drop('closed');
        this.safeLog('error', {}, 'push notice could not be stored (hook closed); dropped');
        return;
      }
      if (this.queued.length >= this.maxQueuedNotices) {
        this.dropForOverload();
        return;
      }
      this.queued.push(JSON.stringify(toNoticeBody(notice)));
      this.scheduleFlush();
    } catch (error) {
      this.safeLog('error', { err: errorMessage(error) }, 'push notice could not be stored; dropped');
    }
  }

  /** Notices in the outbox (pending or being POSTed). */
  get pending(): number {
    return this.depth;
  }

  /**
   * Refuses new notices, writes those already queued, stops scheduling, gives in-flight POSTs up
   * to `closeTimeoutMs` to finish, aborts the rest (their rows stay for the next open) and closes
   * the outbox. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    // Notices already accepted go to disk first, so a graceful restart keeps them.
    await this.flushQueued();
    this.wake?.timer.cancel();
    this.wake = undefined;
    const running = [...this.inFlight.values()];
    if (running.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.closeTimeoutMs)));
      await Promise.race([Promise.allSettled(running), grace]);
      clearTimeout(timer);
      this.shutdown.abort();
      await Promise.allSettled(running);
    }
    await this.outbox.close();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.writing) return;
    this.flushScheduled = true;
    // setImmediate: every notice raised in this event-loop turn joins the same transaction.
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flushQueued();
    });
  }

  /** Writes the queue in batches until it is empty; joins the loop already running, if any. */
  private flushQueued(): Promise<void> {
    this.writing ??= this.writeBatches().finally(() => (this.writing = undefined));
    return this.writing;
  }

  private async writeBatches(): Promise<void> {
    while (this.queued.length > 0) {
      const bodies = this.queued;
      this.queued = [];
      try {
        const ids = await this.outbox.enqueue(bodies, this.clock.now());
        this.depth += ids.length;
        this.metrics.notices.inc(ids.length);
        this.metrics.batchSize.observe(ids.length);
        this.metrics.outboxDepth.set(this.depth);
        this.safeLog('debug', { first: ids[0], count: ids.length }, 'push notices enqueued');
        this.schedulePump();
      } catch (error) {
        this.metrics.drop('store_error', bodies.length);
        this.safeLog('error', { count: bodies.length, err: errorMessage(error) }, 'push notices could not be stored; dropped');
      }
    }
    if (this.overloadDrops > 0) {
      this.safeLog('info', { dropped: this.overloadDrops }, 'push notice queue caught up after an overload');
      this.overloadDrops = 0;
    }
  }

  private dropForOverload(): void {
    this.metrics.drop('overload');
    if (this.overloadDrops++ === 0) {
      this.safeLog('warn', { queued: this.queued.length }, 'push notice queue full: dropping notices until the outbox catches up');
    }
  }

  private schedulePump(): void {
    if (this.closing) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    // A microtask coalesces a burst of completions into one outbox read.
    queueMicrotask(() => {
      this.pumpQueued = false;
      void this.pump();
    });
  }

  /** Runs poll rounds, one at a time, until no round was asked for while one ran. */
  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        await this.pollOnce();
      } while (this.pumpAgain && !this.closing);
    } finally {
      this.pumping = false;
    }
  }

  /** Starts due rows, oldest first, up to `concurrency`; then sleeps until the next row is due. */
  private async pollOnce(): Promise<void> {
    if (this.closing || this.inFlight.size >= this.concurrency) return; // a completion pumps again
    try {
      const now = this.clock.now();
      // poll claims what it returns (in-flight rows stay claimed, so they are not among them): ask
      // for the free slots only, or claimed rows would wait unstarted for their lease. A row ends
      // its claim (remove, reschedule) before it leaves `inFlight`, so it is never started twice.
      const { due, nextAttemptAt } = await this.outbox.poll(now, this.concurrency - this.inFlight.size);
      if (this.closing) return;
      for (const row of due) {
        if (this.inFlight.size >= this.concurrency) break;
        if (!this.inFlight.has(row.id)) this.start(row);
      }
      // With every slot busy, the next completion pumps again; otherwise no due row is left waiting.
      if (this.inFlight.size < this.concurrency) this.wakeAt(this.capped(nextAttemptAt));
    } catch (error) {
      this.safeLog('error', { err: errorMessage(error) }, 'push outbox read failed');
      // A shared outbox may be back soon (PostgreSQL restarted): try again rather than wait for a notice.
      this.wakeAt(this.capped(undefined));
    }
  }

  /** `at`, or sooner when the hook polls periodically (a shared outbox). */
  private capped(at: number | undefined): number | undefined {
    if (this.pollIntervalMs === undefined) return at;
    const periodic = this.clock.now() + this.pollIntervalMs;
    return at === undefined ? periodic : Math.min(at, periodic);
  }

  private wakeAt(at: number | undefined): void {
    if (at === undefined || (this.wake && this.wake.at <= at)) return;
    this.wake?.timer.cancel();
    // Measured from the clock as it is now: the outbox read before this went to the worker thread
    // and back, and time may have moved meanwhile (a delay from the earlier `now` would oversleep).
    const timer = this.clock.setTimeout(
      () => {
        this.wake = undefined;
        this.schedulePump();
      },
      Math.max(0, at - this.clock.now()),
    );
    this.wake = { at, timer };
  }

  private start(row: OutboxRow): void {
    const task = this.deliver(row).finally(() => {
      this.inFlight.delete(row.id);
      this.schedulePump();
    });
    this.inFlight.set(row.id, task);
  }

  /** One POST of one row, then its bookkeeping. Never rejects. */
  private async deliver(row: OutboxRow): Promise<void> {
    const outcome = await postWebhook({
      url: this.url,
      secret: this.secret,
      deliveryId: row.id,
      body: row.body,
      timestamp: this.clock.now(),
      timeoutMs: this.requestTimeoutMs,
      shutdown: this.shutdown.signal,
    });
    if (outcome.kind === 'aborted') return; // the row stays as it was, for the next open
    try {
      if (outcome.kind === 'answered' && outcome.status >= 200 && outcome.status < 300) await this.delivered(row);
      else await this.failed(row, outcome.status, outcome.kind === 'failed' ? outcome.reason : `http ${outcome.status}`);
    } catch (error) {
      this.safeLog('error', { delivery: row.id, err: errorMessage(error) }, 'push outbox update failed');
    }
  }

  private async delivered(row: OutboxRow): Promise<void> {
    if (await this.outbox.remove(row.id)) this.shrink();
    this.metrics.delivery('delivered');
    this.metrics.deliveryLatency.observe(Math.max(0, this.clock.now() - row.enqueuedAt) / 1000);
    this.log.debug({ delivery: row.id, attempts: row.attempts + 1 }, 'push notice delivered');
  }

  private async failed(row: OutboxRow, status: number, reason: string): Promise<void> {
    const attempts = row.attempts + 1;
    this.metrics.delivery('failed_attempt');
    if (attempts >= this.maxAttempts) {
      if (await this.outbox.remove(row.id)) this.shrink();
      this.metrics.delivery('dropped');
      // SPEC §7.5: the delivery id and counts only, never the notice (it names users).
      this.log.warn({ delivery: row.id, attempts, lastStatus: status, reason }, 'push notice dropped after max attempts');
      return;
    }
    const delayMs = backoffDelay(attempts, this.policy);
    await this.outbox.reschedule(row.id, attempts, this.clock.now() + delayMs, status);
    this.log.debug({ delivery: row.id, attempts, lastStatus: status, reason, retryInMs: delayMs }, 'push attempt failed');
  }

  private shrink(): void {
    this.depth = Math.max(0, this.depth - 1);
    this.metrics.outboxDepth.set(this.depth);
  }

  private safeLog(level: 'error' | 'warn' | 'info' | 'debug', fields: object, msg: string): void {
    try {
      this.log[level](fields, msg);
    } catch {
      // notify() must not throw, nor the write loop reject, not even because of a broken logger.
    }
  }
}

function validateOptions(options: WebhookPushHookEngineOptions): void {
  validateUrl(options.url);
  if (typeof options.secret !== 'string' || options.secret === '') {
    throw new Error('push webhook: a secret is required (BIMIP_PUSH_WEBHOOK_SECRET) when a URL is set');
  }
  if (options.jitterRatio !== undefined && !(options.jitterRatio >= 0 && options.jitterRatio < 1)) {
    throw new Error('push webhook: jitterRatio must be in [0, 1)');
  }
}

function validateUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('push webhook: the URL is not valid');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('push webhook: the URL must be http or https');
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new Error(`push webhook: ${name} must be a positive integer`);
  return value;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
