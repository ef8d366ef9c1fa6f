/**
 * SPEC §11 Faults — Redis unreachable, then back: on a PRIVATE redis-server (a child of this test,
 * killed and restarted by its PID; the machine's Redis is never touched) under 2 real nodes. Sends
 * keep getting Ack 200 (PostgreSQL is the truth), /healthz says degraded, devices on the other node
 * get the messages at the latest when Redis returns or when they reconnect, and nothing acked is lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, type Ack, type BimipConnection } from '../../../src/client/index.js';
import { messagesOf, takeMessages } from '../../helpers/harness.js';
import {
  deleteRedisKeys,
  health,
  healthUntil,
  privateRedis,
  startCluster,
  takeBuffered,
  type Cluster,
  type PrivateRedis,
  N1,
  N2,
} from '../../helpers/cluster.js';
import { within } from '../../helpers/wait.js';

let redis: PrivateRedis | undefined;
let cluster: Cluster | undefined;
beforeAll(async () => {
  redis = await privateRedis();
  cluster = await startCluster({ nodes: 2, redisUrl: redis.url });
}, 60_000);
afterAll(async () => {
  try {
    await cluster?.close();
  } finally {
    if (redis) {
      await deleteRedisKeys(redis.url, cluster?.prefix ?? 'none:').catch(() => undefined);
      await redis.kill();
    }
  }
}, 60_000);

const A = 'redis-a@example.com';
const B = 'redis-b@example.com';

/** State shared by the steps below (they run in order). */
const acked = new Map<string, Ack>();
let aPhone: BimipConnection;
let bPhone: BimipConnection;
let redisBackAt = 0;

describe('cluster - Redis restarted mid-run', () => {
  it('redis down - sends on node 1 still get Ack 200 (stored) and /healthz answers 200 degraded on both nodes', async () => {
    const c = cluster!;
    // B's laptop is known (cursor 0) and offline; B's phone is online on node 2.
    await (await c.connect(N1, B, 'laptop')).close();
    bPhone = await c.connect(N2, B, 'phone');
    aPhone = await c.connect(N1, A, 'phone');
    const before = await aPhone.send({ id: 'before', to: B, payload: 'before' });
    expect(before.code).toBe(Code.OK);
    acked.set('before', before);
    expect((await takeMessages(bPhone, 1, 3000))[0]!.message.id).toBe('before');
    expect(await health(c.node(N1))).toEqual({ status: 200, body: { status: 'ok' } });

    await redis!.kill();
    for (const node of [N1, N2]) {
      const degraded = await healthUntil(c.node(node), (h) => h.body.status === 'degraded', `node ${node + 1} /healthz degraded`, 5000);
      expect(degraded.status, 'degraded, not dead').toBe(200);
    }
    for (let i = 0; i < 10; i++) {
      const id = `down-${i}`;
      const ack = await within(aPhone.send({ id, to: B, payload: id }), `Ack of ${id} while Redis is down`, 5000);
      expect(ack, id).toMatchObject({ code: Code.OK, userOffset: acked.size + 1 });
      acked.set(id, ack);
    }
    expect(aPhone.isOpen).toBe(true);
    expect(bPhone.isOpen).toBe(true);
  }, 30_000);

  it('redis down - a device reconnecting (to the other node) while Redis is down catches up from the store', async () => {
    const c = cluster!;
    expect(acked.size, 'the previous step stored messages').toBe(11);
    const laptop = await c.connect(N2, B, 'laptop');
    const caughtUp = messagesOf(await takeBuffered(laptop.entries));
    expect(caughtUp.map((entry) => entry.message.id)).toEqual([...acked.keys()]);
    expect(caughtUp.map((entry) => entry.offset)).toEqual([...acked.keys()].map((_, i) => i + 1));
    await laptop.close();
  }, 20_000);

  it('redis back - delivery across nodes resumes, /healthz ok again, and nothing acked is lost or repeated', async () => {
    const c = cluster!;
    expect(acked.size, 'the first step stored messages').toBe(11);
    await redis!.start();
    redisBackAt = Date.now();
    for (const node of [N1, N2])
      await healthUntil(c.node(node), (h) => h.status === 200 && h.body.status === 'ok', `node ${node + 1} /healthz ok after Redis returned`, 15_000);

    // B's phone (online on node 2 the whole time) has every message sent while Redis was down.
    const during = await takeMessages(bPhone, 10, 10_000);
    expect(during.map((entry) => entry.message.id)).toEqual([...acked.keys()].slice(1));
    expect(during.map((entry) => entry.offset)).toEqual(during.map((_, i) => i + 2));

    // Live again: a new message reaches node 2 promptly.
    const sentAt = Date.now();
    const after = await aPhone.send({ id: 'after', to: B, payload: 'after' });
    expect(after.code).toBe(Code.OK);
    acked.set('after', after);
    const [live] = await takeMessages(bPhone, 1, 5000);
    expect(live!.message.id).toBe('after');
    expect(live!.offset).toBe(12);
    expect(Date.now() - sentAt, 'delivered live after Redis returned').toBeLessThan(3000);

    // The store holds every acked message exactly once, in order, whichever node is asked.
    const laptop = await c.connect(N1, B, 'laptop', { caughtUp: true });
    const { entries, response } = await laptop.sync(0, 100);
    expect(messagesOf(entries).map((entry) => entry.message.id)).toEqual([...acked.keys()]);
    expect(response.headOffset).toBe(acked.size);
    expect(Date.now() - redisBackAt).toBeLessThan(30_000);
  }, 40_000);
});
