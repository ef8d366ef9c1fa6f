/**
 * The SDK's frame routing (SPEC §6 F4–F7 client side) against a fake socket: frames the server
 * would push are fed in encoded, and what the SDK writes is decoded and checked.
 */
import { describe, expect, it } from 'vitest';
import {
  BimipConnection,
  BimipRequestError,
  ConnectionClosedError,
  ContactAction,
  ReceiptStatus,
  Relation,
  TransientStatus,
  type QueueEntry,
} from '../../src/client/index.js';
import { FakeSocket } from '../helpers/fake-socket.js';

async function connected(): Promise<{ client: BimipConnection; socket: FakeSocket }> {
  const socket = new FakeSocket();
  const pending = BimipConnection.connect({ url: 'ws://fake/bimip', token: 't', webSocket: () => socket });
  socket.open();
  return { client: await pending, socket };
}

/** Whatever is queued right now, without waiting. */
async function drain<T>(queue: { size: number; next(): Promise<IteratorResult<T>> }): Promise<T[]> {
  const items: T[] = [];
  while (queue.size > 0) items.push((await queue.next()).value as T);
  return items;
}

const message = (offset: number, id = `m${offset}`) => ({
  id,
  signalId: String(100 + offset),
  from: { eid: 'a@x' },
  to: { eid: 'b@x' },
  status: 1,
  userOffset: offset,
});
const receipt = (offset: number) => ({
  id: 'm1',
  signalId: '101',
  from: { eid: 'b@x', connectionResourceId: 'phone' },
  to: { eid: 'a@x' },
  status: 3,
  userOffset: offset,
});
const contactEvent = (offset: number) => ({ id: 'c1', from: { eid: 'c@x' }, to: { eid: 'a@x' }, action: ContactAction.SUBSCRIBE, type: 1, userOffset: offset });
const summary = (entries: QueueEntry[]) => entries.map((entry) => [entry.kind, entry.offset]);

describe('client routing: queue entries', () => {
  it('client - messages, stored receipts and contact events form one de-duplicated, ordered entry stream', async () => {
    const { client, socket } = await connected();
    socket.push('message', message(1));
    socket.push('signal', receipt(2));
    socket.push('contact', contactEvent(3));
    // Re-sent after a lost commit (SPEC §6 F3): the same offsets again, whatever their kind.
    socket.push('message', message(2, 'other'));
    socket.push('signal', receipt(3));
    socket.push('contact', contactEvent(1));
    socket.push('message', message(4));

    const entries = await drain(client.entries);
    expect(summary(entries)).toEqual([
      ['message', 1],
      ['signal', 2],
      ['contact', 3],
      ['message', 4],
    ]);
    const [, signal, contact] = entries;
    expect(signal).toMatchObject({ kind: 'signal', signal: { id: 'm1', signalId: '101', status: 3 } });
    expect(contact).toMatchObject({ kind: 'contact', contact: { action: ContactAction.SUBSCRIBE, from: { eid: 'c@x' } } });
    expect(client.lastReceivedOffset).toBe(4);
    expect(client.signals.size).toBe(0);
  });

  it('client - the caught-up cursor suppresses older entries of every kind', async () => {
    const { client, socket } = await connected();
    socket.push('sync', { id: '', type: 2, headOffset: 5, cursor: 5 });
    socket.push('signal', receipt(5));
    socket.push('contact', contactEvent(6));
    expect(summary(await drain(client.entries))).toEqual([['contact', 6]]);
  });

  it('client - a Sync replay collects receipts and contact events with messages, each offset once, in order', async () => {
    const { client, socket } = await connected();
    const replay = client.sync(0, 10);
    const request = socket.lastSent('sync');
    expect(request).toMatchObject({ type: 1, afterOffset: 0, limit: 10 });
    socket.push('contact', contactEvent(3));
    socket.push('message', message(1));
    socket.push('signal', receipt(2));
    socket.push('contact', contactEvent(3));
    socket.push('sync', { id: request.id, type: 2, headOffset: 3 });
    const result = await replay;
    expect(summary(result.entries)).toEqual([
      ['message', 1],
      ['signal', 2],
      ['contact', 3],
    ]);
    expect(result.response.headOffset).toBe(3);
  });
});

describe('client routing: transient signals, receipts sent', () => {
  it('client - transient signals (no user_offset) go to `signals`, never to `entries`', async () => {
    const { client, socket } = await connected();
    socket.push('signal', { id: 't1', from: { eid: 'b@x' }, to: { eid: 'a@x' }, status: TransientStatus.TYPING });
    socket.push('signal', { id: 'call', from: { eid: 'b@x' }, status: TransientStatus.CALLING });
    expect((await drain(client.signals)).map((signal) => [signal.id, signal.status])).toEqual([
      ['t1', 6],
      ['call', 11],
    ]);
    expect(client.entries.size).toBe(0);
  });

  it('client - sendReceipt writes Signal{id, signal_id, to = the sender, status} and answers nothing', async () => {
    const { client, socket } = await connected();
    const before = Date.now();
    // A received message carries the sender's device; the receipt must still go to the user, not that device.
    const received = { id: 'm1', signalId: '101', from: { eid: 'a@x', connectionResourceId: 'phone' } };
    expect(client.sendReceipt(received, ReceiptStatus.READ)).toBeUndefined();
    const sent = socket.lastSent('signal');
    expect(sent).toMatchObject({ id: 'm1', signalId: '101', to: { eid: 'a@x', connectionResourceId: '' }, status: 3, userOffset: 0 });
    expect(sent.timestamp).toBeGreaterThanOrEqual(before);

    client.sendReceipt({ id: 'm2', signalId: '102', from: { eid: 'a@x' } }, ReceiptStatus.DELIVERED, 'z@x');
    expect(socket.lastSent('signal')).toMatchObject({ id: 'm2', signalId: '102', to: { eid: 'z@x' }, status: 2 });
    expect(() => client.sendReceipt({ id: 'm3', signalId: '103' }, ReceiptStatus.PLAYED)).toThrow(TypeError);
    expect(socket.sent).toHaveLength(2);
  });

  it('client - sendSignal writes a transient Signal and returns its id', async () => {
    const { client, socket } = await connected();
    expect(client.sendSignal('b@x', TransientStatus.CALLING, 'call-1')).toBe('call-1');
    expect(socket.lastSent('signal')).toMatchObject({ id: 'call-1', signalId: '', to: { eid: 'b@x' }, status: 11 });
    const id = client.sendSignal({ eid: 'b@x', connectionResourceId: 'laptop' }, TransientStatus.RECORDING);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(socket.lastSent('signal')).toMatchObject({ id, to: { eid: 'b@x', connectionResourceId: 'laptop' }, status: 7 });
  });
});

describe('client routing: awareness and visibility', () => {
  it('client - setAwareness writes Awareness{type 1, status, ttl, location, details, timestamp}', async () => {
    const { client, socket } = await connected();
    const before = Date.now();
    const id = client.setAwareness({ status: 3, ttl: 60, locationSharing: 1, latitude: 52.5, longitude: 13.4, details: 'lunch' });
    const sent = socket.lastSent('awareness');
    expect(sent).toMatchObject({ id, type: 1, status: 3, ttl: 60, locationSharing: 1, latitude: 52.5, longitude: 13.4, details: 'lunch' });
    expect(sent.to).toBeNull();
    expect(sent.timestamp).toBeGreaterThanOrEqual(before);
    client.setAwareness({ status: 5, id: 'aw-1', timestamp: 1_000 });
    expect(socket.lastSent('awareness')).toMatchObject({ id: 'aw-1', type: 1, status: 5, timestamp: 1_000, ttl: 0 });
  });

  it('client - queryAwareness resolves with the RESPONSE carrying its id; pushes go to `awareness`', async () => {
    const { client, socket } = await connected();
    const query = client.queryAwareness('b@x');
    const sent = socket.lastSent('awareness');
    expect(sent).toMatchObject({ type: 1, to: { eid: 'b@x' }, status: 0 });
    socket.push('awareness', { id: '', from: { eid: 'c@x' }, type: 2, status: 4 }); // a subscription's change
    socket.push('awareness', { id: sent.id, from: { eid: 'b@x' }, type: 2, status: 2, lastSeen: 1234 });
    expect(await query).toMatchObject({ id: sent.id, status: 2, lastSeen: 1234 });
    expect((await drain(client.awareness)).map((item) => item.from?.eid)).toEqual(['c@x']);
  });

  it('client - an ErrorMessage with the query’s id and origin rejects it with BimipRequestError and is kept in `errors`', async () => {
    const { client, socket } = await connected();
    const query = client.queryAwareness('b@x');
    const { id } = socket.lastSent('awareness');
    // Same id, another route: about some other frame, so the query keeps waiting.
    socket.push('error', { code: 404, errorOrigin: 12, id, details: 'no message' });
    socket.push('error', { code: 403, errorOrigin: 2, id, details: 'not subscribed to this user' });
    const error = await query.catch((err: unknown) => err);
    expect(error).toBeInstanceOf(BimipRequestError);
    expect(error).toMatchObject({ code: 403, origin: 2, details: 'not subscribed to this user', id });
    expect(client.errors.map((e) => e.code)).toEqual([404, 403]);
  });

  it('client - an ErrorMessage with origin 0 rejects the request with that id on any route', async () => {
    const { client, socket } = await connected();
    const subscription = client.subscribe('b@x');
    const { id } = socket.lastSent('contact');
    socket.push('error', { code: 400, errorOrigin: 0, id });
    await expect(subscription).rejects.toMatchObject({ name: 'BimipRequestError', code: 400, origin: 0 });
  });

  it('client - the first Body resolves awarenessSnapshot; later Bodies feed `awareness` item by item', async () => {
    const { client, socket } = await connected();
    socket.push('body', { route: 2, awarenessList: [{ from: { eid: 'b@x' }, type: 2, status: 1 }] });
    const snapshot = await client.awarenessSnapshot;
    expect(snapshot.awarenessList).toEqual([expect.objectContaining({ from: expect.objectContaining({ eid: 'b@x' }), status: 1 })]);
    expect(client.awareness.size).toBe(0);
    socket.push('body', {
      route: 2,
      awarenessList: [
        { from: { eid: 'b@x' }, status: 3 },
        { from: { eid: 'c@x' }, status: 5 },
      ],
    });
    expect((await drain(client.awareness)).map((item) => [item.from?.eid, item.status])).toEqual([
      ['b@x', 3],
      ['c@x', 5],
    ]);
    expect(await client.awarenessSnapshot).toBe(snapshot);
  });

  it('client - setVisibility writes type 2 / 1 and resolves with the echo, which also reaches `visibility`', async () => {
    const { client, socket } = await connected();
    const hiding = client.setVisibility(false);
    const sent = socket.lastSent('awarenessVisibility');
    expect(sent.type).toBe(2);
    socket.push('awarenessVisibility', { id: 'from-other-device', type: 1 });
    socket.push('awarenessVisibility', { id: sent.id, from: { eid: 'a@x', connectionResourceId: 'phone' }, type: 2 });
    expect(await hiding).toMatchObject({ id: sent.id, type: 2 });
    expect((await drain(client.visibility)).map((echo) => echo.type)).toEqual([1, 2]);

    void client.setVisibility(true);
    expect(socket.lastSent('awarenessVisibility').type).toBe(1);
  });
});

describe('client routing: contacts', () => {
  it('client - each contact helper writes Contact{to, action, type 1} and resolves with the RESPONSE carrying its id', async () => {
    const { client, socket } = await connected();
    const helpers = [
      [() => client.subscribe('b@x'), ContactAction.SUBSCRIBE],
      [() => client.approve('b@x'), ContactAction.APPROVE],
      [() => client.deny('b@x'), ContactAction.DENY],
      [() => client.unsubscribe('b@x'), ContactAction.UNSUBSCRIBE],
      [() => client.block('b@x'), ContactAction.BLOCK],
      [() => client.unblock('b@x'), ContactAction.UNBLOCK],
    ] as const;
    for (const [call, action] of helpers) {
      const answer = call();
      const sent = socket.lastSent('contact');
      expect(sent).toMatchObject({ to: { eid: 'b@x' }, action, type: 1, userOffset: 0 });
      socket.push('contact', { id: sent.id, to: { eid: 'b@x' }, action, type: 2 });
      expect(await answer).toMatchObject({ id: sent.id, action, type: 2 });
    }
    expect(client.entries.size).toBe(0);
  });

  it('client - a stored contact event never answers a request, even with the same id', async () => {
    const { client, socket } = await connected();
    const answer = client.subscribe('b@x');
    const { id } = socket.lastSent('contact');
    socket.push('contact', { ...contactEvent(1), id });
    socket.push('contact', { id, action: 1, type: 2 });
    expect(await answer).toMatchObject({ type: 2, userOffset: 0 });
    expect(summary(await drain(client.entries))).toEqual([['contact', 1]]);
  });

  it('client - listContacts writes action 7 and resolves with the entries; approve rejects on ErrorMessage 404', async () => {
    const { client, socket } = await connected();
    const listing = client.listContacts();
    const sent = socket.lastSent('contact');
    expect(sent).toMatchObject({ action: ContactAction.LIST, type: 1 });
    expect(sent.to).toBeNull();
    socket.push('contact', {
      id: sent.id,
      action: 7,
      type: 2,
      entries: [
        { eid: 'b@x', relation: Relation.SUBSCRIBED },
        { eid: 'c@x', relation: Relation.BLOCKED },
      ],
    });
    expect(await listing).toEqual([
      { eid: 'b@x', relation: 1 },
      { eid: 'c@x', relation: 4 },
    ]);

    const approval = client.approve('d@x');
    socket.push('error', { code: 404, errorOrigin: 16, id: socket.lastSent('contact').id, details: 'no pending subscription request' });
    await expect(approval).rejects.toBeInstanceOf(BimipRequestError);
  });
});

describe('client routing: close', () => {
  it('client - closing rejects every pending request with ConnectionClosedError and ends the streams', async () => {
    const { client, socket } = await connected();
    const pending = [
      client.send({ to: 'b@x', payload: 'hi' }),
      client.ping(),
      client.sync(0),
      client.queryAwareness('b@x'),
      client.setVisibility(false),
      client.subscribe('b@x'),
      client.listContacts(),
      client.awarenessSnapshot,
    ];
    socket.close(4009, 'replaced');
    for (const request of pending) {
      const error = await request.then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect(error).toMatchObject({ code: 4009, reason: 'replaced' });
    }
    for (const stream of [client.entries, client.signals, client.awareness, client.visibility]) {
      expect((await stream.next()).done).toBe(true);
    }
    // Requests made after the close fail at once and write nothing.
    const sentBefore = socket.sent.length;
    await expect(client.block('b@x')).rejects.toBeInstanceOf(ConnectionClosedError);
    expect(socket.sent).toHaveLength(sentBefore);
  });
});
