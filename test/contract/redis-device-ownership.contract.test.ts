/**
 * RedisDeviceOwnership: the DeviceOwnership contract on Redis with two clients, one prefix per test
 * (keys deleted after). Liveness is RedisPresenceStore's node heartbeat under the same prefix — the
 * suite beats through it, so a change of its key layout fails here.
 */
import { RedisDeviceOwnership } from '../../src/ownership/redis/redis-device-ownership.js';
import { RedisPresenceStore } from '../../src/presence/redis/redis-presence-store.js';
import { RedisTestKit } from '../helpers/redis.js';
import { deviceOwnershipContract } from './device-ownership.contract.js';

deviceOwnershipContract('redis', async (now) => {
  const kit = new RedisTestKit();
  try {
    const client = () => kit.client({ enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    const open = async () => new RedisDeviceOwnership({ redis: await client(), prefix: kit.prefix, now });
    const presence = new RedisPresenceStore({ redis: await client(), prefix: kit.prefix, now });
    return {
      engines: [await open(), await open()],
      beat: async (nodeId, ttlMs) => void (await presence.nodeAlive(nodeId, ttlMs)),
      cleanup: () => kit.cleanup(),
    };
  } catch (err) {
    await kit.cleanup();
    throw err;
  }
});
