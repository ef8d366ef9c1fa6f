/** The message store's commit metrics and write-health log lines, the same for every engine. */
import type { Logger } from '../core/logger.js';
import type { ServerMetrics } from '../server/metrics.js';

export function storeHealthHandlers(logger: Logger, metrics: ServerMetrics) {
  metrics.storeWritesHealthy.set(1);
  return {
    onCommit: (size: number, seconds: number): void => {
      metrics.commitBatchSize.observe(size);
      metrics.commitLatency.observe(seconds);
    },
    onWriteHealth: (healthy: boolean, error?: string): void => {
      metrics.storeWritesHealthy.set(healthy ? 1 : 0);
      if (healthy) logger.info({}, 'store writes recovered');
      else logger.error({ err: error }, 'store writes failing: sends answered 503, /healthz 503 until a commit succeeds');
    },
  };
}
