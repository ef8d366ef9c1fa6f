/**
 * RedisBus: the Bus contract on Redis 7 (127.0.0.1:6379 or BIMIP_TEST_REDIS_URL), then what only a
 * networked bus has to get right: connections that drop (CLIENT KILL from an admin connection; Redis
 * itself keeps running) and a publisher that must fail rather than queue. Each test has its own prefix
 * and removes its keys (the bus keeps none: pub/sub channels vanish with their subscribers).
 */
import { pino } from 'pino';
import type { Redis, RedisOptions } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { REDIS_BUS_PUBLISHER_OPTIONS, REDIS_BUS_SUBSCRIBER_OPTIONS, RedisBus } from '../../src/bus/redis/redis-bus.js';
import type { ClusterMessage } from '../../src/core/bus.js';
import { RedisTestKit, until } from '../helpers/redis.js';
import { busContract } from './bus.contract.js';

const logger = pino({ level: 'silent' });

busContract('redis', async () => {
  const kit = new RedisTestKit();
  const buses: RedisBus[] = [];
  return {
    connect: async (nodeId) => {
      const publisher = await kit.client(REDIS_BUS_PUBLISHER_OPTIONS);
      const subscriber = await kit.client(REDIS_BUS_SUBSCRIBER_OPTIONS);
      const bus = await RedisBus.start({ nodeId, publisher, subscriber, prefix: kit.prefix, logger });
      buses.push(bus);
      return bus;
    },
    cleanup: async () => {
      for (const bus of buses.splice(0)) await bus.close();
      await kit.cleanup();
    },
  };
});

describe('RedisBus - connections that drop', () => {
  let kit: RedisTestKit;
  const buses: RedisBus[] = [];
  afterEach(async () => {
    for (const bus of buses.splice(0)) await bus.close();
    await kit.cleanup();
  });

  /** A node whose clients reconnect after `reconnectMs`, with both clients at hand. */
  async function node(nodeId: string, reconnectMs = 200, extra: RedisOptions = {}) {
    const retryStrategy = () => reconnectMs;
    const publisher = await kit.client({ ...REDIS_BUS_PUBLISHER_OPTIONS, retryStrategy, ...extra });
    const subscriber = await kit.client({ ...REDIS_BUS_SUBSCRIBER_OPTIONS, retryStrategy, ...extra });
    const bus = await RedisBus.start({ nodeId, publisher, subscriber, prefix: kit.prefix, logger });
    buses.push(bus);
    const received: ClusterMessage[] = [];
    bus.onMessage((message) => received.push(message));
    return { bus, publisher, subscriber, received };
  }

  /** Closes `client`'s connection from the server side and waits until the client has noticed. */
  async function kill(admin: Redis, client: Redis): Promise<void> {
    const id = String(await client.client('ID'));
    expect(await admin.client('KILL', 'ID', id)).toBe(1);
    await until(() => client.status !== 'ready', 'the client to notice the kill', 2000);
  }

  const seen = (received: ClusterMessage[], eid: string, head: number) => received.some((m) => m.kind === 'entries' && m.eid === eid && m.head === head);

  it('redis bus - after the subscriber connection is killed, every subscribed channel (users and broadcast) is subscribed again', async () => {
    kit = new RedisTestKit();
    const admin = await kit.client();
    const a = await node('node-a');
    const b = await node('node-b');
    await b.bus.subscribe('u1@example.com');
    await b.bus.subscribe('u2@example.com');
    const idBefore = String(await b.subscriber.client('ID'));
    await kill(admin, b.subscriber);
    await until(() => b.subscriber.status === 'ready', 'the subscriber to reconnect');
    expect(String(await b.subscriber.client('ID'))).not.toBe(idBefore);
    // The resubscription follows 'ready' closely; publish until each channel delivers (bounded).
    let head = 0;
    await until(async () => {
      head++;
      await a.bus.publish({ user: 'u1@example.com' }, { kind: 'entries', eid: 'u1@example.com', head });
      await a.bus.publish({ user: 'u2@example.com' }, { kind: 'entries', eid: 'u2@example.com', head });
      await a.bus.publish('broadcast', { kind: 'revoked', jtis: [`j${head}`] });
      await new Promise((resolve) => setTimeout(resolve, 20));
      return seen(b.received, 'u1@example.com', head) && seen(b.received, 'u2@example.com', head) && b.received.some((m) => m.kind === 'revoked');
    }, 'delivery on every channel after the reconnect');
    const channels = [`${kit.prefix}bus:0:u:u1@example.com`, `${kit.prefix}bus:0:u:u2@example.com`, `${kit.prefix}bus:0:all`];
    expect(await admin.pubsub('NUMSUB', ...channels)).toEqual(channels.flatMap((channel) => [channel, channel.endsWith('all') ? 2 : 1]));
  });

  it('redis bus - publish rejects at once while the publisher is disconnected (nothing queued), and works again after it reconnects', async () => {
    kit = new RedisTestKit();
    const admin = await kit.client();
    const a = await node('node-a', 500);
    const b = await node('node-b');
    await b.bus.subscribe('u1@example.com');
    await kill(admin, a.publisher);
    const startedAt = Date.now();
    const attempts = await Promise.allSettled(
      Array.from({ length: 100 }, (_, i) => a.bus.publish({ user: 'u1@example.com' }, { kind: 'entries', eid: 'u1@example.com', head: i + 1 })),
    );
    expect(Date.now() - startedAt).toBeLessThan(100);
    expect(attempts.every((attempt) => attempt.status === 'rejected')).toBe(true);
    await until(() => a.publisher.status === 'ready', 'the publisher to reconnect');
    await a.bus.publish({ user: 'u1@example.com' }, { kind: 'entries', eid: 'u1@example.com', head: 1000 });
    await until(() => seen(b.received, 'u1@example.com', 1000), 'the message after the reconnect');
    // None of the refused publishes was sent later.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(b.received).toEqual([{ kind: 'entries', eid: 'u1@example.com', head: 1000 }]);
  });

  it('redis bus - a subscribe while the subscriber is disconnected rejects at once, and the channel is subscribed once it is back', async () => {
    kit = new RedisTestKit();
    const admin = await kit.client();
    const a = await node('node-a');
    const b = await node('node-b', 500);
    await kill(admin, b.subscriber);
    await expect(b.bus.subscribe('late@example.com')).rejects.toThrow();
    await until(() => b.subscriber.status === 'ready', 'the subscriber to reconnect');
    let head = 0;
    await until(async () => {
      await a.bus.publish({ user: 'late@example.com' }, { kind: 'entries', eid: 'late@example.com', head: ++head });
      await new Promise((resolve) => setTimeout(resolve, 20));
      return b.received.length > 0;
    }, 'delivery on the channel subscribed after the reconnect');
  });

  it('redis bus - publishes awaiting Redis are bounded: past the bound publish rejects at once', async () => {
    kit = new RedisTestKit();
    const publisher = await kit.client(REDIS_BUS_PUBLISHER_OPTIONS);
    const subscriber = await kit.client(REDIS_BUS_SUBSCRIBER_OPTIONS);
    const bus = await RedisBus.start({ nodeId: 'n', publisher, subscriber, prefix: kit.prefix, logger, maxPendingPublishes: 10 });
    buses.push(bus);
    const attempts = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => bus.publish('broadcast', { kind: 'revoked', jtis: [String(i)] })));
    expect(attempts.filter((attempt) => attempt.status === 'fulfilled')).toHaveLength(10);
    await bus.publish('broadcast', { kind: 'revoked', jtis: ['after'] });
  });

  it('redis bus - nodes on different db indexes do not hear each other (SPEC §11: the db index separates deployments)', async () => {
    kit = new RedisTestKit();
    const a = await node('node-a', 200, { db: 0 });
    const b = await node('node-b', 200, { db: 1 });
    const c = await node('node-c', 200, { db: 1 });
    await a.bus.publish('broadcast', { kind: 'revoked', jtis: ['db0'] });
    await c.bus.publish('broadcast', { kind: 'revoked', jtis: ['db1'] });
    await until(() => b.received.length === 1, 'the same-db broadcast');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(b.received).toEqual([{ kind: 'revoked', jtis: ['db1'] }]);
    expect(a.received).toEqual([]);
  });
});
