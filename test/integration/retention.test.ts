/**
 * SPEC §6 F10 retention end to end, with F2's gap marker: a real server, the real SDK, and a
 * RetentionService whose fake clock is set one retention period after a wall-clock boundary, so
 * what was stored before the boundary is "older than the period" and what came after is not.
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RetentionService } from '../../src/retention/retention-service.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { noEntryWithin, startHarness, takeEntries, text, type Harness } from '../helpers/harness.js';
import { waitFor, within } from '../helpers/wait.js';

const DAY = 86_400_000;
const RETENTION = 30 * DAY;
const INTERVAL = 60_000;

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Connects, waits for the caught-up marker, and returns both. */
async function online(eid: string, device: string) {
  const client = await h.connect(eid, device);
  const marker = await within(client.caughtUp, `caught-up marker for ${eid}/${device}`);
  return { client, marker };
}

/** Closes the client and waits until the server has no session of `eid` left (its feed and cache are gone). */
async function offline(client: { close(): Promise<unknown> | undefined }, eid: string) {
  await client.close();
  await waitFor(() => h.server.hub.feed(eid) === undefined, `${eid} to have no session`);
}

async function untilCursor(eid: string, device: string, offset: number) {
  const deadline = Date.now() + 5000;
  while ((await h.store.getCursor(eid, device)) !== offset) {
    if (Date.now() > deadline) throw new Error(`cursor of ${eid}/${device} never reached ${offset}`);
    await sleep(5);
  }
}

describe('retention (F10) with the caught-up marker (F2)', () => {
  it('retention - a device behind the first retained offset gets the rest and a marker showing the gap; an unseen device loses its cursor', async () => {
    // Both of bob's devices get a cursor (0) and leave; the tablet is never seen again.
    await offline((await online('bob', 'phone')).client, 'bob');
    await offline((await online('bob', 'tablet')).client, 'bob');
    const { client: alice } = await online('alice', 'a1');
    for (const id of ['m1', 'm2', 'm3']) expect((await alice.send({ to: 'bob', payload: id, id })).code).toBe(200);

    // The boundary: everything above was stored before it, everything below after it.
    await sleep(5);
    const boundary = Date.now();
    await sleep(5);

    // The phone comes back after the boundary, reads m1 but commits only it, and leaves.
    const phone = await online('bob', 'phone');
    expect(phone.marker).toMatchObject({ cursor: 0, headOffset: 3, firstOffset: 1 });
    expect((await takeEntries(phone.client, 3)).map((entry) => entry.offset)).toEqual([1, 2, 3]);
    phone.client.commit(1);
    await untilCursor('bob', 'phone', 1);
    await offline(phone.client, 'bob');
    for (const id of ['m4', 'm5']) expect((await alice.send({ to: 'bob', payload: id, id })).code).toBe(200);

    // One retention period after the boundary (at the first tick), a scheduled run removes m1–m3 from both queues.
    const clock = new FakeClock(boundary + RETENTION - INTERVAL);
    const registry = new Registry();
    const retention = new RetentionService({
      store: h.store,
      clock,
      logger: pino({ level: 'silent' }),
      retentionMs: RETENTION,
      intervalMs: INTERVAL,
      registry,
    });
    retention.start();
    clock.advance(INTERVAL);
    const run = await retention.runOnce();
    await retention.stop();
    expect(run).toMatchObject({ entries: 6, messages: 3, cursors: 1 });
    // The tablet (last seen before the boundary) lost its cursor. Alice's a1 only sent, but the server
    // moved its cursor over its own entries as it sent m4 and m5 after the boundary (issue #10): seen, kept.
    expect(await h.store.getCursor('bob', 'tablet')).toBeUndefined();
    expect(await h.store.getCursor('alice', 'a1')).toBe(5);
    expect(await h.store.getCursor('bob', 'phone')).toBe(1);
    expect(await h.store.queueInfo('bob')).toMatchObject({ head: 5, first: 4 });

    // The phone: cursor 1, first retained 4 → the marker shows the gap (SPEC §6 F2), and it gets m4, m5.
    const back = await online('bob', 'phone');
    expect(back.marker).toMatchObject({ cursor: 1, headOffset: 5, firstOffset: 4 });
    expect(back.marker.firstOffset).toBeGreaterThan(back.marker.cursor + 1);
    const entries = await takeEntries(back.client, 2);
    expect(entries.map((entry) => [entry.offset, entry.kind === 'message' ? text(entry.message.payload) : entry.kind])).toEqual([
      [4, 'm4'],
      [5, 'm5'],
    ]);
    expect(await noEntryWithin(back.client, 100)).toBe(true);

    // The tablet is a first-time device again: its cursor starts at the head, nothing is pushed.
    const tablet = await online('bob', 'tablet');
    expect(tablet.marker).toMatchObject({ cursor: 5, headOffset: 5, firstOffset: 4 });
    expect(await noEntryWithin(tablet.client, 100)).toBe(true);

    // Sends go on at head + 1; an id whose message was removed is a new message (F1.2).
    const again = await alice.send({ to: 'bob', payload: 'm1 again', id: 'm1' });
    expect(again.code).toBe(200);
    const [live] = await takeEntries(back.client, 1);
    expect(live!.offset).toBe(6);
  });

  it('retention - a queue emptied by retention keeps its head: the marker says first = head + 1 and offsets go on', async () => {
    const { client: alice } = await online('alice', 'a1');
    for (const id of ['m1', 'm2']) expect((await alice.send({ to: 'alice', payload: id, id })).code).toBe(200);
    await offline(alice, 'alice');
    await sleep(5);
    const clock = new FakeClock(Date.now() + RETENTION);
    const retention = new RetentionService({ store: h.store, clock, logger: pino({ level: 'silent' }), retentionMs: RETENTION, registry: new Registry() });
    expect(await retention.runOnce()).toMatchObject({ entries: 2, messages: 2, cursors: 1 });

    const { client, marker } = await online('alice', 'a1');
    expect(marker).toMatchObject({ cursor: 2, headOffset: 2, firstOffset: 3 });
    const ack = await client.send({ to: 'bob', payload: 'next', id: 'next' });
    expect(ack).toMatchObject({ code: 200, userOffset: 3 });
  });
});
