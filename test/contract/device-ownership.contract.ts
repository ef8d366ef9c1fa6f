/**
 * The DeviceOwnership port contract (src/core/device-ownership.ts; SPEC §2, §7.3, §11), written once
 * and run against every engine: memory-device-ownership.contract.test.ts and
 * redis-device-ownership.contract.test.ts. `open(now)` gives two instances over the same fresh data
 * (two Redis clients; for memory, one instance twice — it is one process's store by definition) and
 * `beat(node, ttlMs)`, the node heartbeat the engines judge liveness by (the PresenceStore's for
 * Redis), all on the clock `now`, which the suite moves. `cleanup` removes what `open` made.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceClaim, DeviceOwnership } from '../../src/core/device-ownership.js';

export interface OpenedOwnership {
  engines: [DeviceOwnership, DeviceOwnership];
  beat(nodeId: string, ttlMs: number): Promise<void>;
  cleanup(): Promise<void>;
}

const T0 = 1_700_000_000_000;

export function deviceOwnershipContract(name: string, open: (now: () => number) => Promise<OpenedOwnership>): void {
  describe(`DeviceOwnership contract: ${name}`, () => {
    let opened: OpenedOwnership | undefined;
    let time = T0;

    afterEach(async () => {
      await opened?.cleanup();
      opened = undefined;
    });

    async function fresh(): Promise<OpenedOwnership> {
      time = T0;
      opened = await open(() => time);
      return opened;
    }

    it('device ownership - a free device is claimed with no previous owner; a second claim displaces the first with a greater generation', async () => {
      const {
        engines: [a, b],
        beat,
      } = await fresh();
      await beat('n1', 10_000);
      const first = await a.claim('bob', 'phone', { nodeId: 'n1', connectionId: 'c1' });
      expect(first.previous).toBeUndefined();
      expect(first.generation).toBeGreaterThan(0);
      expect(await b.owner('bob', 'phone')).toEqual({ nodeId: 'n1', connectionId: 'c1', generation: first.generation });

      const second = await b.claim('bob', 'phone', { nodeId: 'n2', connectionId: 'c2' });
      expect(second.generation).toBeGreaterThan(first.generation);
      expect(second.previous).toEqual({ nodeId: 'n1', connectionId: 'c1', generation: first.generation, alive: true });
      expect(await a.owner('bob', 'phone')).toEqual({ nodeId: 'n2', connectionId: 'c2', generation: second.generation });
    });

    it('device ownership - release is compare-and-delete: only the current owner’s release counts', async () => {
      const {
        engines: [a, b],
      } = await fresh();
      const first = await a.claim('bob', 'phone', { nodeId: 'n1', connectionId: 'c1' });
      const second = await b.claim('bob', 'phone', { nodeId: 'n2', connectionId: 'c2' });
      expect(await a.release('bob', 'phone', 'c1')).toBe(false);
      expect(await a.owner('bob', 'phone')).toMatchObject({ connectionId: 'c2' });
      expect(await b.release('bob', 'phone', 'c2')).toBe(true);
      expect(await a.owner('bob', 'phone')).toBeUndefined();
      expect(await b.release('bob', 'phone', 'c2')).toBe(false);

      // After a release: no previous owner (nobody to wait for), and generations still grow.
      const third = await a.claim('bob', 'phone', { nodeId: 'n1', connectionId: 'c3' });
      expect(third.previous).toBeUndefined();
      expect(third.generation).toBeGreaterThan(Math.max(first.generation, second.generation));
    });

    it('device ownership - the previous owner is alive while its node’s heartbeat lasts, dead from its expiry on, and dead if it never beat', async () => {
      const {
        engines: [a, b],
        beat,
      } = await fresh();
      await beat('n1', 1000);
      await a.claim('bob', 'phone', { nodeId: 'n1', connectionId: 'c1' });
      time = T0 + 999;
      const whileAlive = await b.claim('bob', 'phone', { nodeId: 'n2', connectionId: 'c2' });
      expect(whileAlive.previous).toMatchObject({ nodeId: 'n1', alive: true });

      await a.claim('bob', 'phone', { nodeId: 'n1', connectionId: 'c3' });
      time = T0 + 1000;
      const afterExpiry = await b.claim('bob', 'phone', { nodeId: 'n2', connectionId: 'c4' });
      expect(afterExpiry.previous).toMatchObject({ nodeId: 'n1', connectionId: 'c3', alive: false });

      // n2 never beat: its connection counts as on a dead node.
      const overNeverBeat = await a.claim('bob', 'phone', { nodeId: 'n1', connectionId: 'c5' });
      expect(overNeverBeat.previous).toMatchObject({ nodeId: 'n2', connectionId: 'c4', alive: false });
    });

    it('device ownership - devices are independent, whatever characters their ids hold', async () => {
      const {
        engines: [a, b],
      } = await fresh();
      await a.claim('a:b', 'c', { nodeId: 'n1', connectionId: 'c1' });
      expect((await b.claim('a', ':bc', { nodeId: 'n2', connectionId: 'c2' })).previous).toBeUndefined();
      expect((await b.claim('a:b', 'd', { nodeId: 'n2', connectionId: 'c3' })).previous).toBeUndefined();
      expect((await b.claim('bob', '', { nodeId: 'n2', connectionId: 'c4' })).previous).toBeUndefined();
      expect(await a.owner('a:b', 'c')).toMatchObject({ connectionId: 'c1' });
      expect(await a.owner('a', ':bc')).toMatchObject({ connectionId: 'c2' });
    });

    it('device ownership - two instances racing to claim one device: one chain of claims, strictly increasing generations, exactly one current', async () => {
      const {
        engines: [a, b],
      } = await fresh();
      const claims: Array<Promise<DeviceClaim & { connectionId: string }>> = [];
      for (let i = 0; i < 40; i++) {
        for (const [engine, nodeId] of [
          [a, 'n1'],
          [b, 'n2'],
        ] as const) {
          const connectionId = `${nodeId}-c${i}`;
          claims.push(engine.claim('bob', 'phone', { nodeId, connectionId }).then((claim) => ({ ...claim, connectionId })));
        }
      }
      const answered = await Promise.all(claims);
      const generations = answered.map((claim) => claim.generation);
      expect(new Set(generations).size).toBe(answered.length);

      // Following `previous` from the newest claim walks every claim once, generations falling.
      const byGeneration = new Map(answered.map((claim) => [claim.generation, claim]));
      const newest = answered.reduce((x, y) => (y.generation > x.generation ? y : x));
      expect(await a.owner('bob', 'phone')).toMatchObject({ connectionId: newest.connectionId, generation: newest.generation });
      expect(await b.owner('bob', 'phone')).toMatchObject({ connectionId: newest.connectionId, generation: newest.generation });
      let walked = 1;
      for (let claim = newest; claim.previous; walked++) {
        const previous = byGeneration.get(claim.previous.generation);
        expect(previous?.connectionId).toBe(claim.previous.connectionId);
        expect(previous!.generation).toBeLessThan(claim.generation);
        claim = previous!;
      }
      expect(walked).toBe(answered.length);
      expect(answered.filter((claim) => !claim.previous)).toHaveLength(1);
    });

    it('device ownership - a release racing a newer claim never removes the newer owner', async () => {
      const {
        engines: [a, b],
      } = await fresh();
      for (let i = 0; i < 30; i++) {
        const device = `d${i}`;
        await a.claim('bob', device, { nodeId: 'n1', connectionId: 'old' });
        const [released, claim] = await Promise.all([a.release('bob', device, 'old'), b.claim('bob', device, { nodeId: 'n2', connectionId: 'new' })]);
        expect(await a.owner('bob', device)).toMatchObject({ connectionId: 'new', generation: claim.generation });
        // Either the release came first (the claim found no owner) or the claim did (the release did nothing).
        expect(released).toBe(claim.previous === undefined);
      }
    });
  });
}
