/**
 * The ContactStore port contract (src/core/contact-store.ts, SPEC §6 F4 receipts, F6 visibility,
 * F7 contacts, issue #7 limits), run against every engine that implements it beside a MessageStore
 * (receipts and contact events are queue entries written in the same transaction).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ContactStore } from '../../src/core/contact-store.js';
import type { MessageStore } from '../../src/core/message-store.js';
import { ContactAction, Relation, Status } from '../../src/protocol/index.js';
import { newMessage } from './message-store.contract.js';

export interface ContactLimits {
  maxBlocksPerUser?: number;
  maxContactsPerUser?: number;
}

export interface OpenedContactStore {
  store: MessageStore & ContactStore;
  cleanup(): Promise<void>;
}

export function contactStoreContract(name: string, open: (limits?: ContactLimits) => Promise<OpenedContactStore>): void {
  describe(`ContactStore contract: ${name}`, () => {
    let opened: OpenedContactStore | undefined;

    afterEach(async () => {
      await opened?.store.close().catch(() => undefined);
      await opened?.cleanup();
      opened = undefined;
    });

    async function fresh(limits?: ContactLimits): Promise<MessageStore & ContactStore> {
      opened = await open(limits);
      return opened.store;
    }

    const act = (store: ContactStore, action: number, actor: string, other: string, device = 'd1') =>
      store.applyContactAction({ action, actorEid: actor, actorDevice: device, otherEid: other, body: new Uint8Array([action, 7]) });

    it(`${name} - SUBSCRIBE is pending until APPROVE makes it mutual; events go to both queues, authored by the actor's device`, async () => {
      const store = await fresh();
      const subscribed = await act(store, ContactAction.SUBSCRIBE, 'alice', 'bob', 'phone');
      expect(subscribed).toMatchObject({ result: 'applied' });
      if (subscribed.result !== 'applied') return;
      expect(subscribed.entries.map((e) => [e.eid, e.offset, e.authorDevice, e.kind])).toEqual([
        ['alice', 1, 'phone', 3],
        ['bob', 1, '', 3],
      ]);
      expect(await store.isSubscribed('alice', 'bob')).toBe(false);
      expect(await store.listContacts('alice')).toEqual([{ eid: 'bob', relation: Relation.PENDING_OUT }]);
      expect(await store.listContacts('bob')).toEqual([{ eid: 'alice', relation: Relation.PENDING_IN }]);
      expect(await act(store, ContactAction.SUBSCRIBE, 'alice', 'bob')).toEqual({ result: 'unchanged' });
      expect(await act(store, ContactAction.APPROVE, 'bob', 'alice')).toMatchObject({ result: 'applied' });
      expect(await store.isSubscribed('alice', 'bob')).toBe(true);
      expect(await store.isSubscribed('bob', 'alice')).toBe(true);
      expect(await store.subscribersOf('bob')).toEqual(['alice']);
      expect(await store.subscriptionsOf('bob')).toEqual(['alice']);
      const [entry] = await store.readEntries('bob', 1, 10);
      expect(entry).toMatchObject({ offset: 2, kind: 3, authorDevice: 'd1', signalId: '0' });
      expect(Array.from(entry!.body)).toEqual([ContactAction.APPROVE, 7]);
    });

    it(`${name} - APPROVE or DENY without a pending SUBSCRIBE is not-pending; DENY removes the pending one`, async () => {
      const store = await fresh();
      expect(await act(store, ContactAction.APPROVE, 'bob', 'alice')).toEqual({ result: 'not-pending' });
      expect(await act(store, ContactAction.DENY, 'bob', 'alice')).toEqual({ result: 'not-pending' });
      await act(store, ContactAction.SUBSCRIBE, 'alice', 'bob');
      expect(await act(store, ContactAction.DENY, 'bob', 'alice')).toMatchObject({ result: 'applied' });
      expect(await store.listContacts('alice')).toEqual([]);
      expect(await act(store, ContactAction.APPROVE, 'bob', 'alice')).toEqual({ result: 'not-pending' });
    });

    it(`${name} - UNSUBSCRIBE ends it both ways; again it is unchanged`, async () => {
      const store = await fresh();
      await act(store, ContactAction.SUBSCRIBE, 'alice', 'bob');
      await act(store, ContactAction.APPROVE, 'bob', 'alice');
      expect(await act(store, ContactAction.UNSUBSCRIBE, 'bob', 'alice')).toMatchObject({ result: 'applied' });
      expect(await store.isSubscribed('alice', 'bob')).toBe(false);
      expect(await store.subscribersOf('alice')).toEqual([]);
      expect(await act(store, ContactAction.UNSUBSCRIBE, 'alice', 'bob')).toEqual({ result: 'unchanged' });
    });

    it(`${name} - BLOCK ends subscriptions, refuses the blocked user's SUBSCRIBE, and is written to the blocker's queue only`, async () => {
      const store = await fresh();
      await act(store, ContactAction.SUBSCRIBE, 'alice', 'bob');
      await act(store, ContactAction.APPROVE, 'bob', 'alice');
      const blocked = await act(store, ContactAction.BLOCK, 'bob', 'alice');
      expect(blocked.result).toBe('applied');
      if (blocked.result === 'applied') expect(blocked.entries.map((e) => e.eid)).toEqual(['bob']);
      expect(await store.isBlocked('bob', 'alice')).toBe(true);
      expect(await store.isBlocked('alice', 'bob')).toBe(false);
      expect(await store.isSubscribed('alice', 'bob')).toBe(false);
      expect(await store.listContacts('bob')).toEqual([{ eid: 'alice', relation: Relation.BLOCKED }]);
      expect(await act(store, ContactAction.SUBSCRIBE, 'alice', 'bob')).toEqual({ result: 'blocked' });
      expect(await act(store, ContactAction.BLOCK, 'bob', 'alice')).toEqual({ result: 'unchanged' });
      expect((await store.queueInfo('alice')).head).toBe(2);
      expect(await act(store, ContactAction.UNBLOCK, 'bob', 'alice')).toMatchObject({ result: 'applied' });
      expect(await store.isBlocked('bob', 'alice')).toBe(false);
      expect(await act(store, ContactAction.UNBLOCK, 'bob', 'alice')).toEqual({ result: 'unchanged' });
      expect((await store.queueInfo('alice')).head).toBe(2);
    });

    it(`${name} - limits: a block or a new contact past the per-user limit is refused and writes nothing; repeats are never refused`, async () => {
      const store = await fresh({ maxBlocksPerUser: 2, maxContactsPerUser: 2 });
      await act(store, ContactAction.BLOCK, 'bob', 'x1');
      await act(store, ContactAction.BLOCK, 'bob', 'x2');
      expect(await act(store, ContactAction.BLOCK, 'bob', 'x3')).toEqual({ result: 'limit', list: 'blocks', owner: 'actor', max: 2 });
      expect(await act(store, ContactAction.BLOCK, 'bob', 'x2')).toEqual({ result: 'unchanged' });
      expect(await store.isBlocked('bob', 'x3')).toBe(false);
      await act(store, ContactAction.SUBSCRIBE, 'alice', 'c1');
      await act(store, ContactAction.SUBSCRIBE, 'c2', 'alice');
      expect(await act(store, ContactAction.SUBSCRIBE, 'alice', 'c3')).toEqual({ result: 'limit', list: 'contacts', owner: 'actor', max: 2 });
      expect(await act(store, ContactAction.SUBSCRIBE, 'c4', 'alice')).toEqual({ result: 'limit', list: 'contacts', owner: 'other', max: 2 });
      // Relating an already related pair takes no new slot.
      expect(await act(store, ContactAction.SUBSCRIBE, 'alice', 'c2')).toMatchObject({ result: 'applied' });
      expect(await act(store, ContactAction.APPROVE, 'alice', 'c2')).toMatchObject({ result: 'applied' });
      expect((await store.queueInfo('c3')).head).toBe(0);
    });

    it(`${name} - concurrent SUBSCRIBEs never pass the contact limit together`, async () => {
      const store = await fresh({ maxContactsPerUser: 3 });
      const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => act(store, ContactAction.SUBSCRIBE, `fan-${i}`, 'star')));
      expect(outcomes.filter((outcome) => outcome.result === 'applied')).toHaveLength(3);
      expect(outcomes.filter((outcome) => outcome.result === 'limit')).toHaveLength(5);
      expect(await store.listContacts('star')).toHaveLength(3);
    });

    it(`${name} - visibility is durable per user`, async () => {
      const store = await fresh();
      expect(await store.isHidden('bob')).toBe(false);
      await store.setHidden('bob', true);
      expect(await store.isHidden('bob')).toBe(true);
      expect(await store.isHidden('alice')).toBe(false);
      await store.setHidden('bob', false);
      expect(await store.isHidden('bob')).toBe(false);
    });

    describe('receipts (SPEC §6 F4)', () => {
      const receipt = (signalId: string, status: number, device = 'b1', from = 'bob', to = 'alice') => ({
        messageSignalId: signalId,
        status,
        senderEid: from,
        senderDevice: device,
        toEid: to,
        body: new Uint8Array([status]),
      });

      it(`${name} - a receipt is stored in both queues, once per (message, status), whichever device sends it`, async () => {
        const store = await fresh();
        const message = await store.appendMessage(newMessage(['alice', 'a1'], ['bob'], 'm1'));
        const stored = await store.appendReceipt(receipt(message.signalId, Status.DELIVERED, 'phone'));
        expect(stored.result).toBe('stored');
        if (stored.result === 'stored') {
          expect(stored.entries.map((e) => [e.eid, e.offset, e.authorDevice, e.kind, e.signalId])).toEqual([
            ['alice', 2, '', 2, message.signalId],
            ['bob', 2, 'phone', 2, message.signalId],
          ]);
        }
        expect(await store.appendReceipt(receipt(message.signalId, Status.DELIVERED, 'laptop'))).toEqual({ result: 'duplicate' });
        expect((await store.appendReceipt(receipt(message.signalId, Status.READ))).result).toBe('stored');
        const [entry] = await store.readEntries('alice', 1, 1);
        expect(entry).toMatchObject({ kind: 2, signalId: message.signalId });
        expect(Array.from(entry!.body)).toEqual([Status.DELIVERED]);
      });

      it(`${name} - DELIVERED after READ is dropped; unknown messages are not-found; only the recipient may send one, only to the sender`, async () => {
        const store = await fresh();
        const message = await store.appendMessage(newMessage(['alice', 'a1'], ['bob'], 'm1'));
        expect((await store.appendReceipt(receipt(message.signalId, Status.READ))).result).toBe('stored');
        expect(await store.appendReceipt(receipt(message.signalId, Status.DELIVERED))).toEqual({ result: 'superseded' });
        expect(await store.appendReceipt(receipt('999999', Status.READ))).toEqual({ result: 'not-found' });
        expect(await store.appendReceipt(receipt('not-a-number', Status.READ))).toEqual({ result: 'not-found' });
        expect(await store.appendReceipt(receipt(message.signalId, Status.PLAYED, 'c1', 'carol', 'alice'))).toEqual({ result: 'forbidden' });
        expect(await store.appendReceipt(receipt(message.signalId, Status.PLAYED, 'b1', 'bob', 'carol'))).toEqual({ result: 'forbidden' });
        expect((await store.queueInfo('alice')).head).toBe(2);
        expect((await store.queueInfo('carol')).head).toBe(0);
      });

      it(`${name} - concurrent receipts of one status are stored once`, async () => {
        const store = await fresh();
        const message = await store.appendMessage(newMessage(['alice', 'a1'], ['bob'], 'm1'));
        const outcomes = await Promise.all(Array.from({ length: 6 }, (_, i) => store.appendReceipt(receipt(message.signalId, Status.READ, `d${i}`))));
        expect(outcomes.filter((outcome) => outcome.result === 'stored')).toHaveLength(1);
        expect((await store.queueInfo('alice')).head).toBe(2);
      });
    });
  });
}
