/**
 * The operator endpoints of the admin API: POST /v1/connections/close (kick) and GET /v1/status, over
 * real sockets and a real SQLite file; a kick across two nodes sharing a bus; and what admin actions
 * and connections write to the log.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenIssuer } from '../../src/auth/token-issuer.js';
import { MemoryBroker } from '../../src/bus/memory/memory-bus.js';
import { MemoryDeviceOwnership } from '../../src/ownership/memory/memory-device-ownership.js';
import { MemoryPresenceStore } from '../../src/presence/memory/memory-presence-store.js';
import { BimipServer } from '../../src/server/bimip-server.js';
import { SqliteMessageStore } from '../../src/store/sqlite/sqlite-message-store.js';
import { type DeviceSocket, openDevice } from '../helpers/device-socket.js';
import { type Harness, openTestAuth, startHarness, TEST_SECRET, tempDir } from '../helpers/harness.js';
import { waitFor, within } from '../helpers/wait.js';

const ADMIN = 'admin-token-0123456789';
const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';

let teardown: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of teardown.reverse()) await step();
  teardown = [];
});

async function harness(overrides: Parameters<typeof startHarness>[0] = {}): Promise<Harness> {
  const h = await startHarness({ adminToken: ADMIN, ...overrides });
  teardown.push(() => h.close());
  return h;
}

async function device(h: Harness, eid: string, name: string): Promise<DeviceSocket> {
  const socket = await openDevice(h.server.url, await h.token(eid, name));
  teardown.push(() => socket.close());
  return socket;
}

async function call(port: number, method: string, path: string, body?: unknown, bearer: string | null = ADMIN) {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const kick = (h: Harness, body: unknown, bearer?: string | null) => call(h.server.port, 'POST', '/v1/connections/close', body, bearer);
const status = (h: Harness, query = '', bearer?: string | null) => call(h.server.port, 'GET', `/v1/status${query}`, undefined, bearer);

/** Resolves true if the device is still open after `ms`. */
async function stillOpenAfter(socket: DeviceSocket, ms: number): Promise<boolean> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return socket.isOpen;
}

describe('admin API: kick', () => {
  it('kick - closes every connection of the user with 1008 "kicked by operator"; other users stay', async () => {
    const h = await harness();
    const phone = await device(h, ALICE, 'phone');
    const laptop = await device(h, ALICE, 'laptop');
    const bob = await device(h, BOB, 'phone');
    expect(await kick(h, { eid: ALICE })).toEqual({ status: 200, body: { closed_connections: 2 } });
    expect(await within(phone.closed, 'alice phone to close')).toEqual({ code: 1008, reason: 'kicked by operator' });
    expect(await within(laptop.closed, 'alice laptop to close')).toEqual({ code: 1008, reason: 'kicked by operator' });
    expect(await stillOpenAfter(bob, 100)).toBe(true);
    expect((await status(h)).body).toMatchObject({ connections: 1 });
  });

  it('kick - one device with a chosen code and reason: only that device closes', async () => {
    const h = await harness();
    const phone = await device(h, ALICE, 'phone');
    const laptop = await device(h, ALICE, 'laptop');
    expect(await kick(h, { eid: ALICE, device: 'phone', code: 4001, reason: 'stolen phone' })).toEqual({ status: 200, body: { closed_connections: 1 } });
    expect(await within(phone.closed, 'alice phone to close')).toEqual({ code: 4001, reason: 'stolen phone' });
    expect(await stillOpenAfter(laptop, 100)).toBe(true);
  });

  it('kick - a user with no connection: 200 with 0 closed; invalid requests are 400 and close nothing', async () => {
    const h = await harness();
    const phone = await device(h, ALICE, 'phone');
    expect(await kick(h, { eid: 'nobody@example.com' })).toEqual({ status: 200, body: { closed_connections: 0 } });
    expect(await kick(h, { device: 'phone' })).toMatchObject({ status: 400, body: { error: 'eid is required' } });
    expect(await kick(h, { eid: 42 })).toMatchObject({ status: 400, body: { error: 'eid must be a string' } });
    expect(await kick(h, { eid: 'x'.repeat(300) })).toMatchObject({ status: 400 });
    expect(await kick(h, { eid: ALICE, code: 4009 })).toMatchObject({ status: 400, body: { error: expect.stringContaining('code must be one of') } });
    expect(await kick(h, { eid: ALICE, code: '1008' })).toMatchObject({ status: 400 });
    expect(await kick(h, { eid: ALICE, reason: 'r'.repeat(124) })).toMatchObject({ status: 400, body: { error: 'reason is over 123 bytes' } });
    expect(await kick(h, '{"eid": ')).toMatchObject({ status: 400, body: { error: 'body is not valid JSON' } });
    expect(await kick(h, '[]')).toMatchObject({ status: 400 });
    expect(await stillOpenAfter(phone, 50)).toBe(true);
  });

  it('kick - no bearer 401, wrong bearer 403, GET 405; disabled admin API 404', async () => {
    const h = await harness();
    const phone = await device(h, ALICE, 'phone');
    expect(await kick(h, { eid: ALICE }, null)).toMatchObject({ status: 401 });
    expect(await kick(h, { eid: ALICE }, 'wrong-token-0123456789')).toMatchObject({ status: 403 });
    expect(await call(h.server.port, 'GET', '/v1/connections/close')).toMatchObject({ status: 405, body: { error: 'use POST for /v1/connections/close' } });
    expect(await stillOpenAfter(phone, 50)).toBe(true);
    const off = await startHarness();
    teardown.push(() => off.close());
    expect(await kick(off, { eid: ALICE })).toMatchObject({ status: 404, body: { error: expect.stringContaining('BIMIP_ADMIN_TOKEN') } });
  });

  it('kick - across nodes: the device connected to the other node is closed through the bus', async () => {
    const dataDir = tempDir();
    teardown.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const store = await SqliteMessageStore.open({ path: join(dataDir, 'bimip.sqlite') });
    teardown.push(() => store.close());
    const auth = await openTestAuth(dataDir);
    teardown.push(() => auth.store.close());
    const broker = new MemoryBroker();
    const presence = new MemoryPresenceStore();
    const ownership = new MemoryDeviceOwnership();
    const nodes: BimipServer[] = [];
    for (const id of ['n1', 'n2']) {
      const node = await BimipServer.start({
        host: '127.0.0.1',
        port: 0,
        store,
        contacts: store,
        bus: broker.connect(id),
        presence,
        ownership,
        tokens: auth.tokens,
        adminToken: ADMIN,
        logger: pino({ level: 'silent' }),
      });
      teardown.push(() => node.stop());
      nodes.push(node);
    }
    const [n1, n2] = nodes as [BimipServer, BimipServer];
    const issuer = new TokenIssuer(TEST_SECRET);
    const phone = await openDevice(n2.url, await issuer.issueAccessToken({ eid: ALICE, deviceId: 'phone' }));
    const laptop = await openDevice(n2.url, await issuer.issueAccessToken({ eid: ALICE, deviceId: 'laptop' }));
    teardown.push(() => phone.close());
    teardown.push(() => laptop.close());
    // Asked on node 1, which holds none of them: it counts none, node 2 closes its own.
    expect(await call(n1.port, 'POST', '/v1/connections/close', { eid: ALICE, device: 'phone' })).toEqual({ status: 200, body: { closed_connections: 0 } });
    expect(await within(phone.closed, 'the phone on node 2 to close')).toEqual({ code: 1008, reason: 'kicked by operator' });
    expect(await stillOpenAfter(laptop, 100)).toBe(true);
  });
});

describe('admin API: status', () => {
  it('status - node id, mode, version, uptime and live connections', async () => {
    const h = await harness({ mode: 'embedded', version: '9.8.7' });
    await device(h, ALICE, 'phone');
    await device(h, BOB, 'phone');
    const { status: code, body } = await status(h);
    expect(code).toBe(200);
    expect(body).toEqual({ node_id: h.server.nodeId, mode: 'embedded', version: '9.8.7', uptime_seconds: expect.any(Number), connections: 2 });
    expect(body['uptime_seconds']).toBeGreaterThanOrEqual(0);
  });

  it("status - with ?eid: the user's online devices, queue head/first/epoch and each device's cursor", async () => {
    const h = await harness();
    for (const id of ['m1', 'm2', 'm3']) {
      expect((await call(h.server.port, 'POST', '/v1/messages', { id, to: ALICE, payload: 'hello' })).status).toBe(200);
    }
    // A device seen before, offline now, with cursor 2; the phone connects for the first time (cursor = head).
    await h.store.commitCursor(ALICE, 'laptop', 2);
    const phone = await device(h, ALICE, 'phone');
    expect((await call(h.server.port, 'POST', '/v1/messages', { id: 'm4', to: ALICE, payload: 'hello' })).status).toBe(200);
    const before = await status(h, `?eid=${encodeURIComponent(ALICE)}`);
    expect(before).toEqual({
      status: 200,
      body: expect.objectContaining({
        user: {
          eid: ALICE,
          online_devices: ['phone'],
          queue: { head_offset: 4, first_offset: 1, epoch: (await h.store.queueInfo(ALICE)).epoch },
          cursors: [
            { device: 'laptop', cursor: 2 },
            { device: 'phone', cursor: 3 },
          ],
        },
      }),
    });
    phone.commit(4);
    const cursorsOf = async () => ((await status(h, `?eid=${encodeURIComponent(ALICE)}`)).body['user'] as { cursors: unknown }).cursors;
    const deadline = Date.now() + 5000;
    let cursors = await cursorsOf();
    while (JSON.stringify(cursors).includes('"cursor":3') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      cursors = await cursorsOf();
    }
    expect(cursors).toEqual([
      { device: 'laptop', cursor: 2 },
      { device: 'phone', cursor: 4 },
    ]);
  });

  it('status - an unknown user has an empty queue; empty eid 400; POST 405; 401 / 403 / 404', async () => {
    const h = await harness();
    expect(await status(h, '?eid=nobody%40example.com')).toMatchObject({
      status: 200,
      body: { user: { eid: 'nobody@example.com', online_devices: [], queue: { head_offset: 0, first_offset: 1 }, cursors: [] } },
    });
    expect(await status(h, '?eid=')).toMatchObject({ status: 400, body: { error: 'eid is required' } });
    expect(await status(h, `?eid=${'x'.repeat(300)}`)).toMatchObject({ status: 400 });
    expect(await call(h.server.port, 'POST', '/v1/status', {})).toMatchObject({ status: 405, body: { error: 'use GET for /v1/status' } });
    expect(await status(h, '', null)).toMatchObject({ status: 401 });
    expect(await status(h, '', 'wrong-token-0123456789')).toMatchObject({ status: 403 });
    const off = await startHarness();
    teardown.push(() => off.close());
    expect(await status(off)).toMatchObject({ status: 404 });
  });
});

describe('logs', () => {
  it('logs - connect and disconnect lines carry eid and device; admin actions are logged by id, never with a token or payload', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const h = await harness({ logger });
    const issued = await call(h.server.port, 'POST', '/v1/tokens', { eid: ALICE, device: 'phone' });
    expect(issued.status).toBe(201);
    const accessToken = issued.body['access_token'] as string;
    const refreshToken = issued.body['refresh_token'] as string;
    const phone = await openDevice(h.server.url, accessToken);
    teardown.push(() => phone.close());
    expect(
      (await call(h.server.port, 'POST', '/v1/messages', { id: 'log-1', to: BOB, from: { eid: ALICE, device: 'phone' }, payload: 'payload-xyzzy' })).status,
    ).toBe(200);
    const revoked = await call(h.server.port, 'POST', '/v1/tokens/revoke', { token: accessToken });
    expect(revoked).toMatchObject({ status: 200, body: { closed_connections: 1 } });
    await within(phone.closed, 'the revoked connection to close');
    const bob = await device(h, BOB, 'tablet');
    expect((await kick(h, { eid: BOB, device: 'tablet' })).body).toEqual({ closed_connections: 1 });
    await within(bob.closed, 'the kicked connection to close');
    await waitFor(() => lines.filter((line) => line['msg'] === 'disconnected').length >= 2, 'two disconnected lines');

    const line = (msg: string) => lines.filter((entry) => entry['msg'] === msg);
    expect(line('connected')).toEqual(
      expect.arrayContaining([expect.objectContaining({ eid: ALICE, device: 'phone' }), expect.objectContaining({ eid: BOB, device: 'tablet' })]),
    );
    expect(line('disconnected')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ eid: ALICE, device: 'phone', code: 4001 }),
        expect.objectContaining({ eid: BOB, device: 'tablet', code: 1008 }),
      ]),
    );
    const jti = (revoked.body['revoked'] as string[])[0];
    expect(line('admin: tokens issued')).toEqual([expect.objectContaining({ level: 30, eid: ALICE, device: 'phone', jti })]);
    expect(line('admin: tokens revoked')).toEqual([expect.objectContaining({ level: 30, eid: ALICE, jtis: [jti], closed: 1 })]);
    expect(line('admin: message sent')).toEqual([expect.objectContaining({ level: 30, id: 'log-1', eid: ALICE, device: 'phone', to: BOB, code: 200 })]);
    expect(line('admin: connections closed')).toEqual([expect.objectContaining({ level: 30, eid: BOB, device: 'tablet', code: 1008, closed: 1 })]);
    const everything = JSON.stringify(lines);
    expect(everything).not.toContain(accessToken);
    expect(everything).not.toContain(refreshToken);
    expect(everything).not.toContain('payload-xyzzy');
  });
});
