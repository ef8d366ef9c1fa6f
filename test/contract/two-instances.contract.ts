/**
 * The cluster half of the MessageStore and ContactStore contracts (src/core/message-store.ts,
 * "Cluster contract"; SPEC §11): two instances over the same data, as two nodes. Called by
 * messageStoreContract for engines registered as shared (see the comment there). Modelled on centrifuge's shared-broker tests.
 */
import { afterEach, describe, expect, it, type TestContext } from 'vitest';
import type { ContactStore } from '../../src/core/contact-store.js';
import type { MessageStore } from '../../src/core/message-store.js';
import type { AppendedMessage } from '../../src/core/types.js';
import { ContactAction } from '../../src/protocol/index.js';
import { bodyOf, newMessage, type OpenedStore, type OpenOptions } from './message-store.contract.js';

type Store = MessageStore & ContactStore;

export function twoInstancesContract(name: string, open: (options?: OpenOptions) => Promise<OpenedStore>): void {
  describe(`MessageStore contract, two instances: ${name}`, () => {
    let opened: OpenedStore | undefined;
    const live: Store[] = [];

    afterEach(async () => {
      for (const store of live.splice(0)) await store.close().catch(() => undefined);
      await opened?.cleanup();
      opened = undefined;
    });

    /** Two instances over one fresh data set, or the test is skipped for an engine that has no second one. */
    async function pair(_ctx: TestContext, options?: OpenOptions): Promise<[Store, Store]> {
      opened = await open(options);
      live.push(opened.store);
      if (!opened.openAnother) throw new Error(`${name}: an engine registered as shared must offer openAnother`);
      const other = await opened.openAnother(options);
      live.push(other);
      return [opened.store, other];
    }

    const send = (store: Store, from: [string, string], to: [string, string?], id: string): Promise<AppendedMessage> =>
      store.appendMessage(newMessage(from, to, id));

    const contact = (store: Store, action: number, actor: string, other: string) =>
      store.applyContactAction({ action, actorEid: actor, actorDevice: 'd1', otherEid: other, body: new Uint8Array([action]) });

    /** While another instance appends or prunes: one read (one snapshot) has no hole and reaches the head read before it. */
    async function expectNoHole(store: Store, eid: string): Promise<void> {
      const head = (await store.queueInfo(eid)).head;
      const offsets = (await store.readEntries(eid, 0, 100_000)).map((entry) => entry.offset);
      expect(offsets, `${eid}: no hole`).toEqual(Array.from({ length: offsets.length }, (_, i) => offsets[0]! + i));
      if (offsets.length > 0) expect(offsets.at(-1)!).toBeGreaterThanOrEqual(head);
    }

    async function expectContiguous(store: Store, eid: string): Promise<void> {
      const info = await store.queueInfo(eid);
      const offsets = (await store.readEntries(eid, 0, 100_000)).map((entry) => entry.offset);
      expect(offsets, `${eid}: offsets first..head`).toEqual(Array.from({ length: info.head - info.first + 1 }, (_, i) => info.first + i));
    }

    it(`${name} - concurrent appends to one user from two instances stay gap-free, each message stored once`, async (ctx) => {
      const [a, b] = await pair(ctx);
      const sends = [
        ...Array.from({ length: 100 }, (_, i) => send(a, ['alice', 'phone'], ['bob'], `a-${i}`)),
        ...Array.from({ length: 100 }, (_, i) => send(b, ['alice', 'laptop'], ['bob'], `b-${i}`)),
        ...Array.from({ length: 50 }, (_, i) => send(b, ['carol', 'c1'], ['alice'], `c-${i}`)),
      ];
      const results = await Promise.all(sends);
      expect(results.every((result) => !result.duplicate)).toBe(true);
      expect(new Set(results.map((result) => result.signalId)).size).toBe(250);
      for (const [eid, count] of [
        ['alice', 250],
        ['bob', 200],
        ['carol', 50],
      ] as const) {
        for (const store of [a, b]) expect(await store.queueInfo(eid)).toMatchObject({ head: count, first: 1 });
        await expectContiguous(a, eid);
        const stored = await b.readEntries(eid, 0, 1000);
        expect(new Set(stored.map((entry) => entry.signalId)).size, `${eid}: each message once`).toBe(count);
      }
      // Each entry is where its append said it is, whichever instance reads it.
      const bob = new Map((await a.readEntries('bob', 0, 1000)).map((entry) => [entry.offset, entry]));
      for (const result of results) {
        const entry = result.entries.find((e) => e.eid === 'bob');
        if (entry) expect(bob.get(entry.offset)?.signalId).toBe(result.signalId);
      }
      expect((await a.queueInfo('bob')).epoch).toBe((await b.queueInfo('bob')).epoch);
    });

    it(`${name} - the same (sender, id) raced on both instances is stored once and both answer its signal id and offset`, async (ctx) => {
      const [a, b] = await pair(ctx);
      for (let i = 0; i < 20; i++) {
        const racing = await Promise.all([a, b, a, b].map((store) => send(store, ['alice', 'a1'], ['bob'], `race-${i}`)));
        expect(
          racing.filter((result) => !result.duplicate),
          `race-${i} stored once`,
        ).toHaveLength(1);
        expect(new Set(racing.map((result) => result.signalId)).size).toBe(1);
        expect(new Set(racing.map((result) => result.senderOffset))).toEqual(new Set([i + 1]));
      }
      for (const eid of ['alice', 'bob']) {
        expect((await b.queueInfo(eid)).head).toBe(20);
        await expectContiguous(a, eid);
      }
    });

    it(`${name} - a cursor committed and flushed on one instance is read on the other, forward only`, async (ctx) => {
      const [a, b] = await pair(ctx);
      for (let i = 0; i < 6; i++) await send(a, ['alice', 'a1'], ['bob'], `m-${i}`);
      expect(a.flushCursor, 'a shared engine must offer flushCursor').toBeTypeOf('function');
      await a.commitCursor('bob', 'phone', 3);
      await a.flushCursor!('bob', 'phone');
      expect(await b.getCursor('bob', 'phone')).toBe(3);
      expect(await b.deviceCount('bob')).toBe(1);
      expect(await b.knownDevices('bob')).toEqual(['phone']);
      // A lower commit elsewhere never lowers it; a higher one moves it for both.
      await b.commitCursor('bob', 'phone', 2);
      await b.flushCursor!('bob', 'phone');
      expect(await a.getCursor('bob', 'phone')).toBe(3);
      await b.commitCursor('bob', 'phone', 5);
      await b.flushCursor!('bob', 'phone');
      expect(await a.getCursor('bob', 'phone')).toBe(5);
      // A logout on one forgets the cursor for both.
      await a.deleteCursors('bob', '');
      expect(await b.getCursor('bob', 'phone')).toBeUndefined();
      expect(await b.deviceCount('bob')).toBe(0);
    });

    it(`${name} - a block applied on one instance is seen by the other at once, and refuses the blocked sender's appends`, async (ctx) => {
      const [a, b] = await pair(ctx);
      // Asked first, so an engine with a cache would have the old answer in it.
      expect(await b.isBlocked('bob', 'alice')).toBe(false);
      await send(b, ['alice', 'a1'], ['bob'], 'before');
      expect(await contact(a, ContactAction.BLOCK, 'bob', 'alice')).toMatchObject({ result: 'applied' });
      expect(await b.isBlocked('bob', 'alice')).toBe(true);
      expect(await b.listContacts('bob')).toEqual([{ eid: 'alice', relation: 4 }]);
      // SPEC §6 F7, checked inside the append transaction: refused with 403, nothing stored.
      await expect(send(b, ['alice', 'a1'], ['bob'], 'after')).rejects.toMatchObject({ code: 403 });
      expect((await a.queueInfo('bob')).head).toBe(2);
      expect((await a.queueInfo('alice')).head).toBe(1);
      expect(await contact(b, ContactAction.UNBLOCK, 'bob', 'alice')).toMatchObject({ result: 'applied' });
      expect(await a.isBlocked('bob', 'alice')).toBe(false);
      expect((await send(a, ['alice', 'a1'], ['bob'], 'after')).duplicate).toBe(false);
    });

    it(`${name} - contact actions and receipts raced on two instances apply once; state written on one is read on the other`, async (ctx) => {
      const [a, b] = await pair(ctx);
      const both = await Promise.all([contact(a, ContactAction.SUBSCRIBE, 'alice', 'bob'), contact(b, ContactAction.SUBSCRIBE, 'alice', 'bob')]);
      expect(both.map((outcome) => outcome.result).sort()).toEqual(['applied', 'unchanged']);
      expect(await contact(b, ContactAction.APPROVE, 'bob', 'alice')).toMatchObject({ result: 'applied' });
      expect(await a.isSubscribed('alice', 'bob')).toBe(true);
      expect(await a.subscribersOf('bob')).toEqual(['alice']);
      await a.setHidden('bob', true);
      expect(await b.isHidden('bob')).toBe(true);
      // SPEC §6 F4: once per (message, status) cluster-wide, and DELIVERED after READ dropped on either.
      const message = await send(a, ['alice', 'a1'], ['bob'], 'm1');
      const receipt = (status: number, device: string) => ({
        messageSignalId: message.signalId,
        status,
        senderEid: 'bob',
        senderDevice: device,
        toEid: 'alice',
        body: new Uint8Array([status]),
      });
      const reads = await Promise.all([a, b, a, b].map((store, i) => store.appendReceipt(receipt(3, `d${i}`))));
      expect(reads.filter((outcome) => outcome.result === 'stored')).toHaveLength(1);
      expect(await b.appendReceipt(receipt(2, 'd9'))).toEqual({ result: 'superseded' });
    });

    it(`${name} - retention on one instance while the other appends keeps offsets contiguous and heads monotonic`, async (ctx) => {
      const OLD = 1_000_000;
      const YOUNG = 3_000_000;
      let time = OLD;
      const [a, b] = await pair(ctx, { now: () => time });
      for (let i = 0; i < 60; i++) await send(a, ['alice', 'a1'], ['bob'], `old-${i}`);
      time = YOUNG;
      const heads = { alice: 60, bob: 60 };
      const appends = (async () => {
        const results: AppendedMessage[] = [];
        for (let i = 0; i < 60; i++) results.push(await send(b, ['alice', 'a2'], ['bob'], `young-${i}`));
        return results;
      })();
      appends.catch(() => undefined); // awaited below; a failing assertion must not leave it unhandled
      let pruned = 0;
      for (let round = 0; round < 100; round++) {
        const { entries } = await a.pruneOlderThan(2_000_000, 7);
        pruned += entries;
        for (const eid of ['alice', 'bob'] as const) {
          const head = (await b.queueInfo(eid)).head;
          expect(head, `${eid}: head never goes back`).toBeGreaterThanOrEqual(heads[eid]);
          heads[eid] = head;
          await expectNoHole(b, eid);
        }
        if (entries < 7) break;
      }
      const young = await appends;
      expect(pruned).toBe(120);
      for (const eid of ['alice', 'bob']) await expectContiguous(b, eid);
      expect(young.map((result) => result.senderOffset)).toEqual(Array.from({ length: 60 }, (_, i) => 61 + i));
      for (const eid of ['alice', 'bob']) {
        expect(await a.queueInfo(eid)).toMatchObject({ head: 120, first: 61 });
        expect((await a.readEntries(eid, 0, 1000)).map((entry) => bodyOf(entry).text)).toEqual(Array.from({ length: 60 }, (_, i) => `young-${i}`));
      }
    });
  });
}
