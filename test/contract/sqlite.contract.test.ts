import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMessageStore } from '../../src/store/sqlite/sqlite-message-store.js';
import { messageStoreContract } from './message-store.contract.js';

messageStoreContract(
  'sqlite',
  async ({ now } = {}) => {
    const dir = mkdtempSync(join(tmpdir(), 'bimip-contract-'));
    const path = join(dir, 'bimip.sqlite');
    return {
      store: await SqliteMessageStore.open({ path, now }),
      reopen: () => SqliteMessageStore.open({ path, now }),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
  { shared: false },
);
