/**
 * The TokenStore (with its RevocationFeed) and LeaderLock contracts against the PostgreSQL engines,
 * a fresh schema per test, dropped afterwards.
 */
import { describe, expect, it } from 'vitest';
import { PostgresLeaderLock } from '../../src/store/postgres/postgres-leader-lock.js';
import { PostgresTokenStore } from '../../src/store/postgres-tokens/postgres-token-store.js';
import { createTestSchema } from '../helpers/postgres.js';
import { leaderLockContract } from './leader-lock.contract.js';
import { tokenStoreContract } from './token-store.contract.js';

tokenStoreContract(
  'postgres',
  async () => {
    const schema = await createTestSchema();
    try {
      const open = () => PostgresTokenStore.open({ pool: schema.pool(), schema: schema.name });
      return { store: await open(), reopen: open, openAnother: open, cleanup: () => schema.drop() };
    } catch (err) {
      await schema.drop();
      throw err;
    }
  },
  { shared: true },
);

leaderLockContract(
  'postgres',
  async () => {
    const schema = await createTestSchema();
    return {
      // One pool per instance, as one per node; a long interval so only the test's checks run.
      make: (name = 'retention') => PostgresLeaderLock.start({ pool: schema.pool(2), name, checkIntervalMs: 60_000 }),
      kill: async () => void (await schema.terminateSessions()),
      cleanup: () => schema.drop(),
    };
  },
  { connectionLoss: true },
);

describe('PostgresLeaderLock', () => {
  it('postgres - the periodic check hands leadership over by itself when the leader closes, and reports each change', async () => {
    const schema = await createTestSchema();
    try {
      const changes: string[] = [];
      const a = await PostgresLeaderLock.start({
        pool: schema.pool(1),
        name: 'retention',
        checkIntervalMs: 30,
        onChange: (leader) => changes.push(`a:${leader}`),
      });
      const b = await PostgresLeaderLock.start({
        pool: schema.pool(1),
        name: 'retention',
        checkIntervalMs: 30,
        onChange: (leader) => changes.push(`b:${leader}`),
      });
      expect([a.isLeader, b.isLeader]).toEqual([true, false]);
      await a.close();
      for (let i = 0; i < 100 && !b.isLeader; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(b.isLeader).toBe(true);
      expect(changes).toEqual(['a:true', 'a:false', 'b:true']);
      await b.close();
    } finally {
      await schema.drop();
    }
  });
});
