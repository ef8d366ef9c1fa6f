/**
 * The LeaderLock port contract (src/core/leader-lock.ts): two instances of one lock, as two nodes.
 * `kill` (engines with a connection) ends the leader's session the way a crash or a network cut
 * would; the lock must then pass to the other.
 */
import { afterEach, describe, expect, it, type TestContext } from 'vitest';
import type { LeaderLock } from '../../src/core/leader-lock.js';

export interface LeaderLockFixture {
  /** A new instance of the lock named `name`, sharing the fixture's backend. */
  make(name?: string): Promise<LeaderLock>;
  /** Ends every backend session of the fixture, the leader's included (omit when the engine has none). */
  kill?: () => Promise<void>;
  cleanup(): Promise<void>;
}

export function leaderLockContract(name: string, open: () => Promise<LeaderLockFixture>, capabilities: { connectionLoss: boolean }): void {
  describe(`LeaderLock contract: ${name}`, () => {
    let fixture: LeaderLockFixture | undefined;
    const locks: LeaderLock[] = [];

    afterEach(async () => {
      for (const lock of locks.splice(0)) await lock.close().catch(() => undefined);
      await fixture?.cleanup();
      fixture = undefined;
    });

    async function two(lockName = 'retention'): Promise<[LeaderLock, LeaderLock]> {
      fixture = await open();
      const first = await fixture.make(lockName);
      locks.push(first);
      await first.check();
      const second = await fixture.make(lockName);
      locks.push(second);
      return [first, second];
    }

    it(`${name} - of two instances only one leads, however often they check`, async () => {
      const [a, b] = await two();
      for (let i = 0; i < 5; i++) {
        const answers = await Promise.all([a.check(), b.check()]);
        expect(answers).toEqual([true, false]);
        expect([a.isLeader, b.isLeader]).toEqual([true, false]);
      }
    });

    it(`${name} - when the leader closes, the other takes over on its next check`, async () => {
      const [a, b] = await two();
      await a.close();
      expect(a.isLeader).toBe(false);
      expect(await b.check()).toBe(true);
      expect(await a.check()).toBe(false);
    });

    it(`${name} - locks with different names are independent`, async () => {
      fixture = await open();
      const retention = await fixture.make('retention');
      const outbox = await fixture.make('outbox');
      locks.push(retention, outbox);
      expect(await retention.check()).toBe(true);
      expect(await outbox.check()).toBe(true);
    });

    // Only for engines whose lock lives on a connection that can die (PostgreSQL); nothing skipped.
    if (capabilities.connectionLoss)
      it(`${name} - when the leader's connection dies the lock is released and the other takes over`, async (_ctx: TestContext) => {
        const [a, b] = await two();
        if (!fixture!.kill) throw new Error(`${name}: a fixture with connectionLoss must offer kill`);
        await fixture!.kill!();
        // The follower may have lost its own connection too: it takes over within a few checks.
        let taken = false;
        for (let i = 0; i < 5 && !taken; i++) taken = await b.check();
        expect(taken).toBe(true);
        expect(await a.check()).toBe(false);
        expect([a.isLeader, b.isLeader]).toEqual([false, true]);
      });
  });
}
