/** SPEC §6 F7 contacts and blocking over real sockets with the SDK. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BimipConnection } from '../../src/client/index.js';
import { noEntryWithin, startHarness, takeEntries, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeEach(async () => {
  h = await startHarness({ session: { ratePerSecond: 0 } });
});
afterEach(async () => {
  await h.close();
});

const online = (eid: string, device: string): Promise<BimipConnection> => h.online(eid, device);

const A = 'a@example.com';
const B = 'b@example.com';

describe('contacts (F7)', () => {
  it('contacts - SUBSCRIBE is a stored entry in the target’s queue; APPROVE makes it mutual; LIST shows it', async () => {
    const a = await online(A, 'phone');
    const b = await online(B, 'phone');
    const response = await a.subscribe(B);
    expect(response).toMatchObject({ type: 2, action: 1 });
    const [request] = await takeEntries(b, 1);
    expect(request).toMatchObject({ kind: 'contact', offset: 1 });
    if (request!.kind !== 'contact') return;
    expect(request!.contact).toMatchObject({ action: 1, userOffset: 1 });
    expect(request!.contact.from).toMatchObject({ eid: A });
    expect(await a.listContacts()).toEqual([expect.objectContaining({ eid: B, relation: 2 })]);
    expect(await b.listContacts()).toEqual([expect.objectContaining({ eid: A, relation: 3 })]);

    await b.approve(A);
    const [approved] = await takeEntries(a, 1);
    expect(approved).toMatchObject({ kind: 'contact' });
    expect(await a.listContacts()).toEqual([expect.objectContaining({ eid: B, relation: 1 })]);
    expect(await b.listContacts()).toEqual([expect.objectContaining({ eid: A, relation: 1 })]);
    expect(await h.store.isSubscribed(A, B)).toBe(true);
    expect(await h.store.isSubscribed(B, A)).toBe(true);
  });

  it('contacts - an offline device sees contact events on reconnect', async () => {
    const b = await online(B, 'phone');
    await b.close();
    const a = await online(A, 'phone');
    await a.subscribe(B);
    const again = await h.connect(B, 'phone');
    const [event] = await takeEntries(again, 1);
    expect(event).toMatchObject({ kind: 'contact', offset: 1 });
  });

  it('contacts - DENY refuses; APPROVE without a request → 404; UNSUBSCRIBE ends it both ways', async () => {
    const a = await online(A, 'phone');
    const b = await online(B, 'phone');
    await a.subscribe(B);
    await b.deny(A);
    expect(await a.listContacts()).toEqual([]);
    await expect(b.approve(A)).rejects.toMatchObject({ code: 404 });

    await a.subscribe(B);
    await b.approve(A);
    await b.unsubscribe(A);
    expect(await a.listContacts()).toEqual([]);
    expect(await h.store.isSubscribed(A, B)).toBe(false);
    expect(await h.store.isSubscribed(B, A)).toBe(false);
  });

  it('blocking - a blocked user’s messages get Ack 403 and are not stored; signals dropped; subscription ended', async () => {
    const a = await online(A, 'phone');
    const b = await online(B, 'phone');
    await a.subscribe(B);
    await b.approve(A);
    await takeEntries(b, 1);
    await takeEntries(a, 1);
    await b.block(A);
    expect(await b.listContacts()).toEqual([expect.objectContaining({ eid: A, relation: 4 })]);
    expect(await h.store.isSubscribed(A, B)).toBe(false);
    const headBefore = (await h.store.queueInfo(B)).head;

    const ack = await a.send({ to: B, id: 'blocked-1', payload: 'hello?' });
    expect(ack).toMatchObject({ code: 403, id: 'blocked-1' });
    a.sendSignal(B, 6);
    await expect(a.queryAwareness(B)).rejects.toMatchObject({ code: 403 });
    await expect(a.subscribe(B)).rejects.toMatchObject({ code: 403 });
    await a.ping();
    expect((await h.store.queueInfo(B)).head).toBe(headBefore);
    expect(await noEntryWithin(b, 150)).toBe(true);
    expect(b.signals.size).toBe(0);

    await b.unblock(A);
    expect((await a.send({ to: B, id: 'after-unblock' })).code).toBe(200);
  });

  it('blocking - the block survives a restart', async () => {
    const b = await online(B, 'phone');
    await b.block(A);
    await h.restart();
    const a = await online(A, 'phone');
    expect((await a.send({ to: B, id: 'x' })).code).toBe(403);
  });

  it('contacts - bad requests get 400 (unknown action, no to, self) and do not change state', async () => {
    const a = await online(A, 'phone');
    const { encodeFrame } = await import('../../src/protocol/index.js');
    a.sendRaw(encodeFrame('contact', { id: 'c1', to: { eid: B }, action: 9, type: 1 }));
    a.sendRaw(encodeFrame('contact', { id: 'c2', action: 1, type: 1 }));
    a.sendRaw(encodeFrame('contact', { id: 'c3', to: { eid: A }, action: 1, type: 1 }));
    a.sendRaw(encodeFrame('contact', { id: 'c4', to: { eid: B }, action: 1, type: 2 }));
    await a.ping();
    expect(a.errors.map((e) => [e.id, e.code, e.errorOrigin])).toEqual([
      ['c1', 400, 16],
      ['c2', 400, 16],
      ['c3', 400, 16],
      ['c4', 400, 16],
    ]);
    expect(await a.listContacts()).toEqual([]);
  });
});
