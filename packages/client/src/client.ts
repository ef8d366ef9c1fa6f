/**
 * The BIMIP client SDK: one object per (user, device) that stays connected. It reconnects with
 * backoff and jitter, sends a heartbeat and detects a dead socket by a missing PONG, renews its
 * token through `getToken()` before expiry and after a 4001, and keeps an outbox of messages,
 * receipts and commits made while disconnected, flushed in order on reconnect. With a persistent
 * `storage` the outbox and the last processed (epoch, offset) survive an app restart, so the app
 * is handed each queue entry exactly once (SPEC §7.4) and is told, never silently, when the queue
 * was reset (epoch change) or history is missing (gap) — centrifuge-js' `recovered: false`.
 *
 * Built on BimipConnection (one socket, no retries): each attempt opens a new one, and its pushes
 * flow into this object's streams, which outlive every connection.
 */
import {
  CloseCode,
  Code,
  MessageType,
  encodeFrame,
  type Ack,
  type Awareness,
  type AwarenessVisibility,
  type Contact,
  type ErrorMessage,
  type IdentityInit,
  type Logout,
  type PingPong,
  type Signal,
  type Sync,
  type TokenAuthority,
} from '@bimip/protocol/lite';
import { AsyncQueue } from './async-queue.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { type ClientClock, systemClock } from './clock.js';
import { BimipConnection, type ConnectionSink } from './connection.js';
import type { ReceiptStatusValue, TransientStatusValue } from './constants.js';
import { Emitter } from './emitter.js';
import { ClientClosedError, ConnectError, ConnectionClosedError, OutboxFullError, RequestTimeoutError, SendRejectedError } from './errors.js';
import { OutboxSender } from './outbox.js';
import { randomId } from './ids.js';
import { tokenExpiryMs } from './jwt.js';
import type { WebSocketFactory } from './socket.js';
import { type ClientState, type ClientStorage, MemoryStorage, type OutboxRecord, bytesToBase64, emptyState } from './storage.js';
import type { AwarenessOptions, ContactEntry, QueueEntry, ReceiptTarget, SendOptions, SyncResult } from './types.js';

export interface ClientOptions {
  /** ws://host:port/bimip (wss:// in production). */
  url: string;
  /** An access token to start with. Optional when `getToken` is given. */
  token?: string;
  /**
   * Returns a fresh access token (from your backend, or `POST /v1/tokens/refresh`). Called before
   * the first connect when there is no token, `renewBeforeMs` before the current one expires, and
   * after the server refuses or closes with 4001. Without it an expired or revoked token ends the
   * client (state 'closed', code 4001).
   */
  getToken?: () => Promise<string>;
  /** Where the outbox and the last processed offset live: MemoryStorage (default), IndexedDbStorage, FileStorage. */
  storage?: ClientStorage;
  /** Reconnect policy, or false to end the client at the first disconnect. */
  reconnect?: BackoffOptions | false;
  /** A PING goes out this often (default 20 s; the server closes idle sockets after 60 s). */
  heartbeatIntervalMs?: number;
  /** A PING unanswered for this long means the connection is dead: drop it and reconnect (default 10 s). */
  heartbeatTimeoutMs?: number;
  /** One connect attempt gives up after this long (default 10 s). */
  connectTimeoutMs?: number;
  /** Request-style calls (sync, contacts, visibility, queries) fail after this long, waiting for a connection included (default 15 s). */
  requestTimeoutMs?: number;
  /** Renew the token this long before it expires (default 60 s). */
  renewBeforeMs?: number;
  /** Most unconfirmed sends and receipts kept; beyond, send() rejects with OutboxFullError (default 10,000). */
  maxOutbox?: number;
  /** Unread signals / awareness / visibility items kept per stream, oldest dropped first (default 1,000). */
  maxBufferedEvents?: number;
  /** The server's frame limit (BIMIP_MAX_FRAME_BYTES, default 1 MiB): a larger message is refused before it enters the outbox. */
  maxFrameBytes?: number;
  /** Messages written and waiting for their Ack at a time (default 32). */
  maxInFlight?: number;
  /** Test seams. */
  webSocket?: WebSocketFactory;
  clock?: ClientClock;
  random?: () => number;
}

export type ConnectionState =
  | { state: 'connecting'; attempt: number }
  | { state: 'connected' }
  /** The connection is gone; `willRetry` says whether a new attempt follows, after `retryInMs`. */
  | { state: 'disconnected'; code: number; reason: string; willRetry: true; retryInMs: number; error?: Error }
  /** Terminal: closed by the app, or by a close that retrying cannot fix (4001 without getToken, 4009, 4011, 1008, 1009). Nothing follows it. */
  | { state: 'closed'; code: number; reason: string; error?: Error };

/** The app must reload its view of the queue: offsets it holds are from another epoch, or entries are missing. */
export type ResetEvent =
  | { reason: 'epoch'; previousEpoch: string; epoch: string; marker: Sync }
  | { reason: 'gap'; firstOffset: number; cursor: number; marker: Sync };

export interface ClientEvents extends Record<string, unknown> {
  state: ConnectionState;
  /** The server finished replaying stored entries on this connection (SPEC F2). */
  caughtUp: Sync;
  reset: ResetEvent;
  /** An ErrorMessage from the server (a failed receipt, a bad frame …). */
  error: ErrorMessage;
  /** A message of the outbox was stored (Ack 200, or 409 for a resend of one already stored). */
  sent: Ack;
  /** A message of the outbox was refused for good and removed from it. */
  sendFailed: SendRejectedError;
}

/** Closes after which reconnecting cannot help. */
const TERMINAL_CLOSES = new Set<number>([CloseCode.Replaced, CloseCode.DeviceLimit, CloseCode.PolicyViolation, CloseCode.TooBig]);
/** Our own close codes (4000–4007 are unused by the server). */
const DEAD_CONNECTION = 4000;
const RENEWING_TOKEN = 4002;
const MIN_RENEWAL_MS = 5_000;
const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

interface SendWaiter extends Waiter<Ack> {
  promise: Promise<Ack>;
}

export class BimipClient {
  /** Queue entries (messages, receipts, contact events) in offset order, each exactly once across reconnects and restarts. */
  readonly entries: AsyncQueue<QueueEntry> = new AsyncQueue<QueueEntry>();
  /** Transient signals (TYPING … DECLINE) addressed to this user. */
  readonly signals: AsyncQueue<Signal>;
  /** Awareness of contacts and of this user's other devices (each connection's snapshot included). */
  readonly awareness: AsyncQueue<Awareness>;
  /** This user's visibility setting as echoed by the server. */
  readonly visibility: AsyncQueue<AwarenessVisibility>;
  /** The last 100 ErrorMessage frames. */
  readonly errors: ErrorMessage[] = [];

  private readonly events = new Emitter<ClientEvents>();
  private readonly clock: ClientClock;
  private readonly storage: ClientStorage;
  private readonly backoff: Backoff | undefined;
  private readonly outbox: OutboxSender;
  private readonly saver: CoalescingSaver;
  private state: ClientState = emptyState();
  private current: ConnectionState = { state: 'connecting', attempt: 0 };
  private connection: BimipConnection | undefined;
  private token: string | undefined;
  private renewToken = false;
  /** When the current token was obtained (its life as we got it bounds the renewal margin). */
  private tokenReceivedAt = 0;
  private started: Promise<void> | undefined;
  private loaded = false;
  private closing: { code: number; reason: string; error?: Error } | undefined;
  /** Highest offset handed to the app by this object (≥ state.processed). */
  private delivered = 0;
  /** App promises of sends, by message id (restored outbox records have none). */
  private readonly sendWaiters = new Map<string, SendWaiter>();
  private awarenessWanted: AwarenessOptions | undefined;
  private wake: (() => void) | undefined;
  /** Heartbeat and renewal timers of the current connection. */
  private connectionTimers: Array<{ cancel(): void }> = [];
  private lastFrameAt = 0;
  private connectedWaiters: Array<Waiter<void>> = [];

  constructor(private readonly options: ClientOptions) {
    if (!options.token && !options.getToken) throw new TypeError('BimipClient: pass `token` or `getToken`');
    this.clock = options.clock ?? systemClock;
    this.storage = options.storage ?? new MemoryStorage();
    this.backoff = options.reconnect === false ? undefined : new Backoff(options.reconnect ?? {}, options.random);
    this.token = options.token;
    this.tokenReceivedAt = this.clock.now();
    const bound = options.maxBufferedEvents ?? 1000;
    this.signals = new AsyncQueue<Signal>(bound);
    this.awareness = new AsyncQueue<Awareness>(bound);
    this.visibility = new AsyncQueue<AwarenessVisibility>(bound);
    this.saver = new CoalescingSaver(() => this.storage.save(this.state));
    this.outbox = new OutboxSender(
      {
        records: () => this.state.outbox,
        confirmed: (record, ack) => this.onConfirmed(record, ack),
        refused: (record, error) => this.onRefused(record, error),
      },
      this.clock,
      options.random,
      options.maxInFlight ?? 32,
    );
  }

  /** Starts a client and resolves once it is connected; rejects if it closes first (e.g. a refused token and no getToken). */
  static async connect(options: ClientOptions): Promise<BimipClient> {
    const client = new BimipClient(options);
    await client.start();
    await client.whenConnected();
    return client;
  }

  /**
   * Loads the stored state and starts connecting (in the background); resolves once the state is
   * loaded. Idempotent; send(), commit() and sendReceipt() call it themselves.
   */
  start(): Promise<void> {
    this.started ??= (async () => {
      this.state = { ...emptyState(), ...(await this.storage.load()) };
      this.delivered = this.state.processed;
      this.loaded = true;
      if (!this.closing) void this.run();
    })();
    return this.started;
  }

  /** Subscribes to an event; returns the function that unsubscribes. */
  on<E extends keyof ClientEvents>(event: E, listener: (payload: ClientEvents[E]) => void): () => void {
    return this.events.on(event, listener);
  }

  get connectionState(): ConnectionState {
    return this.current;
  }

  get isConnected(): boolean {
    return this.current.state === 'connected';
  }

  /** Highest offset the app committed (persisted in storage). */
  get processedOffset(): number {
    return this.state.processed;
  }

  /** The queue epoch the offsets belong to ('' before the first caught-up marker). */
  get epoch(): string {
    return this.state.epoch;
  }

  /** Unconfirmed sends and receipts waiting in the outbox. */
  get outboxSize(): number {
    return this.state.outbox.length;
  }

  /** Resolves when connected (at once if already); rejects when the client closes first or after `timeoutMs`. */
  whenConnected(timeoutMs?: number): Promise<void> {
    if (this.current.state === 'connected') return Promise.resolve();
    if (this.closing) return Promise.reject(this.closedError());
    return new Promise((resolve, reject) => {
      let timer: { cancel(): void } | undefined;
      const waiter: Waiter<void> = {
        resolve: () => {
          timer?.cancel();
          resolve();
        },
        reject: (error) => {
          timer?.cancel();
          reject(error);
        },
      };
      this.connectedWaiters.push(waiter);
      if (timeoutMs === undefined) return;
      timer = this.clock.setTimeout(() => {
        this.connectedWaiters = this.connectedWaiters.filter((w) => w !== waiter);
        reject(new RequestTimeoutError('waiting for a connection', timeoutMs));
      }, timeoutMs);
    });
  }

  /** Skips the current backoff wait (e.g. on the browser's `online` event). */
  reconnectNow(): void {
    this.wake?.();
  }

  /**
   * Sends a message. It goes into the outbox first (persisted), so it is sent now if connected or
   * on the next connection, resent after a drop with the same id (idempotent: a 409 for an
   * already-stored resend counts as success). Resolves with the Ack (code 200 or 409); rejects
   * with SendRejectedError when the server refuses it for good (400, 403, 413 …). Sending an id
   * that is still in the outbox returns that send's promise.
   */
  async send(options: SendOptions): Promise<Ack> {
    await this.start();
    if (this.closing) throw this.closedError();
    const id = options.id ?? randomId();
    const pending = this.sendWaiters.get(id);
    if (pending) return pending.promise;
    const payload = typeof options.payload === 'string' ? new TextEncoder().encode(options.payload) : options.payload;
    const frame = encodeFrame('message', {
      id,
      to: identity(options.to),
      from: options.from,
      type: options.type ?? MessageType.CHAT,
      timestamp: options.timestamp ?? this.clock.now(),
      payload,
      encryptionType: options.encryptionType,
      encrypted: options.encrypted,
      signature: options.signature,
    });
    const maxFrameBytes = this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    // The server would answer 413 and close with 1009 (SPEC §2); kept, it would block the outbox forever.
    if (frame.length > maxFrameBytes) throw new SendRejectedError(id, Code.TooLarge, `frame of ${frame.length} bytes is over the ${maxFrameBytes}-byte limit`);
    const record: OutboxRecord = { kind: 'message', id, frame: bytesToBase64(frame) };
    const waiter = this.waiterFor(id);
    await this.addRecord(record).catch((err: unknown) => {
      this.sendWaiters.delete(id);
      waiter.reject(err as Error);
    });
    return waiter.promise;
  }

  /**
   * Marks every entry ≤ offset as processed by the app: persisted first (so a restarted app is
   * not handed them again), then sent to the server as OffsetCommit (SPEC F3) now or on reconnect.
   * After a 'reset' event, do not commit offsets of entries received before it.
   */
  async commit(offset: number): Promise<void> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`commit: ${offset} is not an offset`);
    await this.start();
    if (offset <= this.state.processed) return;
    this.state.processed = offset;
    if (this.delivered < offset) this.delivered = offset;
    await this.saver.save();
    this.connection?.writeFrame(encodeFrame('offsetCommit', { userOffset: this.state.processed, timestamp: this.clock.now() }));
  }

  /**
   * Sends a durable receipt (SPEC F4) for a received message, to its sender unless `to` says
   * otherwise; kept in the outbox until the server has read it. Failures (404, 403) arrive as
   * 'error' events. Resolves once the receipt is safely in the outbox.
   */
  async sendReceipt(message: ReceiptTarget, status: ReceiptStatusValue, to?: string): Promise<void> {
    await this.start();
    if (this.closing) throw this.closedError();
    const recipient = to ?? message.from?.eid;
    if (!recipient) throw new TypeError('sendReceipt: the message has no from.eid; pass `to`');
    const frame = encodeFrame('signal', { id: message.id, signalId: message.signalId, to: { eid: recipient }, status, timestamp: this.clock.now() });
    await this.addRecord({ kind: 'receipt', id: message.id, frame: bytesToBase64(frame) });
  }

  /**
   * Sends a transient signal (TYPING … DECLINE; SPEC F5). Transient by design: never queued, so
   * while disconnected it is not sent and this returns undefined; else its id.
   */
  sendSignal(to: string | IdentityInit, status: TransientStatusValue, id: string = randomId()): string | undefined {
    const sent = this.connection?.writeFrame(encodeFrame('signal', { id, to: identity(to), status, timestamp: this.clock.now() }));
    return sent ? id : undefined;
  }

  /** Sets this user's awareness (F6); remembered and set again on every reconnect. Returns the frame id. */
  setAwareness(options: AwarenessOptions): string {
    const id = options.id ?? randomId();
    this.awarenessWanted = { ...options, id, timestamp: options.timestamp ?? this.clock.now() };
    this.connection?.setAwareness(this.awarenessWanted);
    return id;
  }

  /** Replays stored entries after `afterOffset` (SPEC F2) without touching the cursor: for reloading after a 'reset'. */
  sync(afterOffset: number, limit = 100): Promise<SyncResult> {
    return this.request('sync', (connection) => connection.sync(afterOffset, limit));
  }

  ping(): Promise<PingPong> {
    return this.request('ping', (connection) => connection.ping());
  }

  queryAwareness(eid: string): Promise<Awareness> {
    return this.request('queryAwareness', (connection) => connection.queryAwareness(eid));
  }

  setVisibility(visible: boolean): Promise<AwarenessVisibility> {
    return this.request('setVisibility', (connection) => connection.setVisibility(visible));
  }

  subscribe(eid: string): Promise<Contact> {
    return this.request('subscribe', (connection) => connection.subscribe(eid));
  }

  approve(eid: string): Promise<Contact> {
    return this.request('approve', (connection) => connection.approve(eid));
  }

  deny(eid: string): Promise<Contact> {
    return this.request('deny', (connection) => connection.deny(eid));
  }

  unsubscribe(eid: string): Promise<Contact> {
    return this.request('unsubscribe', (connection) => connection.unsubscribe(eid));
  }

  block(eid: string): Promise<Contact> {
    return this.request('block', (connection) => connection.block(eid));
  }

  unblock(eid: string): Promise<Contact> {
    return this.request('unblock', (connection) => connection.unblock(eid));
  }

  listContacts(): Promise<ContactEntry[]> {
    return this.request('listContacts', (connection) => connection.listContacts());
  }

  refreshToken(refreshToken: string): Promise<{ accessToken: string; refreshToken: string }> {
    return this.request('refreshToken', (connection) => connection.refreshToken(refreshToken));
  }

  validateToken(token: string): Promise<TokenAuthority> {
    return this.request('validateToken', (connection) => connection.validateToken(token));
  }

  revokeToken(tokenOrJti: string): Promise<TokenAuthority> {
    return this.request('revokeToken', (connection) => connection.revokeToken(tokenOrJti));
  }

  /**
   * Logs this device (or every device) out and ends the client: the server revokes the token and
   * closes. The client ends whether or not the request succeeds.
   */
  async logout(everyDevice = false): Promise<Logout> {
    try {
      return await this.request('logout', (connection) => {
        // The server closes after answering: that close must not be retried.
        this.closing = { code: 1000, reason: 'logged out' };
        return connection.logout(everyDevice);
      });
    } finally {
      await this.close(1000, 'logged out');
    }
  }

  /** Ends the client: closes the connection, stops reconnecting, ends the streams. The outbox stays in storage. */
  async close(code = 1000, reason = ''): Promise<void> {
    this.closing ??= { code, reason };
    this.wake?.();
    // Never save before the stored state is loaded: that would overwrite it with an empty one.
    if (this.started) await this.started.catch(() => undefined);
    await this.connection?.close(code, reason);
    this.finish();
    if (this.loaded) await this.saver.save().catch(() => undefined);
  }

  // ---- outbox ----

  private waiterFor(id: string): SendWaiter {
    let resolve!: (ack: Ack) => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<Ack>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const waiter = { promise, resolve, reject };
    this.sendWaiters.set(id, waiter);
    return waiter;
  }

  /** Adds a record to the outbox; it is written only once its save completed (else it is taken back and the save's error thrown). */
  private async addRecord(record: OutboxRecord): Promise<void> {
    if (this.state.outbox.length >= (this.options.maxOutbox ?? 10_000)) throw new OutboxFullError(this.state.outbox.length);
    this.state.outbox.push(record);
    this.outbox.holdUntilSaved(record);
    try {
      await this.saver.save();
    } catch (err) {
      this.state.outbox = this.state.outbox.filter((candidate) => candidate !== record);
      throw err;
    }
    this.outbox.saved(record);
  }

  private onConfirmed(record: OutboxRecord, ack: Ack | undefined): void {
    this.removeRecord(record);
    if (!ack) return;
    this.sendWaiters.get(record.id)?.resolve(ack);
    this.sendWaiters.delete(record.id);
    this.events.emit('sent', ack);
  }

  private onRefused(record: OutboxRecord, error: Error): void {
    this.removeRecord(record);
    this.sendWaiters.get(record.id)?.reject(error);
    this.sendWaiters.delete(record.id);
    if (error instanceof SendRejectedError) this.events.emit('sendFailed', error);
    else this.events.emit('sendFailed', new SendRejectedError(record.id, (error as { code?: number }).code ?? 0, error.message));
  }

  private removeRecord(record: OutboxRecord): void {
    const index = this.state.outbox.indexOf(record);
    if (index < 0) return;
    this.state.outbox.splice(index, 1);
    void this.saver.save().catch(() => undefined);
  }

  // ---- connection loop ----

  private async run(): Promise<void> {
    let attempt = 0;
    let failedAttempts = 0;
    while (!this.closing) {
      this.setState({ state: 'connecting', attempt: ++attempt });
      let connection: BimipConnection;
      try {
        const token = await this.currentToken();
        connection = await BimipConnection.connect({
          url: this.options.url,
          token,
          webSocket: this.options.webSocket,
          connectTimeoutMs: this.options.connectTimeoutMs,
          sink: this.sink(),
        });
      } catch (err) {
        if (this.closing) break;
        failedAttempts++;
        const close = this.classifyConnectFailure(err as Error, failedAttempts);
        if (close.terminal) {
          this.closing = { code: close.code, reason: close.reason, error: err as Error };
          break;
        }
        await this.waitBeforeRetry(close.code, close.reason, err as Error, false);
        continue;
      }
      // close() may have been called while the socket was opening (TS narrowed `closing` at the loop test).
      const closedMeanwhile = this.closing as { code: number; reason: string } | undefined;
      if (closedMeanwhile) {
        await connection.close(closedMeanwhile.code, closedMeanwhile.reason);
        break;
      }
      failedAttempts = 0;
      const info = await this.serve(connection);
      if (this.closing) break;
      if (info.code === CloseCode.Unauthorized && !this.options.getToken) {
        this.closing = { code: info.code, reason: info.reason || 'token expired or revoked', error: new ConnectionClosedError(info.code, info.reason) };
        break;
      }
      if (TERMINAL_CLOSES.has(info.code) || !this.backoff) {
        this.closing = { code: info.code, reason: info.reason, error: new ConnectionClosedError(info.code, info.reason) };
        break;
      }
      if (info.code === CloseCode.Unauthorized) this.renewToken = true;
      await this.waitBeforeRetry(info.code, info.reason, undefined, info.code === RENEWING_TOKEN);
    }
    this.finish();
  }

  /** Runs one open connection until it closes. */
  private async serve(connection: BimipConnection): Promise<{ code: number; reason: string }> {
    this.connection = connection;
    this.lastFrameAt = this.clock.now();
    this.setState({ state: 'connected' });
    for (const waiter of this.connectedWaiters.splice(0)) waiter.resolve();
    // Entries the app already processed may be replayed (the server can lose its last commits,
    // SPEC F3): say where we are first, so the server skips them and its window is not spent on them.
    if (this.state.processed > 0 && this.state.epoch) {
      connection.writeFrame(encodeFrame('offsetCommit', { userOffset: this.state.processed, timestamp: this.clock.now() }));
    }
    if (this.awarenessWanted) connection.setAwareness(this.awarenessWanted);
    this.outbox.attach(connection);
    this.startHeartbeat(connection);
    this.scheduleRenewal(connection);
    const info = await connection.closed;
    this.connection = undefined;
    this.outbox.detach();
    for (const timer of this.connectionTimers.splice(0)) timer.cancel();
    return info;
  }

  private sink(): ConnectionSink {
    return {
      entry: (entry) => {
        // SPEC §7.4: each offset once, across connections and (with storage) restarts.
        if (entry.offset <= this.delivered) return;
        this.delivered = entry.offset;
        this.entries.push(entry);
      },
      signal: (signal) => this.signals.push(signal),
      awareness: (awareness) => this.awareness.push(awareness),
      visibility: (visibility) => this.visibility.push(visibility),
      error: (error) => {
        if (this.errors.push(error) > 100) this.errors.shift();
        this.events.emit('error', error);
      },
      caughtUp: (marker) => this.onCaughtUp(marker),
      // Each connection starts with the awareness of every contact: after a drop it is the only
      // way the app learns who came and went meanwhile.
      snapshot: (body) => {
        for (const awareness of body.awarenessList) this.awareness.push(awareness as Awareness);
      },
      alive: () => {
        this.lastFrameAt = this.clock.now();
      },
    };
  }

  private onCaughtUp(marker: Sync): void {
    this.backoff?.reset();
    const previousEpoch = this.state.epoch;
    if (marker.epoch && previousEpoch !== marker.epoch) {
      this.state.epoch = marker.epoch;
      if (previousEpoch) {
        // The queue was lost or reset: our offsets mean nothing there any more (SPEC §4 Sync.epoch).
        // Unread entries of the old queue go too; the app reloads (the 'reset' event).
        this.entries.clear();
        this.state.processed = marker.cursor;
        this.delivered = marker.cursor;
        this.events.emit('reset', { reason: 'epoch', previousEpoch, epoch: marker.epoch, marker });
      }
      void this.saver.save().catch(() => undefined);
    }
    if (marker.firstOffset > marker.cursor + 1) {
      this.events.emit('reset', { reason: 'gap', firstOffset: marker.firstOffset, cursor: marker.cursor, marker });
    }
    this.events.emit('caughtUp', marker);
  }

  /**
   * A PING every interval; the connection is dead when nothing at all (no PONG, no other frame)
   * arrived within the timeout after it — a PONG queued behind a big replay is not a death.
   */
  private startHeartbeat(connection: BimipConnection): void {
    const interval = this.options.heartbeatIntervalMs ?? 20_000;
    const timeout = this.options.heartbeatTimeoutMs ?? 10_000;
    let beat: { cancel(): void } | undefined;
    let deadline: { cancel(): void } | undefined;
    const schedule = (): void => {
      beat = this.clock.setTimeout(() => {
        const sentAt = this.clock.now();
        connection.ping().catch(() => undefined);
        deadline = this.clock.setTimeout(() => {
          if (this.lastFrameAt < sentAt) connection.terminate(DEAD_CONNECTION, 'heartbeat timeout');
        }, timeout);
        schedule();
      }, interval);
    };
    schedule();
    this.connectionTimers.push({
      cancel: () => {
        beat?.cancel();
        deadline?.cancel();
      },
    });
  }

  /**
   * How long before expiry the current token is renewed: `renewBeforeMs`, but at most half of the
   * token's life as we got it, so a token shorter than the margin is not renewed in a loop.
   */
  private renewalMarginMs(expiry: number): number {
    return Math.min(this.options.renewBeforeMs ?? 60_000, Math.max(0, (expiry - this.tokenReceivedAt) / 2));
  }

  /**
   * Before the token expires, fetches a new one and, if it is new, reconnects with it at once (the
   * protocol has no in-band re-auth). A backend that hands back the same token changes nothing:
   * the server closes at expiry (4001) and the client asks again then.
   */
  private scheduleRenewal(connection: BimipConnection): void {
    const getToken = this.options.getToken;
    const expiry = this.token ? tokenExpiryMs(this.token) : undefined;
    if (!getToken || expiry === undefined) return;
    // Never sooner than MIN_RENEWAL_MS after connecting: a token already near its end (clock skew,
    // a backend handing out stale tokens) must not turn into a reconnect loop.
    const at = Math.max(MIN_RENEWAL_MS, expiry - this.renewalMarginMs(expiry) - this.clock.now());
    this.connectionTimers.push(
      this.clock.setTimeout(() => {
        void getToken().then(
          (fresh) => {
            if (fresh === this.token || this.connection !== connection) return;
            this.token = fresh;
            this.tokenReceivedAt = this.clock.now();
            connection.terminate(RENEWING_TOKEN, 'renewing token');
          },
          () => undefined, // try again at the next connect
        );
      }, at),
    );
  }

  private async currentToken(): Promise<string> {
    const getToken = this.options.getToken;
    const expiry = this.token ? tokenExpiryMs(this.token) : undefined;
    const stale = expiry !== undefined && expiry - this.clock.now() < this.renewalMarginMs(expiry);
    if (getToken && (this.renewToken || !this.token || stale)) {
      this.token = await getToken();
      this.tokenReceivedAt = this.clock.now();
      this.renewToken = false;
    }
    return this.token!;
  }

  private classifyConnectFailure(error: Error, failedAttempts: number): { terminal: boolean; code: number; reason: string } {
    if (!this.backoff) return { terminal: true, code: 1006, reason: error.message };
    if (error instanceof ConnectError) {
      if (error.kind === 'unauthorized') {
        if (!this.options.getToken) return { terminal: true, code: CloseCode.Unauthorized, reason: 'token refused (HTTP 401)' };
        this.renewToken = true;
      } else if (error.kind === 'network' && this.options.getToken && failedAttempts % 3 === 0) {
        // Browsers hide a refused upgrade's 401 behind a network error: renew now and then, in case that is why.
        this.renewToken = true;
      }
      return { terminal: false, code: 1006, reason: error.message };
    }
    if (error instanceof ConnectionClosedError) {
      if (TERMINAL_CLOSES.has(error.code)) return { terminal: true, code: error.code, reason: error.reason };
      return { terminal: false, code: error.code, reason: error.reason };
    }
    // getToken() failed, or something unexpected: keep trying with backoff.
    return { terminal: false, code: 1006, reason: error.message };
  }

  private async waitBeforeRetry(code: number, reason: string, error: Error | undefined, immediately: boolean): Promise<void> {
    const retryInMs = immediately ? 0 : this.backoff!.next();
    this.setState({ state: 'disconnected', code, reason, willRetry: true, retryInMs, ...(error ? { error } : {}) });
    if (immediately) return;
    await new Promise<void>((resolve) => {
      const timer = this.clock.setTimeout(() => resolve(), retryInMs);
      this.wake = () => {
        timer.cancel();
        resolve();
      };
    });
    this.wake = undefined;
  }

  /** Runs a request on an open connection, waiting for one if needed; the whole thing within `requestTimeoutMs`. */
  private async request<T>(what: string, call: (connection: BimipConnection) => Promise<T>): Promise<T> {
    const timeoutMs = this.options.requestTimeoutMs ?? 15_000;
    const deadline = this.clock.now() + timeoutMs;
    let connection = this.connection;
    while (!connection) {
      const left = deadline - this.clock.now();
      if (left <= 0) throw new RequestTimeoutError(what, timeoutMs);
      await this.whenConnected(left);
      connection = this.connection;
    }
    const open = connection;
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => reject(new RequestTimeoutError(what, timeoutMs)), Math.max(1, deadline - this.clock.now()));
      call(open).then(
        (value) => {
          timer.cancel();
          resolve(value);
        },
        (err: unknown) => {
          timer.cancel();
          reject(err);
        },
      );
    });
  }

  private setState(state: ConnectionState): void {
    if (this.current.state === 'closed') return; // terminal: nothing follows it
    this.current = state;
    this.events.emit('state', state);
  }

  private closedError(): ClientClosedError {
    return new ClientClosedError(this.closing?.code ?? 1000, this.closing?.reason ?? '');
  }

  /** Terminal: end streams, fail waiters, announce 'closed' once. */
  private finish(): void {
    if (this.current.state === 'closed') return;
    this.closing ??= { code: 1000, reason: '' };
    for (const timer of this.connectionTimers.splice(0)) timer.cancel();
    this.outbox.detach();
    const error = this.closedError();
    for (const waiter of this.connectedWaiters.splice(0)) waiter.reject(error);
    for (const waiter of this.sendWaiters.values()) waiter.reject(error);
    this.sendWaiters.clear();
    for (const stream of [this.entries, this.signals, this.awareness, this.visibility]) stream.end();
    const { code, reason, error: cause } = this.closing;
    this.setState({ state: 'closed', code, reason, ...(cause ? { error: cause } : {}) });
  }
}

/** Runs saves one at a time; calls made while one runs share the next save (which writes the latest state). */
class CoalescingSaver {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly write: () => Promise<void>) {}

  save(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.running) return this.start();
    this.queued = this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.start();
      });
    return this.queued;
  }

  private start(): Promise<void> {
    const run = this.write().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }
}

function identity(to: string | IdentityInit): IdentityInit {
  return typeof to === 'string' ? { eid: to } : to;
}
