/**
 * The BIMIP client SDK (first cut): connect with a token, send messages and await their Ack, read
 * the entries of the user's queue as an async stream de-duplicated by user_offset (SPEC §7.4),
 * commit, replay with Sync, ping. Imports only the protocol, so it runs in browsers and Node.
 */
import {
  MessageType,
  PingType,
  SyncType,
  decodeFrame,
  encodeFrame,
  type Ack,
  type ErrorMessage,
  type IdentityInit,
  type Message,
  type PingPong,
  type Sync,
} from '../protocol/index.js';
import { AsyncQueue } from './async-queue.js';

/** The subset of the WebSocket API the client uses (browsers' WebSocket and `ws` both fit). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type WebSocketFactory = (url: string, token: string) => WebSocketLike;

export interface ConnectOptions {
  /** ws://host:port/bimip */
  url: string;
  /** Access token (JWT). */
  token: string;
  /** How to open the socket; default: `ws` in Node (token in the Authorization header), else the global WebSocket with ?token=. */
  webSocket?: WebSocketFactory;
  /** Reject `connect` if the socket is not open within this many ms (default 10 s). */
  connectTimeoutMs?: number;
}

/** One entry of the user's queue as received by this device. */
export interface MessageEntry {
  kind: 'message';
  offset: number;
  message: Message;
}
export type QueueEntry = MessageEntry;

export interface SendOptions {
  to: string | IdentityInit;
  payload?: Uint8Array | string;
  /** Idempotency key; default a random UUID. Resend with the same id to retry safely. */
  id?: string;
  type?: number;
  timestamp?: number;
  encryptionType?: string;
  encrypted?: string;
  signature?: string;
  from?: IdentityInit;
}

export class ConnectionClosedError extends Error {
  constructor(readonly code: number, readonly reason: string) {
    super(`connection closed (${code}${reason ? `: ${reason}` : ''})`);
    this.name = 'ConnectionClosedError';
  }
}

const OPEN = 1;

export class BimipClient {
  /** Entries after this device's cursor, in offset order, each once. */
  readonly entries = new AsyncQueue<QueueEntry>();
  /** ErrorMessage frames the server sent. */
  readonly errors: ErrorMessage[] = [];
  /** Resolves with the server's caught-up Sync marker (SPEC §6 F2). */
  readonly caughtUp: Promise<Sync>;
  /** Resolves when the connection closes, with the close code. */
  readonly closed: Promise<{ code: number; reason: string }>;
  private lastOffset = 0;
  private closeInfo: { code: number; reason: string } | undefined;
  private readonly pendingAcks = new Map<string, Array<(ack: Ack) => void>>();
  private readonly pendingSyncs = new Map<string, { after: number; entries: QueueEntry[]; resolve(result: SyncResult): void }>();
  private readonly pendingPings = new Map<string, (pong: PingPong) => void>();
  private resolveCaughtUp!: (sync: Sync) => void;
  private resolveClosed!: (info: { code: number; reason: string }) => void;
  private readonly failers = new Set<(error: Error) => void>();

  private constructor(private readonly socket: WebSocketLike) {
    this.caughtUp = new Promise((resolve) => (this.resolveCaughtUp = resolve));
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    socket.binaryType = 'arraybuffer';
    socket.onmessage = (event) => this.onFrame(event.data);
    socket.onclose = (event) => this.onClose(event.code, event.reason);
  }

  /** Opens the connection; rejects if the upgrade is refused (e.g. HTTP 401) or times out. */
  static async connect(options: ConnectOptions): Promise<BimipClient> {
    const factory = options.webSocket ?? (await defaultWebSocketFactory());
    const socket = factory(options.url, options.token);
    // Handlers are installed before the socket opens: the first frames can arrive in the same
    // read as the upgrade response.
    const client = new BimipClient(socket);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.close();
        reject(new Error('connect timed out'));
      }, options.connectTimeoutMs ?? 10_000);
      socket.onopen = () => {
        clearTimeout(timer);
        resolve();
      };
      socket.onerror = (event) => {
        clearTimeout(timer);
        reject(new Error(`connection refused: ${(event as { message?: string }).message ?? 'error'}`));
      };
      void client.closed.then(({ code, reason }) => {
        clearTimeout(timer);
        reject(new ConnectionClosedError(code, reason));
      });
    });
    socket.onerror = null;
    return client;
  }

  get isOpen(): boolean {
    return this.socket.readyState === OPEN;
  }

  /** Highest user_offset handed to the application. */
  get lastReceivedOffset(): number {
    return this.lastOffset;
  }

  /** Sends a message; resolves with its Ack (check `code`: 200 stored, 409 duplicate, else SPEC §10). */
  send(options: SendOptions): Promise<Ack> {
    const id = options.id ?? randomId();
    const to = typeof options.to === 'string' ? { eid: options.to } : options.to;
    const payload = typeof options.payload === 'string' ? new TextEncoder().encode(options.payload) : options.payload;
    return this.request(this.pendingAcks, id, () =>
      this.write(
        encodeFrame('message', {
          id,
          to,
          from: options.from,
          type: options.type ?? MessageType.CHAT,
          timestamp: options.timestamp ?? Date.now(),
          payload,
          encryptionType: options.encryptionType,
          encrypted: options.encrypted,
          signature: options.signature,
        }),
      ),
    );
  }

  /** Commits: "I have processed every entry ≤ offset" (SPEC §6 F3). */
  commit(offset: number): void {
    this.write(encodeFrame('offsetCommit', { userOffset: offset, timestamp: Date.now() }));
  }

  /** Replays stored entries with offset > afterOffset without moving the cursor (SPEC §6 F2). */
  sync(afterOffset: number, limit = 100): Promise<SyncResult> {
    const id = randomId();
    return new Promise((resolve, reject) => {
      if (!this.guard(reject)) return;
      this.pendingSyncs.set(id, { after: afterOffset, entries: [], resolve: (result) => { this.failers.delete(reject); resolve(result); } });
      this.failers.add(reject);
      this.write(encodeFrame('sync', { id, type: SyncType.REQUEST, afterOffset, limit, timestamp: Date.now() }));
    });
  }

  /** PING; resolves with the PONG. */
  ping(): Promise<PingPong> {
    const id = randomId();
    return new Promise((resolve, reject) => {
      if (!this.guard(reject)) return;
      this.failers.add(reject);
      this.pendingPings.set(id, (pong) => { this.failers.delete(reject); resolve(pong); });
      this.write(encodeFrame('pingPong', { id, type: PingType.PING, timestamp: Date.now() }));
    });
  }

  /** Sends raw bytes as one frame (tests of bad input). */
  sendRaw(data: Uint8Array): void {
    this.socket.send(data);
  }

  close(code = 1000, reason = ''): Promise<{ code: number; reason: string }> {
    if (this.socket.readyState <= OPEN) this.socket.close(code, reason);
    return this.closed;
  }

  private request<T>(pending: Map<string, Array<(value: T) => void>>, id: string, write: () => void): Promise<T> {
    return new Promise((resolve, reject) => {
      if (!this.guard(reject)) return;
      const settle = (value: T): void => {
        this.failers.delete(reject);
        resolve(value);
      };
      this.failers.add(reject);
      const waiting = pending.get(id);
      if (waiting) waiting.push(settle);
      else pending.set(id, [settle]);
      write();
    });
  }

  private guard(reject: (error: Error) => void): boolean {
    if (this.closeInfo) {
      reject(new ConnectionClosedError(this.closeInfo.code, this.closeInfo.reason));
      return false;
    }
    return true;
  }

  private write(frame: Uint8Array): void {
    if (this.socket.readyState === OPEN) this.socket.send(frame);
  }

  private onFrame(data: unknown): void {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Uint8Array);
    const frame = decodeFrame(bytes);
    switch (frame.field) {
      case 'ack':
        return this.settle(this.pendingAcks, frame.value.id, frame.value);
      case 'message':
        return this.onEntry({ kind: 'message', offset: frame.value.userOffset, message: frame.value });
      case 'sync':
        return this.onSync(frame.value);
      case 'pingPong':
        if (frame.value.type === PingType.PING) {
          this.write(encodeFrame('pingPong', { id: frame.value.id, type: PingType.PONG, timestamp: Date.now() }));
        } else {
          const resolve = this.pendingPings.get(frame.value.id);
          this.pendingPings.delete(frame.value.id);
          resolve?.(frame.value);
        }
        return;
      case 'error':
        this.errors.push(frame.value);
        return;
      default:
        return;
    }
  }

  private onEntry(entry: QueueEntry): void {
    for (const pending of this.pendingSyncs.values()) if (entry.offset > pending.after) pending.entries.push(entry);
    // SPEC §7.4: the application sees each offset once, in order.
    if (entry.offset <= this.lastOffset) return;
    this.lastOffset = entry.offset;
    this.entries.push(entry);
  }

  private onSync(sync: Sync): void {
    if (sync.id === '') {
      if (sync.cursor > this.lastOffset) this.lastOffset = sync.cursor;
      this.resolveCaughtUp(sync);
      return;
    }
    const pending = this.pendingSyncs.get(sync.id);
    if (!pending) return;
    this.pendingSyncs.delete(sync.id);
    // Live pushes may interleave with the replay: keep each offset once, in order.
    const byOffset = new Map(pending.entries.map((entry) => [entry.offset, entry]));
    const entries = [...byOffset.values()].sort((x, y) => x.offset - y.offset);
    pending.resolve({ entries, response: sync });
  }

  private settle<T>(pending: Map<string, Array<(value: T) => void>>, id: string, value: T): void {
    const waiting = pending.get(id);
    if (!waiting) return;
    const resolve = waiting.shift()!;
    if (waiting.length === 0) pending.delete(id);
    resolve(value);
  }

  private onClose(code: number, reason: string): void {
    this.closeInfo = { code, reason };
    const error = new ConnectionClosedError(code, reason);
    for (const fail of this.failers) fail(error);
    this.failers.clear();
    this.entries.end();
    this.resolveClosed(this.closeInfo);
  }
}

export interface SyncResult {
  entries: QueueEntry[];
  response: Sync;
}

function randomId(): string {
  return globalThis.crypto.randomUUID();
}

async function defaultWebSocketFactory(): Promise<WebSocketFactory> {
  const global = globalThis as { WebSocket?: new (url: string) => WebSocketLike; process?: unknown };
  if (global.process === undefined && global.WebSocket) {
    const BrowserWebSocket = global.WebSocket;
    return (url, token) => new BrowserWebSocket(`${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`);
  }
  const { WebSocket: NodeWebSocket } = await import('ws');
  return (url, token) =>
    new NodeWebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false }) as unknown as WebSocketLike;
}
