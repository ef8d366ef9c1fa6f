/** RedisPresenceStore: the PresenceStore contract on Redis 7 with two clients, one prefix per test (keys deleted after). */
import { RedisPresenceStore } from '../../src/presence/redis/redis-presence-store.js';
import { RedisTestKit } from '../helpers/redis.js';
import { presenceStoreContract } from './presence-store.contract.js';

presenceStoreContract('redis', async (now) => {
  const kit = new RedisTestKit();
  try {
    const open = async () =>
      new RedisPresenceStore({ redis: await kit.client({ enableOfflineQueue: false, maxRetriesPerRequest: 0 }), prefix: kit.prefix, now, reapBatch: 7 });
    // A small reap batch: the reaping test's 81 registrations take many script calls, split between two reapers.
    return { stores: [await open(), await open()], cleanup: () => kit.cleanup() };
  } catch (err) {
    await kit.cleanup();
    throw err;
  }
});
