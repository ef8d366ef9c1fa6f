/**
 * SPEC §2 + §7.3 across nodes (issue #8, device ownership with a fencing generation): two
 * BimipServers in one process over real sockets, sharing one SqliteMessageStore object (the single
 * source of truth), one MemoryBroker, one presence store and one ownership engine (memory, or Redis
 * with Redis presence — its liveness is the presence heartbeat). Each node sees the store through a
 * NodeCursorView that keeps cursor commits pending per node, as PostgreSQL instances do, and never
 * flushes them by itself within a test: only the handoff can make node 1's commit visible to node 2.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenIssuer } from '../../src/auth/token-issuer.js';
import { MemoryBroker, type MemoryBus } from '../../src/bus/memory/memory-bus.js';
import { BimipConnection } from '../../src/client/index.js';
import type { DeviceOwnership } from '../../src/core/device-ownership.js';
import type { PresenceStore } from '../../src/core/presence-store.js';
import { MemoryDeviceOwnership } from '../../src/ownership/memory/memory-device-ownership.js';
import { RedisDeviceOwnership } from '../../src/ownership/redis/redis-device-ownership.js';
import { MemoryPresenceStore } from '../../src/presence/memory/memory-presence-store.js';
import { RedisPresenceStore } from '../../src/presence/redis/redis-presence-store.js';
import { BimipServer, type BimipServerOptions } from '../../src/server/bimip-server.js';
import { SqliteMessageStore } from '../../src/store/sqlite/sqlite-message-store.js';
import { openTestAuth, takeEntries, tempDir, TEST_SECRET } from '../helpers/harness.js';
import { NodeCursorView } from '../helpers/node-cursor-view.js';
import { RedisTestKit, until } from '../helpers/redis.js';

const BOB = 'bob@example.com';
const ALICE = 'alice@example.com';
/** Longer than any test: a commit reaches the shared store only through flushCursor. */
const LAZY_FLUSH_MS = 60_000;

interface Engines {
  /** Presence and ownership for node i (shared data). */
  node(nodeId: string): Promise<{ presence: PresenceStore; ownership: DeviceOwnership }>;
  cleanup(): Promise<void>;
}

const ENGINES: Record<string, () => Engines> = {
  memory: () => {
    const presence = new MemoryPresenceStore();
    const dead = new Set<string>();
    const ownership = new MemoryDeviceOwnership({ nodeAlive: (nodeId) => !dead.has(nodeId) });
    return { node: async () => ({ presence, ownership }), cleanup: async () => undefined };
  },
  redis: () => {
    const kit = new RedisTestKit();
    return {
      node: async () => {
        const redis = await kit.client({ enableOfflineQueue: false, maxRetriesPerRequest: 0 });
        return { presence: new RedisPresenceStore({ redis, prefix: kit.prefix }), ownership: new RedisDeviceOwnership({ redis, prefix: kit.prefix }) };
      },
      cleanup: () => kit.cleanup(),
    };
  },
};

interface Cluster {
  nodes: BimipServer[];
  buses: MemoryBus[];
  shared: SqliteMessageStore;
  ownership: DeviceOwnership;
  connect(node: BimipServer, eid: string, device: string): Promise<BimipConnection>;
}

let teardown: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const step of teardown.reverse()) await step().catch(() => undefined);
  teardown = [];
});

async function startCluster(engineName: string, perNode: Array<Partial<BimipServerOptions>> = [{}, {}]): Promise<Cluster> {
  const dataDir = tempDir();
  teardown.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  const shared = await SqliteMessageStore.open({ path: join(dataDir, 'bimip.sqlite') });
  teardown.push(() => shared.close());
  const auth = await openTestAuth(dataDir);
  teardown.push(() => auth.store.close());
  const engines = ENGINES[engineName]!();
  teardown.push(() => engines.cleanup());
  const broker = new MemoryBroker();
  const nodes: BimipServer[] = [];
  const buses: MemoryBus[] = [];
  let ownership: DeviceOwnership | undefined;
  for (const [i, overrides] of perNode.entries()) {
    const { presence, ownership: own } = await engines.node(`n${i + 1}`);
    ownership ??= own;
    const bus = broker.connect(`n${i + 1}`);
    buses.push(bus);
    const server = await BimipServer.start({
      host: '127.0.0.1',
      port: 0,
      store: new NodeCursorView(shared, LAZY_FLUSH_MS),
      contacts: shared,
      bus,
      presence,
      ownership: own,
      tokens: auth.tokens,
      session: { ratePerSecond: 0 },
      logger: pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' }),
      ...overrides,
    });
    teardown.push(() => server.stop());
    nodes.push(server);
  }
  const issuer = new TokenIssuer(TEST_SECRET);
  const clients: BimipConnection[] = [];
  teardown.push(async () => void (await Promise.all(clients.map((client) => client.close()))));
  return {
    nodes,
    buses,
    shared,
    ownership: ownership!,
    async connect(node, eid, device) {
      const client = await BimipConnection.connect({ url: node.url, token: await issuer.issueAccessToken({ eid, deviceId: device }) });
      clients.push(client);
      return client;
    },
  };
}

/** Bob's phone on node 1 has received and committed 5 messages from Alice; node 1 still holds the commit. */
async function committedOnNode1(cluster: Cluster): Promise<BimipConnection> {
  const [n1] = cluster.nodes;
  // A device seen before, with a durable cursor 0 (a first-time device would start at the head anyway).
  await cluster.shared.commitCursor(BOB, 'phone', 0);
  const alice = await cluster.connect(n1!, ALICE, 'laptop');
  await alice.caughtUp;
  const bob = await cluster.connect(n1!, BOB, 'phone');
  expect((await bob.caughtUp).cursor).toBe(0);
  for (let i = 1; i <= 5; i++) expect((await alice.send({ to: BOB, payload: `m${i}` })).code).toBe(200);
  expect((await takeEntries(bob, 5)).map((entry) => entry.offset)).toEqual([1, 2, 3, 4, 5]);
  bob.commit(5);
  // Frames are read in order: once the PONG is back, node 1 has read the commit. Not flushed yet:
  await bob.ping();
  expect(await cluster.shared.getCursor(BOB, 'phone')).toBe(0);
  return bob;
}

describe.each(['memory', 'redis'])('cluster device handoff (%s ownership)', (engineName) => {
  it('cluster - a device reconnecting on node 2: node 1 closes 4009 and flushes, node 2 resumes after the cursor committed on node 1 and pushes nothing ≤ it', async () => {
    const cluster = await startCluster(engineName);
    const [n1, n2] = cluster.nodes;
    const bobOnNode1 = await committedOnNode1(cluster);

    const startedAt = Date.now();
    const bobOnNode2 = await cluster.connect(n2!, BOB, 'phone');
    expect((await bobOnNode1.closed).code).toBe(4009);
    const marker = await bobOnNode2.caughtUp;
    const handoffMs = Date.now() - startedAt;
    expect(marker.cursor).toBe(5);
    expect(marker.headOffset).toBe(5);
    expect(bobOnNode2.entries.size).toBe(0);
    // Answered by node 1, not the 2 s bound.
    expect(handoffMs).toBeLessThan(1500);
    expect(await cluster.ownership.owner(BOB, 'phone')).toMatchObject({ nodeId: 'n2' });

    // Live delivery goes on from the new node, starting right after the cursor.
    const alice = await cluster.connect(n1!, ALICE, 'tablet');
    await alice.caughtUp;
    expect((await alice.send({ to: BOB, payload: 'm6' })).code).toBe(200);
    expect((await takeEntries(bobOnNode2, 1)).map((entry) => entry.offset)).toEqual([6]);
  });

  it('cluster - a normal close flushes the cursor and releases the device: a later connect on another node does not wait', async () => {
    const cluster = await startCluster(engineName);
    const [, n2] = cluster.nodes;
    const bobOnNode1 = await committedOnNode1(cluster);
    await bobOnNode1.close();
    await until(async () => (await cluster.ownership.owner(BOB, 'phone')) === undefined, 'the release of the closed connection');
    expect(await cluster.shared.getCursor(BOB, 'phone')).toBe(5);

    const bobOnNode2 = await cluster.connect(n2!, BOB, 'phone');
    expect((await bobOnNode2.caughtUp).cursor).toBe(5);
    expect(bobOnNode2.entries.size).toBe(0);
  });
});

describe('cluster device handoff: shutdown, fencing, silent nodes', () => {
  it('cluster - a node shutting down flushes and releases its devices: they reconnect elsewhere at once, from their committed cursor', async () => {
    const cluster = await startCluster('memory');
    const [n1, n2] = cluster.nodes;
    const bobOnNode1 = await committedOnNode1(cluster);
    await n1!.stop();
    expect((await bobOnNode1.closed).code).toBe(1001);
    expect(await cluster.ownership.owner(BOB, 'phone')).toBeUndefined();

    const bobOnNode2 = await cluster.connect(n2!, BOB, 'phone');
    expect((await bobOnNode2.caughtUp).cursor).toBe(5);
    expect(bobOnNode2.entries.size).toBe(0);
  });

  it('cluster - fencing: a claim older than the connection it reaches closes nothing; a newer one closes it with 4009', async () => {
    const cluster = await startCluster('memory');
    const [n1] = cluster.nodes;
    await (await cluster.connect(n1!, ALICE, 'laptop')).caughtUp;
    const bob = await cluster.connect(n1!, BOB, 'phone');
    await bob.caughtUp;
    const current = (await cluster.ownership.owner(BOB, 'phone'))!;
    expect(current.generation).toBeGreaterThan(1);
    const claim = { kind: 'claim', eid: BOB, device: 'phone', connectionId: 'elsewhere', previousNode: '', previousConnection: '' } as const;

    // A claim notice that lost the race (an older generation) arrives late from node 2.
    await cluster.buses[1]!.subscribe(BOB);
    await cluster.buses[1]!.publish({ user: BOB }, { ...claim, generation: current.generation - 1 });
    expect((await bob.ping()).id).not.toBe('');
    expect(bob.isOpen).toBe(true);

    await cluster.buses[1]!.publish({ user: BOB }, { ...claim, generation: current.generation + 1 });
    expect((await bob.closed).code).toBe(4009);
  });

  it('cluster - a silent live node is waited for at most the handoff timeout, then the new session starts', async () => {
    const cluster = await startCluster('memory', [{}, { handoffTimeoutMs: 300 }]);
    const [, n2] = cluster.nodes;
    await committedOnNode1(cluster);
    // Node 1 is alive (it owns the device, its heartbeat is fine) but hears nothing from the bus.
    await cluster.buses[0]!.close();

    const startedAt = Date.now();
    const bobOnNode2 = await cluster.connect(n2!, BOB, 'phone');
    await bobOnNode2.caughtUp;
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(280);
    expect(await cluster.ownership.owner(BOB, 'phone')).toMatchObject({ nodeId: 'n2' });
  });
});
