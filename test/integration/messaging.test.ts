/** SPEC §6 F1–F3 end to end: real server, real SQLite file, real sockets, the SDK. */
import type { BimipConnection } from '../../src/client/index.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { messageOf, messagesOf, noEntryWithin, startHarness, takeEntries, takeMessages, text, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeEach(async () => {
  // Rate limiting is off here so bursts of sends are not refused; it has its own test below.
  h = await startHarness({ session: { ratePerSecond: 0 } });
});
afterEach(async () => {
  await h.close();
});

const online = (eid: string, device: string): Promise<BimipConnection> => h.online(eid, device);

describe('send (F1)', () => {
  it('send - Ack 200 with signal_id and the sender offset; B and A’s other devices get it with their own offsets', async () => {
    const bPhone = await online('b@example.com', 'phone');
    const bLaptop = await online('b@example.com', 'laptop');
    const aLaptop = await online('a@example.com', 'laptop');
    const aPhone = await online('a@example.com', 'phone');
    // Give A's queue a head start so the two queues' offsets differ.
    expect((await aPhone.send({ to: 'a@example.com', payload: 'note to self', id: 'n1' })).code).toBe(200);
    await takeEntries(aLaptop, 1);

    const ack = await aPhone.send({ to: 'b@example.com', payload: 'hello', id: 'm1' });
    expect(ack).toMatchObject({ id: 'm1', code: 200, status: 1, userOffset: 2 });
    expect(Number(ack.signalId)).toBeGreaterThan(0);

    for (const device of [bPhone, bLaptop]) {
      const [entry] = await takeMessages(device, 1);
      expect(entry!.offset).toBe(1);
      expect(entry!.message).toMatchObject({ id: 'm1', signalId: ack.signalId, status: 1, userOffset: 1 });
      expect(entry!.message.from).toMatchObject({ eid: 'a@example.com', connectionResourceId: 'phone' });
      expect(text(entry!.message.payload)).toBe('hello');
      expect(entry!.message.serverTimestamp).toBeGreaterThan(0);
    }
    const [mine] = await takeMessages(aLaptop, 1);
    expect(mine!.offset).toBe(2);
    expect(mine!.message.signalId).toBe(ack.signalId);
    // The authoring device never gets its own message pushed back.
    expect(await noEntryWithin(aPhone, 150)).toBe(true);
  });

  it('send - resending the same id answers 409 with the original signal_id and offset, stored once', async () => {
    const b = await online('b@example.com', 'phone');
    const a = await online('a@example.com', 'phone');
    const first = await a.send({ to: 'b@example.com', payload: 'once', id: 'dup-1' });
    const again = await a.send({ to: 'b@example.com', payload: 'once', id: 'dup-1' });
    expect(first.code).toBe(200);
    expect(again).toMatchObject({ code: 409, signalId: first.signalId, userOffset: first.userOffset, status: 1 });
    await takeEntries(b, 1);
    expect(await noEntryWithin(b, 150)).toBe(true);
    expect((await h.store.queueInfo('b@example.com')).head).toBe(1);
    expect((await h.store.queueInfo('a@example.com')).head).toBe(1);
  });

  it('send - the same id from two different senders are two messages', async () => {
    const c = await online('c@example.com', 'phone');
    const a = await online('a@example.com', 'phone');
    const b = await online('b@example.com', 'phone');
    expect((await a.send({ to: 'c@example.com', id: 'same' })).code).toBe(200);
    expect((await b.send({ to: 'c@example.com', id: 'same' })).code).toBe(200);
    const entries = await takeMessages(c, 2);
    expect(entries.map((e) => e.message.from!.eid)).toEqual(['a@example.com', 'b@example.com']);
  });

  it('send - a message to one device of B reaches only that device', async () => {
    const bPhone = await online('b@example.com', 'phone');
    const bLaptop = await online('b@example.com', 'laptop');
    const a = await online('a@example.com', 'phone');
    const ack = await a.send({ to: { eid: 'b@example.com', connectionResourceId: 'laptop' }, payload: 'just laptop' });
    expect(ack.code).toBe(200);
    const [entry] = await takeMessages(bLaptop, 1);
    expect(text(entry!.message.payload)).toBe('just laptop');
    expect(await noEntryWithin(bPhone, 150)).toBe(true);
  });

  it('send - many messages in flight arrive complete and in order', async () => {
    const b = await online('b@example.com', 'phone');
    const a = await online('a@example.com', 'phone');
    const acks = await Promise.all(Array.from({ length: 300 }, (_, i) => a.send({ to: 'b@example.com', payload: String(i), id: `m${i}` })));
    expect(acks.every((ack) => ack.code === 200)).toBe(true);
    expect(acks.map((ack) => ack.userOffset)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    const entries = [];
    while (entries.length < 300) {
      const batch = await takeMessages(b, Math.min(100, 300 - entries.length));
      entries.push(...batch);
      b.commit(batch[batch.length - 1]!.offset);
    }
    expect(entries.map((e) => text(e.message.payload))).toEqual(Array.from({ length: 300 }, (_, i) => String(i)));
  });
});

describe('connect and sync (F2)', () => {
  it('sync - a first-time device starts at the head: no history, marker cursor = head', async () => {
    const a = await online('a@example.com', 'phone');
    await a.send({ to: 'b@example.com', id: 'before' });
    const b = await h.connect('b@example.com', 'new-tablet');
    const marker = await b.caughtUp;
    expect(marker).toMatchObject({ id: '', type: 2, headOffset: 1, cursor: 1, firstOffset: 1 });
    expect(marker.epoch).not.toBe('');
    expect(await noEntryWithin(b, 150)).toBe(true);
  });

  it('sync - an offline device gets everything after its cursor, in order, then the caught-up marker', async () => {
    const b = await online('b@example.com', 'phone');
    await b.close();
    const a = await online('a@example.com', 'phone');
    for (let i = 1; i <= 5; i++) expect((await a.send({ to: 'b@example.com', payload: `m${i}` })).code).toBe(200);

    const again = await h.connect('b@example.com', 'phone');
    const entries = await takeMessages(again, 5);
    expect(entries.map((e) => e.offset)).toEqual([1, 2, 3, 4, 5]);
    expect(entries.map((e) => text(e.message.payload))).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    const marker = await again.caughtUp;
    expect(marker).toMatchObject({ headOffset: 5, cursor: 0, firstOffset: 1 });
  });

  it('sync - Sync REQUEST replays stored entries (own ones included) without moving the cursor', async () => {
    const aPhone = await online('a@example.com', 'phone');
    for (let i = 1; i <= 3; i++) await aPhone.send({ to: 'b@example.com', payload: `m${i}` });
    // Issue #10: the server moves a device's cursor over its own entries (never pushed to it).
    await expect.poll(() => h.store.getCursor('a@example.com', 'phone')).toBe(3);
    const replay = await aPhone.sync(1, 10);
    expect(replay.entries.map((e) => e.offset)).toEqual([2, 3]);
    expect(replay.response).toMatchObject({ type: 2, headOffset: 3, firstOffset: 1 });
    const all = await aPhone.sync(0, 2);
    expect(all.entries.map((e) => e.offset)).toEqual([1, 2]);
    // The replays did not move the cursor.
    expect(await h.store.getCursor('a@example.com', 'phone')).toBe(3);
  });

  it('sync - Sync REQUEST hides entries targeted at other devices', async () => {
    const a = await online('a@example.com', 'phone');
    await a.send({ to: { eid: 'b@example.com', connectionResourceId: 'laptop' }, payload: 'laptop only' });
    await a.send({ to: 'b@example.com', payload: 'everyone' });
    const bPhone = await online('b@example.com', 'phone');
    const replay = await bPhone.sync(0, 10);
    expect(messagesOf(replay.entries).map((e) => text(e.message.payload))).toEqual(['everyone']);
  });

  it('window - at most 512 uncommitted entries are pushed; a commit releases more', async () => {
    const b = await online('b@example.com', 'phone');
    await b.close();
    const a = await online('a@example.com', 'phone');
    const acks = await Promise.all(Array.from({ length: 600 }, (_, i) => a.send({ to: 'b@example.com', id: `w${i}` })));
    expect(acks.every((ack) => ack.code === 200)).toBe(true);
    const again = await h.connect('b@example.com', 'phone');
    const first = await takeEntries(again, 512);
    expect(first[511]!.offset).toBe(512);
    expect(await noEntryWithin(again, 200)).toBe(true);
    again.commit(100);
    const rest = await takeEntries(again, 88);
    expect(rest.map((e) => e.offset)).toEqual(Array.from({ length: 88 }, (_, i) => 513 + i));
    await again.caughtUp;
  });
});

describe('commit (F3)', () => {
  it('commit - nothing at or below a committed offset is pushed again, across reconnects and restarts', async () => {
    const a = await online('a@example.com', 'phone');
    let b = await online('b@example.com', 'phone');
    for (let i = 1; i <= 4; i++) await a.send({ to: 'b@example.com', payload: `m${i}` });
    await takeEntries(b, 4);
    b.commit(3);
    await b.ping(); // the commit was processed before the PONG
    await b.close();

    b = await h.connect('b@example.com', 'phone');
    expect((await takeEntries(b, 1))[0]!.offset).toBe(4);
    expect((await b.caughtUp).cursor).toBe(3);
    b.commit(2); // lower: ignored
    await b.ping();
    await b.close();

    await h.restart();
    b = await h.connect('b@example.com', 'phone');
    expect((await takeEntries(b, 1))[0]!.offset).toBe(4);
    expect(await b.caughtUp).toMatchObject({ cursor: 3, headOffset: 4 });
    b.commit(4);
    await b.ping();
    await h.restart();
    b = await h.connect('b@example.com', 'phone');
    expect((await b.caughtUp).cursor).toBe(4);
    expect(await noEntryWithin(b, 150)).toBe(true);
  });

  it('commit - an offset above the head is refused with 400', async () => {
    const b = await online('b@example.com', 'phone');
    b.commit(99);
    await b.ping();
    expect(b.errors).toEqual([expect.objectContaining({ code: 400, errorOrigin: 14 })]);
    expect(await h.store.getCursor('b@example.com', 'phone')).toBe(0);
  });
});

describe('heartbeat and connection rules', () => {
  it('heartbeat - PING gets a PONG with the same id', async () => {
    const a = await online('a@example.com', 'phone');
    const pong = await a.ping();
    expect(pong.type).toBe(2);
  });

  it('connection - a message stored before a restart is delivered after it', async () => {
    const a = await online('a@example.com', 'phone');
    const ack = await a.send({ to: 'b@example.com', payload: 'survives', id: 'keep' });
    await h.restart();
    const b = await h.connect('b@example.com', 'phone');
    // b never connected before: a first-time device starts at the head, so ask for history.
    const replay = await b.sync(0, 10);
    expect(replay.entries).toHaveLength(1);
    expect(messageOf(replay.entries[0]).message).toMatchObject({ id: 'keep', signalId: ack.signalId });
  });
});

describe('rate limit', () => {
  it('rate - frames over the per-connection rate get 429; the connection keeps working', async () => {
    const limited = await startHarness({ session: { ratePerSecond: 200, rateBurst: 400 } });
    try {
      const a = await limited.connect('a@example.com', 'phone');
      await a.caughtUp;
      const acks = await Promise.all(Array.from({ length: 500 }, (_, i) => a.send({ to: 'b@example.com', id: `r${i}` })));
      const limitedAcks = acks.filter((ack) => ack.code === 429);
      expect(limitedAcks.length).toBeGreaterThan(50);
      expect(acks.filter((ack) => ack.code === 200).length).toBeGreaterThanOrEqual(400);
      // Refused sends stored nothing: the head equals the number of 200s.
      expect((await limited.store.queueInfo('a@example.com')).head).toBe(acks.filter((ack) => ack.code === 200).length);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await a.send({ to: 'b@example.com', id: 'after' })).code).toBe(200);
    } finally {
      await limited.close();
    }
  });
});
