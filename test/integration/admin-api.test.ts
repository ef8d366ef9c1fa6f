/** The admin HTTP API (issue #4): sending as a user or the system, and its error answers. */
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, takeEntries, text, type Harness } from '../helpers/harness.js';

const ADMIN = 'admin-token-0123456789';
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function request(
  harness: Harness,
  path: string,
  init: { method?: string; body?: string; bearer?: string | null; headers?: Record<string, string> } = {},
) {
  const bearer = init.bearer === undefined ? ADMIN : init.bearer;
  const response = await fetch(`http://127.0.0.1:${harness.server.port}${path}`, {
    method: init.method ?? 'POST',
    headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...init.headers },
    body: init.body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const send = (harness: Harness, body: unknown) => request(harness, '/v1/messages', { body: JSON.stringify(body) });

describe('admin API: messages', () => {
  it('admin send - stores and delivers as a user; a repeat answers 409 with the original values', async () => {
    h = await startHarness({ adminToken: ADMIN });
    const b = await h.connect('b@example.com', 'phone');
    await b.caughtUp;
    const first = await send(h, {
      id: 'order-1',
      from: { eid: 'a@example.com', device: 'backend' },
      to: 'b@example.com',
      payload: { text: 'your order shipped' },
    });
    expect(first).toMatchObject({ status: 200, body: { code: 200, id: 'order-1', user_offset: 1, status: 1 } });
    const [entry] = await takeEntries(b, 1);
    expect(entry!.kind).toBe('message');
    if (entry!.kind !== 'message') return;
    expect(entry!.message.from).toMatchObject({ eid: 'a@example.com', connectionResourceId: 'backend' });
    expect(JSON.parse(text(entry!.message.payload))).toEqual({ text: 'your order shipped' });
    const again = await send(h, { id: 'order-1', from: { eid: 'a@example.com', device: 'backend' }, to: 'b@example.com', payload: 'x' });
    expect(again).toMatchObject({ status: 409, body: { code: 409, signal_id: first.body['signal_id'], user_offset: 1 } });
    expect((await h.store.queueInfo('b@example.com')).head).toBe(1);
  });

  it('admin send - without `from` the system sender is used; the message survives a restart', async () => {
    h = await startHarness({ adminToken: ADMIN });
    const sent = await send(h, { id: 'sys-1', to: { eid: 'b@example.com' }, payload_base64: Buffer.from('maintenance at 2am').toString('base64'), type: 2 });
    expect(sent.status).toBe(200);
    await h.restart();
    const b = await h.connect('b@example.com', 'phone');
    const replay = await b.sync(0, 10);
    expect(replay.entries).toHaveLength(1);
    const entry = replay.entries[0]!;
    if (entry.kind !== 'message') throw new Error('expected a message');
    expect(entry.message.from).toMatchObject({ eid: 'system', connectionResourceId: 'admin-api' });
    expect(entry.message.type).toBe(2);
    expect(text(entry.message.payload)).toBe('maintenance at 2am');
  });

  it('admin send - invalid messages get the Ack code as HTTP status with a JSON error', async () => {
    h = await startHarness({ adminToken: ADMIN });
    expect(await send(h, { to: 'b@example.com' })).toMatchObject({ status: 400, body: { error: 'id is required' } });
    expect(await send(h, { id: 'x'.repeat(200), to: 'b@example.com' })).toMatchObject({ status: 400, body: { code: 400 } });
    expect(await send(h, { id: 'big', to: 'b@example.com', payload: 'x'.repeat(70_000) })).toMatchObject({ status: 413, body: { code: 413 } });
    expect(await send(h, { id: 'notype', to: 'b@example.com', type: 7 })).toMatchObject({ status: 400 });
    expect(await send(h, { id: 'noto' })).toMatchObject({ status: 400 });
    expect((await h.store.queueInfo('b@example.com')).head).toBe(0);
  });
});

describe('admin API: access', () => {
  it('admin - no bearer 401, wrong bearer 403, malformed JSON 400, oversized body 413, GET 405, unknown path 404', async () => {
    h = await startHarness({ adminToken: ADMIN, limits: { maxFrameBytes: 64 * 1024 } });
    const body = JSON.stringify({ id: 'm', to: 'b@example.com' });
    expect(await request(h, '/v1/messages', { body, bearer: null })).toMatchObject({ status: 401 });
    expect(await request(h, '/v1/messages', { body, bearer: 'wrong-token-0123456789' })).toMatchObject({ status: 403 });
    expect(await request(h, '/v1/messages', { body: '{"id": ' })).toMatchObject({ status: 400, body: { error: 'body is not valid JSON' } });
    expect(await request(h, '/v1/messages', { body: '[1,2]' })).toMatchObject({ status: 400 });
    expect(await request(h, '/v1/messages', { body: JSON.stringify({ id: 'm', to: 'b@example.com', payload: 'x'.repeat(100_000) }) })).toMatchObject({
      status: 413,
    });
    expect(await request(h, '/v1/messages', { method: 'GET' })).toMatchObject({ status: 405 });
    expect(await request(h, '/v1/nothing', { body })).toMatchObject({ status: 404 });
    expect(await request(h, '/v1/tokens', { body: JSON.stringify({ eid: 'a@example.com' }) })).toMatchObject({
      status: 400,
      body: { error: 'device is required' },
    });
    expect((await h.store.queueInfo('b@example.com')).head).toBe(0);
    // Still serving afterwards.
    expect((await request(h, '/v1/messages', { body })).status).toBe(200);
  });

  it('admin - without BIMIP_ADMIN_TOKEN the admin endpoints are disabled (404)', async () => {
    h = await startHarness();
    expect(await request(h, '/v1/messages', { body: '{}' })).toMatchObject({ status: 404, body: { error: expect.stringContaining('BIMIP_ADMIN_TOKEN') } });
  });
});
