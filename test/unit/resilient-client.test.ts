/**
 * BimipClient's reconnect, heartbeat, token renewal, outbox and exactly-once logic (issue #9)
 * over a fake socket and a fake clock: each test plays the server's side frame by frame.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  BimipClient,
  ClientClosedError,
  type ClientOptions,
  ConnectError,
  type ConnectionState,
  MemoryStorage,
  ReceiptStatus,
  type ResetEvent,
  SendRejectedError,
  TransientStatus,
  randomId,
  type QueueEntry,
} from '../../src/client/index.js';
import { FakeSocket } from '../helpers/fake-socket.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';

const clients: BimipClient[] = [];

function harness(overrides: Partial<ClientOptions> = {}) {
  const clock = new FakeClock();
  const sockets: FakeSocket[] = [];
  const states: ConnectionState[] = [];
  const storage = overrides.storage ?? new MemoryStorage();
  const client = new BimipClient({
    url: 'ws://fake/bimip',
    token: 'T0',
    clock,
    random: () => 1,
    storage,
    webSocket: (_url, token) => {
      const socket = new FakeSocket(token);
      sockets.push(socket);
      return socket;
    },
    ...overrides,
  });
  clients.push(client);
  client.on('state', (state) => states.push(state));
  const last = () => sockets.at(-1)!;
  return { client, clock, sockets, states, storage, last };
}

async function take<T>(queue: { size: number; next(): Promise<IteratorResult<T>> }): Promise<T[]> {
  const items: T[] = [];
  while (queue.size > 0) items.push((await queue.next()).value as T);
  return items;
}

const message = (offset: number, id = `m${offset}`) => ({
  id,
  from: { eid: 'b@x', connectionResourceId: 'b1' },
  to: { eid: 'a@x' },
  userOffset: offset,
  signalId: `s${offset}`,
  status: 1,
});

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
});

describe('BimipClient reconnect and state events', () => {
  it('client - a refused connect is retried with exponential backoff (capped), announcing each state', async () => {
    const { client, clock, sockets, states, last } = harness({ reconnect: { initialDelayMs: 100, maxDelayMs: 400 } });
    await client.start();
    await settle();
    for (const expected of [100, 200, 400, 400]) {
      last().fail('connect ECONNREFUSED 127.0.0.1:4040');
      await settle();
      const state = states.at(-1)!;
      expect(state).toMatchObject({ state: 'disconnected', willRetry: true, retryInMs: expected });
      expect((state as { error?: Error }).error).toBeInstanceOf(ConnectError);
      expect(((state as { error?: ConnectError }).error as ConnectError).kind).toBe('network');
      clock.advance(expected);
      await settle();
    }
    expect(sockets).toHaveLength(5);
    last().open();
    await settle();
    expect(client.connectionState).toEqual({ state: 'connected' });
    expect(states.map((s) => s.state).slice(0, 3)).toEqual(['connecting', 'disconnected', 'connecting']);
  });

  it('client - jitter keeps each delay between half and all of its step', async () => {
    const { client, states, last } = harness({ random: () => 0, reconnect: { initialDelayMs: 1000 } });
    await client.start();
    await settle();
    last().fail('connect ECONNREFUSED');
    await settle();
    expect(states.at(-1)).toMatchObject({ retryInMs: 500 });
  });

  it('client - a server close (1001 restart) is retried; the backoff restarts after a caught-up connection', async () => {
    const { client, clock, sockets, states, last } = harness({ reconnect: { initialDelayMs: 100 } });
    await client.start();
    await settle();
    last().open();
    last().caughtUp();
    await settle();
    last().close(1001, 'server shutting down');
    await settle();
    expect(states.at(-1)).toMatchObject({ state: 'disconnected', code: 1001, willRetry: true, retryInMs: 100 });
    clock.advance(100);
    await settle();
    expect(sockets).toHaveLength(2);
  });

  it.each([
    [4009, 'replaced'],
    [4011, 'device limit'],
    [1008, 'policy'],
  ])('client - close %i is terminal: state closed, no retry, pending sends reject with ClientClosedError', async (code, reason) => {
    const { client, clock, sockets, last } = harness();
    await client.start();
    await settle();
    last().open();
    await settle();
    const outcome = client.send({ to: 'b@x', payload: 'hi', id: 'x1' }).catch((err: unknown) => err);
    await settle();
    last().close(code, reason);
    await settle();
    expect(client.connectionState).toMatchObject({ state: 'closed', code });
    expect(await outcome).toBeInstanceOf(ClientClosedError);
    clock.advance(60_000);
    await settle();
    expect(sockets).toHaveLength(1);
  });

  it('client - a 401 at the upgrade without getToken ends the client: connect() rejects with ConnectError unauthorized', async () => {
    const clock = new FakeClock();
    const pending = BimipClient.connect({
      url: 'ws://fake/bimip',
      token: 'bad',
      clock,
      webSocket: (_url, token) => {
        const socket = new FakeSocket(token);
        queueMicrotask(() => socket.fail('Unexpected server response: 401'));
        return socket;
      },
    });
    const error = await pending.catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ClientClosedError);
    expect((error as ClientClosedError).code).toBe(4001);
  });
});

describe('BimipClient heartbeat and token renewal', () => {
  it('client - sends a PING every interval and drops a connection whose PONG does not come, then reconnects', async () => {
    const { client, clock, sockets, states, last } = harness({ heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 500, reconnect: { initialDelayMs: 50 } });
    await client.start();
    await settle();
    last().open();
    await settle();
    clock.advance(1000);
    expect(last().sentOf('pingPong')).toHaveLength(1);
    last().pongAll();
    await settle();
    clock.advance(1000);
    expect(last().sentOf('pingPong')).toHaveLength(2);
    clock.advance(500); // no PONG this time
    await settle();
    expect(states.at(-1)).toMatchObject({ state: 'disconnected', code: 4000, reason: 'heartbeat timeout' });
    clock.advance(50);
    await settle();
    expect(sockets).toHaveLength(2);
  });

  it('client - getToken is called before expiry and the client reconnects with the new token at once; a 4001 close renews too', async () => {
    const clock = new FakeClock();
    const jwt = (n: number, expMs: number) => `h.${btoa(JSON.stringify({ exp: Math.floor(expMs / 1000), n }))}.s`;
    let issued = 0;
    const { client, sockets, last } = harness({
      clock,
      token: undefined,
      getToken: async () => jwt(++issued, clock.now() + 120_000),
      renewBeforeMs: 60_000,
      heartbeatIntervalMs: 10_000_000,
      reconnect: { initialDelayMs: 100 },
    });
    await client.start();
    await settle();
    expect(issued).toBe(1);
    last().open();
    await settle();
    clock.advance(60_000);
    await settle();
    expect(issued).toBe(2);
    expect(sockets).toHaveLength(2);
    expect(sockets[1]!.token).not.toBe(sockets[0]!.token);
    last().open();
    await settle();
    last().close(4001, 'token revoked');
    await settle();
    clock.advance(100);
    await settle();
    expect(issued).toBe(3);
    expect(last().token).toBe(jwt(3, clock.now() + 120_000 - 100));
  });
});

describe('BimipClient token life and presence snapshot', () => {
  it('client - a token that lives shorter than renewBeforeMs is renewed at half its life, not in a loop', async () => {
    const clock = new FakeClock();
    const jwt = (n: number, expMs: number) => `h.${btoa(JSON.stringify({ exp: Math.floor(expMs / 1000), n }))}.s`;
    let issued = 0;
    const { client, sockets, last } = harness({
      clock,
      token: undefined,
      getToken: async () => jwt(++issued, clock.now() + 30_000),
      renewBeforeMs: 60_000,
      heartbeatIntervalMs: 10_000_000,
    });
    await client.start();
    await settle();
    last().open();
    await settle();
    clock.advance(14_000);
    await settle();
    expect(issued).toBe(1);
    expect(sockets).toHaveLength(1);
    clock.advance(1_000);
    await settle();
    expect(issued).toBe(2);
    expect(sockets).toHaveLength(2);
  });

  it('client - every connection’s awareness snapshot (the contacts’ presence) goes into the awareness stream', async () => {
    const { client, clock, last } = harness({ reconnect: { initialDelayMs: 10 } });
    await client.start();
    await settle();
    last().open();
    last().push('body', { awarenessList: [{ from: { eid: 'b@x' }, status: 1, type: 2 }] });
    await settle();
    last().close(1006, '');
    await settle();
    clock.advance(10);
    await settle();
    last().open();
    last().push('body', { awarenessList: [{ from: { eid: 'b@x' }, status: 2, lastSeen: 5, type: 2 }] });
    await settle();
    expect((await take(client.awareness)).map((a) => [a.from?.eid, a.status])).toEqual([
      ['b@x', 1],
      ['b@x', 2],
    ]);
  });
});

describe('BimipClient outbox', () => {
  it('client - a send while disconnected is kept (persisted), written on connect, and resolves with its Ack', async () => {
    const { client, storage, last } = harness();
    await client.start();
    await settle();
    const sending = client.send({ to: 'b@x', payload: 'offline hello', id: 'o1' });
    await settle();
    expect((await storage.load())!.outbox.map((r) => r.id)).toEqual(['o1']);
    expect(last().sent).toHaveLength(0);
    last().open();
    await settle();
    expect(
      last()
        .sentOf('message')
        .map((m) => m.id),
    ).toEqual(['o1']);
    last().push('ack', { id: 'o1', code: 200, status: 1, signalId: 's9', userOffset: 9 });
    await expect(sending).resolves.toMatchObject({ code: 200, userOffset: 9 });
    await settle();
    expect((await storage.load())!.outbox).toEqual([]);
  });

  it('client - a message unacked when the connection drops is resent with the same id; a 409 counts as sent', async () => {
    const { client, clock, last } = harness({ reconnect: { initialDelayMs: 10 } });
    await client.start();
    await settle();
    last().open();
    await settle();
    const sending = client.send({ to: 'b@x', payload: 'hi', id: 'r1' });
    await settle();
    expect(last().sentOf('message')).toHaveLength(1);
    last().close(1006, '');
    await settle();
    clock.advance(10);
    await settle();
    last().open();
    await settle();
    expect(
      last()
        .sentOf('message')
        .map((m) => m.id),
    ).toEqual(['r1']);
    last().push('ack', { id: 'r1', code: 409, status: 1, signalId: 's1', userOffset: 1 });
    await expect(sending).resolves.toMatchObject({ code: 409 });
  });

  it('client - messages, receipts and a commit made offline go out in order on reconnect; receipts leave the outbox at the next PONG', async () => {
    const { client, clock, storage, last } = harness({ reconnect: { initialDelayMs: 10 } });
    await client.start();
    await settle();
    last().open();
    last().push('message', message(1));
    last().caughtUp({ head: 1, cursor: 0 });
    await settle();
    const [entry] = await take(client.entries);
    last().close(1006, '');
    await settle();

    const first = client.send({ to: 'b@x', payload: '1', id: 'q1' });
    await client.sendReceipt((entry as Extract<QueueEntry, { kind: 'message' }>).message, ReceiptStatus.READ);
    const second = client.send({ to: 'b@x', payload: '2', id: 'q2' });
    await client.commit(1);
    expect(client.sendSignal('b@x', TransientStatus.TYPING)).toBeUndefined();
    expect((await storage.load())!).toMatchObject({ processed: 1, outbox: [{ id: 'q1' }, { kind: 'receipt', id: 'm1' }, { id: 'q2' }] });

    clock.advance(10);
    await settle();
    last().open();
    await settle();
    const order = last()
      .frames()
      .map((f) => `${f.field}:${(f.value as { id?: string; userOffset?: number }).id ?? (f.value as { userOffset: number }).userOffset}`);
    expect(order.slice(0, 4)).toEqual(['offsetCommit:1', 'message:q1', 'signal:m1', 'message:q2']);
    expect(last().sentOf('signal')[0]).toMatchObject({ status: ReceiptStatus.READ, signalId: 's1', to: { eid: 'b@x' } });
    for (const id of ['q1', 'q2']) last().push('ack', { id, code: 200, status: 1, signalId: `s-${id}`, userOffset: 5 });
    await Promise.all([first, second]);
    last().pongAll();
    await settle();
    expect((await storage.load())!.outbox).toEqual([]);
  });

  it('client - a refused message (Ack 403) rejects with SendRejectedError and leaves the outbox; 503 is retried', async () => {
    const { client, clock, last } = harness();
    await client.start();
    await settle();
    last().open();
    await settle();
    const refused = client.send({ to: 'blocker@x', payload: 'x', id: 'f1' });
    const busy = client.send({ to: 'b@x', payload: 'y', id: 'f2' });
    await settle();
    last().push('ack', { id: 'f1', code: 403, details: 'blocked' });
    last().push('ack', { id: 'f2', code: 503, details: 'busy' });
    await expect(refused).rejects.toBeInstanceOf(SendRejectedError);
    await settle();
    clock.advance(1000);
    await settle();
    expect(
      last()
        .sentOf('message')
        .map((m) => m.id),
    ).toEqual(['f1', 'f2', 'f2']);
    last().push('ack', { id: 'f2', code: 200, status: 1, signalId: 's', userOffset: 2 });
    await expect(busy).resolves.toMatchObject({ code: 200 });
    expect(client.outboxSize).toBe(0);
  });
});

describe('BimipClient exactly-once entries', () => {
  it('client - entries re-sent after a reconnect are not handed out twice; after a restart only uncommitted ones come again', async () => {
    const storage = new MemoryStorage();
    const first = harness({ storage, reconnect: { initialDelayMs: 10 } });
    await first.client.start();
    await settle();
    first.last().open();
    for (const offset of [1, 2, 3]) first.last().push('message', message(offset));
    first.last().caughtUp({ head: 3, cursor: 0 });
    await settle();
    expect((await take(first.client.entries)).map((e) => e.offset)).toEqual([1, 2, 3]);
    await first.client.commit(2);
    first.last().close(1006, '');
    await settle();
    first.clock.advance(10);
    await settle();
    first.last().open();
    await settle();
    expect(first.last().sentOf('offsetCommit')[0]).toMatchObject({ userOffset: 2 });
    for (const offset of [2, 3, 4]) first.last().push('message', message(offset));
    await settle();
    expect((await take(first.client.entries)).map((e) => e.offset)).toEqual([4]);
    await first.client.close();

    // A new process with the same storage: it processed 1–2; 3 and 4 were handed out, never committed.
    const second = harness({ storage });
    await second.client.start();
    await settle();
    second.last().open();
    for (const offset of [1, 2, 3, 4]) second.last().push('message', message(offset));
    await settle();
    expect((await take(second.client.entries)).map((e) => e.offset)).toEqual([3, 4]);
  });

  it('client - a new epoch is surfaced as a reset event (never hidden) and offsets restart from the new cursor', async () => {
    const storage = new MemoryStorage();
    await storage.save({ epoch: 'OLD', processed: 50, outbox: [] });
    const { client, last } = harness({ storage });
    const resets: ResetEvent[] = [];
    client.on('reset', (event) => resets.push(event));
    await client.start();
    await settle();
    last().open();
    last().caughtUp({ epoch: 'NEW', cursor: 3, head: 3 });
    last().push('message', message(4));
    await settle();
    expect(resets).toMatchObject([{ reason: 'epoch', previousEpoch: 'OLD', epoch: 'NEW' }]);
    expect(client.epoch).toBe('NEW');
    expect((await take(client.entries)).map((e) => e.offset)).toEqual([4]);
    expect(await storage.load()).toMatchObject({ epoch: 'NEW', processed: 3 });
  });

  it('client - a retention gap in the caught-up marker is surfaced as a reset event', async () => {
    const { client, last } = harness();
    const resets: ResetEvent[] = [];
    client.on('reset', (event) => resets.push(event));
    await client.start();
    await settle();
    last().open();
    last().caughtUp({ cursor: 2, first: 10, head: 12 });
    await settle();
    expect(resets).toMatchObject([{ reason: 'gap', firstOffset: 10, cursor: 2 }]);
  });
});

describe('BimipClient bounded buffers and ids', () => {
  it('client - unread signals beyond maxBufferedEvents are dropped oldest first', async () => {
    const { client, last } = harness({ maxBufferedEvents: 3 });
    await client.start();
    await settle();
    last().open();
    for (let i = 0; i < 10; i++) last().push('signal', { id: `t${i}`, status: TransientStatus.TYPING, from: { eid: 'b@x' } });
    await settle();
    expect((await take(client.signals)).map((s) => s.id)).toEqual(['t7', 't8', 't9']);
    expect(client.signals.dropped).toBe(7);
  });

  it('client - ids are UUIDs without crypto.randomUUID (a page that is not a secure context)', () => {
    const crypto = globalThis.crypto as { randomUUID?: unknown };
    const original = crypto.randomUUID;
    Object.defineProperty(crypto, 'randomUUID', { value: undefined, configurable: true });
    try {
      const ids = new Set(Array.from({ length: 100 }, () => randomId()));
      expect(ids.size).toBe(100);
      for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    } finally {
      Object.defineProperty(crypto, 'randomUUID', { value: original, configurable: true });
    }
  });
});

describe('BimipClient under review findings (issue #9 review)', () => {
  const jwtFor = (device: string) => `h.${btoa(JSON.stringify({ exp: 4_000_000_000, device_id: device }))}.s`;

  it('client - a frame it cannot read is reported as an error event, never thrown; an unknown route is skipped silently', async () => {
    const { client, last } = harness();
    const errors: unknown[] = [];
    client.on('error', (error) => errors.push(error));
    await client.start();
    await settle();
    last().open();
    expect(() => last().onmessage?.({ data: new Uint8Array([0xff, 0xff, 0xff]) })).not.toThrow();
    expect(() => last().onmessage?.({ data: 'text frame' })).not.toThrow();
    // route 17 with its payload in field 17: a newer server's frame
    expect(() => last().onmessage?.({ data: new Uint8Array([0x08, 17, 0x8a, 0x01, 0x00]) })).not.toThrow();
    await settle();
    expect(errors).toHaveLength(2);
    expect(client.connectionState.state).toBe('connected');
  });

  it('client - close() while the stored state is still loading leaves the storage as it was', async () => {
    const stored = { epoch: 'E1', processed: 42, outbox: [{ kind: 'message' as const, id: 'keep', frame: 'AA==' }] };
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const saves: unknown[] = [];
    const storage = {
      load: async () => {
        await gate;
        return structuredClone(stored);
      },
      save: async (state: unknown) => {
        saves.push(structuredClone(state));
      },
    };
    const { client } = harness({ storage });
    void client.start();
    const closing = client.close();
    release();
    await closing;
    expect(saves.every((state) => JSON.stringify(state) === JSON.stringify(stored))).toBe(true);
  });

  it('client - a Sync replay running past the live position neither loses live entries nor hands any out twice', async () => {
    const { client, last } = harness({ token: jwtFor('p1') });
    await client.start();
    await settle();
    last().open();
    last().push('message', message(101));
    await settle();
    const replay = client.sync(290, 10);
    await settle();
    const request = last().sentOf('sync')[0]!;
    for (let offset = 291; offset <= 300; offset++) last().push('message', message(offset)); // the replay
    for (let offset = 102; offset <= 110; offset++) last().push('message', message(offset)); // live, meanwhile
    last().push('message', { ...message(295), from: { eid: 'a@x', connectionResourceId: 'p1' } }); // own entry, replay only
    last().push('sync', { id: request.id, type: 2, afterOffset: 300, headOffset: 300 });
    const result = await replay;
    expect(result.entries.map((e) => e.offset)).toEqual([291, 292, 293, 294, 295, 296, 297, 298, 299, 300]);
    await settle();
    const live = (await take(client.entries)).map((e) => e.offset);
    expect(live.slice(0, 10)).toEqual([101, 102, 103, 104, 105, 106, 107, 108, 109, 110]);
    expect(new Set(live).size).toBe(live.length);
  });

  it('client - close() during a connect attempt that then fails ends in one closed state, with no retry left', async () => {
    const { client, clock, sockets, states, last } = harness();
    await client.start();
    await settle();
    const closing = client.close();
    last().fail('connect ECONNREFUSED');
    await closing;
    await settle();
    clock.advance(60_000);
    await settle();
    expect(states.filter((s) => s.state === 'closed')).toHaveLength(1);
    expect(states.at(-1)!.state).toBe('closed');
    expect(sockets).toHaveLength(1);
  });

  it('client - a message over the frame limit is refused at once (413) and never enters the outbox', async () => {
    const { client } = harness({ maxFrameBytes: 1000 });
    await client.start();
    await expect(client.send({ to: 'b@x', payload: 'x'.repeat(2000) })).rejects.toMatchObject({ name: 'SendRejectedError', code: 413 });
    expect(client.outboxSize).toBe(0);
  });

  it('client - sending the same id twice returns one promise, resolved by the one Ack', async () => {
    const { client, last } = harness();
    await client.start();
    await settle();
    last().open();
    await settle();
    const first = client.send({ to: 'b@x', payload: 'a', id: 'dup' });
    const second = client.send({ to: 'b@x', payload: 'a', id: 'dup' });
    await settle();
    expect(last().sentOf('message')).toHaveLength(1);
    last().push('ack', { id: 'dup', code: 200, status: 1, signalId: 's', userOffset: 1 });
    await expect(first).resolves.toMatchObject({ code: 200 });
    await expect(second).resolves.toMatchObject({ code: 200 });
  });

  it('client - logout ends the client even when the request fails', async () => {
    const { client, last } = harness({ requestTimeoutMs: 100 });
    await client.start();
    await settle();
    last().open();
    await settle();
    const outcome = client.logout().catch((err: unknown) => err);
    // No answer: let the fake clock run the request out.
    for (let i = 0; i < 3; i++) {
      await settle();
      (client as unknown as { clock: FakeClock }).clock.advance(100);
    }
    expect(await outcome).toMatchObject({ name: 'RequestTimeoutError' });
    expect(client.connectionState.state).toBe('closed');
  });

  it('client - an ErrorMessage naming a message id refuses that send (not left hanging)', async () => {
    const { client, last } = harness();
    await client.start();
    await settle();
    last().open();
    await settle();
    const sending = client.send({ to: 'b@x', payload: 'x', id: 'e1' });
    await settle();
    last().push('error', { id: 'e1', code: 400, errorOrigin: 6, details: 'bad' });
    await expect(sending).rejects.toMatchObject({ code: 400 });
    expect(client.outboxSize).toBe(0);
  });

  it('client - at most maxInFlight messages wait for an Ack; a 429 pauses sending and resends from the oldest', async () => {
    const { client, clock, last } = harness({ maxInFlight: 2 });
    await client.start();
    await settle();
    last().open();
    await settle();
    const sends = ['w1', 'w2', 'w3', 'w4'].map((id) => client.send({ to: 'b@x', payload: id, id }));
    await settle();
    expect(
      last()
        .sentOf('message')
        .map((m) => m.id),
    ).toEqual(['w1', 'w2']);
    last().push('ack', { id: 'w1', code: 429, details: 'slow down' });
    last().push('ack', { id: 'w2', code: 200, status: 1, signalId: 's2', userOffset: 2 });
    await settle();
    expect(
      last()
        .sentOf('message')
        .map((m) => m.id),
    ).toEqual(['w1', 'w2']);
    clock.advance(500);
    await settle();
    expect(
      last()
        .sentOf('message')
        .map((m) => m.id),
    ).toEqual(['w1', 'w2', 'w1', 'w3']);
    for (const id of ['w1', 'w3', 'w4']) {
      last().push('ack', { id, code: 200, status: 1, signalId: `s-${id}`, userOffset: 3 });
      await settle();
    }
    await expect(Promise.all(sends)).resolves.toHaveLength(4);
  });

  it('client - frames arriving keep a connection alive even when a PONG is late', async () => {
    const { client, clock, sockets, last } = harness({ heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 500 });
    await client.start();
    await settle();
    last().open();
    await settle();
    clock.advance(1000);
    clock.advance(300);
    last().push('message', message(1)); // a replay keeps flowing; the PONG is queued behind it
    clock.advance(300);
    await settle();
    expect(client.connectionState.state).toBe('connected');
    expect(sockets).toHaveLength(1);
  });

  it('client - a send whose save fails is rejected and never written', async () => {
    let fail = false;
    const memory = new MemoryStorage();
    const storage = {
      load: () => memory.load(),
      save: async (state: Parameters<MemoryStorage['save']>[0]) => (fail ? Promise.reject(new Error('disk full')) : memory.save(state)),
    };
    const { client, last } = harness({ storage });
    await client.start();
    await settle();
    last().open();
    await settle();
    fail = true;
    await expect(client.send({ to: 'b@x', payload: 'x', id: 'nf' })).rejects.toThrow('disk full');
    await settle();
    expect(last().sentOf('message')).toHaveLength(0);
    expect(client.outboxSize).toBe(0);
  });
});
