/** The embedded default: one process, SQLite files in the data dir, in-process bus and presence. */
import { join } from 'node:path';
import { MemoryBus } from '../bus/memory/memory-bus.js';
import type { Logger } from '../core/logger.js';
import { MemoryDeviceOwnership } from '../ownership/memory/memory-device-ownership.js';
import { MemoryPresenceStore } from '../presence/memory/memory-presence-store.js';
import type { ServerMetrics } from '../server/metrics.js';
import { MemoryLeaderLock } from '../store/memory/memory-leader-lock.js';
import { SqliteMessageStore } from '../store/sqlite/sqlite-message-store.js';
import { SqliteTokenStore } from '../store/sqlite-tokens/sqlite-token-store.js';
import type { Config } from './config.js';
import type { Engines } from './engines.js';
import { storeHealthHandlers } from './store-health.js';

export async function openEmbeddedEngines(config: Config, logger: Logger, metrics: ServerMetrics): Promise<Engines> {
  const store = await SqliteMessageStore.open({
    path: join(config.dataDir, 'bimip.sqlite'),
    maxBlocksPerUser: config.maxBlocksPerUser,
    maxContactsPerUser: config.maxContactsPerUser,
    ...storeHealthHandlers(logger, metrics),
  });
  const tokenStore = new SqliteTokenStore(join(config.dataDir, 'auth.sqlite'));
  const bus = MemoryBus.standalone();
  return {
    mode: 'embedded',
    store,
    tokenStore,
    revocationFeed: undefined,
    bus,
    presence: new MemoryPresenceStore(),
    ownership: new MemoryDeviceOwnership(),
    leader: async () => new MemoryLeaderLock(),
    headRefreshMs: 0,
    degraded: () => undefined,
    close: async () => {
      await tokenStore.close();
      await bus.close();
    },
  };
}
