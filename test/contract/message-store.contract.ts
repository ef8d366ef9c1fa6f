/**
 * The MessageStore port contract (src/core/message-store.ts, SPEC §5, §6 F1–F3, F10), written once and
 * run against every engine: `messageStoreContract('sqlite', open)` in sqlite.contract.test.ts, and
 * the same call with a PostgreSQL opener later. `open` must give a fresh, empty store each time;
 * `reopen` (when the engine is durable) closes nothing itself: the suite closes the store first,
 * then calls it to get a new instance over the same data. `open({ now })` must make the engine use
 * `now` for every timestamp it records (entries' storedAt, cursors' seen_at): retention tests need it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ContactStore } from '../../src/core/contact-store.js';
import type { MessageStore } from '../../src/core/message-store.js';
import type { AppendedMessage, NewMessage, QueueEntry } from '../../src/core/types.js';
import { twoInstancesContract } from './two-instances.contract.js';

export interface OpenOptions {
  /** The engine's clock (epoch ms); default: wall-clock time. */
  now?: () => number;
}

export interface OpenedStore {
  /** Every engine so far keeps contacts beside the queues (one transaction for an event and its entries). */
  store: MessageStore & ContactStore;
  /**
   * Another instance over the same data, as a second node would open it (SPEC §11), while `store`
   * stays open; the suite closes it. Only engines several nodes share offer it.
   */
  openAnother?: (options?: OpenOptions) => Promise<MessageStore & ContactStore>;
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

/** What an engine offers beyond the single-instance contract. */
export interface EngineCapabilities {
  /** Several instances over one data set (cluster engines): the two-instance section runs. */
  shared: boolean;
}

export function messageStoreContract(name: string, open: (options?: OpenOptions) => Promise<OpenedStore>, capabilities: EngineCapabilities): void {
  // Two instances over the same data (SPEC §11), for the engines built for it. Not for SQLite: two
  // SqliteMessageStores over one file are not supported (each keeps the signal id counter, queue
  // heads and a block cache in memory); sharing data between nodes is the cluster engine's job, so
  // the section is not registered for it at all (nothing reported as skipped).
  if (capabilities.shared) twoInstancesContract(name, open);

  describe(`MessageStore contract: ${name}`, () => {
    let opened: OpenedStore | undefined;
    /** Stores currently open, closed after each test (a test may replace the first one). */
    let live: MessageStore[] = [];

    afterEach(async () => {
      for (const store of live.splice(0)) await store.close().catch(() => undefined);
      await opened?.cleanup();
      opened = undefined;
    });

    async function fresh(options?: OpenOptions): Promise<MessageStore> {
      opened = await open(options);
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
        const [sender, recipient] = [appended.entries.find((entry) => entry.eid === 'alice')!, appended.entries.find((entry) => entry.eid === 'bob')!];
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
        for (const [from, to] of [
          ['alice', 'bob'],
          ['carol', 'dave'],
          ['bob', 'alice'],
          ['erin', 'erin'],
        ] as const) {
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
          senderEid: 'alice',
          senderDevice: 'a1',
          clientId: 'bin',
          recipientEid: 'bob',
          recipientDevice: '',
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

      it(`${name} - deviceCount counts the user's devices with a cursor, at once after a commit, per user, across reopen`, async () => {
        let store = await fresh();
        expect(await store.deviceCount('bob')).toBe(0);
        // Read right after each commit: a connect that admits a device must see the ones admitted before it.
        await store.commitCursor('bob', 'phone', 0);
        expect(await store.deviceCount('bob')).toBe(1);
        await store.commitCursor('bob', 'laptop', 0);
        await store.commitCursor('bob', 'phone', 0);
        expect(await store.deviceCount('bob')).toBe(2);
        await store.commitCursor('alice', 'a1', 0);
        expect(await store.deviceCount('bob')).toBe(2);
        expect(await store.deviceCount('alice')).toBe(1);
        await store.deleteCursors('bob', 'laptop');
        expect(await store.deviceCount('bob')).toBe(1);
        await store.commitCursor('bob', 'tablet', 0);
        store = await reopen(store);
        expect(await store.deviceCount('bob')).toBe(2);
        await store.deleteCursors('bob', '');
        expect(await store.deviceCount('bob')).toBe(0);
        expect(await store.deviceCount('alice')).toBe(1);
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

    describe('retention (SPEC §6 F10)', () => {
      const OLD = 1_000_000;
      const CUTOFF = 2_000_000;
      const YOUNG = 3_000_000;

      /** A store whose clock the test sets: `at(t)` makes every later write happen at t. */
      async function timed(reopenable = false): Promise<{ store: MessageStore; at(t: number): void; reopen(): Promise<MessageStore> }> {
        let time = OLD;
        let store = await fresh({ now: () => time });
        return {
          get store() {
            return store;
          },
          at: (t: number) => {
            time = t;
          },
          reopen: async () => {
            if (!reopenable) throw new Error('not reopenable');
            store = await reopen(store);
            return store;
          },
        };
      }

      /** Offsets stored for `eid` are exactly first..head, with no hole. */
      async function expectContiguous(store: MessageStore, eid: string): Promise<void> {
        const info = await store.queueInfo(eid);
        const offsets = (await store.readEntries(eid, 0, 10_000)).map((entry) => entry.offset);
        expect(offsets, `${eid}: offsets first..head`).toEqual(Array.from({ length: info.head - info.first + 1 }, (_, i) => info.first + i));
      }

      it(`${name} - retention removes old entries, a prefix of each queue; first moves past them, head stays`, async () => {
        const { store, at } = await timed();
        for (const id of ['m1', 'm2', 'm3']) await send(store, ['alice', 'a1'], ['bob'], id);
        await send(store, ['bob', 'b1'], ['carol'], 'r1');
        at(YOUNG);
        for (const id of ['m4', 'm5']) await send(store, ['alice', 'a1'], ['bob'], id);

        expect(await store.pruneOlderThan(CUTOFF, 500)).toEqual({ entries: 3 + 4 + 1, messages: 4, cursors: 0 });
        expect(await store.queueInfo('bob')).toMatchObject({ head: 6, first: 5 });
        expect(await store.queueInfo('alice')).toMatchObject({ head: 5, first: 4 });
        expect(await store.queueInfo('carol')).toMatchObject({ head: 1, first: 2 });
        const bob = await store.readEntries('bob', 0, 100);
        expect(bob.map((entry) => [entry.offset, bodyOf(entry).text])).toEqual([
          [5, 'm4'],
          [6, 'm5'],
        ]);
        expect((await store.readEntries('bob', 2, 100)).map((entry) => entry.offset)).toEqual([5, 6]);
        expect(await store.readEntries('carol', 0, 100)).toEqual([]);
        for (const eid of ['alice', 'bob', 'carol']) await expectContiguous(store, eid);
        expect(await store.pruneOlderThan(CUTOFF, 500)).toEqual({ entries: 0, messages: 0, cursors: 0 });
      });

      it(`${name} - an old entry stays while an earlier entry of its queue is younger (the clock stepped back)`, async () => {
        const { store, at } = await timed();
        await send(store, ['alice', 'a1'], ['bob'], 'old');
        at(YOUNG);
        await send(store, ['alice', 'a1'], ['bob'], 'young');
        at(OLD);
        await send(store, ['alice', 'a1'], ['bob'], 'old-again');
        expect(await store.pruneOlderThan(CUTOFF, 500)).toMatchObject({ entries: 2, messages: 1 });
        expect(await store.queueInfo('bob')).toMatchObject({ head: 3, first: 2 });
        expect((await store.readEntries('bob', 0, 10)).map((entry) => bodyOf(entry).text)).toEqual(['young', 'old-again']);
        await expectContiguous(store, 'alice');
      });

      it(`${name} - each batch removes at most maxEntries and leaves every queue contiguous`, async () => {
        const { store, at } = await timed();
        for (let i = 0; i < 10; i++) await send(store, ['alice', 'a1'], ['bob'], `ab-${i}`);
        for (let i = 0; i < 5; i++) await send(store, ['carol', 'c1'], ['dave'], `cd-${i}`);
        at(YOUNG);
        await send(store, ['alice', 'a1'], ['dave'], 'young');
        const batches: number[] = [];
        for (;;) {
          const { entries } = await store.pruneOlderThan(CUTOFF, 7);
          batches.push(entries);
          for (const eid of ['alice', 'bob', 'carol', 'dave']) await expectContiguous(store, eid);
          if (entries < 7) break;
        }
        expect(batches).toEqual([7, 7, 7, 7, 2]);
        expect(await store.queueInfo('alice')).toMatchObject({ head: 11, first: 11 });
        expect(await store.queueInfo('dave')).toMatchObject({ head: 6, first: 6 });
        expect(await store.queueInfo('bob')).toMatchObject({ head: 10, first: 11 });
      });

      it(`${name} - the head never goes back: an emptied queue appends at head + 1, also after reopen; signal ids never repeat`, async () => {
        const h = await timed(true);
        const sent: AppendedMessage[] = [];
        for (const id of ['m1', 'm2', 'm3']) sent.push(await send(h.store, ['alice', 'a1'], ['bob'], id));
        await h.store.pruneOlderThan(CUTOFF, 500);
        expect(await h.store.queueInfo('alice')).toMatchObject({ head: 3, first: 4 });
        h.at(YOUNG);
        const after = await send(h.store, ['alice', 'a1'], ['bob'], 'after');
        expect(after.senderOffset).toBe(4);
        expect(after.entries.find((entry) => entry.eid === 'bob')?.offset).toBe(4);
        sent.push(after);
        // Empty both queues again, then reopen: the heads and the signal id sequence are durable.
        expect(await h.store.pruneOlderThan(YOUNG + 1, 500)).toMatchObject({ entries: 2, messages: 1 });
        const store = await h.reopen();
        expect(await store.queueInfo('alice')).toMatchObject({ head: 4, first: 5 });
        expect(await store.queueInfo('bob')).toMatchObject({ head: 4, first: 5 });
        const again = await send(store, ['alice', 'a1'], ['bob'], 'after-reopen');
        expect(again.senderOffset).toBe(5);
        for (const earlier of sent) expect(BigInt(again.signalId) > BigInt(earlier.signalId)).toBe(true);
        await expectContiguous(store, 'bob');
      });

      it(`${name} - a message and its idempotency key go only when no entry refers to it any more`, async () => {
        const { store, at } = await timed();
        const original = await send(store, ['alice', 'a1'], ['bob'], 'once');
        // One of its two entries goes: the message, its body and its idempotency key stay.
        expect(await store.pruneOlderThan(CUTOFF, 1)).toEqual({ entries: 1, messages: 0, cursors: 0 });
        const remaining = [...(await store.readEntries('alice', 0, 10)), ...(await store.readEntries('bob', 0, 10))];
        expect(remaining).toHaveLength(1);
        expect(bodyOf(remaining[0]!).text).toBe('once');
        expect(await send(store, ['alice', 'a1'], ['bob'], 'once')).toMatchObject({ duplicate: true, signalId: original.signalId });
        // The other goes too: now the message is gone, and the same id is a new message.
        expect(await store.pruneOlderThan(CUTOFF, 1)).toEqual({ entries: 1, messages: 1, cursors: 0 });
        at(YOUNG);
        const resent = await send(store, ['alice', 'a1'], ['bob'], 'once');
        expect(resent.duplicate).toBe(false);
        expect(BigInt(resent.signalId) > BigInt(original.signalId)).toBe(true);
        expect(resent.senderOffset).toBe(2);
      });

      it(`${name} - a note to oneself goes with its single entry`, async () => {
        const { store, at } = await timed();
        await send(store, ['alice', 'a1'], ['alice', 'laptop'], 'note');
        expect(await store.pruneOlderThan(CUTOFF, 500)).toEqual({ entries: 1, messages: 1, cursors: 0 });
        at(YOUNG);
        expect(await send(store, ['alice', 'a1'], ['alice'], 'note')).toMatchObject({ duplicate: false, senderOffset: 2 });
      });

      it(`${name} - a receipt for a message retention removed is not-found; receipt entries are pruned like any entry`, async () => {
        const { store } = await timed();
        const message = await send(store, ['alice', 'a1'], ['bob'], 'm1');
        const receipt = { messageSignalId: message.signalId, status: 3, senderEid: 'bob', senderDevice: 'b1', toEid: 'alice', body: new Uint8Array([1, 2, 3]) };
        expect((await store.appendReceipt(receipt)).result).toBe('stored');
        expect((await store.appendReceipt(receipt)).result).toBe('duplicate');
        expect(await store.pruneOlderThan(CUTOFF, 500)).toEqual({ entries: 4, messages: 1, cursors: 0 });
        expect((await store.appendReceipt(receipt)).result).toBe('not-found');
        expect(await store.queueInfo('alice')).toMatchObject({ head: 2, first: 3 });
      });

      it(`${name} - cursors of devices unseen since the cutoff are removed, at most maxEntries per batch; seen ones stay, even behind first`, async () => {
        const { store, at } = await timed();
        for (let i = 0; i < 3; i++) await send(store, ['alice', 'a1'], ['bob'], `m-${i}`);
        for (const device of ['d1', 'd2', 'd3', 'd4', 'd5']) await store.commitCursor('bob', device, 1);
        at(YOUNG);
        await send(store, ['alice', 'a1'], ['bob'], 'young');
        await store.commitCursor('bob', 'laptop', 1);
        await store.commitCursor('bob', 'd5', 2);
        const removed: number[] = [];
        for (;;) {
          const { cursors } = await store.pruneOlderThan(CUTOFF, 2);
          removed.push(cursors);
          if (cursors < 2) break;
        }
        expect(removed.reduce((a, b) => a + b, 0)).toBe(4);
        for (const device of ['d1', 'd2', 'd3', 'd4']) expect(await store.getCursor('bob', device)).toBeUndefined();
        expect(await store.getCursor('bob', 'd5')).toBe(2);
        expect(await store.getCursor('bob', 'laptop')).toBe(1);
        expect(await store.queueInfo('bob')).toMatchObject({ head: 4, first: 4 });
      });

      it(`${name} - pruneOlderThan refuses a batch size below 1`, async () => {
        const { store } = await timed();
        await expect(store.pruneOlderThan(CUTOFF, 0)).rejects.toBeInstanceOf(RangeError);
      });
    });
  });
}
