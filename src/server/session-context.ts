/** What a session needs of its node (split from context.ts so session.ts imports nothing that imports it). */
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { MessageStore } from '../core/message-store.js';
import type { ServerMetrics } from './metrics.js';

export interface DeliverySettings {
  /** Most pushed-but-uncommitted entries per device (SPEC §6 F2; default 512). */
  window: number;
  /** Pushing pauses while a socket has more than this many bytes queued (default 1 MiB). */
  sendBufferBytes: number;
  /** Entries read from the store per catch-up query (default 256). */
  readBatch: number;
  /** A socket over `sendBufferBytes` for this long without draining is closed with 4010 (default 10 s). */
  slowConsumerMs: number;
  /** A socket whose send buffer exceeds this is closed with 4010 at once (default 4 × sendBufferBytes). */
  maxBufferedBytes: number;
  /** Most bytes of entries one Sync replay sends before its RESPONSE (default 1 MiB). */
  replayBytes: number;
}

/**
 * What a DeviceSession needs of the node — and nothing that knows sessions (router, hub, presence),
 * so session.ts depends on no module that depends on it (no import cycle, issue #8 design 1).
 */
export interface SessionContext {
  store: MessageStore;
  metrics: ServerMetrics;
  logger: Logger;
  clock: Clock;
  delivery: DeliverySettings;
}
