/**
 * One BIMIP node: HTTP + WebSocket on one port, sessions, delivery, the sweeper for idle and
 * expired connections, and graceful shutdown (SPEC §2, §8). Engines (store, bus, authenticator)
 * are injected ready to use; this file picks none.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Authenticator } from '../core/authenticator.js';
import { RevocationAwareAuthenticator } from '../auth/revocation-aware-authenticator.js';
import type { TokenService } from '../auth/token-service.js';
import type { Bus } from '../core/bus.js';
import type { DeviceOwnership } from '../core/device-ownership.js';
import { DisconnectError } from '../core/errors.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { MessageStore } from '../core/message-store.js';
import type { Transport } from '../core/transport.js';
import type { Principal, QueueEntry } from '../core/types.js';
import { CloseCode, DEFAULT_LIMITS, type ProtocolLimits } from '../protocol/index.js';
import type { DeliverySettings, ServerContext } from './context.js';
import { Dispatcher } from './handlers/dispatcher.js';
import { LocalHub } from './hub.js';
import { Router } from './router.js';
import { createHttpHandler, type HttpFallback } from './http.js';
import { createAdminApi } from './admin-api.js';
import { ServerMetrics } from './metrics.js';
import { DEFAULT_SESSION_LIMITS, DeviceSession, type SessionLimits } from './session.js';
import { WebSocketEdge, type ConnectionEvents } from './transport/ws.js';
import { PresenceService } from './presence-service.js';
import { OfflinePushNotifier } from './offline-push.js';
import { PushGate, type PushLimit } from './push-gate.js';
import type { ContactStore } from '../core/contact-store.js';
import type { PresenceStore } from '../core/presence-store.js';
import { noPushHook, type PushHook } from '../core/push-hook.js';

export interface BimipServerOptions {
  host?: string;
  /** 0 picks a free port (tests). */
  port?: number;
  path?: string;
  store: MessageStore;
  /** Contacts, blocks and visibility (the SQLite store implements both ports). */
  contacts: ContactStore;
  /** Who is online and awareness state (MemoryPresenceStore in the embedded default). */
  presence: PresenceStore;
  /** Where push notices go (default: dropped; issue #4 adds the webhook). */
  pushHook?: PushHook;
  /**
   * Per-sender limit on push notices, a token bucket per sender eid (issue #7; default 10/s, bursts
   * of 20, 10,000 senders remembered; perSecond 0 = off). See server/push-gate.ts.
   */
  pushLimit?: Partial<PushLimit>;
  /** OFFLINE is announced this long after a user's last device leaves (default 5 s). */
  offlineGraceMs?: number;
  /** Node-to-node messages; its `nodeId` is this node's id (MemoryBus.standalone() when alone). */
  bus: Bus;
  /** Why the node serves degraded (cluster mode: Redis unreachable), reported by /healthz with 200. */
  degraded?: () => string | undefined;
  /**
   * Who owns each device cluster-wide (SPEC §2, §7.3): MemoryDeviceOwnership in the embedded
   * default, RedisDeviceOwnership in cluster mode (the composition root picks it).
   */
  ownership: DeviceOwnership;
  /** How long a connecting device waits for its previous node to hand it over (default 2000 ms; 0 = not at all). */
  handoffTimeoutMs?: number;
  /** Re-read the heads of this node's users this often (0 = never: with one node no notice can be lost). */
  headRefreshMs?: number;
  /** Token lifecycle: issue, refresh, revoke, logout (routes 5 and 11, the revocation checks). */
  tokens: TokenService;
  /** Upgrade-time token check (default: the TokenService's, revocations included). */
  authenticator?: Authenticator;
  logger: Logger;
  clock?: Clock;
  metrics?: ServerMetrics;
  limits?: Partial<ProtocolLimits>;
  delivery?: Partial<DeliverySettings>;
  session?: Partial<SessionLimits>;
  /** Bearer token of the admin HTTP API; unset disables it. */
  adminToken?: string;
  /** Extra HTTP routes on the same port, asked for paths the server does not serve (the web chat demo). */
  httpFallback?: HttpFallback;
  /** Reported by GET /v1/status: which engines the composition root picked (default 'embedded'). */
  mode?: 'embedded' | 'cluster';
  /** Reported by GET /v1/status: the package version (default 'unknown'; the CLI reads package.json). */
  version?: string;
  /** Close connections with no frame for this long with 4008 (default 60 s). */
  idleTimeoutMs?: number;
  /** How often idle and expired connections are looked for (default 1 s). */
  sweepIntervalMs?: number;
  /** Entries per user kept in memory for live pushes (default 256; older ones are read from the store). */
  recentEntries?: number;
}

export class BimipServer {
  readonly nodeId: string;
  readonly metrics: ServerMetrics;
  readonly hub: LocalHub;
  private readonly presence: PresenceService;
  /** Only when a push hook is configured: the check costs a store read per stored message. */
  private readonly offlinePush: OfflinePushNotifier | undefined;
  private readonly http: Server;
  private readonly edge: WebSocketEdge;
  private readonly ctx: ServerContext;
  private readonly dispatcher: Dispatcher;
  private readonly sessionLimits: SessionLimits;
  private readonly idleTimeoutMs: number;
  private readonly sweeper: { cancel(): void };
  private readonly router: Router;
  private readonly headRefresher: { cancel(): void } | undefined;
  private refreshingHeads = false;
  private draining = false;
  private stopped: Promise<void> | undefined;

  private constructor(private readonly options: BimipServerOptions) {
    this.nodeId = options.bus.nodeId;
    this.metrics = options.metrics ?? new ServerMetrics();
    this.hub = new LocalHub(options.recentEntries ?? 256);
    this.router = new Router(this.hub, options.bus, this.metrics, options.logger, {
      ownership: options.ownership,
      store: options.store,
      clock: options.clock,
      timeoutMs: options.handoffTimeoutMs,
      onRevoked: (jtis) => options.tokens.rememberRevoked(jtis),
    });
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    const clock = options.clock ?? systemClock;
    const presenceStore = options.presence;
    // Every notice, entry or CALLING, passes the gate: known offline devices only, per-sender limit.
    const pushGate = options.pushHook
      ? new PushGate(
          { store: options.store, presence: presenceStore, pushHook: options.pushHook, clock, logger: options.logger, metrics: this.metrics },
          options.pushLimit,
        )
      : undefined;
    this.offlinePush = pushGate ? new OfflinePushNotifier({ gate: pushGate, logger: options.logger }) : undefined;
    this.presence = new PresenceService({
      presence: presenceStore,
      contacts: options.contacts,
      router: this.router,
      clock,
      logger: options.logger,
      nodeId: options.bus.nodeId,
      offlineGraceMs: options.offlineGraceMs,
    });
    this.ctx = {
      store: options.store,
      contacts: options.contacts,
      presence: this.presence,
      router: this.router,
      pushHook: pushGate ?? noPushHook,
      tokens: options.tokens,
      metrics: this.metrics,
      logger: options.logger,
      clock,
      limits,
      delivery: deliverySettings(options.delivery),
      publishEntries: (entries) => this.publishEntries(entries),
    };
    this.sessionLimits = { ...DEFAULT_SESSION_LIMITS, ...options.session };
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.dispatcher = new Dispatcher(this.ctx);
    const authenticator = options.authenticator ?? new RevocationAwareAuthenticator(options.tokens);
    const api = createAdminApi(this.ctx, {
      adminToken: options.adminToken,
      maxBodyBytes: limits.maxFrameBytes,
      node: {
        nodeId: this.nodeId,
        mode: options.mode ?? 'embedded',
        version: options.version ?? 'unknown',
        startedAt: clock.now(),
        connections: () => this.hub.size,
      },
    });
    const onError =
      (where: string) =>
      (err: unknown): void => {
        this.metrics.internalErrors.labels(where).inc();
        options.logger.error({ err }, `${where} failed`);
      };
    this.http = createServer(
      createHttpHandler({
        store: options.store,
        metrics: this.metrics,
        isDraining: () => this.draining,
        api,
        fallback: options.httpFallback,
        onError: onError('http request'),
        degraded: options.degraded,
      }),
    );
    // Slow or stalled request heads are dropped instead of holding a socket for Node's 60 s default.
    this.http.headersTimeout = 10_000;
    this.http.requestTimeout = 30_000;
    this.edge = new WebSocketEdge(this.http, {
      path: options.path ?? '/bimip',
      // Frames up to twice the limit are read so they can be answered with 413 before the 1009
      // close; larger ones are cut by ws at their header, before their payload is buffered (issue #7
      // item 11: what one connection can make the server hold stays bounded).
      hardMaxPayload: limits.maxFrameBytes * 2 + 64 * 1024,
      authenticate: (token) => authenticator.authenticate(token),
      onRejected: (status, reason) => {
        this.metrics.upgradeRejections.labels(String(status)).inc();
        options.logger.info({ status, reason }, 'websocket upgrade refused');
      },
      onConnect: (principal, transport) => this.connect(principal, transport),
      onError: onError('websocket upgrade'),
    });
    this.sweeper = clock.setInterval(() => this.sweep(), options.sweepIntervalMs ?? 1000);
    const headRefreshMs = options.headRefreshMs ?? 0;
    this.headRefresher = headRefreshMs > 0 ? clock.setInterval(() => void this.refreshHeads(), headRefreshMs) : undefined;
  }

  /** Starts listening; resolves once the port is bound. */
  static async start(options: BimipServerOptions): Promise<BimipServer> {
    const server = new BimipServer(options);
    await new Promise<void>((resolve, reject) => {
      server.http.once('error', reject);
      server.http.listen(options.port ?? 4040, options.host ?? '127.0.0.1', () => {
        server.http.off('error', reject);
        resolve();
      });
    });
    return server;
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  get url(): string {
    const { address, port } = this.http.address() as AddressInfo;
    return `ws://${address.includes(':') ? `[${address}]` : address}:${port}${this.options.path ?? '/bimip'}`;
  }

  /**
   * Graceful shutdown: refuse new connections and frames, let accepted frames finish (their Acks go
   * out after their commit), persist cursors, close every connection with 1001.
   */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    this.draining = true;
    this.edge.stopAccepting();
    this.sweeper.cancel();
    this.headRefresher?.cancel();
    this.presence.stop();
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    await this.dispatcher.whenIdle();
    for (const session of this.hub.sessions()) session.close(CloseCode.GoingAway, 'server shutting down');
    // Cursors flushed and devices released before the store closes: reconnects elsewhere need not wait.
    await this.router.shutdown();
    await this.options.store.close();
    this.http.closeAllConnections();
    await closed;
  }

  private connect(principal: Principal, transport: Transport): ConnectionEvents {
    const feed = this.hub.feedFor(principal.eid);
    const session = new DeviceSession(principal, transport, feed, this.ctx, this.sessionLimits);
    this.metrics.connections.inc();
    // Root logger with fields: a child logger per idle connection would cost memory (W4).
    this.options.logger.info({ conn: session.connectionId, eid: session.eid, device: session.deviceId }, 'connected');

    // Frames that arrive while the session loads its cursor wait, in order.
    let early: Array<[Uint8Array, boolean]> | undefined = [];
    // The user's topic is subscribed before the session reads its queue, so no notice falls between;
    // and the device is claimed: when its previous connection was on another node, the session reads
    // its cursor only after that node has flushed it (the handoff in router.ts; SPEC §7.3).
    this.router
      .attach(session)
      .then(() => session.start())
      .then(() => {
        const waiting = early ?? [];
        early = undefined;
        for (const [data, isBinary] of waiting) {
          session.frameFinished(data.length);
          this.onFrame(session, data, isBinary);
        }
        return this.presence.connected(session);
      })
      .catch((err: unknown) => {
        // A refusal (issue #7: device limit → 4011) closes with its own code; anything else is a fault.
        if (err instanceof DisconnectError) {
          this.options.logger.info(
            { conn: session.connectionId, eid: session.eid, device: session.deviceId, code: err.closeCode, reason: err.message },
            'connection refused',
          );
          return session.close(err.closeCode, err.message);
        }
        session.logger.error({ err }, 'session start failed');
        session.close(1011, 'session could not start');
      });
    return {
      onFrame: (data, isBinary) => {
        if (early) {
          // Counted as in flight, so a client flooding a starting session is paused, not buffered.
          session.frameStarted(data.length);
          early.push([data, isBinary]);
        } else this.onFrame(session, data, isBinary);
      },
      onClose: (code) => {
        // The router hands the device over (cursor flushed, ownership released). A replaced
        // connection leaves presence alone: the device is still online on the new one.
        if (this.router.detach(session)) {
          void this.presence.disconnected(session.eid, session.deviceId).catch((err: unknown) => this.options.logger.warn({ err }, 'presence update failed'));
        }
        this.metrics.connections.dec();
        this.options.logger.info({ conn: session.connectionId, eid: session.eid, device: session.deviceId, code }, 'disconnected');
      },
    };
  }

  private onFrame(session: DeviceSession, data: Uint8Array, isBinary: boolean): void {
    if (this.draining) return;
    this.dispatcher.dispatch(session, data, isBinary);
  }

  private publishEntries(entries: readonly QueueEntry[]): void {
    if (this.offlinePush) void this.offlinePush.entriesStored(entries);
    this.router.entriesStored(entries);
  }

  /**
   * A notice lost on the bus must cost a read, not a stall (issue #8): the heads of the users served
   * here are re-read from the store now and then, one user at a time.
   */
  private async refreshHeads(): Promise<void> {
    if (this.refreshingHeads) return;
    this.refreshingHeads = true;
    try {
      for (const eid of this.router.localUsers()) {
        if (this.draining) return;
        this.router.noteHead(eid, (await this.options.store.queueInfo(eid)).head);
      }
    } catch (err) {
      this.options.logger.warn({ err }, 'head re-read failed');
    } finally {
      this.refreshingHeads = false;
    }
  }

  private sweep(): void {
    const now = this.ctx.clock.now();
    for (const session of this.hub.sessions()) {
      if (session.loggingOut) continue;
      const refused = now >= session.principal.expiresAt ? 'token expired' : this.options.tokens.refusal(session.principal);
      if (refused) session.close(CloseCode.Unauthorized, refused);
      else if (now - session.lastFrameAt > this.idleTimeoutMs) session.close(CloseCode.IdleTimeout, 'idle timeout');
      else session.checkSlowConsumer(now);
    }
  }
}

function deliverySettings(overrides: Partial<DeliverySettings> = {}): DeliverySettings {
  const sendBufferBytes = overrides.sendBufferBytes ?? 1024 * 1024;
  return {
    window: 512,
    sendBufferBytes,
    readBatch: 256,
    slowConsumerMs: 10_000,
    maxBufferedBytes: 4 * sendBufferBytes,
    replayBytes: 1024 * 1024,
    ...overrides,
  };
}
