/**
 * What the composition root picks for a node (ARCHITECTURE: only `cli` picks engines): the embedded
 * default (SQLite files, in-process bus and presence) or cluster mode (PostgreSQL + Redis, SPEC §11).
 */
import type { Bus } from '../core/bus.js';
import type { DeviceOwnership } from '../core/device-ownership.js';
import type { ContactStore } from '../core/contact-store.js';
import type { LeaderLock } from '../core/leader-lock.js';
import type { MessageStore } from '../core/message-store.js';
import type { PresenceStore } from '../core/presence-store.js';
import type { PushOutbox } from '../core/push-outbox.js';
import type { RevocationFeed } from '../core/revocation-feed.js';
import type { TokenStore } from '../core/token-store.js';

export interface Engines {
  mode: 'embedded' | 'cluster';
  store: MessageStore & ContactStore;
  tokenStore: TokenStore;
  /** Other nodes' revocations (cluster mode); undefined when this node is alone. */
  revocationFeed: RevocationFeed | undefined;
  bus: Bus;
  presence: PresenceStore;
  /** Who owns each device cluster-wide (SPEC §2: one connection per device; the handoff flushes its cursor). */
  ownership: DeviceOwnership;
  /** Cluster mode: the push outbox every node shares (PostgreSQL); undefined = a SQLite file in the data dir. */
  pushOutbox?: () => Promise<PushOutbox>;
  /** Leadership for one kind of background work (SPEC §11: retention, token housekeeping run once). */
  leader(name: string): Promise<LeaderLock>;
  /** Re-read the local users' heads this often (a lost bus notice costs a read, not a stall); 0 = never. */
  headRefreshMs: number;
  /** Why this node is degraded but serving (e.g. Redis unreachable), if it is. */
  degraded(): string | undefined;
  /** Closes everything opened here, after the server stopped. */
  close(): Promise<void>;
}
