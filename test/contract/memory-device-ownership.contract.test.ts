import { MemoryDeviceOwnership } from '../../src/ownership/memory/memory-device-ownership.js';
import { deviceOwnershipContract } from './device-ownership.contract.js';

// One process's store: "two instances over the same data" are the same instance; liveness is a
// heartbeat map on the suite's clock, as a node's presence heartbeat would be.
deviceOwnershipContract('memory', async (now) => {
  const expiries = new Map<string, number>();
  const ownership = new MemoryDeviceOwnership({ nodeAlive: (nodeId) => (expiries.get(nodeId) ?? 0) > now() });
  return {
    engines: [ownership, ownership],
    beat: async (nodeId, ttlMs) => void expiries.set(nodeId, now() + ttlMs),
    cleanup: async () => undefined,
  };
});
