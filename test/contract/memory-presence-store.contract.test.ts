import { MemoryPresenceStore } from '../../src/presence/memory/memory-presence-store.js';
import { presenceStoreContract } from './presence-store.contract.js';

// One process's store: "two instances over the same data" are the same instance.
presenceStoreContract('memory', async (now) => {
  const store = new MemoryPresenceStore({ now });
  return { stores: [store, store], cleanup: async () => undefined };
});
