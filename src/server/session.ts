/**
 * One authenticated device connection: its delivery state (cursor, what was pushed, the window),
 * and the helpers handlers use to answer. Delivery follows SPEC §6 F2: push every deliverable entry
 * after the cursor in offset order, at most `window` uncommitted, pausing on a full send buffer;
 * then the caught-up Sync marker; then live entries.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../core/logger.js';
import type { Transport } from '../core/transport.js';
import { DisconnectError, ProtocolError } from '../core/errors.js';
import { DEFAULT_USER_LIMITS, deliverable, type Offset, type Principal, type QueueEntry, type QueueInfo } from '../core/types.js';
import { CloseCode, Code, ROUTE_BY_FIELD, SyncType, encodeFrame, type Frame } from '../protocol/index.js';
import type { SessionContext } from './session-context.js';
import { AbuseCounter, RateLimiter } from './rate-limiter.js';
import type { UserFeed } from './user-feed.js';
import type { Sender } from './sender.js';
import { ROUTE_OF_KIND, encodeEntryFrame } from './entry-frames.js';

export interface SessionLimits {
  ratePerSecond: number;
  rateBurst: number;
  badFrameLimit: number;
  badFrameWindowMs: number;
  /**
   * Issue #7 item 11: reading from the socket pauses while this many frames (default 256) or this
   * many bytes of them (default 4 MiB) are being handled, and resumes below half; the client feels
   * TCP backpressure instead of the server buffering its input without bound.
   */
  maxFramesInFlight: number;
  maxBytesInFlight: number;
  /** Issue #7: devices (cursors) per user; a first-time device beyond it is closed with 4011. 0 = unlimited. */
  maxDevicesPerUser: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  ratePerSecond: 200,
  rateBurst: 400,
  badFrameLimit: 20,
  badFrameWindowMs: 10_000,
  maxFramesInFlight: 256,
  maxBytesInFlight: 4 * 1024 * 1024,
  maxDevicesPerUser: DEFAULT_USER_LIMITS.maxDevicesPerUser,
};

/**
 * A connection id: a UUID held as one flat string. Node builds `randomUUID()` by concatenating its
 * hex pairs, and V8 keeps such a result as a tree of cons strings (~14 of them, ~450 bytes) for as
 * long as the connection lives (issue #10, W4 heap snapshot); a copy through its latin1 bytes is one
 * sequential 36-character string.
 */
function newConnectionId(): string {
  return Buffer.from(randomUUID(), 'latin1').toString('latin1');
}

/** Closes after which nothing more is read from the peer (it is abusive or stuck). */
const STOP_READING_ON = new Set<number>([CloseCode.PolicyViolation, CloseCode.TooBig, CloseCode.SlowConsumer]);

export class DeviceSession {
  readonly connectionId = newConnectionId();
  readonly eid: string;
  readonly deviceId: string;
  /** This device as the sender of what it sends. */
  readonly sender: Sender;
  private childLogger: Logger | undefined;
  lastFrameAt: number;
  /** Set while this connection's Logout is handled (it ends with close 1000, not 4001). */
  loggingOut = false;
  readonly rate: RateLimiter;
  readonly abuse: AbuseCounter;

  /** Highest offset this device committed. */
  cursor: Offset = 0;
  /** Highest offset already pushed to this device or skipped as not deliverable to it. */
  private pushedUpTo: Offset = 0;
  /** Highest offset skipped (not deliverable here) while nothing pushed was uncommitted. */
  private skippedTo: Offset = 0;
  /** Offsets pushed and not yet committed, ascending (the window). */
  private unacked: Offset[] = [];
  private unackedStart = 0;
  /** Offset after which the caught-up marker is due (undefined once sent). */
  private markerDueAt: Offset | undefined;
  private queueAtConnect: QueueInfo | undefined;
  private started = false;
  private pumping = false;
  private pumpRequested = false;
  private framesInFlight = 0;
  private bytesInFlight = 0;
  private readingPaused = false;
  /** Waiting for no frame to be in flight (`whenFramesSettled`). */
  private settledWaiters: Array<() => void> | undefined;
  /** When the send buffer was first seen over its limit, at consecutive checks (slow consumer). */
  private overLimitSince: number | undefined;
  /**
   * The tail of this session's Sync replays: one runs at a time (issue #7 item 2). Like the waiters
   * above, created on first use: an idle connection carries neither (issue #10, W4).
   */
  private replays: Promise<void> | undefined;

  constructor(
    readonly principal: Principal,
    readonly transport: Transport,
    private readonly feed: UserFeed<DeviceSession>,
    private readonly ctx: SessionContext,
    private readonly limits: SessionLimits,
  ) {
    this.eid = principal.eid;
    this.deviceId = principal.deviceId;
    this.sender = { eid: principal.eid, device: principal.deviceId };
    const now = ctx.clock.now();
    this.lastFrameAt = now;
    this.rate = new RateLimiter(limits.ratePerSecond, limits.rateBurst, now);
    this.abuse = new AbuseCounter(limits.badFrameLimit, limits.badFrameWindowMs);
  }

  /** Log lines of this connection carry its id and identity; created on first use (idle sessions pay nothing). */
  get logger(): Logger {
    this.childLogger ??= this.ctx.logger.child({ conn: this.connectionId, eid: this.eid, device: this.deviceId });
    return this.childLogger;
  }

  get inFlight(): number {
    return this.unacked.length - this.unackedStart;
  }

  /** SPEC §6 F2: load the cursor (a first-time device starts at the head) and begin pushing. */
  async start(): Promise<void> {
    const { store } = this.ctx;
    const [info, stored] = await Promise.all([store.queueInfo(this.eid), store.getCursor(this.eid, this.deviceId)]);
    // Issue #7: a first-time device takes a slot; none left → DisconnectError (close 4011), no cursor.
    const maxDevices = this.limits.maxDevicesPerUser;
    if (stored === undefined && maxDevices > 0 && (await store.deviceCount(this.eid)) >= maxDevices) {
      throw new DisconnectError(CloseCode.DeviceLimit, `device limit reached (${maxDevices} devices); log out a device first`);
    }
    // A first-time device starts at the head (SPEC §5). Committing the cursor, even unchanged,
    // also marks the device as seen, so retention does not forget a device that is in use.
    const cursor = stored ?? info.head;
    await store.commitCursor(this.eid, this.deviceId, cursor);
    this.cursor = cursor;
    // Entries before the first retained one are gone (retention): nothing to push there.
    this.pushedUpTo = Math.max(cursor, info.first - 1);
    this.queueAtConnect = info;
    this.markerDueAt = info.head;
    this.feed.noteHead(info.head);
    this.started = true;
    this.pump();
  }

  /** Pushes what is available; safe to call any time, runs one pass at a time. */
  pump(): void {
    if (!this.started) return;
    if (this.pumping) {
      this.pumpRequested = true;
      return;
    }
    this.pumping = true;
    void this.runPump();
  }

  /** SPEC §6 F3: move the cursor forward; nothing ≤ it is pushed again. */
  async commit(offset: Offset): Promise<void> {
    if (offset <= this.cursor) return;
    if (offset > this.feed.head) {
      const { head } = await this.ctx.store.queueInfo(this.eid);
      this.feed.noteHead(head);
      if (offset > head) throw new CommitAboveHeadError(offset, head);
    }
    if (offset <= this.cursor) return;
    this.cursor = offset;
    if (offset > this.pushedUpTo) this.pushedUpTo = offset;
    while (this.unackedStart < this.unacked.length && this.unacked[this.unackedStart]! <= offset) this.unackedStart++;
    if (this.unackedStart > 256 && this.unackedStart * 2 > this.unacked.length) {
      this.unacked = this.unacked.slice(this.unackedStart);
      this.unackedStart = 0;
    }
    await this.ctx.store.commitCursor(this.eid, this.deviceId, offset);
    this.pump();
  }

  /** Sends one frame to this device. */
  send<F extends Frame['field']>(field: F, value: Extract<Frame, { field: F }>['value'] | object): void {
    this.sendEncoded(encodeFrame(field, value), ROUTE_BY_FIELD[field]);
  }

  /** Answers a frame that broke a rule with an ErrorMessage (SPEC §10). */
  sendError(code: number, route: number, details: string, id = ''): void {
    this.ctx.metrics.error(code);
    this.send('error', { code, errorOrigin: route, details, id, timestamp: this.ctx.clock.now() });
  }

  close(code: number, reason: string): void {
    if (!this.transport.isOpen) return;
    this.ctx.metrics.closes.labels(String(code)).inc();
    this.transport.close(code, reason, { stopReading: STOP_READING_ON.has(code) });
  }

  /** Sends an already encoded frame (encode once, write many). */
  sendEncoded(frame: Uint8Array, route: number): void {
    if (!this.transport.isOpen) return;
    this.transport.send(frame);
    this.ctx.metrics.frame(route, 'out');
    // Every push waits for the buffer; what still piles up here is a peer that does not read at all.
    if (this.transport.bufferedBytes > this.ctx.delivery.maxBufferedBytes) this.closeAsSlow('send buffer over its hard limit');
  }

  /**
   * Sends a frame that may be lost (transient signals, awareness; SPEC §6 F5/F6): dropped, not
   * queued, while the socket is over its send-buffer limit (issue #7 item 2). False when dropped.
   */
  sendTransient(frame: Uint8Array, route: number): boolean {
    if (!this.transport.isOpen) return false;
    if (this.transport.bufferedBytes > this.ctx.delivery.sendBufferBytes) {
      this.ctx.metrics.framesDropped.labels('slow consumer').inc();
      return false;
    }
    this.sendEncoded(frame, route);
    return true;
  }

  /**
   * Called periodically: a socket seen over its send-buffer limit at every check for
   * `slowConsumerMs` does not read, and is closed with 4010 (issue #7 item 2). A slow reader that
   * drains at all dips below the limit, because pushes wait for it to drain to half.
   */
  checkSlowConsumer(now: number): void {
    if (this.transport.bufferedBytes <= this.ctx.delivery.sendBufferBytes) {
      this.overLimitSince = undefined;
      return;
    }
    this.overLimitSince ??= now;
    if (now - this.overLimitSince >= this.ctx.delivery.slowConsumerMs) this.closeAsSlow('send buffer stayed over its limit');
  }

  /** A frame's handler started; reading pauses when too much input is in flight (issue #7 item 11). */
  frameStarted(bytes: number): void {
    this.framesInFlight++;
    this.bytesInFlight += bytes;
    if (!this.readingPaused && (this.framesInFlight >= this.limits.maxFramesInFlight || this.bytesInFlight >= this.limits.maxBytesInFlight)) {
      this.readingPaused = true;
      this.transport.pauseReading();
    }
  }

  frameFinished(bytes: number): void {
    this.framesInFlight--;
    this.bytesInFlight -= bytes;
    if (this.framesInFlight === 0 && this.settledWaiters) {
      const waiters = this.settledWaiters;
      this.settledWaiters = undefined;
      for (const resolve of waiters) resolve();
    }
    if (this.readingPaused && this.framesInFlight <= this.limits.maxFramesInFlight / 2 && this.bytesInFlight <= this.limits.maxBytesInFlight / 2) {
      this.readingPaused = false;
      if (this.transport.isOpen) this.transport.resumeReading();
    }
  }

  /**
   * Resolves once no frame of this connection is being handled. After a close nothing new starts
   * (the dispatcher drops frames of a closed transport), so a device handoff waits here for the
   * OffsetCommits already received before flushing the cursor (SPEC §7.3, server/router.ts).
   */
  whenFramesSettled(): Promise<void> {
    if (this.framesInFlight === 0) return Promise.resolve();
    this.settledWaiters ??= [];
    const waiters = this.settledWaiters;
    return new Promise((resolve) => waiters.push(resolve));
  }

  /** Runs `replay` after this session's earlier replays: one Sync replay in flight per session. */
  serialReplay(replay: () => Promise<void>): Promise<void> {
    const run = (this.replays ?? Promise.resolve()).then(replay);
    this.replays = run.catch(() => undefined);
    return run;
  }

  private closeAsSlow(reason: string): void {
    if (!this.transport.isOpen) return;
    this.logger.warn({ bufferedBytes: this.transport.bufferedBytes }, `slow consumer: ${reason}; closing with 4010`);
    this.close(CloseCode.SlowConsumer, 'slow consumer: not reading');
  }

  private async runPump(): Promise<void> {
    try {
      do {
        this.pumpRequested = false;
        await this.pushAvailable();
      } while (this.pumpRequested && this.transport.isOpen);
    } catch (err) {
      this.logger.error({ err }, 'delivery failed; closing so the device reconnects and resumes from its cursor');
      this.close(1011, 'delivery failed');
    } finally {
      this.pumping = false;
    }
  }

  private async pushAvailable(): Promise<void> {
    const { window, sendBufferBytes, readBatch } = this.ctx.delivery;
    while (this.pushedUpTo < this.feed.head && this.transport.isOpen && this.inFlight < window) {
      if (this.transport.bufferedBytes > sendBufferBytes) {
        await this.transport.whenBufferedBelow(sendBufferBytes / 2);
        continue;
      }
      const cached = this.feed.cached(this.pushedUpTo + 1);
      if (cached) {
        this.offer(cached.entry, () => this.feed.frameOf(cached));
        continue;
      }
      // Behind the cache: the store is the truth (SPEC §6 F2, ARCHITECTURE "How one message moves").
      const entries = await this.ctx.store.readEntries(this.eid, this.pushedUpTo, readBatch);
      if (entries.length === 0) break;
      for (const entry of entries) {
        if (entry.offset <= this.pushedUpTo) continue;
        if (this.inFlight >= window || !this.transport.isOpen) break;
        this.offer(entry, () => encodeEntryFrame(entry));
      }
    }
    this.advanceOverSkipped();
    this.sendMarkerIfCaughtUp();
  }

  /** Pushes the entry if it is deliverable to this device; either way it is now behind us. */
  private offer(entry: QueueEntry, frame: () => Uint8Array): void {
    if (deliverable(entry, this.deviceId)) {
      this.sendEncoded(frame(), ROUTE_OF_KIND[entry.kind]);
      this.unacked.push(entry.offset);
      this.ctx.metrics.deliveryLag.observe(Math.max(0, this.ctx.clock.now() - entry.storedAt) / 1000);
    } else if (this.inFlight === 0) {
      // Everything deliverable before it is committed, and this one will never be pushed here.
      this.skippedTo = entry.offset;
    }
    this.pushedUpTo = entry.offset;
  }

  /**
   * Issue #10: moves the cursor over entries this device will never be pushed (its own messages
   * and receipts, entries targeted at its other devices) once everything before them is committed.
   * A device that only sends would otherwise never commit, and every reconnect would re-read all it
   * ever sent just to skip it. Persisted lazily like any commit (F3); nothing deliverable is passed.
   */
  private advanceOverSkipped(): void {
    if (this.skippedTo <= this.cursor || this.inFlight > 0) return;
    this.cursor = this.skippedTo;
    this.ctx.store.commitCursor(this.eid, this.deviceId, this.cursor).catch((err: unknown) => {
      this.logger.warn({ err }, 'could not record the cursor past skipped entries (they will be skipped again)');
    });
  }

  private sendMarkerIfCaughtUp(): void {
    if (this.markerDueAt === undefined || this.pushedUpTo < this.markerDueAt || !this.queueAtConnect) return;
    this.markerDueAt = undefined;
    this.send('sync', {
      id: '',
      type: SyncType.RESPONSE,
      headOffset: Math.max(this.feed.head, this.pushedUpTo),
      cursor: this.cursor,
      firstOffset: this.queueAtConnect.first,
      epoch: this.queueAtConnect.epoch,
      timestamp: this.ctx.clock.now(),
    });
  }
}

/** SPEC §6 F3: a commit above the head is a 400 (one of the ProtocolError family). */
export class CommitAboveHeadError extends ProtocolError {
  constructor(offset: Offset, head: Offset) {
    super(Code.BadRequest, `user_offset ${offset} is above the queue head ${head}`);
    this.name = 'CommitAboveHeadError';
  }
}
