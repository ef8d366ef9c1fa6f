/**
 * SPEC §6 F9 + §11 in cluster mode, on 2 real `bimip serve` processes with a push webhook: the
 * outbox is shared in PostgreSQL and every node dispatches from it, so a notice raised on one node
 * is POSTed exactly once in total, and one accepted by a node that is then killed is still
 * delivered by the other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code } from '../../../src/client/index.js';
import { startCluster, type Cluster } from '../../helpers/cluster.js';
import { WebhookReceiver } from '../../helpers/webhook-receiver.js';
import { waitFor } from '../../helpers/wait.js';

const PUSH_SECRET = 'cluster-push-secret-0123456789';
let receiver: WebhookReceiver;
let cluster: Cluster;

beforeAll(async () => {
  receiver = await WebhookReceiver.start();
  cluster = await startCluster({ nodes: 2, env: { BIMIP_PUSH_WEBHOOK_URL: receiver.url, BIMIP_PUSH_WEBHOOK_SECRET: PUSH_SECRET } });
}, 60_000);
afterAll(async () => {
  await cluster?.close();
  await receiver?.stop();
}, 60_000);

describe('cluster - push webhook', () => {
  it('cluster push - messages to an offline known device are POSTed once each, across nodes; the outbox empties', async () => {
    const B = 'push-b@example.com';
    // B's phone is known (it connected once) and now offline everywhere.
    await (await cluster.connect(1, B, 'phone')).close();
    const sender = await cluster.connect(0, 'push-a@example.com', 'phone');
    await new Promise((resolve) => setTimeout(resolve, 300)); // B's cursor (its "known device" mark) is durable within 100 ms
    const ids = Array.from({ length: 20 }, (_, i) => `push-${i}`);
    for (const id of ids) expect((await sender.send({ id, to: B, payload: id })).code).toBe(Code.OK);
    await waitFor(() => new Set(receiver.posts.map((post) => post.body['message_id'])).size === ids.length, '20 distinct notices', 15_000);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // a second POST of any notice would show up here
    const messageIds = receiver.posts.map((post) => post.body['message_id']);
    expect(messageIds.sort()).toEqual([...ids].sort());
    expect(new Set(receiver.posts.map((post) => post.headers['x-bimip-delivery'])).size).toBe(ids.length);
    expect((await cluster.query('SELECT count(*)::int AS n FROM push_outbox')).rows[0]!['n']).toBe(0);
  });

  it('cluster push - a notice accepted while the receiver is down survives the death of the node that accepted it', async () => {
    const B = 'push-d@example.com';
    await (await cluster.connect(1, B, 'phone')).close();
    const sender = await cluster.connect(0, 'push-c@example.com', 'phone');
    await new Promise((resolve) => setTimeout(resolve, 300));
    receiver.answer = 503;
    const before = receiver.posts.length;
    expect((await sender.send({ id: 'survivor', to: B, payload: 'x' })).code).toBe(Code.OK);
    await waitFor(() => receiver.posts.length > before, 'a first (failing) attempt', 15_000);
    await cluster.kill(0);
    receiver.answer = 200;
    // Node 2 takes the row over once node 1's claim (lease) or backoff has passed, and delivers it;
    // the row leaves the outbox only after a 2xx.
    const rows = async (): Promise<number> => (await cluster.query('SELECT count(*)::int AS n FROM push_outbox')).rows[0]!['n'] as number;
    const deadline = Date.now() + 60_000;
    while ((await rows()) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(receiver.posts.filter((post) => post.body['message_id'] === 'survivor').length).toBeGreaterThanOrEqual(2);
    expect(await rows()).toBe(0);
  }, 120_000);
});
