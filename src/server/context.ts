/** Everything a session and the route handlers need from the node, injected once. */
import type { Clock } from '../core/clock.js';
import type { ContactStore } from '../core/contact-store.js';
import type { PushHook } from '../core/push-hook.js';
import type { TokenService } from '../auth/token-service.js';
import type { Logger } from '../core/logger.js';
import type { MessageStore } from '../core/message-store.js';
import type { QueueEntry } from '../core/types.js';
import type { ProtocolLimits } from '../protocol/limits.js';
import type { Router } from './router.js';
import type { ServerMetrics } from './metrics.js';
import type { PresenceService } from './presence-service.js';

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

export interface ServerContext {
  store: MessageStore;
  contacts: ContactStore;
  presence: PresenceService;
  /** The only way to reach other users' and devices' connections, on this node and others. */
  router: Router;
  pushHook: PushHook;
  tokens: TokenService;
  metrics: ServerMetrics;
  logger: Logger;
  clock: Clock;
  limits: ProtocolLimits;
  delivery: DeliverySettings;
  /** Hands freshly stored entries to delivery (the router) and to the offline push check. */
  publishEntries(entries: readonly QueueEntry[]): void;
}
