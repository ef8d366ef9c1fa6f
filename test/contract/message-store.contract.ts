/**
 * The MessageStore port contract (src/core/message-store.ts, SPEC §5, §6 F1–F3), written once and
 * run against every engine: `messageStoreContract('sqlite', open)` in sqlite.contract.test.ts, and
 * the same call with a PostgreSQL opener later. `open` must give a fresh, empty store each time;
 * `reopen` (when the engine is durable) closes nothing itself: the suite closes the store first,
 * then calls it to get a new instance over the same data.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MessageStore } from '../../src/core/message-store.js';
import type { AppendedMessage, NewMessage, QueueEntry } from '../../src/core/types.js';

export interface OpenedStore {
  store: MessageStore;
  /** Opens the same data again after the suite has closed `store`. Omit for non-durable engines. */
  reopen?: () => Promise<MessageStore>;
  /** Releases everything (drops the data); the suite has closed the store(s) already. */
  cleanup(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A NewMessage whose body records the server-assigned fields it was given. */
export function newMessage(from: [string, string], to: [string, string?], clientId: string, text = clientId): NewMessage {
  return {
    senderEid: from[0],
    senderDevice: from[1],
    clientId,
    recipientEid: to[0],
    recipientDevice: to[1] ?? '',
    encodeBody: ({ signalId, storedAt }) => encoder.encode(JSON.stringify({ text, signalId, storedAt })),
  };
}

export function bodyOf(entry: QueueEntry): { text: string; signalId: string; storedAt: number } {
  return JSON.parse(decoder.decode(entry.body)) as { text: string; signalId: string; storedAt: number };
}

export function messageStoreContract(name: string, open: () => Promise<OpenedStore>): void {
  describe(`MessageStore contract: ${name}`, () => {
    let opened: OpenedStore | undefined;
    /** Stores currently open, closed after each test (a test may replace the first one). */
    let live: MessageStore[] = [];

    afterEach(async () => {
      for (const store of live.splice(0)) await store.close().catch(() => undefined);
      await opened?.cleanup();
      opened = undefined;
    });

    async function fresh(): Promise<MessageStore> {
      opened = await open();
      live.push(opened.store);
      return opened.store;
    }

    /** Closes `store` and opens the same data again; skips nothing: engines without reopen fail loudly. */
    async function reopen(store: MessageStore): Promise<MessageStore> {
      if (!opened?.reopen) throw new Error(`${name}: this contract test needs reopen()`);
      await store.close();
      live = live.filter((s) => s !== store);
      const again = await opened.reopen();
      live.push(again);
      return again;
    }

    const send = (store: MessageStore, from: [string, string], to: [string, string?], id: string): Promise<AppendedMessage> =>
      store.appendMessage(newMessage(from, to, id));

    describe('append', () => {
      it(`${name} - offsets start at 1 per user and grow by exactly 1 per entry`, async () => {
        const store = await fresh();
        const offsets: number[] = [];
        for (let i = 0; i < 5; i++) offsets.push((await send(store, ['alice', 'a1'], ['bob'], `m-${i}`)).senderOffset);
        expect(offsets).toEqual([1, 2, 3, 4, 5]);
        const carol = await send(store, ['carol', 'c1'], ['alice'], 'c-1');
        expect(carol.senderOffset).toBe(1);
        const alice = await store.readEntries('alice', 0, 100);
        expect(alice.map((entry) => entry.offset)).toEqual([1, 2, 3, 4, 5, 6]);
        const bob = await store.readEntries('bob', 0, 100);
        expect(bob.map((entry) => entry.offset)).toEqual([1, 2, 3, 4, 5]);
      });

      it(`${name} - one append writes the sender entry and the recipient entry, each at its own offset`, async () => {
        const store = await fresh();
        await send(store, ['bob', 'b1'], ['bob'], 'note-to-self');
        await send(store, ['bob', 'b1'], ['bob'], 'note-to-self-2');
        const appended = await send(store, ['alice', 'a1'], ['bob'], 'hello');
        expect(appended.duplicate).toBe(false);
        expect(appended.senderOffset).toBe(1);
        expect(appended.entries).toHaveLength(2);
        const [sender, recipient] = [
          appended.entries.find((entry) => entry.eid === 'alice')!,
          appended.entries.find((entry) => entry.eid === 'bob')!,
        ];
        expect(sender).toMatchObject({ eid: 'alice', offset: 1, authorDevice: 'a1', targetDevice: '', signalId: appended.signalId });
        expect(recipient).toMatchObject({ eid: 'bob', offset: 3, authorDevice: '', targetDevice: '', signalId: appended.signalId });
        const [stored] = await store.readEntries('bob', 2, 10);
        expect(stored).toMatchObject({ offset: 3, signalId: appended.signalId, authorDevice: '' });
        const [storedSender] = await store.readEntries('alice', 0, 10);
        expect(storedSender).toMatchObject({ offset: 1, signalId: appended.signalId, authorDevice: 'a1' });
      });

      it(`${name} - a message to oneself makes exactly one entry`, async () => {
        const store = await fresh();
        const appended = await send(store, ['alice', 'a1'], ['alice'], 'note');
        expect(appended.entries).toHaveLength(1);
        expect(appended.entries[0]).toMatchObject({ eid: 'alice', offset: 1, authorDevice: 'a1' });
        expect(await store.readEntries('alice', 0, 10)).toHaveLength(1);
        expect((await store.queueInfo('alice')).head).toBe(1);
        expect((await send(store, ['alice', 'a1'], ['bob'], 'next')).senderOffset).toBe(2);
      });

      it(`${name} - a self-message to one of one's own devices targets that device`, async () => {
        const store = await fresh();
        const appended = await send(store, ['alice', 'phone'], ['alice', 'laptop'], 'handoff');
        expect(appended.entries).toHaveLength(1);
        const [entry] = await store.readEntries('alice', 0, 10);
        expect(entry).toMatchObject({ authorDevice: 'phone', targetDevice: 'laptop' });
      });

      it(`${name} - a targeted recipient device is recorded on the recipient entry only`, async () => {
        const store = await fresh();
        const appended = await send(store, ['alice', 'a1'], ['bob', 'tablet'], 'for-tablet');
        expect(appended.entries.find((entry) => entry.eid === 'bob')?.targetDevice).toBe('tablet');
        expect(appended.entries.find((entry) => entry.eid === 'alice')?.targetDevice).toBe('');
        const [bobEntry] = await store.readEntries('bob', 0, 10);
        const [aliceEntry] = await store.readEntries('alice', 0, 10);
        expect(bobEntry).toMatchObject({ targetDevice: 'tablet', authorDevice: '' });
        expect(aliceEntry).toMatchObject({ targetDevice: '', authorDevice: 'a1' });
      });

      it(`${name} - signal ids come from one increasing global sequence`, async () => {
        const store = await fresh();
        const ids: bigint[] = [];
        for (const [from, to] of [['alice', 'bob'], ['carol', 'dave'], ['bob', 'alice'], ['erin', 'erin']] as const) {
          const appended = await send(store, [from, 'd'], [to], `m-${from}-${to}`);
          expect(appended.signalId).toMatch(/^[1-9][0-9]*$/);
          ids.push(BigInt(appended.signalId));
        }
        for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
        // Both entries of one message share its signal id.
        const [a] = await store.readEntries('carol', 0, 1);
        const [d] = await store.readEntries('dave', 0, 1);
        expect(a!.signalId).toBe(String(ids[1]));
        expect(d!.signalId).toBe(String(ids[1]));
      });

      it(`${name} - appends resolve with storedAt and a body built from the assigned signal id`, async () => {
        const store = await fresh();
        const before = Date.now();
        const appended = await send(store, ['alice', 'a1'], ['bob'], 'stamped');
        const [entry] = await store.readEntries('bob', 0, 1);
        expect(bodyOf(entry!)).toEqual({ text: 'stamped', signalId: appended.signalId, storedAt: appended.storedAt });
        expect(entry!.storedAt).toBe(appended.storedAt);
        expect(appended.storedAt).toBeGreaterThan(before - 60_000);
      });
    });

    describe('idempotency', () => {
      it(`${name} - the same (sender eid, client id) again is a duplicate with the original signal id and offset, writing nothing`, async () => {
        const store = await fresh();
        const original = await send(store, ['alice', 'a1'], ['bob'], 'once');
        await send(store, ['alice', 'a1'], ['bob'], 'between');
        const again = await send(store, ['alice', 'a1'], ['bob'], 'once');
        expect(again.duplicate).toBe(true);
        expect(again.signalId).toBe(original.signalId);
        expect(again.senderOffset).toBe(original.senderOffset);
        expect(again.entries).toEqual([]);
        expect((await store.queueInfo('alice')).head).toBe(2);
        expect((await store.queueInfo('bob')).head).toBe(2);
        const next = await send(store, ['alice', 'a1'], ['bob'], 'after');
        expect(next.senderOffset).toBe(3);
      });

      it(`${name} - a resend from another device of the sender, or to another recipient, is still a duplicate`, async () => {
        const store = await fresh();
        const original = await send(store, ['alice', 'phone'], ['bob'], 'same-id');
        const otherDevice = await send(store, ['alice', 'laptop'], ['bob'], 'same-id');
        const otherRecipient = await send(store, ['alice', 'phone'], ['carol'], 'same-id');
        for (const again of [otherDevice, otherRecipient]) {
          expect(again).toMatchObject({ duplicate: true, signalId: original.signalId, senderOffset: original.senderOffset, entries: [] });
        }
        expect((await store.queueInfo('carol')).head).toBe(0);
        expect((await store.queueInfo('alice')).head).toBe(1);
      });

      it(`${name} - the same client id from a different sender is a different message`, async () => {
        const store = await fresh();
        const fromAlice = await send(store, ['alice', 'a1'], ['bob'], 'shared-id');
        const fromCarol = await send(store, ['carol', 'c1'], ['bob'], 'shared-id');
        expect(fromCarol.duplicate).toBe(false);
        expect(fromCarol.signalId).not.toBe(fromAlice.signalId);
        expect(fromCarol.entries).toHaveLength(2);
        expect((await store.queueInfo('bob')).head).toBe(2);
      });

      it(`${name} - concurrent appends of the same message store it once`, async () => {
        const store = await fresh();
        const results = await Promise.all(Array.from({ length: 10 }, () => send(store, ['alice', 'a1'], ['bob'], 'racing')));
        expect(results.filter((result) => !result.duplicate)).toHaveLength(1);
        expect(new Set(results.map((result) => result.signalId)).size).toBe(1);
        expect(new Set(results.map((result) => result.senderOffset))).toEqual(new Set([1]));
        expect((await store.queueInfo('alice')).head).toBe(1);
        expect((await store.queueInfo('bob')).head).toBe(1);
      });

      it(`${name} - idempotency survives close and reopen`, async () => {
        let store = await fresh();
        const original = await send(store, ['alice', 'a1'], ['bob'], 'durable-id');
        store = await reopen(store);
        const again = await send(store, ['alice', 'a1'], ['bob'], 'durable-id');
        expect(again).toMatchObject({ duplicate: true, signalId: original.signalId, senderOffset: 1, entries: [] });
        expect((await store.queueInfo('bob')).head).toBe(1);
      });
    });

    describe('read', () => {
      it(`${name} - readEntries returns entries after the given offset, ascending, at most limit`, async () => {
        const store = await fresh();
        for (let i = 1; i <= 10; i++) await send(store, ['alice', 'a1'], ['bob'], `m-${i}`);
        const page = await store.readEntries('bob', 3, 4);
        expect(page.map((entry) => entry.offset)).toEqual([4, 5, 6, 7]);
        expect(page.map((entry) => bodyOf(entry).text)).toEqual(['m-4', 'm-5', 'm-6', 'm-7']);
        expect((await store.readEntries('bob', 8, 100)).map((entry) => entry.offset)).toEqual([9, 10]);
        expect(await store.readEntries('bob', 10, 100)).toEqual([]);
        expect(await store.readEntries('nobody', 0, 100)).toEqual([]);
      });

      it(`${name} - entries keep the owner, kind and body exactly as appended`, async () => {
        const store = await fresh();
        const binary = Uint8Array.from({ length: 300 }, (_, i) => (i * 37) % 256);
        await store.appendMessage({
          senderEid: 'alice', senderDevice: 'a1', clientId: 'bin', recipientEid: 'bob', recipientDevice: '',
          encodeBody: () => binary,
        });
        const [entry] = await store.readEntries('bob', 0, 1);
        expect(entry!.eid).toBe('bob');
        expect(entry!.kind).toBe(1);
        expect(Array.from(entry!.body)).toEqual(Array.from(binary));
        const [senderEntry] = await store.readEntries('alice', 0, 1);
        expect(Array.from(senderEntry!.body)).toEqual(Array.from(binary));
      });

      it(`${name} - eids and devices are opaque strings: unicode and look-alikes stay separate`, async () => {
        const store = await fresh();
        await send(store, ['Ünï 用户', 'tëléphone'], ['bob'], 'm');
        await send(store, ['ünï 用户', 'x'], ['bob '], 'm');
        expect((await store.queueInfo('Ünï 用户')).head).toBe(1);
        expect((await store.queueInfo('ünï 用户')).head).toBe(1);
        expect((await store.queueInfo('bob')).head).toBe(1);
        expect((await store.queueInfo('bob ')).head).toBe(1);
        const [entry] = await store.readEntries('Ünï 用户', 0, 1);
        expect(entry!.authorDevice).toBe('tëléphone');
      });
    });

    describe('queueInfo', () => {
      it(`${name} - an empty queue has head 0 and first 1`, async () => {
        const store = await fresh();
        const info = await store.queueInfo('nobody');
        expect(info.head).toBe(0);
        expect(info.first).toBe(1);
        expect(info.epoch).not.toBe('');
      });

      it(`${name} - head is the last offset and first the earliest retained`, async () => {
        const store = await fresh();
        for (let i = 0; i < 3; i++) await send(store, ['alice', 'a1'], ['bob'], `m-${i}`);
        await send(store, ['bob', 'b1'], ['carol'], 'reply');
        expect(await store.queueInfo('bob')).toMatchObject({ head: 4, first: 1 });
        expect(await store.queueInfo('alice')).toMatchObject({ head: 3, first: 1 });
        expect(await store.queueInfo('carol')).toMatchObject({ head: 1, first: 1 });
      });

      it(`${name} - the epoch is stable across close and reopen`, async () => {
        let store = await fresh();
        await send(store, ['alice', 'a1'], ['bob'], 'm');
        const before = await store.queueInfo('bob');
        store = await reopen(store);
        const after = await store.queueInfo('bob');
        expect(after.epoch).toBe(before.epoch);
        expect(after.head).toBe(1);
        expect((await send(store, ['alice', 'a1'], ['bob'], 'm2')).senderOffset).toBe(2);
      });

      it(`${name} - signal ids keep increasing across close and reopen`, async () => {
        let store = await fresh();
        const before = await send(store, ['alice', 'a1'], ['bob'], 'm1');
        store = await reopen(store);
        const after = await send(store, ['carol', 'c1'], ['dave'], 'm2');
        expect(BigInt(after.signalId) > BigInt(before.signalId)).toBe(true);
      });

      it(`${name} - two fresh stores have different epochs`, async () => {
        const first = await fresh();
        const firstEpoch = (await first.queueInfo('bob')).epoch;
        const firstOpened = opened!;
        await first.close();
        live = live.filter((s) => s !== first);
        await firstOpened.cleanup();
        const second = await fresh();
        expect((await second.queueInfo('bob')).epoch).not.toBe(firstEpoch);
      });
    });

    describe('cursors', () => {
      it(`${name} - a device that never committed has no cursor`, async () => {
        const store = await fresh();
        expect(await store.getCursor('bob', 'phone')).toBeUndefined();
        await send(store, ['alice', 'a1'], ['bob'], 'm');
        expect(await store.getCursor('bob', 'phone')).toBeUndefined();
      });

      it(`${name} - a committed cursor of 0 is distinct from no cursor`, async () => {
        const store = await fresh();
        await store.commitCursor('bob', 'phone', 0);
        expect(await store.getCursor('bob', 'phone')).toBe(0);
      });

      it(`${name} - commits move the cursor forward only, per (eid, device)`, async () => {
        const store = await fresh();
        for (let i = 0; i < 5; i++) await send(store, ['alice', 'a1'], ['bob'], `m-${i}`);
        await store.commitCursor('bob', 'phone', 3);
        expect(await store.getCursor('bob', 'phone')).toBe(3);
        await store.commitCursor('bob', 'phone', 2);
        expect(await store.getCursor('bob', 'phone')).toBe(3);
        await store.commitCursor('bob', 'phone', 5);
        expect(await store.getCursor('bob', 'phone')).toBe(5);
        expect(await store.getCursor('bob', 'laptop')).toBeUndefined();
        expect(await store.getCursor('alice', 'phone')).toBeUndefined();
      });

      it(`${name} - a lower commit made while an append is being stored never lowers the cursor`, async () => {
        const store = await fresh();
        for (let i = 0; i < 5; i++) await send(store, ['alice', 'a1'], ['bob'], `m-${i}`);
        await store.commitCursor('bob', 'phone', 5);
        // An append in flight may carry pending cursor writes with it; a lower commit meanwhile is ignored.
        const pending = send(store, ['alice', 'a1'], ['bob'], 'in-flight');
        await new Promise<void>((resolve) => setImmediate(resolve));
        await store.commitCursor('bob', 'phone', 2);
        expect(await store.getCursor('bob', 'phone')).toBe(5);
        await pending;
        expect(await store.getCursor('bob', 'phone')).toBe(5);
      });

      it(`${name} - cursors survive close and reopen`, async () => {
        let store = await fresh();
        for (let i = 0; i < 4; i++) await send(store, ['alice', 'a1'], ['bob'], `m-${i}`);
        await store.commitCursor('bob', 'phone', 3);
        await store.commitCursor('bob', 'laptop', 1);
        await store.commitCursor('alice', 'a1', 4);
        store = await reopen(store);
        expect(await store.getCursor('bob', 'phone')).toBe(3);
        expect(await store.getCursor('bob', 'laptop')).toBe(1);
        expect(await store.getCursor('alice', 'a1')).toBe(4);
        expect(await store.getCursor('bob', 'tablet')).toBeUndefined();
        await store.commitCursor('bob', 'phone', 2);
        expect(await store.getCursor('bob', 'phone')).toBe(3);
      });
    });

    describe('concurrency and lifecycle', () => {
      it(`${name} - 200 concurrent appends get distinct, consecutive offsets per user, resolving in call order`, async () => {
        const store = await fresh();
        const resolvedOrder: number[] = [];
        const results = await Promise.all(
          Array.from({ length: 200 }, (_, i) => {
            const from = i % 2 === 0 ? 'alice' : 'carol';
            return send(store, [from, 'd1'], ['bob'], `c-${i}`).then((result) => {
              resolvedOrder.push(i);
              return { from, result };
            });
          }),
        );
        expect(resolvedOrder).toEqual(Array.from({ length: 200 }, (_, i) => i));
        for (const from of ['alice', 'carol']) {
          const offsets = results.filter((r) => r.from === from).map((r) => r.result.senderOffset);
          expect([...offsets].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
        }
        const bobOffsets = results.map(({ result }) => result.entries.find((entry) => entry.eid === 'bob')!.offset);
        expect([...bobOffsets].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
        expect(new Set(results.map(({ result }) => result.signalId)).size).toBe(200);
        const stored = await store.readEntries('bob', 0, 1000);
        expect(stored.map((entry) => entry.offset)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
        // Each stored entry is the message the append said it was.
        const bySignal = new Map(results.map(({ result }) => [result.signalId, result]));
        for (const entry of stored) expect(bySignal.get(entry.signalId)?.entries.find((e) => e.eid === 'bob')?.offset).toBe(entry.offset);
        expect(await store.queueInfo('bob')).toMatchObject({ head: 200, first: 1 });
      });

      it(`${name} - ping resolves on an open store`, async () => {
        const store = await fresh();
        await expect(store.ping()).resolves.toBeUndefined();
      });

      it(`${name} - appends after close reject and store nothing`, async () => {
        const store = await fresh();
        await send(store, ['alice', 'a1'], ['bob'], 'before');
        await store.close();
        live = live.filter((s) => s !== store);
        await expect(send(store, ['alice', 'a1'], ['bob'], 'after')).rejects.toBeInstanceOf(Error);
        if (opened?.reopen) {
          const again = await opened.reopen();
          live.push(again);
          expect((await again.queueInfo('bob')).head).toBe(1);
        }
      });

      it(`${name} - appends accepted before close are all durable after reopen`, async () => {
        let store = await fresh();
        const accepted = Array.from({ length: 20 }, (_, i) => send(store, ['alice', 'a1'], ['bob'], `late-${i}`));
        const closing = store.close();
        const results = await Promise.all(accepted);
        await closing;
        live = live.filter((s) => s !== store);
        if (!opened?.reopen) throw new Error(`${name}: this contract test needs reopen()`);
        store = await opened.reopen();
        live.push(store);
        expect((await store.queueInfo('bob')).head).toBe(20);
        expect(results.map((r) => r.senderOffset).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      });
    });
  });
}
