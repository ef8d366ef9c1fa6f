/**
 * One WebSocket connection to a BIMIP server: connect with a token, send messages and await their
 * Ack, read the user's queue (messages, receipts, contact events) de-duplicated by user_offset
 * (SPEC §7.4), commit, replay with Sync, ping, and the typed helpers for receipts, transient
 * signals, awareness, visibility and contacts (SPEC §6 F4–F7). It ends when the socket closes:
 * `BimipClient` (client.ts) is the resilient client apps use, built on one of these per attempt.
 * Tests and tools use it directly to see the server's behaviour without retries.
 */
import {
  Code,
  ContactAction,
  LogoutType,
  MessageType,
  TokenAuthorityType,
  TokenTask,
  PingType,
  RequestType,
  Route,
  SyncType,
  VisibilityType,
  decodeFrame,
  encodeFrame,
  type Ack,
  type Awareness,
  type AwarenessVisibility,
  type Body,
  type Contact,
  type ErrorMessage,
  type Frame,
  type IdentityInit,
  type PingPong,
  type Logout,
  type Signal,
  type Sync,
  type TokenAuthority,
} from '@bimip/protocol/lite';
import { AsyncQueue } from './async-queue.js';
import type { ContactActionValue, ReceiptStatusValue, TransientStatusValue } from './constants.js';
import { BimipRequestError, ConnectionClosedError, TokenAuthorityError, connectErrorFrom } from './errors.js';
import { randomId } from './ids.js';
import { tokenClaim } from './jwt.js';
import { PendingRequests } from './requests.js';
import { OPEN, defaultWebSocketFactory, type ConnectOptions, type WebSocketLike } from './socket.js';
import type { AwarenessOptions, ContactEntry, QueueEntry, ReceiptTarget, SendOptions, SyncResult } from './types.js';

/** Routes whose frames have no id: their errors answer the oldest request of that route. */
const ID_LESS_ROUTES = new Set<number>([Route.TokenAuthority, Route.Logout]);

const MAX_KEPT_ERRORS = 100;

export type CloseInfo = { code: number; reason: string };

/**
 * Where pushed frames go. By default into the connection's own streams; the resilient client
 * passes its own so its streams outlive each connection.
 */
export interface ConnectionSink {
  entry(entry: QueueEntry): void;
  signal(signal: Signal): void;
  awareness(awareness: Awareness): void;
  visibility(visibility: AwarenessVisibility): void;
  error(error: ErrorMessage): void;
  caughtUp(marker: Sync): void;
  /** The connect-time Body: the awareness of everyone this user is subscribed to (F6). */
  snapshot?(body: Body): void;
  /** Any frame arrived (the heartbeat's proof of life). */
  alive?(): void;
}

export class BimipConnection {
  /** Queue entries after this device's cursor (messages, receipts, contact events), in offset order, each once. */
  readonly entries: AsyncQueue<QueueEntry> = new AsyncQueue<QueueEntry>();
  /** Transient signals (TYPING … DECLINE, status 6–12) addressed to this user; never stored, so never replayed. */
  readonly signals: AsyncQueue<Signal> = new AsyncQueue<Signal>();
  /** Awareness pushed by the server (subscriptions' changes, this user's other devices) and items of later Body frames. */
  readonly awareness: AsyncQueue<Awareness> = new AsyncQueue<Awareness>();
  /** Visibility echoes: this user's setting changed (on this or another device). */
  readonly visibility: AsyncQueue<AwarenessVisibility> = new AsyncQueue<AwarenessVisibility>();
  /** The last 100 ErrorMessage frames the server sent (including those that also rejected a request). */
  readonly errors: ErrorMessage[] = [];
  /** Resolves with the server's caught-up Sync marker (SPEC §6 F2). */
  readonly caughtUp: Promise<Sync>;
  /** Resolves with the first Body after connect: the awareness of everyone this user is subscribed to (F6). */
  readonly awarenessSnapshot: Promise<Body>;
  /** Resolves when the connection closes, with the close code. */
  readonly closed: Promise<CloseInfo>;
  private lastOffset = 0;
  private closeInfo: CloseInfo | undefined;
  private readonly pending = new PendingRequests();
  /** Entries seen while a Sync replay is outstanding, per Sync id. */
  private readonly replays = new Map<string, { after: number; entries: QueueEntry[] }>();
  /** Entries beyond the live position that arrived while a replay ran (see onEntry). */
  private held: QueueEntry[] = [];
  private snapshotSettled = false;
  private resolveCaughtUp!: (sync: Sync) => void;
  private resolveSnapshot!: (body: Body) => void;
  private rejectSnapshot!: (error: Error) => void;
  private resolveClosed!: (info: CloseInfo) => void;
  private readonly sink: ConnectionSink;

  private constructor(
    private readonly socket: WebSocketLike,
    sink: ConnectionSink | undefined,
    /** This connection's device (the token's device_id claim), to tell its own entries in a replay. */
    private readonly deviceId: string | undefined,
  ) {
    this.sink = sink ?? {
      entry: (entry) => this.entries.push(entry),
      signal: (signal) => this.signals.push(signal),
      awareness: (awareness) => this.awareness.push(awareness),
      visibility: (visibility) => this.visibility.push(visibility),
      error: (error) => {
        // Bounded: an app that never reads `errors` must not grow without limit.
        if (this.errors.push(error) > MAX_KEPT_ERRORS) this.errors.shift();
      },
      caughtUp: () => undefined,
    };
    this.caughtUp = new Promise((resolve) => (this.resolveCaughtUp = resolve));
    this.awarenessSnapshot = new Promise((resolve, reject) => {
      this.resolveSnapshot = resolve;
      this.rejectSnapshot = reject;
    });
    // Rejected on close; marked handled so an app that never reads it gets no unhandled rejection.
    this.awarenessSnapshot.catch(() => undefined);
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    socket.binaryType = 'arraybuffer';
    socket.onmessage = (event) => this.onFrame(event.data);
    socket.onclose = (event) => this.onClose(event.code, event.reason);
  }

  /**
   * Opens the connection; rejects with ConnectError when the upgrade is refused (`status` 401 for a
   * bad token, where the platform tells), the network fails or it times out, and with
   * ConnectionClosedError when the server closes it before it opened.
   */
  static async connect(options: ConnectOptions & { sink?: ConnectionSink }): Promise<BimipConnection> {
    const factory = options.webSocket ?? (await defaultWebSocketFactory());
    const socket = factory(options.url, options.token);
    // Handlers are installed before the socket opens: the first frames can arrive in the same
    // read as the upgrade response.
    const client = new BimipConnection(socket, options.sink, tokenClaim(options.token, 'device_id'));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.close();
        reject(connectErrorFrom('timeout'));
      }, options.connectTimeoutMs ?? 10_000);
      socket.onopen = () => {
        clearTimeout(timer);
        resolve();
      };
      socket.onerror = (event) => {
        clearTimeout(timer);
        reject(connectErrorFrom((event as { message?: string }).message ?? ''));
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
    const payload = typeof options.payload === 'string' ? new TextEncoder().encode(options.payload) : options.payload;
    return this.request(
      Route.Message,
      id,
      encodeFrame('message', {
        id,
        to: identity(options.to),
        from: options.from,
        type: options.type ?? MessageType.CHAT,
        timestamp: options.timestamp ?? Date.now(),
        payload,
        encryptionType: options.encryptionType,
        encrypted: options.encrypted,
        signature: options.signature,
      }),
    );
  }

  /** Commits: "I have processed every entry ≤ offset" (SPEC §6 F3). */
  commit(offset: number): void {
    this.write(encodeFrame('offsetCommit', { userOffset: offset, timestamp: Date.now() }));
  }

  /** Replays stored entries with offset > afterOffset without moving the cursor (SPEC §6 F2). */
  async sync(afterOffset: number, limit = 100): Promise<SyncResult> {
    const id = randomId();
    const answer = this.request<Sync>(Route.Sync, id, encodeFrame('sync', { id, type: SyncType.REQUEST, afterOffset, limit, timestamp: Date.now() }), () =>
      this.replays.set(id, { after: afterOffset, entries: [] }),
    );
    try {
      const response = await answer;
      // Live pushes may interleave with the replay: keep each offset once, in order.
      const byOffset = new Map(this.replays.get(id)!.entries.map((entry) => [entry.offset, entry]));
      return { entries: [...byOffset.values()].sort((x, y) => x.offset - y.offset), response };
    } finally {
      this.replays.delete(id);
      if (this.replays.size === 0) this.releaseHeld();
    }
  }

  /** PING; resolves with the PONG. */
  ping(): Promise<PingPong> {
    const id = randomId();
    return this.request(Route.PingPong, id, encodeFrame('pingPong', { id, type: PingType.PING, timestamp: Date.now() }));
  }

  /**
   * Sends a durable receipt for a received message (SPEC §6 F4), to its sender unless `to` says
   * otherwise. The server answers only failures (404 unknown message, 403 not its recipient),
   * which arrive in `errors` with the message's id; a repeated or DELIVERED-after-READ receipt is
   * dropped silently.
   */
  sendReceipt(message: ReceiptTarget, status: ReceiptStatusValue, to?: string): void {
    const recipient = to ?? message.from?.eid;
    if (!recipient) throw new TypeError('sendReceipt: the message has no from.eid; pass `to`');
    this.write(encodeFrame('signal', { id: message.id, signalId: message.signalId, to: { eid: recipient }, status, timestamp: Date.now() }));
  }

  /** Sends a transient signal (TYPING … DECLINE) to a user or one device of theirs (F5); returns its id. */
  sendSignal(to: string | IdentityInit, status: TransientStatusValue, id: string = randomId()): string {
    this.write(encodeFrame('signal', { id, to: identity(to), status, timestamp: Date.now() }));
    return id;
  }

  /** Sets this user's awareness (F6); returns the frame's id. No answer on success; failures arrive in `errors`. */
  setAwareness(options: AwarenessOptions): string {
    const { id = randomId(), timestamp = Date.now(), ...state } = options;
    this.write(encodeFrame('awareness', { ...state, id, type: RequestType.REQUEST, timestamp }));
    return id;
  }

  /** Asks for the awareness of a user this one is subscribed to; rejects with BimipRequestError 403 otherwise. */
  queryAwareness(eid: string): Promise<Awareness> {
    const id = randomId();
    return this.request(Route.Awareness, id, encodeFrame('awareness', { id, type: RequestType.REQUEST, to: { eid }, status: 0, timestamp: Date.now() }));
  }

  /** Shows (true) or hides (false) this user on every device; resolves with the server's echo. */
  setVisibility(visible: boolean): Promise<AwarenessVisibility> {
    const id = randomId();
    const type = visible ? VisibilityType.ENABLED : VisibilityType.DISABLED;
    return this.request(Route.AwarenessVisibility, id, encodeFrame('awarenessVisibility', { id, type, timestamp: Date.now() }));
  }

  /** Asks `eid` for a subscription to their awareness; resolves with the server's RESPONSE (F7). */
  subscribe(eid: string): Promise<Contact> {
    return this.contact(ContactAction.SUBSCRIBE, eid);
  }

  /** Accepts `eid`'s pending SUBSCRIBE: the subscription becomes mutual. 404 if none is pending. */
  approve(eid: string): Promise<Contact> {
    return this.contact(ContactAction.APPROVE, eid);
  }

  /** Refuses `eid`'s pending SUBSCRIBE. */
  deny(eid: string): Promise<Contact> {
    return this.contact(ContactAction.DENY, eid);
  }

  /** Ends the subscription between this user and `eid`, both ways. */
  unsubscribe(eid: string): Promise<Contact> {
    return this.contact(ContactAction.UNSUBSCRIBE, eid);
  }

  /** Blocks `eid`: their messages get Ack 403, their signals are dropped, their queries 403; subscriptions end. */
  block(eid: string): Promise<Contact> {
    return this.contact(ContactAction.BLOCK, eid);
  }

  /** Lifts a block of `eid`. */
  unblock(eid: string): Promise<Contact> {
    return this.contact(ContactAction.UNBLOCK, eid);
  }

  /** This user's contacts and their relation (see `Relation`). */
  async listContacts(): Promise<ContactEntry[]> {
    const id = randomId();
    const answer = await this.request<Contact>(
      Route.Contact,
      id,
      encodeFrame('contact', { id, action: ContactAction.LIST, type: RequestType.REQUEST, timestamp: Date.now() }),
    );
    return answer.entries.map((entry) => ({ eid: entry.eid ?? '', relation: entry.relation ?? 0 }));
  }

  /**
   * Exchanges a refresh token for a new pair (SPEC §6 F8). The presented token is spent: keep the
   * new one. Rejects with TokenAuthorityError when refused (unknown, expired, already used — which
   * also revokes its whole family — or tokens issued externally).
   */
  async refreshToken(refreshToken: string): Promise<{ accessToken: string; refreshToken: string }> {
    const answer = await this.tokenAuthority(TokenAuthorityType.REFRESH, refreshToken);
    return { accessToken: answer.token, refreshToken: answer.details };
  }

  /** Asks whether an access token is valid (signature, expiry, revocation); resolves when it is. */
  validateToken(token: string): Promise<TokenAuthority> {
    return this.tokenAuthority(TokenAuthorityType.VALIDATE, token);
  }

  /** Revokes one of this user's tokens (an access token, its jti, or a refresh token and its family). */
  revokeToken(tokenOrJti: string): Promise<TokenAuthority> {
    return this.tokenAuthority(TokenAuthorityType.REVOKE, tokenOrJti);
  }

  /**
   * Logs this device out (or, with `everyDevice`, every device of the user): its tokens are revoked,
   * its cursor deleted, and the server closes the connection after answering.
   */
  logout(everyDevice = false): Promise<Logout> {
    return this.request<Logout>(Route.Logout, '', encodeFrame('logout', { type: everyDevice ? LogoutType.ACCOUNT : LogoutType.DEVICE, timestamp: Date.now() }));
  }

  /** Sends raw bytes as one frame (tests of bad input). */
  sendRaw(data: Uint8Array): void {
    this.socket.send(data);
  }

  /**
   * Gives up on the connection now: closes the socket and settles everything as closed with
   * `code`, without waiting for a close handshake a dead network would never complete.
   */
  terminate(code: number, reason: string): void {
    try {
      if (this.socket.readyState <= OPEN) this.socket.close(code, reason);
    } catch {
      // a socket that cannot even close is as gone as we need it
    }
    this.onClose(code, reason);
  }

  close(code = 1000, reason = ''): Promise<CloseInfo> {
    if (this.socket.readyState <= OPEN) this.socket.close(code, reason);
    return this.closed;
  }

  /** TokenAuthority and Logout frames carry no id: their answers come back in request order. */
  private async tokenAuthority(type: number, token: string): Promise<TokenAuthority> {
    const answer = await this.request<TokenAuthority>(
      Route.TokenAuthority,
      '',
      encodeFrame('tokenAuthority', { type, task: TokenTask.REQUEST, token, timestamp: Date.now() }),
    );
    if (answer.task !== TokenTask.RESPONSE) throw new TokenAuthorityError(answer.details);
    return answer;
  }

  private contact(action: ContactActionValue, eid: string): Promise<Contact> {
    const id = randomId();
    return this.request(Route.Contact, id, encodeFrame('contact', { id, to: { eid }, action, type: RequestType.REQUEST, timestamp: Date.now() }));
  }

  /**
   * Sends an encoded frame and waits for its answer under (route, id). Registers the request
   * before writing it: the answer may arrive in the same tick as the send.
   */
  requestFrame<T>(route: number, id: string, frame: Uint8Array): Promise<T> {
    return this.request<T>(route, id, frame);
  }

  /** Writes an encoded frame if the socket is open; false when it is not. */
  writeFrame(frame: Uint8Array): boolean {
    if (this.socket.readyState !== OPEN) return false;
    this.socket.send(frame);
    return true;
  }

  private request<T>(route: number, id: string, frame: Uint8Array, onRegistered?: () => void): Promise<T> {
    const answer = this.pending.add<T>(route, id);
    if (!this.closeInfo) {
      onRegistered?.();
      this.write(frame);
    }
    return answer;
  }

  private write(frame: Uint8Array): void {
    if (this.socket.readyState === OPEN) this.socket.send(frame);
  }

  private onFrame(data: unknown): void {
    if (this.closeInfo) return; // terminated: late frames of a socket we gave up on
    this.sink.alive?.();
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data instanceof Uint8Array ? data : undefined;
    let frame: Frame;
    try {
      if (!bytes) throw new Error('not a binary frame');
      frame = decodeFrame(bytes);
    } catch (err) {
      // A frame this SDK cannot read (a newer server's route, a proxy's garbage) must not kill the
      // app: unknown routes are skipped silently (forward compatibility), anything else reported.
      if (!/unknown route/.test((err as Error).message)) {
        this.sink.error({
          id: '',
          code: Code.BadRequest,
          errorOrigin: 0,
          details: `unreadable frame from the server: ${(err as Error).message}`,
          timestamp: Date.now(),
        } as unknown as ErrorMessage);
      }
      return;
    }
    switch (frame.field) {
      case 'ack':
        this.pending.resolve(Route.Message, frame.value.id, frame.value);
        return;
      case 'message':
        return this.onEntry({ kind: 'message', offset: frame.value.userOffset, message: frame.value });
      case 'signal':
        // Stored receipts carry their queue offset; transient signals are never stored, so have none.
        if (frame.value.userOffset > 0) return this.onEntry({ kind: 'signal', offset: frame.value.userOffset, signal: frame.value });
        this.sink.signal(frame.value);
        return;
      case 'contact':
        return this.onContact(frame.value);
      case 'awareness':
        return this.onAwareness(frame.value);
      case 'awarenessVisibility':
        this.pending.resolve(Route.AwarenessVisibility, frame.value.id, frame.value);
        this.sink.visibility(frame.value);
        return;
      case 'body':
        return this.onBody(frame.value);
      case 'sync':
        return this.onSync(frame.value);
      case 'pingPong':
        if (frame.value.type === PingType.PING) {
          this.write(encodeFrame('pingPong', { id: frame.value.id, type: PingType.PONG, timestamp: Date.now() }));
        } else {
          this.pending.resolve(Route.PingPong, frame.value.id, frame.value);
        }
        return;
      case 'tokenAuthority':
        this.pending.resolve(Route.TokenAuthority, '', frame.value);
        return;
      case 'logout':
        this.pending.resolve(Route.Logout, '', frame.value);
        return;
      case 'error':
        this.sink.error(frame.value);
        if (frame.value.id || ID_LESS_ROUTES.has(frame.value.errorOrigin)) {
          this.pending.reject(frame.value.errorOrigin, frame.value.id, new BimipRequestError(frame.value));
        }
        return;
      default:
        return;
    }
  }

  private onEntry(entry: QueueEntry): void {
    for (const replay of this.replays.values()) if (entry.offset > replay.after) replay.entries.push(entry);
    // SPEC §7.4: the application sees each offset once, in order, whatever the entry's kind.
    if (entry.offset <= this.lastOffset) return;
    if (this.replays.size > 0) {
      // A replayed frame and a live push look alike: hold everything beyond the live position until
      // the replay ends, so replayed entries cannot jump the live stream past ones not pushed yet.
      this.held.push(entry);
      return;
    }
    this.lastOffset = entry.offset;
    this.sink.entry(entry);
  }

  /**
   * After a replay: the held entries, each offset once and in order, go to the live stream — the
   * same entries it would have been pushed — except this device's own (a replay includes the
   * entries it authored, which are never pushed to it; SPEC §5, F2).
   */
  private releaseHeld(): void {
    const held = this.held.sort((a, b) => a.offset - b.offset);
    this.held = [];
    for (const entry of held) {
      if (entry.offset <= this.lastOffset) continue;
      if (this.deviceId !== undefined && authorDevice(entry) === this.deviceId) continue;
      this.lastOffset = entry.offset;
      this.sink.entry(entry);
    }
  }

  private onContact(contact: Contact): void {
    // A stored event (someone else's action about this user) is an entry, never an answer: the
    // device that acted does not get its own event back, only the RESPONSE.
    if (contact.userOffset > 0) return this.onEntry({ kind: 'contact', offset: contact.userOffset, contact });
    if (contact.type === RequestType.RESPONSE) this.pending.resolve(Route.Contact, contact.id, contact);
  }

  private onAwareness(awareness: Awareness): void {
    // Pushed changes carry an empty id; only a RESPONSE with a waiting query's id answers it.
    if (awareness.type === RequestType.RESPONSE && awareness.id && this.pending.resolve(Route.Awareness, awareness.id, awareness)) return;
    this.sink.awareness(awareness);
  }

  private onBody(body: Body): void {
    if (!this.snapshotSettled) {
      this.snapshotSettled = true;
      this.resolveSnapshot(body);
      this.sink.snapshot?.(body);
      return;
    }
    for (const awareness of body.awarenessList) this.sink.awareness(awareness as Awareness);
  }

  private onSync(sync: Sync): void {
    if (sync.id === '') {
      if (sync.cursor > this.lastOffset) this.lastOffset = sync.cursor;
      this.resolveCaughtUp(sync);
      this.sink.caughtUp(sync);
      return;
    }
    this.pending.resolve(Route.Sync, sync.id, sync);
  }

  private onClose(code: number, reason: string): void {
    if (this.closeInfo) return;
    this.closeInfo = { code, reason };
    const error = new ConnectionClosedError(code, reason);
    this.pending.close(error);
    if (!this.snapshotSettled) {
      this.snapshotSettled = true;
      this.rejectSnapshot(error);
    }
    for (const stream of [this.entries, this.signals, this.awareness, this.visibility]) stream.end();
    this.resolveClosed(this.closeInfo);
  }
}

function identity(to: string | IdentityInit): IdentityInit {
  return typeof to === 'string' ? { eid: to } : to;
}

/** The device that authored a queue entry, as the server stamped it in `from` (SPEC §5). */
function authorDevice(entry: QueueEntry): string | undefined {
  if (entry.kind === 'message') return entry.message.from?.connectionResourceId ?? undefined;
  if (entry.kind === 'signal') return entry.signal.from?.connectionResourceId ?? undefined;
  return entry.contact.from?.connectionResourceId ?? undefined;
}
