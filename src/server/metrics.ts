/** Prometheus metrics of one node (GET /metrics). Labels never carry user data (SPEC §7.5). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { TokenEvent } from '../auth/token-service.js';
import { PAYLOAD_FIELD_BY_ROUTE } from '../protocol/index.js';

/**
 * The `route` label of a route number: its payload's field name in the .proto (`message`,
 * `offset_commit`…), so dashboards read names, not wire numbers; `unknown` for anything else (a
 * label value per junk number would let clients grow the metric without bound).
 */
function routeLabel(route: number): string {
  const field = PAYLOAD_FIELD_BY_ROUTE[route];
  return field === undefined ? 'unknown' : field.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/**
 * Counts kept as plain numbers and handed to prom-client when /metrics is read (issue #10): a
 * labelled prom-client `inc()` hashes its labels and allocates, and the send path counts about
 * five things per message (~4 % of the event loop at 20k msg/s, measured with --cpu-prof).
 */
class Tally {
  private readonly counts = new Map<number, number>();

  add(key: number): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** Reports what was added since the last drain, key by key. */
  drain(report: (key: number, delta: number) => void): void {
    for (const [key, delta] of this.counts) if (delta > 0) report(key, delta);
    for (const key of this.counts.keys()) this.counts.set(key, 0);
  }
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly framesIn = new Tally();
  private readonly framesOut = new Tally();
  private readonly acksByCode = new Tally();
  private readonly errorsByCode = new Tally();
  private readonly stored = new Tally();
  readonly connections = new Gauge({ name: 'bimip_connections', help: 'Open client connections', registers: [this.registry] });
  readonly frames: Counter<'route' | 'direction'> = new Counter({
    name: 'bimip_frames_total',
    help: 'Frames by route name (message, ack, offset_commit…) and direction (in = from clients, out = to clients)',
    labelNames: ['route', 'direction'] as const,
    registers: [this.registry],
    collect: () => {
      this.framesIn.drain((route, delta) => this.frames.labels(routeLabel(route), 'in').inc(delta));
      this.framesOut.drain((route, delta) => this.frames.labels(routeLabel(route), 'out').inc(delta));
    },
  });
  readonly messagesStored: Counter = new Counter({
    name: 'bimip_messages_stored_total',
    help: 'Messages stored (duplicates excluded)',
    registers: [this.registry],
    collect: () => this.stored.drain((_, delta) => this.messagesStored.inc(delta)),
  });
  readonly acks: Counter<'code'> = new Counter({
    name: 'bimip_acks_total',
    help: 'Acks sent, by code',
    labelNames: ['code'] as const,
    registers: [this.registry],
    collect: () => this.acksByCode.drain((code, delta) => this.acks.labels(String(code)).inc(delta)),
  });
  readonly errors: Counter<'code'> = new Counter({
    name: 'bimip_errors_total',
    help: 'ErrorMessage frames sent, by code',
    labelNames: ['code'] as const,
    registers: [this.registry],
    collect: () => this.errorsByCode.drain((code, delta) => this.errors.labels(String(code)).inc(delta)),
  });
  readonly closes = new Counter({
    name: 'bimip_closes_total',
    help: 'Connections closed by the server, by close code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly busFailures = new Counter({
    name: 'bimip_bus_failures_total',
    help: 'Bus operations that failed (publish, subscribe, unsubscribe); sessions catch up from the store',
    labelNames: ['op'] as const,
    registers: [this.registry],
  });
  readonly framesDropped = new Counter({
    name: 'bimip_frames_dropped_total',
    help: 'Transient frames (signals, awareness) not sent, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly internalErrors = new Counter({
    name: 'bimip_internal_errors_total',
    help: 'Unexpected failures caught at a network entry point (answered 500 or closed), by where',
    labelNames: ['where'] as const,
    registers: [this.registry],
  });
  readonly upgradeRejections = new Counter({
    name: 'bimip_upgrade_rejections_total',
    help: 'WebSocket upgrades refused, by HTTP status',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  /** Push notices the push gate refused (server/push-gate.ts). */
  readonly pushGated = new Counter({
    name: 'bimip_push_notices_gated_total',
    help: 'Push notices not raised: no_known_device (the recipient never connected), rate_limited (the sender is over its push limit)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  /** Set by the composition root from the store's write-health callback (SqliteMessageStoreOptions.onWriteHealth). */
  readonly storeWritesHealthy = new Gauge({
    name: 'bimip_store_writes_healthy',
    help: '1 while store commits succeed; 0 from a failed commit (disk full, I/O error) until one commits again',
    registers: [this.registry],
  });
  readonly commitBatchSize = new Histogram({
    name: 'bimip_commit_batch_size',
    help: 'Appends per durable store transaction (group commit)',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    registers: [this.registry],
  });
  readonly commitLatency = new Histogram({
    name: 'bimip_commit_latency_seconds',
    help: 'Duration of a durable store transaction (group commit), fsync included',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly deliveryLag = new Histogram({
    name: 'bimip_delivery_lag_seconds',
    help: 'Time from an entry being stored until it is written to a device',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 300],
    registers: [this.registry],
  });

  readonly tokensIssued = new Counter({ name: 'bimip_tokens_issued_total', help: 'Token pairs issued (logins)', registers: [this.registry] });
  readonly tokensRefreshed = new Counter({ name: 'bimip_tokens_refreshed_total', help: 'Refresh tokens exchanged', registers: [this.registry] });
  readonly tokenRefreshFailures = new Counter({
    name: 'bimip_token_refresh_failures_total',
    help: 'Refused refreshes by reason (reused = theft suspected, family revoked)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly tokensRevoked = new Counter({ name: 'bimip_tokens_revoked_total', help: 'Access tokens revoked', registers: [this.registry] });

  /** Feeds the token metrics (pass as TokenService `onEvent`). */
  readonly tokenEvent = (event: TokenEvent): void => {
    if (event.kind === 'issued') this.tokensIssued.inc();
    else if (event.kind === 'refreshed') this.tokensRefreshed.inc();
    else if (event.kind === 'refresh_failed') this.tokenRefreshFailures.labels(event.reason).inc();
    else this.tokensRevoked.inc(event.count);
  };

  constructor(options: { defaultMetrics?: boolean } = {}) {
    // No prefix: Node's process metrics keep their standard names (process_cpu_user_seconds_total,
    // nodejs_eventloop_lag_seconds…), which stock Node.js dashboards and alerts match; ours are bimip_*.
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** Counts one frame (every frame: a plain number until /metrics is read). */
  frame(route: number, direction: 'in' | 'out'): void {
    (direction === 'in' ? this.framesIn : this.framesOut).add(route);
  }

  ack(code: number): void {
    this.acksByCode.add(code);
  }

  error(code: number): void {
    this.errorsByCode.add(code);
  }

  /** One message stored (duplicates excluded). */
  messageStored(): void {
    this.stored.add(0);
  }
}
