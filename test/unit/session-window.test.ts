/**
 * DeviceSession delivery (SPEC §5, §6 F2/F3) driven through a fake transport and clock, with the
 * real SQLite store and UserFeed underneath. No sockets and no sleeps: only microtask/IO turns.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { noPushHook } from '../../src/core/push-hook.js';
import type { AppendedMessage } from '../../src/core/types.js';
import { MemoryPresenceStore } from '../../src/presence/memory/memory-presence-store.js';
import { DEFAULT_LIMITS, Route, SyncType, pb, type Message } from '../../src/protocol/index.js';
import type { ServerContext } from '../../src/server/context.js';
import { LocalHub } from '../../src/server/hub.js';
import { Router } from '../../src/server/router.js';
import { MemoryDeviceOwnership } from '../../src/ownership/memory/memory-device-ownership.js';
import { MemoryBus } from '../../src/bus/memory/memory-bus.js';
import { ServerMetrics } from '../../src/server/metrics.js';
import { PresenceService } from '../../src/server/presence-service.js';
import { CommitAboveHeadError, DEFAULT_SESSION_LIMITS, DeviceSession } from '../../src/server/session.js';
import { UserFeed } from '../../src/server/user-feed.js';
import { SqliteMessageStore } from '../../src/store/sqlite/sqlite-message-store.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';
import { FakeTransport } from '../helpers/fake-transport.js';
import { openTestAuth } from '../helpers/harness.js';

const BOB = 'bob@example.com';
const ALICE = 'alice@example.com';

interface Rig {
  store: SqliteMessageStore;
  feed: UserFeed<DeviceSession>;
  ctx: ServerContext;
  clock: FakeClock;
  /** alice (device a1) → bob; `target` = bob's device, if any. Bob's feed hears of it. */
  toBob(id: string, target?: string): Promise<AppendedMessage>;
  /** bob (device `device`) → alice: an entry in bob's queue authored by that device. */
  fromBob(device: string, id: string): Promise<AppendedMessage>;
  /** Like fromBob/toBob but stored only: this node's feed never hears of it (a lost notice). */
  storeOnly(from: 'alice' | 'bob', device: string, id: string): Promise<AppendedMessage>;
  connect(device: string): Promise<{ session: DeviceSession; transport: FakeTransport }>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function rig(delivery: Partial<ServerContext['delivery']> = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'bimip-session-'));
  const clock = new FakeClock();
  const store = await SqliteMessageStore.open({ path: join(dir, 'bimip.sqlite'), now: () => clock.now() });
  cleanups.push(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const auth = await openTestAuth(dir);
  cleanups.push(() => auth.store.close());
  const feed = new UserFeed<DeviceSession>(BOB, 1024);
  // The feed above is driven directly; hub, presence and push hook are real but unused by these tests.
  const logger = pino({ level: 'silent' });
  const hub = new LocalHub(16);
  const router = new Router(hub, MemoryBus.standalone(), new ServerMetrics({ defaultMetrics: false }), logger, { ownership: new MemoryDeviceOwnership() });
  const ctx: ServerContext = {
    store,
    contacts: store,
    presence: new PresenceService({ presence: new MemoryPresenceStore(), contacts: store, router, clock, logger }),
    router,
    pushHook: noPushHook,
    tokens: auth.tokens,
    metrics: new ServerMetrics({ defaultMetrics: false }),
    logger,
    clock,
    limits: DEFAULT_LIMITS,
    delivery: { window: 3, sendBufferBytes: 1000, readBatch: 256, slowConsumerMs: 10_000, maxBufferedBytes: 1 << 30, replayBytes: 1 << 20, ...delivery },
    publishEntries: (entries) => feed.add(entries.filter((entry) => entry.eid === BOB)),
  };
  const append = async (from: string, device: string, to: string, id: string, target = '', announce = true): Promise<AppendedMessage> => {
    const appended = await store.appendMessage({
      senderEid: from,
      senderDevice: device,
      clientId: id,
      recipientEid: to,
      recipientDevice: target,
      encodeBody: ({ signalId, storedAt }) =>
        pb.Message.encode({
          id,
          signalId,
          from: { eid: from, connectionResourceId: device },
          to: { eid: to, connectionResourceId: target },
          type: 1,
          status: 1,
          timestamp: storedAt,
          serverTimestamp: storedAt,
          payload: new TextEncoder().encode(id),
        }).finish(),
    });
    if (announce) ctx.publishEntries(appended.entries);
    return appended;
  };
  return {
    store,
    feed,
    ctx,
    clock,
    toBob: (id, target) => append(ALICE, 'a1', BOB, id, target),
    fromBob: (device, id) => append(BOB, device, ALICE, id),
    storeOnly: (from, device, id) => (from === 'bob' ? append(BOB, device, ALICE, id, '', false) : append(ALICE, device, BOB, id, '', false)),
    async connect(device) {
      const transport = new FakeTransport();
      const principal = { eid: BOB, deviceId: device, expiresAt: clock.now() + 3_600_000, jti: `jti-${device}`, issuedAt: 0 };
      const session = new DeviceSession(principal, transport, feed, ctx, DEFAULT_SESSION_LIMITS);
      feed.sessions.set(device, session);
      await session.start();
      await settle();
      return { session, transport };
    },
  };
}

async function sendMany(count: number, send: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < count; i++) await send(i);
  await settle();
}

describe('session - connect and caught-up marker', () => {
  it('session - a first-time device starts at the head, gets no history and the marker with head, cursor, first, epoch', async () => {
    const r = await rig();
    await sendMany(2, (i) => r.toBob(`old-${i}`));
    const { transport } = await r.connect('b1');
    expect(transport.messageOffsets()).toEqual([]);
    const [marker, ...rest] = transport.syncs();
    expect(rest).toEqual([]);
    const info = await r.store.queueInfo(BOB);
    expect(marker).toMatchObject({ id: '', type: SyncType.RESPONSE, headOffset: 2, cursor: 2, firstOffset: 1, epoch: info.epoch });
    expect(marker!.epoch).not.toBe('');
    expect(marker!.timestamp).toBe(r.clock.now());
    expect(await r.store.getCursor(BOB, 'b1')).toBe(2);
  });

  it('session - a first-time device on an empty queue gets head 0, cursor 0, first 1', async () => {
    const r = await rig();
    const { transport } = await r.connect('b1');
    expect(transport.syncs()).toEqual([expect.objectContaining({ type: SyncType.RESPONSE, headOffset: 0, cursor: 0, firstOffset: 1 })]);
    expect(await r.store.getCursor(BOB, 'b1')).toBe(0);
  });

  it('session - a returning device gets the entries after its cursor in order, then the marker, then live entries', async () => {
    const r = await rig({ window: 10 });
    await sendMany(4, (i) => r.toBob(`m-${i}`));
    await r.store.commitCursor(BOB, 'b1', 1);
    const { transport } = await r.connect('b1');
    expect(transport.messageOffsets()).toEqual([2, 3, 4]);
    const frames = transport.frames();
    expect(frames.map((frame) => frame.route)).toEqual([Route.Message, Route.Message, Route.Message, Route.Sync]);
    expect(transport.syncs()[0]).toMatchObject({ id: '', headOffset: 4, cursor: 1, firstOffset: 1 });
    await r.toBob('live');
    await settle();
    expect(transport.messageOffsets()).toEqual([2, 3, 4, 5]);
  });

  it('session - a pushed message carries the receiver user_offset, signal_id and status SENT', async () => {
    const r = await rig();
    // alice writes herself twice so her offsets run ahead of bob's.
    await r.store.appendMessage({
      senderEid: ALICE,
      senderDevice: 'a1',
      clientId: 'note-1',
      recipientEid: ALICE,
      recipientDevice: '',
      encodeBody: () => new Uint8Array(),
    });
    await r.store.appendMessage({
      senderEid: ALICE,
      senderDevice: 'a1',
      clientId: 'note-2',
      recipientEid: ALICE,
      recipientDevice: '',
      encodeBody: () => new Uint8Array(),
    });
    const { transport } = await r.connect('b1');
    const appended = await r.toBob('hello');
    await settle();
    expect(appended.senderOffset).toBe(3);
    const message = transport.frames().find((frame) => frame.field === 'message')!.value as Message;
    expect(message.userOffset).toBe(1);
    expect(message.signalId).toBe(appended.signalId);
    expect(message.status).toBe(1);
    expect(message.id).toBe('hello');
  });

  it('session - the caught-up marker waits until the backlog after the cursor is pushed', async () => {
    const r = await rig({ window: 3 });
    await sendMany(5, (i) => r.toBob(`m-${i}`));
    await r.store.commitCursor(BOB, 'b1', 0);
    const { session, transport } = await r.connect('b1');
    expect(transport.messageOffsets()).toEqual([1, 2, 3]);
    expect(transport.syncs()).toEqual([]);
    await session.commit(3);
    await settle();
    expect(transport.messageOffsets()).toEqual([1, 2, 3, 4, 5]);
    expect(transport.syncs()).toEqual([expect.objectContaining({ headOffset: 5, firstOffset: 1 })]);
    expect(transport.frames().at(-1)?.field).toBe('sync');
  });
});

describe('session - window', () => {
  it('session - at most `window` uncommitted entries are pushed; commits release more', async () => {
    const r = await rig({ window: 3 });
    const { session, transport } = await r.connect('b1');
    await sendMany(5, (i) => r.toBob(`m-${i}`));
    expect(transport.messageOffsets()).toEqual([1, 2, 3]);
    expect(session.inFlight).toBe(3);
    await session.commit(1);
    await settle();
    expect(transport.messageOffsets()).toEqual([1, 2, 3, 4]);
    await session.commit(4);
    await settle();
    expect(transport.messageOffsets()).toEqual([1, 2, 3, 4, 5]);
    expect(session.inFlight).toBe(1);
    await sendMany(3, (i) => r.toBob(`n-${i}`));
    expect(transport.messageOffsets()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('session - entries the device authored are skipped and take no window slot', async () => {
    const r = await rig({ window: 3 });
    const { session, transport } = await r.connect('b1');
    await r.toBob('in-1'); // 1
    await r.fromBob('b1', 'out-1'); // 2, authored by b1
    await r.toBob('in-2'); // 3
    await r.fromBob('b1', 'out-2'); // 4, authored by b1
    await r.fromBob('b1', 'out-3'); // 5, authored by b1
    await r.toBob('in-3'); // 6
    await r.toBob('in-4'); // 7
    await settle();
    expect(transport.messageOffsets()).toEqual([1, 3, 6]);
    expect(session.inFlight).toBe(3);
    await session.commit(6);
    await settle();
    expect(transport.messageOffsets()).toEqual([1, 3, 6, 7]);
  });

  it('session - entries authored by another device of the same user are pushed', async () => {
    const r = await rig({ window: 3 });
    const { transport } = await r.connect('b1');
    await r.fromBob('b2', 'from-laptop');
    await settle();
    expect(transport.messageOffsets()).toEqual([1]);
  });

  it('session - entries targeted at another device are skipped; the target device gets them', async () => {
    const r = await rig({ window: 3 });
    const b1 = await r.connect('b1');
    const b2 = await r.connect('b2');
    await r.toBob('all-1'); // 1
    await r.toBob('only-b2-1', 'b2'); // 2
    await r.toBob('only-b2-2', 'b2'); // 3
    await r.toBob('only-b1', 'b1'); // 4
    await r.toBob('all-2'); // 5
    await settle();
    expect(b1.transport.messageOffsets()).toEqual([1, 4, 5]);
    expect(b2.transport.messageOffsets()).toEqual([1, 2, 3]);
    await b2.session.commit(3);
    await settle();
    expect(b2.transport.messageOffsets()).toEqual([1, 2, 3, 5]);
  });

  it('session - a skipped backlog read from the store does not stall delivery', async () => {
    const r = await rig({ window: 2, readBatch: 2 });
    await r.store.commitCursor(BOB, 'b1', 0);
    // Stored but never announced here, so nothing is cached: the session must read the store.
    for (let i = 0; i < 5; i++) await r.storeOnly('bob', 'b1', `mine-${i}`); // 1..5 authored by b1
    await r.storeOnly('alice', 'a1', 'theirs'); // 6
    expect(r.feed.cached(1)).toBeUndefined();
    const { transport } = await r.connect('b1');
    expect(transport.messageOffsets()).toEqual([6]);
    expect(transport.syncs()).toEqual([expect.objectContaining({ headOffset: 6, cursor: 0 })]);
  });
});

describe('session - commit', () => {
  it('session - a commit lower than the cursor is ignored and nothing is re-sent', async () => {
    const r = await rig({ window: 10 });
    const { session, transport } = await r.connect('b1');
    await sendMany(4, (i) => r.toBob(`m-${i}`));
    await session.commit(3);
    await session.commit(1);
    await settle();
    expect(session.cursor).toBe(3);
    expect(await r.store.getCursor(BOB, 'b1')).toBe(3);
    expect(transport.messageOffsets()).toEqual([1, 2, 3, 4]);
  });

  it('session - a commit above the head is rejected with CommitAboveHeadError (400) and moves nothing', async () => {
    const r = await rig();
    const { session } = await r.connect('b1');
    await sendMany(2, (i) => r.toBob(`m-${i}`));
    await session.commit(1);
    const rejection = session.commit(3);
    await expect(rejection).rejects.toBeInstanceOf(CommitAboveHeadError);
    await expect(rejection).rejects.toMatchObject({ code: 400 });
    expect(session.cursor).toBe(1);
    expect(await r.store.getCursor(BOB, 'b1')).toBe(1);
  });

  it('session - a commit up to the store head the feed has not heard of yet is accepted', async () => {
    const r = await rig();
    const { session } = await r.connect('b1');
    // Stored but never announced to this node's feed (e.g. a lost bus notice).
    await r.storeOnly('alice', 'a1', 'quiet');
    expect(r.feed.head).toBe(0);
    await session.commit(1);
    expect(session.cursor).toBe(1);
    expect(await r.store.getCursor(BOB, 'b1')).toBe(1);
  });

  it('session - nothing at or below a commit is pushed, even entries not yet pushed', async () => {
    const r = await rig({ window: 2 });
    const { session, transport } = await r.connect('b1');
    await sendMany(6, (i) => r.toBob(`m-${i}`));
    expect(transport.messageOffsets()).toEqual([1, 2]);
    await session.commit(5);
    await settle();
    expect(transport.messageOffsets()).toEqual([1, 2, 6]);
  });

  it('session - a new connection of the same device resumes after its committed cursor', async () => {
    const r = await rig({ window: 10 });
    const first = await r.connect('b1');
    await sendMany(4, (i) => r.toBob(`m-${i}`));
    await first.session.commit(2);
    first.transport.close(4009, 'replaced');
    const second = await r.connect('b1');
    expect(second.transport.messageOffsets()).toEqual([3, 4]);
    expect(second.transport.syncs()[0]).toMatchObject({ cursor: 2, headOffset: 4 });
  });
});

describe('session - backpressure', () => {
  it('session - pushing pauses while the send buffer is over its limit and resumes on drain', async () => {
    const r = await rig({ window: 10, sendBufferBytes: 1000 });
    const { transport } = await r.connect('b1');
    await r.toBob('before');
    await settle();
    expect(transport.messageOffsets()).toEqual([1]);
    transport.setBufferedBytes(5000);
    await sendMany(3, (i) => r.toBob(`m-${i}`));
    expect(transport.messageOffsets()).toEqual([1]);
    expect(transport.drainWaiters).toBe(1);
    // Still above half the limit: the session keeps waiting.
    transport.setBufferedBytes(700);
    await settle();
    expect(transport.messageOffsets()).toEqual([1]);
    transport.drain();
    await settle();
    expect(transport.messageOffsets()).toEqual([1, 2, 3, 4]);
  });

  it('session - a transport that closes while paused stops pushing', async () => {
    const r = await rig({ window: 10 });
    const { transport } = await r.connect('b1');
    transport.setBufferedBytes(5000);
    await sendMany(2, (i) => r.toBob(`m-${i}`));
    transport.close(1001, 'going away');
    await settle();
    expect(transport.messageOffsets()).toEqual([]);
  });
});
