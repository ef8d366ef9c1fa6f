import { MemoryBroker } from '../../src/bus/memory/memory-bus.js';
import { busContract } from './bus.contract.js';

busContract('memory', async () => {
  const broker = new MemoryBroker();
  return { connect: async (nodeId) => broker.connect(nodeId), cleanup: async () => undefined };
});
