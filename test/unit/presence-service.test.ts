/**
 * PresenceService (SPEC §6 F6, §11) with a fake clock: the 5 s grace period, ttl expiry and stale drop
 * are checked to the millisecond without sleeping; with two nodes over one presence store and bus,
 * that due items and a dead node's users are handled by the node that survives. Real SQLite
 * ContactStore, fake transports.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ContactAction } from '../../src/protocol/index.js';
import { MemoryPresenceStore } from '../../src/presence/memory/memory-presence-store.js';
import { DEFAULT_LIMITS, pb, type Awareness } from '../../src/protocol/index.js';
import type { ServerContext } from '../../src/server/context.js';
import { LocalHub } from '../../src/server/hub.js';
import { Router } from '../../src/server/router.js';
import { MemoryDeviceOwnership } from '../../src/ownership/memory/memory-device-ownership.js';
import { MemoryBroker } from '../../src/bus/memory/memory-bus.js';
import { ServerMetrics } from '../../src/server/metrics.js';
import { PresenceService } from '../../src/server/presence-service.js';
import { DEFAULT_SESSION_LIMITS, DeviceSession } from '../../src/server/session.js';
import { SqliteMessageStore } from '../../src/store/sqlite/sqlite-message-store.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';
import { FakeTransport } from '../helpers/fake-transport.js';
import { openTestAuth } from '../helpers/harness.js';

const A = 'a@example.com';
const B = 'b@example.com';
const C = 'c@example.com';
const GRACE = 5000;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function rig() {
  const dir = mkdtempSync(join(tmpdir(), 'bimip-presence-'));
  const clock = new FakeClock();
  const store = await SqliteMessageStore.open({ path: join(dir, 'bimip.sqlite'), now: () => clock.now() });
  cleanups.push(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const logger = pino({ level: 'silent' });
  const metrics = new ServerMetrics({ defaultMetrics: false });
  const auth = await openTestAuth(dir);
  cleanups.push(() => auth.store.close());
  // One presence store and one bus medium shared by every node of the rig (a cluster in one process).
  const presence = new MemoryPresenceStore({ now: () => clock.now() });
  const broker = new MemoryBroker();
  const limits = { ...DEFAULT_SESSION_LIMITS, ratePerSecond: 0, rateBurst: 0 };

  /** A node: its own hub, router and PresenceService. */
  const node = (nodeId: string) => {
    const hub = new LocalHub(16);
    const router = new Router(hub, broker.connect(nodeId), metrics, logger, { ownership: new MemoryDeviceOwnership() });
    // Poll every 250 ms: the grace (5 s) and the ttls below are multiples, so due items fire to the ms.
    const service = new PresenceService({ presence, contacts: store, router, clock, logger, nodeId, offlineGraceMs: GRACE, pollIntervalMs: 250 });
    cleanups.push(async () => service.stop());
    const ctx = {
      store,
      contacts: store,
      presence: service,
      router,
      pushHook: { notify: () => undefined },
      tokens: auth.tokens,
      metrics,
      logger,
      clock,
      limits: DEFAULT_LIMITS,
      delivery: { window: 512, sendBufferBytes: 1 << 20, readBatch: 256, slowConsumerMs: 10_000, maxBufferedBytes: 4 << 20, replayBytes: 1 << 20 },
      publishEntries: () => undefined,
    } satisfies ServerContext;
    const connect = async (eid: string, device: string) => {
      const transport = new FakeTransport();
      const session = new DeviceSession(
        { eid, deviceId: device, expiresAt: Number.MAX_SAFE_INTEGER, jti: device, issuedAt: 0 },
        transport,
        hub.feedFor(eid),
        ctx,
        limits,
      );
      await router.attach(session);
      await service.connected(session);
      return { session, transport };
    };
    const disconnect = async (session: DeviceSession) => {
      router.detach(session);
      await service.disconnected(session.eid, session.deviceId);
    };
    return { service, connect, disconnect };
  };
  const first = node('n1');

  /** a subscribes to b and b approves: both see each other. */
  const befriend = async (a: string, b: string) => {
    const body = pb.Contact.encode({ action: 1 }).finish();
    await store.applyContactAction({ action: ContactAction.SUBSCRIBE, actorEid: a, actorDevice: 'x', otherEid: b, body });
    await store.applyContactAction({ action: ContactAction.APPROVE, actorEid: b, actorDevice: 'x', otherEid: a, body });
  };
  return { clock, presence, node, service: first.service, connect: first.connect, disconnect: first.disconnect, befriend };
}

function about(transport: FakeTransport, eid: string): Awareness[] {
  return transport.frames().flatMap((frame) => (frame.field === 'awareness' && frame.value.from?.eid === eid ? [frame.value] : []));
}

/** Moves the fake clock in steps, letting each step's async work finish (a janitor or poll tick skips while one runs). */
async function advanceInSteps(clock: FakeClock, ms: number, step = 250): Promise<void> {
  for (let moved = 0; moved < ms; moved += step) {
    clock.advance(Math.min(step, ms - moved));
    await settle();
  }
}

function setRequest(fields: Partial<Awareness>): Awareness {
  return pb.Awareness.create({ type: 1, ...fields }) as Awareness;
}

describe('presence service', () => {
  it('presence - OFFLINE with last_seen exactly when the grace period after the last device ends', async () => {
    const r = await rig();
    await r.befriend(A, B);
    const b = await r.connect(B, 'phone');
    const a = await r.connect(A, 'phone');
    expect(about(b.transport, A).map((x) => x.status)).toEqual([1]);
    const leftAt = r.clock.now();
    await r.disconnect(a.session);
    r.clock.advance(GRACE - 1);
    await settle();
    expect(about(b.transport, A)).toHaveLength(1);
    r.clock.advance(1);
    await settle();
    const updates = about(b.transport, A);
    expect(updates.map((x) => x.status)).toEqual([1, 2]);
    expect(updates[1]!.lastSeen).toBe(leftAt);
  });

  it('presence - a device flapping within the grace period produces no OFFLINE and no second ONLINE', async () => {
    const r = await rig();
    await r.befriend(A, B);
    const b = await r.connect(B, 'phone');
    const a = await r.connect(A, 'phone');
    await r.disconnect(a.session);
    r.clock.advance(GRACE - 100);
    await settle();
    await r.connect(A, 'phone');
    r.clock.advance(GRACE * 3);
    await settle();
    expect(about(b.transport, A).map((x) => x.status)).toEqual([1]);
  });

  it('presence - ttl expiry reverts a device-set state to ONLINE at exactly timestamp + ttl', async () => {
    const r = await rig();
    await r.befriend(A, B);
    const b = await r.connect(B, 'phone');
    const a = await r.connect(A, 'phone');
    await r.service.setByDevice(a.session, setRequest({ status: 3, ttl: 60, timestamp: r.clock.now() }));
    expect(about(b.transport, A).map((x) => x.status)).toEqual([1, 3]);
    r.clock.advance(59_999);
    await settle();
    expect(about(b.transport, A)).toHaveLength(2);
    r.clock.advance(1);
    await settle();
    expect(about(b.transport, A).map((x) => x.status)).toEqual([1, 3, 1]);
  });

  it('presence - awareness whose timestamp + ttl has passed on arrival is dropped', async () => {
    const r = await rig();
    await r.befriend(A, B);
    const b = await r.connect(B, 'phone');
    const a = await r.connect(A, 'phone');
    await r.service.setByDevice(a.session, setRequest({ status: 5, ttl: 10, timestamp: r.clock.now() - 10_000 }));
    expect(about(b.transport, A).map((x) => x.status)).toEqual([1]);
    expect((await r.service.view(A)).status).toBe(1);
  });

  it('presence - the user’s other devices get the change, the setting device does not', async () => {
    const r = await rig();
    const phone = await r.connect(A, 'phone');
    const laptop = await r.connect(A, 'laptop');
    await r.service.setByDevice(phone.session, setRequest({ status: 4 }));
    expect(about(laptop.transport, A).map((x) => x.status)).toContain(4);
    expect(about(phone.transport, A).map((x) => x.status)).not.toContain(4);
  });

  it('visibility - hidden: one OFFLINE without last_seen, then silence; views say OFFLINE 0; shown again: current state', async () => {
    const r = await rig();
    await r.befriend(A, B);
    const b = await r.connect(B, 'phone');
    const a = await r.connect(A, 'phone');
    await r.service.setHidden(a.session, 'v1', true);
    await r.service.setByDevice(a.session, setRequest({ status: 4 }));
    expect(about(b.transport, A).map((x) => [x.status, x.lastSeen])).toEqual([
      [1, r.clock.now()],
      [2, 0],
    ]);
    expect(await r.service.view(A)).toMatchObject({ status: 2, lastSeen: 0 });
    await r.service.setHidden(a.session, 'v2', false);
    expect(about(b.transport, A).at(-1)!.status).toBe(4);
    const echoes = a.transport.frames().filter((frame) => frame.field === 'awarenessVisibility');
    expect(echoes.map((frame) => (frame.value as { type: number }).type)).toEqual([2, 1]);
  });

  it('presence - the offline grace outlives the node the device left from: another node announces OFFLINE on time', async () => {
    const r = await rig();
    await r.befriend(A, B);
    const other = r.node('n2');
    const b = await other.connect(B, 'phone');
    const a = await r.connect(A, 'phone');
    const leftAt = r.clock.now();
    await r.disconnect(a.session);
    r.service.stop(); // n1 dies right after: its poll loop is gone, the due item is in the store
    r.clock.advance(GRACE - 1);
    await settle();
    expect(about(b.transport, A).map((x) => x.status)).toEqual([1]);
    r.clock.advance(1);
    await settle();
    const updates = about(b.transport, A);
    expect(updates.map((x) => x.status)).toEqual([1, 2]);
    expect(updates[1]!.lastSeen).toBe(leftAt);
  });

  it('presence - a dead node: its users turn OFFLINE for others within 15 s with last_seen = its last heartbeat; a user also on a live node stays ONLINE', async () => {
    const r = await rig();
    await r.befriend(A, B);
    await r.befriend(C, B);
    const other = r.node('n2');
    const b = await other.connect(B, 'phone');
    await r.connect(A, 'phone');
    await r.connect(C, 'phone');
    await other.connect(C, 'laptop');
    const startedAt = r.clock.now();
    await advanceInSteps(r.clock, 4500);
    // n1 beats every 3 s and before each janitor run (every 2 s): at +0, +2000, +3000, +4000.
    const lastBeat = startedAt + 4000;
    r.service.stop(); // n1 dies without a word: no disconnects, no more heartbeats
    const diedAt = r.clock.now();
    await advanceInSteps(r.clock, lastBeat + 9000 - 1 - diedAt);
    expect(about(b.transport, A).map((x) => x.status)).toEqual([1]); // its heartbeat still holds
    await advanceInSteps(r.clock, diedAt + 15_000 - r.clock.now());
    const updates = about(b.transport, A);
    expect(updates.map((x) => x.status)).toEqual([1, 2]);
    expect(updates[1]!.lastSeen).toBe(lastBeat);
    expect(about(b.transport, C).map((x) => x.status)).toEqual([1]);
    expect(await other.service.onlineDevices(C)).toEqual(['laptop']);
    expect((await other.service.view(A)).status).toBe(2);
  });

  it('presence - a node whose devices were reaped while it lived registers them again at its next heartbeat', async () => {
    const r = await rig();
    await r.connect(A, 'phone');
    expect(await r.service.onlineDevices(A)).toEqual(['phone']);
    // As if a janitor had judged n1 dead (its heartbeat lapsed during a long pause).
    const { removed } = await r.presence.reapDeadNodes(r.clock.now() + 60_000);
    expect(removed).toEqual([{ eid: A, device: 'phone', nodeId: 'n1' }]);
    expect(await r.service.onlineDevices(A)).toEqual([]);
    await advanceInSteps(r.clock, 3000);
    expect(await r.service.onlineDevices(A)).toEqual(['phone']);
  });

  it('presence - a device that disconnects while the node registers its devices again is not left online', async () => {
    const r = await rig();
    await r.connect(A, 'phone');
    const b = await r.connect(B, 'phone');
    await r.presence.reapDeadNodes(r.clock.now() + 60_000);
    // Hold A's registration at the next heartbeat, so B leaves while the node is busy re-registering.
    const register = r.presence.deviceOnline.bind(r.presence);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let holding = false;
    r.presence.deviceOnline = async (eid, device, nodeId) => {
      if (eid === A && !holding) {
        holding = true;
        await held;
      }
      return register(eid, device, nodeId);
    };
    await advanceInSteps(r.clock, 3000);
    expect(holding).toBe(true);
    await r.disconnect(b.session);
    release();
    await advanceInSteps(r.clock, 3000);
    expect(await r.service.onlineDevices(A)).toEqual(['phone']);
    expect(await r.service.onlineDevices(B)).toEqual([]);
  });
});
