/** Everything a session and the route handlers need from the node, injected once. */
import type { Clock } from '../core/clock.js';
import type { ContactStore } from '../core/contact-store.js';
import type { PushHook } from '../core/push-hook.js';
import type { TokenService } from '../auth/token-service.js';
import type { Logger } from '../core/logger.js';
import type { MessageStore } from '../core/message-store.js';
import type { QueueEntry } from '../core/types.js';
import type { ProtocolLimits } from '../protocol/index.js';
import type { Router } from './router.js';
import type { DeliverySettings, SessionContext } from './session-context.js';

export type { DeliverySettings, SessionContext } from './session-context.js';
import type { ServerMetrics } from './metrics.js';
import type { PresenceService } from './presence-service.js';

export interface ServerContext extends SessionContext {
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
