/**
 * The PresenceStore port contract (src/core/presence-store.ts; SPEC §6 F6, §11), written once and
 * run against every engine: memory-presence-store.contract.test.ts and
 * redis-presence-store.contract.test.ts. `open(now)` gives two instances over the same fresh data
 * (two Redis clients; for memory, one instance twice — it is one process's store by definition),
 * both judging liveness by `now`, which the suite moves: expiry is checked to the millisecond
 * without sleeping. `cleanup` removes the data and closes what `open` opened.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AwarenessState, PresenceStore } from '../../src/core/presence-store.js';

export interface OpenedPresence {
  stores: [PresenceStore, PresenceStore];
  cleanup(): Promise<void>;
}

const T0 = 1_700_000_000_000;

function state(status: number, at: number): AwarenessState {
  return { status, lastSeen: at, expiresAt: 0, ttl: 0, locationSharing: 0, latitude: 0, longitude: 0, details: `s${status}`, updatedAt: at };
}

export function presenceStoreContract(name: string, open: (now: () => number) => Promise<OpenedPresence>): void {
  describe(`PresenceStore contract: ${name}`, () => {
    let opened: OpenedPresence | undefined;
    let time = T0;

    afterEach(async () => {
      await opened?.cleanup();
      opened = undefined;
    });

    async function fresh(): Promise<[PresenceStore, PresenceStore]> {
      time = T0;
      opened = await open(() => time);
      return opened.stores;
    }

    it('presence store - the first of a user’s devices answers first, the last to leave answers last', async () => {
      const [a, b] = await fresh();
      await a.nodeAlive('n1', 10_000);
      await b.nodeAlive('n2', 10_000);
      expect(await a.deviceOnline('u', 'phone', 'n1')).toEqual({ first: true });
      expect(await b.deviceOnline('u', 'laptop', 'n2')).toEqual({ first: false });
      expect((await a.onlineDevices('u')).sort()).toEqual(['laptop', 'phone']);
      expect(await a.deviceOffline('u', 'phone', 'n1')).toEqual({ last: false });
      expect(await b.deviceOffline('u', 'laptop', 'n2')).toEqual({ last: true });
      expect(await b.deviceOffline('u', 'laptop', 'n2')).toEqual({ last: false });
      expect(await a.onlineDevices('u')).toEqual([]);
    });

    it('presence store - concurrent connects of two devices on two nodes through two instances give exactly one first; concurrent leaves exactly one last', async () => {
      const [a, b] = await fresh();
      await a.nodeAlive('n1', 60_000);
      await b.nodeAlive('n2', 60_000);
      const users = Array.from({ length: 50 }, (_, i) => `user-${i}@example.com`);
      const arrivals = await Promise.all(users.map((eid) => Promise.all([a.deviceOnline(eid, 'phone', 'n1'), b.deviceOnline(eid, 'laptop', 'n2')])));
      for (const pair of arrivals) expect(pair.filter((answer) => answer.first)).toHaveLength(1);
      const departures = await Promise.all(users.map((eid) => Promise.all([a.deviceOffline(eid, 'phone', 'n1'), b.deviceOffline(eid, 'laptop', 'n2')])));
      for (const pair of departures) expect(pair.filter((answer) => answer.last)).toHaveLength(1);
    });

    it('presence store - a device that moved to another node: the old node’s deviceOffline changes nothing, and the move is not a first', async () => {
      const [a, b] = await fresh();
      await a.nodeAlive('n1', 10_000);
      await a.nodeAlive('n2', 10_000);
      expect(await a.deviceOnline('u', 'phone', 'n1')).toEqual({ first: true });
      expect(await b.deviceOnline('u', 'phone', 'n2')).toEqual({ first: false });
      expect(await a.deviceOffline('u', 'phone', 'n1')).toEqual({ last: false });
      expect(await a.onlineDevices('u')).toEqual(['phone']);
      expect(await b.deviceOffline('u', 'phone', 'n2')).toEqual({ last: true });
    });

    it('presence store - a node’s devices are online until its heartbeat expires, and offline everywhere from that ms on', async () => {
      const [a, b] = await fresh();
      expect(await a.nodeAlive('n1', 1000)).toEqual({ revived: true });
      await b.nodeAlive('n2', 60_000);
      await a.deviceOnline('u', 'phone', 'n1');
      time = T0 + 999;
      expect(await b.onlineDevices('u')).toEqual(['phone']);
      time = T0 + 1000;
      expect(await b.onlineDevices('u')).toEqual([]);
      // Arriving on a live node after that is a first: the dead node's device does not count.
      expect(await b.deviceOnline('u', 'laptop', 'n2')).toEqual({ first: true });
      expect(await b.onlineDevices('u')).toEqual(['laptop']);
    });

    it('presence store - a device registered on a node that never beat is not online', async () => {
      const [a] = await fresh();
      await a.deviceOnline('u', 'phone', 'silent');
      expect(await a.onlineDevices('u')).toEqual([]);
    });

    it('presence store - nodeAlive answers revived on the first beat and after expiry, not while alive', async () => {
      const [a, b] = await fresh();
      expect(await a.nodeAlive('n1', 1000)).toEqual({ revived: true });
      time = T0 + 999;
      expect(await b.nodeAlive('n1', 1000)).toEqual({ revived: false });
      time = T0 + 999 + 1000;
      expect(await a.nodeAlive('n1', 1000)).toEqual({ revived: true });
    });

    it('presence store - reapDeadNodes: two reapers at once remove each dead registration once and report each user left with no device once', async () => {
      const [a, b] = await fresh();
      await a.nodeAlive('dead', 1000);
      await a.nodeAlive('live', 60_000);
      // Separators, digits and non-ASCII in ids: registrations must split back exactly.
      const onlyDead = Array.from({ length: 40 }, (_, i) => `${i}:ü-${i}@例え.jp`);
      for (const eid of onlyDead) {
        await a.deviceOnline(eid, 'phone', 'dead');
        await b.deviceOnline(eid, `3:tab:${eid}`, 'dead');
      }
      await a.deviceOnline('both@example.com', 'phone', 'dead');
      await a.deviceOnline('both@example.com', 'laptop', 'live');
      await a.deviceOnline('moved@example.com', 'phone', 'dead');
      await b.deviceOnline('moved@example.com', 'phone', 'live');
      time = T0 + 1000;
      const [first, second] = await Promise.all([a.reapDeadNodes(time), b.reapDeadNodes(time)]);
      const removed = [...first.removed, ...second.removed].map((r) => `${r.nodeId}|${r.eid}|${r.device}`).sort();
      const expected = [...onlyDead.flatMap((eid) => [`dead|${eid}|phone`, `dead|${eid}|3:tab:${eid}`]), 'dead|both@example.com|phone'].sort();
      expect(removed).toEqual(expected);
      const offline = [...first.offline, ...second.offline];
      expect(offline.map((o) => o.eid).sort()).toEqual([...onlyDead].sort());
      expect(new Set(offline.map((o) => o.lastSeen))).toEqual(new Set([T0]));
      expect(await a.onlineDevices('both@example.com')).toEqual(['laptop']);
      expect(await a.onlineDevices('moved@example.com')).toEqual(['phone']);
      expect(await b.reapDeadNodes(time + 5000)).toEqual({ removed: [], offline: [] });
      // The dead node is forgotten: its next beat is a revival (it must register its devices again).
      expect(await b.nodeAlive('dead', 1000)).toEqual({ revived: true });
    });

    it('presence store - due items: taken at or after their time, earliest first, up to the limit; rescheduling replaces; cancel answers whether one was pending', async () => {
      const [a, b] = await fresh();
      await a.scheduleOffline('u1', T0 + 300);
      await b.scheduleRevert('u1', T0 + 100);
      await a.scheduleOffline('u2', T0 + 200);
      await a.scheduleOffline('u3', T0 + 50);
      await b.scheduleOffline('u3', T0 + 400); // replaces T0 + 50
      await a.scheduleOffline('u4', T0 + 10);
      expect(await b.cancelOffline('u4')).toBe(true);
      expect(await a.cancelOffline('u4')).toBe(false);
      expect(await a.claimDue(T0 + 99, 10)).toEqual([]);
      expect(await a.claimDue(T0 + 300, 2)).toEqual([
        { kind: 'revert', eid: 'u1', dueAt: T0 + 100 },
        { kind: 'offline', eid: 'u2', dueAt: T0 + 200 },
      ]);
      expect(await b.claimDue(T0 + 300, 10)).toEqual([{ kind: 'offline', eid: 'u1', dueAt: T0 + 300 }]);
      expect(await b.claimDue(T0 + 300, 10)).toEqual([]);
      expect(await a.claimDue(T0 + 400, 10)).toEqual([{ kind: 'offline', eid: 'u3', dueAt: T0 + 400 }]);
    });

    it('presence store - concurrent claims from two instances hand each due item to exactly one of them', async () => {
      const [a, b] = await fresh();
      const users = Array.from({ length: 200 }, (_, i) => `u${i}`);
      for (const [i, eid] of users.entries()) await (i % 2 ? a : b).scheduleOffline(eid, T0 + i);
      const claimed: string[] = [];
      for (let round = 0; round < 100 && claimed.length < users.length; round++) {
        const batches = await Promise.all([a.claimDue(T0 + 1000, 7), b.claimDue(T0 + 1000, 7), a.claimDue(T0 + 1000, 7)]);
        for (const batch of batches) claimed.push(...batch.map((item) => item.eid));
      }
      expect(claimed).toHaveLength(users.length);
      expect(new Set(claimed)).toEqual(new Set(users));
    });

    it('presence store - setStateIfOffline stores only while no device of the user is online (a dead node’s devices do not count)', async () => {
      const [a, b] = await fresh();
      await a.nodeAlive('n1', 1000);
      await a.deviceOnline('u', 'phone', 'n1');
      await a.setState('u', state(1, T0));
      expect(await b.setStateIfOffline('u', state(2, T0 + 1))).toBe(false);
      expect(await a.getState('u')).toEqual(state(1, T0));
      time = T0 + 1000;
      expect(await b.setStateIfOffline('u', state(2, T0 + 2))).toBe(true);
      expect(await a.getState('u')).toEqual(state(2, T0 + 2));
    });

    it('presence store - state and the hidden flag are shared by every instance; hidden is undefined until cached', async () => {
      const [a, b] = await fresh();
      expect(await b.getState('u')).toBeUndefined();
      const away = { ...state(3, T0), expiresAt: T0 + 60_000, ttl: 60, locationSharing: 1, latitude: 52.52, longitude: 13.405, details: 'lunch “out”' };
      await a.setState('u', away);
      expect(await b.getState('u')).toEqual(away);
      expect(await b.getHidden('u')).toBeUndefined();
      await a.setHidden('u', true);
      expect(await b.getHidden('u')).toBe(true);
      await b.setHidden('u', false);
      expect(await a.getHidden('u')).toBe(false);
    });
  });
}
