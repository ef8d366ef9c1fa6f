/** Prometheus metrics of the push webhook. Labels carry no user data (SPEC §7.5). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type DeliveryResult = 'delivered' | 'failed_attempt' | 'dropped';
/** Why a notice never reached the outbox: memory queue full, outbox failing, or hook closed. */
export type DropReason = 'overload' | 'store_error' | 'closed';

export class PushMetrics {
  readonly notices: Counter;
  readonly deliveries: Counter<'result'>;
  readonly outboxDepth: Gauge;
  readonly deliveryLatency: Histogram;
  readonly dropped: Counter<'reason'>;
  readonly batchSize: Histogram;

  /** Registers in `registry`, reusing the metrics a previous hook registered there (a reopen). */
  constructor(registry: Registry) {
    this.notices = reuse(
      registry,
      'bimip_push_notices_total',
      Counter,
      (name) =>
        new Counter({
          name,
          help: 'Push notices accepted into the outbox',
          registers: [registry],
        }),
    );
    this.deliveries = reuse(
      registry,
      'bimip_push_deliveries_total',
      Counter<'result'>,
      (name) =>
        new Counter({
          name,
          help: 'Webhook outcomes: delivered (2xx), failed_attempt (each failed POST), dropped (given up after max attempts)',
          labelNames: ['result'] as const,
          registers: [registry],
        }),
    );
    this.outboxDepth = reuse(
      registry,
      'bimip_push_outbox_depth',
      Gauge,
      (name) =>
        new Gauge({
          name,
          help: 'Push notices waiting in the outbox, including those being POSTed',
          registers: [registry],
        }),
    );
    this.deliveryLatency = reuse(
      registry,
      'bimip_push_delivery_latency_seconds',
      Histogram,
      (name) =>
        new Histogram({
          name,
          help: 'Time from a notice entering the outbox until the webhook answered 2xx, retries included',
          buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
          registers: [registry],
        }),
    );
    this.dropped = reuse(
      registry,
      'bimip_push_notices_dropped_total',
      Counter<'reason'>,
      (name) =>
        new Counter({
          name,
          help: 'Push notices lost before reaching the outbox: overload (memory queue full), store_error, closed',
          labelNames: ['reason'] as const,
          registers: [registry],
        }),
    );
    this.batchSize = reuse(
      registry,
      'bimip_push_outbox_batch_size',
      Histogram,
      (name) =>
        new Histogram({
          name,
          help: 'Notices per outbox transaction (one fsync each); _count is the number of transactions',
          buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 10000],
          registers: [registry],
        }),
    );
  }

  drop(reason: DropReason, count = 1): void {
    this.dropped.labels(reason).inc(count);
  }

  delivery(result: DeliveryResult): void {
    this.deliveries.labels(result).inc();
  }
}

// prom-client refuses a second registration of a name; one process may reopen the hook.
function reuse<T extends object>(registry: Registry, name: string, kind: abstract new (...args: never[]) => T, create: (name: string) => T): T {
  const existing: unknown = registry.getSingleMetric(name);
  return existing instanceof kind ? existing : create(name);
}
