/**
 * SPEC §11 Faults — PostgreSQL unreachable from a node: node 1 reaches PostgreSQL through a TCP
 * proxy this test owns (the machine's PostgreSQL is never stopped); node 2 connects directly. While
 * the proxy is cut, node 1 answers sends with Ack 503 (never a false 200) and /healthz 503; once the
 * proxy is back it recovers by itself (/healthz 200, Ack 200) and every 200 is readable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, type Ack } from '../../../src/client/index.js';
import { messagesOf, takeMessages } from '../../helpers/harness.js';
import { health, healthUntil, startCluster, startPartitionProxy, type Cluster, type PartitionProxy, N1, N2, N3 } from '../../helpers/cluster.js';
import { POSTGRES_URL } from '../../helpers/postgres.js';
import { startTcpProxy, type TcpProxy } from '../../helpers/tcp-proxy.js';
import { within } from '../../helpers/wait.js';

let proxy: TcpProxy | undefined;
let partition: PartitionProxy | undefined;
let cluster: Cluster | undefined;
const via = (port: number): string => {
  const url = new URL(POSTGRES_URL);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return url.toString();
};
beforeAll(async () => {
  const target = new URL(POSTGRES_URL);
  proxy = await startTcpProxy(Number(target.port || 5432), target.hostname);
  partition = await startPartitionProxy(Number(target.port || 5432), target.hostname);
  // Node 1 through the proxy that refuses, node 2 directly, node 3 through the one that black-holes.
  cluster = await startCluster({ nodes: 3, postgresBaseUrl: (index) => [via(proxy!.port), POSTGRES_URL, via(partition!.port)][index]! });
}, 60_000);
afterAll(async () => {
  try {
    await cluster?.close();
  } finally {
    await proxy?.close();
    await partition?.close();
  }
}, 60_000);

describe('cluster - PostgreSQL unreachable', () => {
  it('postgres down - node 1 answers Ack 503 and /healthz 503 while cut off, recovers by itself, and every Ack 200 is readable', async () => {
    const c = cluster!;
    const A = 'pg-a@example.com';
    const B = 'pg-b@example.com';
    const bPhone = await c.connect(N2, B, 'phone');
    const aPhone = await c.connect(N1, A, 'phone');
    const acks: Ack[] = [];
    const send = async (id: string): Promise<Ack> => {
      const ack = await within(aPhone.send({ id, to: B, payload: id }), `Ack of ${id}`, 10_000);
      acks.push(ack);
      return ack;
    };
    expect((await send('before')).code).toBe(Code.OK);
    expect((await takeMessages(bPhone, 1, 3000))[0]!.message.id).toBe('before');

    await proxy!.stop();
    const cutAt = Date.now();
    // Sends while cut off: each gets an Ack, 503 (or a 200 that must then be readable).
    const during: Ack[] = [];
    for (let i = 0; i < 5; i++) during.push(await send(`cut-${i}`));
    expect(
      during.map((ack) => ack.code).filter((code) => code !== Code.OK && code !== Code.Unavailable),
      'only 200 or 503 while cut',
    ).toEqual([]);
    expect(during.at(-1)!.code, 'sends are refused with 503 while PostgreSQL is unreachable').toBe(Code.Unavailable);
    const unhealthy = await healthUntil(c.node(N1), (h) => h.status === 503, 'node 1 /healthz 503', 10_000);
    expect(unhealthy.body.status).toMatch(/store/);
    // The connection stays open (retry later), and node 2 is unaffected.
    expect(aPhone.isOpen).toBe(true);
    expect((await health(c.node(N2))).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await send('cut-late')).code).toBe(Code.Unavailable);
    expect((await health(c.node(N1))).status).toBe(503);

    // Back: /healthz recovers without any send, then sends are stored again.
    await proxy!.start();
    const restoredAt = Date.now();
    await healthUntil(c.node(N1), (h) => h.status === 200, 'node 1 /healthz 200 after PostgreSQL returned', 15_000);
    const recoveredMs = Date.now() - restoredAt;
    let after = await send('after-0');
    for (let i = 1; after.code !== Code.OK && Date.now() - restoredAt < 15_000; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      after = await send(`after-${i}`);
    }
    expect(after.code, `Ack 200 again (health back after ${recoveredMs} ms; cut lasted ${restoredAt - cutAt} ms)`).toBe(Code.OK);

    // No false 200: every acked id is in B's queue once; resending the refused ones stores them once.
    const okIds = acks.filter((ack) => ack.code === Code.OK).map((ack) => ack.id);
    const refused = acks.filter((ack) => ack.code !== Code.OK).map((ack) => ack.id);
    for (const id of refused) expect([Code.OK, Code.Duplicate], id).toContain((await send(id)).code);
    const { entries, response } = await within(bPhone.sync(0, 1000), 'Sync replay on node 2');
    const ids = messagesOf(entries).map((entry) => entry.message.id);
    expect(entries.map((entry) => entry.offset)).toEqual(entries.map((_, i) => i + 1));
    expect(response.headOffset).toBe(entries.length);
    expect(new Set(ids).size, 'no message stored twice').toBe(ids.length);
    for (const id of [...okIds, ...refused]) expect(ids, id).toContain(id);
  }, 60_000);

  it('postgres partitioned - a node whose PostgreSQL stops answering (no RST) still answers every send within 10 s (503, never a false 200) and /healthz 503, and recovers by itself', async () => {
    const c = cluster!;
    const A = 'part-a@example.com';
    const B = 'part-b@example.com';
    const bPhone = await c.connect(N2, B, 'phone');
    const aPhone = await c.connect(N3, A, 'phone');
    const acks: Ack[] = [];
    expect((await aPhone.send({ id: 'before', to: B, payload: 'before' })).code).toBe(Code.OK);
    acks.push({ id: 'before', code: Code.OK } as Ack);
    expect((await takeMessages(bPhone, 1, 3000))[0]!.message.id).toBe('before');

    partition!.partition();
    const cutAt = Date.now();
    // Sends and health checks during 10 s of partition, side by side; judged after healing, so the
    // recovery is exercised whatever happened meanwhile.
    const rawSends = Array.from({ length: 3 }, (_, i) => aPhone.send({ id: `part-${i}`, to: B, payload: `part-${i}` }));
    const sends = rawSends.map((send, i) =>
      within(send, `Ack of part-${i} during the partition`, 10_000).then(
        (ack) => `${ack.code} after ${Date.now() - cutAt} ms`,
        (err: unknown) => String(err),
      ),
    );
    const healthDuring = healthUntil(c.node(N3), (h) => h.status === 503, 'node 3 /healthz 503 during the partition', 10_000).then(
      (h) => h.status,
      (err: unknown) => String(err),
    );
    const codes = await Promise.all(sends);
    const unhealthy = await healthDuring;
    partition!.heal();
    const healedAt = Date.now();
    await healthUntil(c.node(N3), (h) => h.status === 200, 'node 3 /healthz 200 after the partition healed', 20_000);
    // Sends still unanswered are answered now (whatever the code): each 200 among them must be readable too.
    for (const answer of await within(Promise.allSettled(rawSends), 'every send of the partition answered after healing', 20_000)) {
      if (answer.status === 'fulfilled') acks.push(answer.value);
    }
    let after = await within(aPhone.send({ id: 'after-0', to: B, payload: 'after' }), 'Ack after healing', 10_000);
    for (let i = 1; after.code !== Code.OK && Date.now() - healedAt < 20_000; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      after = await within(aPhone.send({ id: `after-${i}`, to: B, payload: 'after' }), 'Ack after healing', 10_000);
    }
    expect(after.code).toBe(Code.OK);
    acks.push(after);
    const { entries } = await within(bPhone.sync(0, 1000), 'Sync replay on node 2');
    const ids = messagesOf(entries).map((entry) => entry.message.id);
    for (const ack of acks.filter((a) => a.code === Code.OK)) expect(ids, ack.id).toContain(ack.id);
    expect(new Set(ids).size).toBe(ids.length);

    // What the partition looked like from outside: every send answered (503) within 10 s, /healthz 503.
    expect
      .soft(
        codes.map((code) => code.split(' ')[0]),
        `Acks during the partition: ${codes.join('; ')}`,
      )
      .toEqual(['503', '503', '503']);
    expect.soft(unhealthy, '/healthz 503 within 10 s of the partition').toBe(503);
  }, 90_000);
});
