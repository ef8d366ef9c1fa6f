/**
 * The ContactStore and TokenStore contracts against the embedded engines (SqliteMessageStore,
 * SqliteTokenStore), and the LeaderLock contract against MemoryLeaderLock. Their two-instance
 * sections are not registered: the embedded engines serve one instance per data set (see
 * message-store.contract.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryLeaderLock, type MemoryLeaderGroup } from '../../src/store/memory/memory-leader-lock.js';
import { SqliteMessageStore } from '../../src/store/sqlite/sqlite-message-store.js';
import { SqliteTokenStore } from '../../src/store/sqlite-tokens/sqlite-token-store.js';
import { contactStoreContract } from './contact-store.contract.js';
import { leaderLockContract } from './leader-lock.contract.js';
import { tokenStoreContract } from './token-store.contract.js';

contactStoreContract('sqlite', async (limits) => {
  const dir = mkdtempSync(join(tmpdir(), 'bimip-contacts-'));
  return {
    store: await SqliteMessageStore.open({ path: join(dir, 'bimip.sqlite'), ...limits }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

tokenStoreContract(
  'sqlite',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bimip-tokens-'));
    const path = join(dir, 'auth.sqlite');
    return {
      store: new SqliteTokenStore(path),
      reopen: async () => new SqliteTokenStore(path),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
  { shared: false },
);

leaderLockContract(
  'memory',
  async () => {
    const group: MemoryLeaderGroup = new Map();
    return { make: async (name = 'retention') => new MemoryLeaderLock(name, group), cleanup: async () => undefined };
  },
  { connectionLoss: false },
);
