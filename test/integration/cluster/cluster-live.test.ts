/**
 * SPEC §11 on 3 real `bimip serve` nodes sharing one PostgreSQL schema and one Redis prefix:
 * live delivery with identical offsets, idempotency, one connection per device, presence/Body/
 * visibility, and revoke/logout — each across nodes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AwarenessStatus, CloseCode, Code, type BimipConnection } from '../../../src/client/index.js';
import { messageOf, takeEntries, takeMessages } from '../../helpers/harness.js';
import { adminPost, AwarenessLog, closeWatch, startCluster, type Cluster, N1, N2, N3 } from '../../helpers/cluster.js';
import { within } from '../../helpers/wait.js';

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ nodes: 3 });
}, 60_000);
afterAll(async () => {
  await cluster?.close();
}, 60_000);

describe('cluster - live', () => {
  it('cluster delivery - A on node 1 → B on nodes 2 and 3 live with the same user_offset; A’s device on node 3 gets the sender copy; Ack 200 only once committed', async () => {
    const A = 'live-a@example.com';
    const B = 'live-b@example.com';
    const bPhone = await cluster.connect(N2, B, 'phone');
    const bTablet = await cluster.connect(N3, B, 'tablet');
    const aLaptop = await cluster.connect(N3, A, 'laptop');
    const aPhone = await cluster.connect(N1, A, 'phone');

    for (let i = 1; i <= 5; i++) {
      const id = `live-${i}`;
      const sentAt = Date.now();
      const ack = await within(aPhone.send({ id, to: B, payload: `hello ${i}` }), `Ack of ${id}`);
      expect(ack).toMatchObject({ id, code: Code.OK, status: 1, userOffset: i });
      // The Ack promises durability: the row is already visible to anyone reading PostgreSQL.
      const stored = await cluster.query<{ signal_id: string; sender_offset: string; recipient_offset: string }>(
        'SELECT signal_id, sender_offset, recipient_offset FROM messages WHERE sender_eid = $1 AND client_id = $2',
        [A, id],
      );
      expect(stored.rows, `${id} committed when acked`).toHaveLength(1);
      expect(String(stored.rows[0]!.signal_id)).toBe(ack.signalId);
      expect(Number(stored.rows[0]!.sender_offset)).toBe(ack.userOffset);

      const [onPhone] = await takeMessages(bPhone, 1, 3000);
      const [onTablet] = await takeMessages(bTablet, 1, 3000);
      const [copy] = await takeMessages(aLaptop, 1, 3000);
      const liveMs = Date.now() - sentAt;
      for (const [where, entry] of [
        ['B phone (node 2)', onPhone],
        ['B tablet (node 3)', onTablet],
      ] as const) {
        expect(entry.message, where).toMatchObject({ id, signalId: ack.signalId, status: 1, from: { eid: A, connectionResourceId: 'phone' } });
        expect(entry.offset, `${where}: B's offset`).toBe(Number(stored.rows[0]!.recipient_offset));
        expect(new TextDecoder().decode(entry.message.payload)).toBe(`hello ${i}`);
      }
      expect(onPhone!.offset, 'both of B’s devices see the same user_offset').toBe(onTablet!.offset);
      expect(onPhone!.offset).toBe(i);
      expect(copy!.message).toMatchObject({ id, signalId: ack.signalId });
      expect(copy!.offset, 'A’s other device sees the sender copy at the acked offset').toBe(ack.userOffset);
      // Live, not the 2 s head re-read: well under it.
      expect(liveMs, `${id} delivered live across nodes`).toBeLessThan(1500);
    }
  });

  it('cluster ordering - 200 messages pipelined on one connection get offsets in send order and reach the other node in that order (as on the embedded server)', async () => {
    const A = 'order-a@example.com';
    const B = 'order-b@example.com';
    const bPhone = await cluster.connect(N2, B, 'phone');
    const aPhone = await cluster.connect(N1, A, 'phone');
    const COUNT = 200;
    const acks = await within(
      Promise.all(Array.from({ length: COUNT }, (_, i) => aPhone.send({ id: `order-${i}`, to: B, payload: String(i) }))),
      'every Ack',
      15_000,
    );
    expect(acks.every((ack) => ack.code === Code.OK)).toBe(true);
    const received = await takeMessages(bPhone, COUNT, 10_000);
    expect(
      received.map((entry) => entry.offset),
      'B receives offsets 1..N in order',
    ).toEqual(acks.map((_, i) => i + 1));
    const outOfOrder = acks.filter((ack, i) => ack.userOffset !== i + 1).length;
    expect(
      outOfOrder,
      `sends stored out of send order (${outOfOrder}/${COUNT}); first offsets: ${acks
        .slice(0, 10)
        .map((ack) => ack.userOffset)
        .join(',')}`,
    ).toBe(0);
    expect(
      received.map((entry) => new TextDecoder().decode(entry.message.payload)),
      'B sees them in send order',
    ).toEqual(acks.map((_, i) => String(i)));
  });

  it('cluster idempotency - the same (sender, id) via node 1 then node 2 → 200 then 409 with the same signal_id/offset; raced on two nodes it is stored once', async () => {
    const A = 'idem-a@example.com';
    const B = 'idem-b@example.com';
    const bWatch = await cluster.connect(N3, B, 'phone');
    const phoneOn1 = await cluster.connect(N1, A, 'phone');
    const first = await phoneOn1.send({ id: 'idem-1', to: B, payload: 'once' });
    expect(first).toMatchObject({ code: Code.OK, userOffset: 1 });
    await phoneOn1.close();

    // The same device reconnects to node 2 and resends (what the SDK outbox does after a reconnect).
    const phoneOn2 = await cluster.connect(N2, A, 'phone');
    const again = await phoneOn2.send({ id: 'idem-1', to: B, payload: 'once' });
    expect(again).toMatchObject({ id: 'idem-1', code: Code.Duplicate, signalId: first.signalId, userOffset: first.userOffset });
    // Another of A's devices on node 3: the same answer.
    const laptopOn3 = await cluster.connect(N3, A, 'laptop');
    expect(await laptopOn3.send({ id: 'idem-1', to: B, payload: 'once' })).toMatchObject({
      code: Code.Duplicate,
      signalId: first.signalId,
      userOffset: first.userOffset,
    });

    // A race: the same new id at once through node 2 and node 3.
    const [x, y] = await Promise.all([phoneOn2.send({ id: 'idem-race', to: B, payload: 'race' }), laptopOn3.send({ id: 'idem-race', to: B, payload: 'race' })]);
    expect([x.code, y.code].sort()).toEqual([Code.OK, Code.Duplicate]);
    expect(x.signalId).toBe(y.signalId);
    expect(x.userOffset).toBe(y.userOffset);

    // B's queue: each message exactly once.
    const received = await takeMessages(bWatch, 2, 3000);
    expect(received.map((entry) => [entry.message.id, entry.offset])).toEqual([
      ['idem-1', 1],
      ['idem-race', 2],
    ]);
    const { entries, response } = await bWatch.sync(0, 100);
    expect(entries.map((entry) => entry.offset)).toEqual([1, 2]);
    expect(response.headOffset).toBe(2);
    const rows = await cluster.query('SELECT count(*)::int AS n FROM messages WHERE sender_eid = $1', [A]);
    expect(rows.rows[0]!['n']).toBe(2);
  });

  it('cluster devices - one connection per device: the same device connecting on node 2 closes its node 1 connection with 4009; the newest connection keeps working', async () => {
    const D = 'dev-d@example.com';
    const onNode1 = await cluster.connect(N1, D, 'phone');
    const closed1 = closeWatch(onNode1);
    const connectedAt = Date.now();
    const onNode2 = await cluster.connect(N2, D, 'phone');
    const first = await within(closed1, 'node 1 connection to close after the device connected on node 2', 3000);
    expect(first.code).toBe(CloseCode.Replaced);
    expect(first.at - connectedAt).toBeLessThan(2000);

    // The survivor is the one on node 2: it is open and still receives its user's messages.
    const closed2 = closeWatch(onNode2);
    expect(onNode2.isOpen).toBe(true);
    const sender = await cluster.connect(N3, 'dev-e@example.com', 'phone');
    expect((await sender.send({ id: 'to-d-1', to: D, payload: 'x' })).code).toBe(Code.OK);
    expect(messageOf((await takeEntries(onNode2, 1, 3000))[0]).message.id).toBe('to-d-1');

    // And once more, from node 2 to node 3.
    const onNode3 = await cluster.connect(N3, D, 'phone');
    expect((await within(closed2, 'node 2 connection to close after the device connected on node 3', 3000)).code).toBe(CloseCode.Replaced);
    expect(onNode3.isOpen).toBe(true);
    expect((await onNode3.ping()).type).toBe(2);
  });

  it('cluster presence - ONLINE/OFFLINE (with last_seen), Body on connect and visibility across nodes', async () => {
    const A = 'pres-a@example.com';
    const B = 'pres-b@example.com';
    // Mutual subscription, made with the SDK's contact helpers on two nodes.
    const aPhone = await cluster.connect(N1, A, 'phone');
    const aLog = new AwarenessLog(aPhone);
    const bSetup = await cluster.connect(N2, B, 'setup');
    await within(aPhone.subscribe(B), 'SUBSCRIBE answer');
    const request = await takeEntries(bSetup, 1, 3000);
    expect(request[0]).toMatchObject({ kind: 'contact' });
    await within(bSetup.approve(A), 'APPROVE answer');
    expect((await aPhone.listContacts()).find((entry) => entry.eid === B)?.relation).toBe(1);
    await bSetup.close();
    // B is offline after the grace period: as seen from node 1, by query.
    const goneAt = Date.now();
    for (;;) {
      const state = await within(aPhone.queryAwareness(B), 'awareness query');
      if (state.status === AwarenessStatus.OFFLINE) break;
      if (Date.now() - goneAt > 10_000) throw new Error(`B still ${state.status} 10 s after its only device left`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    aLog.skipAll();

    // B connects on node 2: A (node 1) sees ONLINE; B's Body lists A as ONLINE.
    const bPhone = await cluster.connect(N2, B, 'phone');
    const bOnline = await aLog.next(B, 3000);
    expect(bOnline.status).toBe(AwarenessStatus.ONLINE);
    const bBody = await within(bPhone.awarenessSnapshot, 'B’s Body');
    expect(bBody.awarenessList.map((item) => [item.from?.eid, item.status])).toEqual([[A, AwarenessStatus.ONLINE]]);
    // A's second device connecting on node 3: its Body lists B (connected on node 2) as ONLINE.
    const aTablet = await cluster.connect(N3, A, 'tablet');
    const aBody = await within(aTablet.awarenessSnapshot, 'A’s Body');
    expect(aBody.awarenessList.map((item) => [item.from?.eid, item.status])).toEqual([[B, AwarenessStatus.ONLINE]]);
    // A custom state set on node 2 reaches node 1.
    bPhone.setAwareness({ status: AwarenessStatus.BUSY, details: 'in a meeting' });
    expect(await aLog.next(B, 3000)).toMatchObject({ status: AwarenessStatus.BUSY, details: 'in a meeting' });

    // Visibility: B hides on node 2 → A on node 1 gets exactly one OFFLINE without last_seen.
    const bLaptop = await cluster.connect(N3, B, 'laptop');
    const hidden = await within(bPhone.setVisibility(false), 'visibility answer');
    expect(hidden.type).toBe(2);
    const hiddenSeen = await aLog.next(B, 3000);
    expect(hiddenSeen).toMatchObject({ status: AwarenessStatus.OFFLINE, lastSeen: 0 });
    // The setting is echoed to B's device on node 3.
    const echo = await within(bLaptop.visibility.next(), 'visibility echo on B’s node 3 device', 3000);
    expect(echo.value).toMatchObject({ type: 2 });
    // Then nothing about B while hidden, even when B changes state; queries say OFFLINE, last_seen 0.
    bPhone.setAwareness({ status: AwarenessStatus.AWAY });
    expect((await aLog.during(B, 800)).map((item) => item.status)).toEqual([]);
    expect(await aTablet.queryAwareness(B)).toMatchObject({ status: AwarenessStatus.OFFLINE, lastSeen: 0 });
    // Visible again: the current state is sent.
    await within(bPhone.setVisibility(true), 'visibility answer');
    expect((await aLog.next(B, 3000)).status).toBe(AwarenessStatus.AWAY);

    // B's devices leave: A on node 1 sees OFFLINE with last_seen within the 5 s grace (+ slack).
    await bLaptop.close();
    await bPhone.close();
    const leftAt = Date.now();
    const offline = await aLog.next(B, 8000, (item) => item.status === AwarenessStatus.OFFLINE);
    expect(offline.lastSeen).toBeGreaterThanOrEqual(leftAt - 1000);
    expect(offline.lastSeen).toBeLessThanOrEqual(offline.receivedAt);
    expect(offline.receivedAt - leftAt, 'OFFLINE announced within the grace period (5 s) plus slack').toBeLessThan(6500);
  }, 40_000);

  it('cluster revoke - a token revoked through the admin API on node 1 closes its connection on node 2 with 4001 within 1 s', async () => {
    const B = 'rev-b@example.com';
    const { token } = await cluster.issuer.issue({ eid: B, deviceId: 'phone' });
    const bPhone = await cluster.connect(N2, B, 'phone', { token });
    const bTablet = await cluster.connect(N3, B, 'tablet');
    const closed = closeWatch(bPhone);
    const revokedAt = Date.now();
    const answer = await adminPost(cluster.node(N1), '/v1/tokens/revoke', { token });
    expect(answer.status).toBe(200);
    const { code, at } = await within(closed, 'B’s node 2 connection to close after the revoke', 3000);
    const elapsed = at - revokedAt;
    expect(code).toBe(CloseCode.Unauthorized);
    expect(elapsed, `closed ${elapsed} ms after the revoke`).toBeLessThanOrEqual(1000);
    // Only that token: B's other device stays.
    expect(bTablet.isOpen).toBe(true);
    // The revoked token on a third node: once the 1 s has passed, the upgrade is refused (HTTP 401).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, revokedAt + 1000 - Date.now())));
    await expect(cluster.connect(N3, B, 'phone', { token, caughtUp: false })).rejects.toThrow(/401|refused|closed/i);
  });

  it('cluster logout - Logout{type 2} on node 1 closes the user’s device on node 3 within 1 s', async () => {
    const C = 'logout-c@example.com';
    const cPhone = await cluster.connect(N1, C, 'phone');
    const cTablet = await cluster.connect(N3, C, 'tablet');
    const cLaptop = await cluster.connect(N2, C, 'laptop');
    const tabletClosed = closeWatch(cTablet);
    const laptopClosed = closeWatch(cLaptop);
    const other: BimipConnection = await cluster.connect(N3, 'logout-other@example.com', 'phone');
    const loggedOutAt = Date.now();
    const answer = await within(cPhone.logout(true), 'Logout answer');
    expect(answer).toMatchObject({ type: 2, status: 1 });
    for (const [where, watch] of [
      ['node 3', tabletClosed],
      ['node 2', laptopClosed],
    ] as const) {
      const { code, at } = await within(watch, `C’s ${where} device to close after the logout`, 3000);
      expect(code, where).toBe(CloseCode.Unauthorized);
      expect(at - loggedOutAt, `${where}: closed ${at - loggedOutAt} ms after the logout`).toBeLessThanOrEqual(1000);
    }
    // Another user on node 3 is untouched.
    expect(other.isOpen).toBe(true);
  });
});
