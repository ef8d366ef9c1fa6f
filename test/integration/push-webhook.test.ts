/** SPEC §6 F9 push webhook against a real HTTP receiver on loopback: signing, retries, restart, drops. */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/core/logger.js';
import type { PushNotice } from '../../src/core/push-hook.js';
import { verifySignature, WebhookPushHook, type WebhookPushHookOptions } from '../../src/push/index.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { waitFor, within } from '../helpers/wait.js';

const SECRET = 'test-webhook-secret';
/** How long a negative check ("nothing more arrives") waits. */
const QUIET_MS = 100;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}
/** What the receiver does with a request: answer a status, hold it until released, or drop the socket. */
type Behaviour = number | 'hold' | 'destroy';

/** A webhook receiver on 127.0.0.1:0 that records every request. */
class Receiver {
  readonly requests: Received[] = [];
  behaviour: (request: Received, index: number) => Behaviour = () => 200;
  active = 0;
  maxActive = 0;
  private held: Array<() => void> = [];
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const request = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        const index = this.requests.push(request) - 1;
        const action = this.behaviour(request, index);
        if (action === 'destroy') return void req.socket.destroy();
        this.active++;
        this.maxActive = Math.max(this.maxActive, this.active);
        const answer = (status: number) => {
          this.active--;
          res.writeHead(status, { 'content-type': 'text/plain' }).end(String(status));
        };
        if (action === 'hold') this.held.push(() => answer(200));
        else answer(action);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks/push`;
  }

  get heldCount(): number {
    return this.held.length;
  }

  releaseAll(): void {
    const held = this.held;
    this.held = [];
    for (const release of held) release();
  }

  async stop(): Promise<void> {
    this.releaseAll();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  msg: string | undefined;
}

function captureLogger(lines: LogLine[], bindings: Record<string, unknown> = {}): Logger {
  const at = (level: LogLine['level']) => (fields: object, msg?: string) => void lines.push({ level, fields: { ...bindings, ...fields }, msg });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (more) => captureLogger(lines, { ...bindings, ...more }) };
}

function notice(overrides: Partial<PushNotice> = {}): PushNotice {
  return {
    kind: 'entry',
    to: 'bob',
    offlineDevices: ['bob-phone'],
    from: 'alice',
    signalId: '1001',
    messageId: 'm-1',
    type: 1,
    status: 1,
    timestamp: 1_700_000_000_123,
    ...overrides,
  };
}

async function deliveries(hook: WebhookPushHook, result: 'delivered' | 'failed_attempt' | 'dropped'): Promise<number> {
  const metric = await hook.metrics.deliveries.get();
  return metric.values.find((value) => value.labels.result === result)?.value ?? 0;
}

/** Polls an async counter until it reaches `target` (bounded). */
async function waitForCount(read: () => Promise<number>, target: number, what: string, timeoutMs = 5000): Promise<void> {
  let current = await read();
  const deadline = Date.now() + timeoutMs;
  while (current < target) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${current} < ${target}`);
    await pause(5);
    current = await read();
  }
}

let dir: string;
let receiver: Receiver;
let logs: LogLine[];
const hooks: WebhookPushHook[] = [];

async function openHook(options: Partial<WebhookPushHookOptions> = {}): Promise<WebhookPushHook> {
  const hook = await WebhookPushHook.open({
    url: receiver.url,
    secret: SECRET,
    outboxPath: join(dir, 'push-outbox.sqlite'),
    logger: captureLogger(logs),
    registry: new Registry(),
    baseDelayMs: 20,
    jitterRatio: 0,
    requestTimeoutMs: 2000,
    ...options,
  });
  hooks.push(hook);
  return hook;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bimip-push-'));
  receiver = new Receiver();
  await receiver.start();
  logs = [];
});

afterEach(async () => {
  await Promise.all(hooks.splice(0).map((hook) => within(hook.close(), 'hook close')));
  await receiver.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('push webhook', () => {
  it('push webhook - POSTs the notice as signed JSON with the exact SPEC fields, then forgets it', async () => {
    const hook = await openHook();
    hook.notify(notice({ offlineDevices: ['bob-phone', 'bob-tablet'] }));

    await waitFor(() => receiver.requests.length === 1, 'the POST');
    const [request] = receiver.requests;
    expect(request!.headers['content-type']).toBe('application/json');
    expect(verifySignature(request!.body, request!.headers['x-bimip-signature'] as string, SECRET)).toBe(true);
    expect(verifySignature(request!.body, request!.headers['x-bimip-signature'] as string, 'wrong')).toBe(false);
    expect(request!.headers['x-bimip-delivery']).toMatch(/^[1-9][0-9]*$/);
    expect(Number(request!.headers['x-bimip-timestamp'])).toBeGreaterThan(1_600_000_000_000);
    expect(JSON.parse(request!.body)).toStrictEqual({
      to: 'bob',
      offline_devices: ['bob-phone', 'bob-tablet'],
      from: 'alice',
      signal_id: '1001',
      message_id: 'm-1',
      type: 1,
      status: 1,
      timestamp: 1_700_000_000_123,
      kind: 'entry',
    });

    await waitForCount(() => deliveries(hook, 'delivered'), 1, 'delivered metric');
    expect(hook.pending).toBe(0);
    expect((await hook.metrics.notices.get()).values[0]!.value).toBe(1);
    expect((await hook.metrics.outboxDepth.get()).values[0]!.value).toBe(0);
    const latency = await hook.metrics.deliveryLatency.get();
    expect(latency.values.find((value) => value.metricName === 'bimip_push_delivery_latency_seconds_count')!.value).toBe(1);
    await pause(QUIET_MS);
    expect(receiver.requests).toHaveLength(1);
  });

  it('push webhook - retries a receiver answering 503 on the backoff schedule, delivers once it answers 200', async () => {
    const clock = new FakeClock();
    const start = clock.now();
    receiver.behaviour = (_request, index) => (index < 2 ? 503 : 200);
    const hook = await openHook({ clock, baseDelayMs: 1000 });
    hook.notify(notice());

    await waitForCount(() => deliveries(hook, 'failed_attempt'), 1, 'first failure');
    clock.advance(999);
    await pause(QUIET_MS);
    expect(receiver.requests).toHaveLength(1); // not before base delay
    clock.advance(1);
    await waitForCount(() => deliveries(hook, 'failed_attempt'), 2, 'second failure');
    expect(receiver.requests).toHaveLength(2);
    clock.advance(1999);
    await pause(QUIET_MS);
    expect(receiver.requests).toHaveLength(2); // the second wait is twice the first
    clock.advance(1);
    await waitForCount(() => deliveries(hook, 'delivered'), 1, 'delivery');

    expect(receiver.requests.map((request) => Number(request.headers['x-bimip-timestamp']) - start)).toEqual([0, 1000, 3000]);
    expect(new Set(receiver.requests.map((request) => request.headers['x-bimip-delivery'])).size).toBe(1);
    expect(new Set(receiver.requests.map((request) => request.body)).size).toBe(1);
    for (const request of receiver.requests) expect(verifySignature(request.body, request.headers['x-bimip-signature'] as string, SECRET)).toBe(true);
    expect(hook.pending).toBe(0);
    expect(await deliveries(hook, 'dropped')).toBe(0);
  });

  it('push webhook - a notice accepted while the receiver is down is delivered by a new hook after a restart', async () => {
    receiver.behaviour = () => 'destroy';
    const first = await openHook({ maxAttempts: 1000 });
    first.notify(notice({ messageId: 'survivor' }));
    await waitForCount(() => deliveries(first, 'failed_attempt'), 1, 'a failed attempt');
    await within(first.close(), 'first close');
    const deliveryId = receiver.requests[0]!.headers['x-bimip-delivery'];
    const failedBefore = receiver.requests.length;

    receiver.behaviour = () => 200;
    const second = await openHook();
    expect(second.pending).toBe(1);
    expect((await second.metrics.outboxDepth.get()).values[0]!.value).toBe(1);
    await waitForCount(() => deliveries(second, 'delivered'), 1, 'delivery after restart');

    const delivered = receiver.requests.slice(failedBefore);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.headers['x-bimip-delivery']).toBe(deliveryId);
    expect(JSON.parse(delivered[0]!.body).message_id).toBe('survivor');
    expect(verifySignature(delivered[0]!.body, delivered[0]!.headers['x-bimip-signature'] as string, SECRET)).toBe(true);
    expect(second.pending).toBe(0);
  });

  it('push webhook - close is bounded while a POST hangs, and the notice is delivered after reopening', async () => {
    receiver.behaviour = () => 'hold';
    const first = await openHook({ closeTimeoutMs: 100, requestTimeoutMs: 10_000 });
    first.notify(notice({ messageId: 'in-flight' }));
    await waitFor(() => receiver.heldCount === 1, 'the hanging POST');
    const started = Date.now();
    await within(first.close(), 'close with a hanging POST', 2000);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(await deliveries(first, 'failed_attempt')).toBe(0); // an aborted POST is not the receiver's failure

    receiver.behaviour = () => 200;
    const second = await openHook();
    await waitForCount(() => deliveries(second, 'delivered'), 1, 'delivery after reopen');
    expect(receiver.requests.map((request) => request.headers['x-bimip-delivery'])).toEqual([
      receiver.requests[0]!.headers['x-bimip-delivery'],
      receiver.requests[0]!.headers['x-bimip-delivery'],
    ]);
  });

  it('push webhook - drops a notice after maxAttempts failures, counts it and logs a warning without user data', async () => {
    receiver.behaviour = () => 500;
    const hook = await openHook({ maxAttempts: 3, baseDelayMs: 5 });
    hook.notify(notice({ to: 'bob-secret-eid', from: 'alice-secret-eid', offlineDevices: ['device-secret'] }));

    await waitForCount(() => deliveries(hook, 'dropped'), 1, 'the drop');
    expect(receiver.requests).toHaveLength(3);
    expect(await deliveries(hook, 'failed_attempt')).toBe(3);
    expect(await deliveries(hook, 'delivered')).toBe(0);
    expect(hook.pending).toBe(0);

    const warnings = logs.filter((line) => line.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.fields).toMatchObject({
      delivery: Number(receiver.requests[0]!.headers['x-bimip-delivery']),
      attempts: 3,
      lastStatus: 500,
    });
    const everyLog = JSON.stringify(logs);
    for (const secret of ['bob-secret-eid', 'alice-secret-eid', 'device-secret']) expect(everyLog).not.toContain(secret);
    await pause(QUIET_MS);
    expect(receiver.requests).toHaveLength(3);
  });

  it('push webhook - keeps at most `concurrency` POSTs in flight', async () => {
    receiver.behaviour = () => 'hold';
    const hook = await openHook({ concurrency: 2 });
    for (let i = 0; i < 6; i++) hook.notify(notice({ messageId: `m-${i}` }));

    await waitFor(() => receiver.heldCount === 2, 'two held POSTs');
    await pause(QUIET_MS);
    expect(receiver.requests).toHaveLength(2);
    expect(receiver.requests.map((request) => JSON.parse(request.body).message_id)).toEqual(['m-0', 'm-1']);

    receiver.behaviour = () => 200;
    receiver.releaseAll();
    await waitForCount(() => deliveries(hook, 'delivered'), 6, 'six deliveries');
    expect(receiver.maxActive).toBe(2);
    expect(receiver.requests).toHaveLength(6);
    expect(hook.pending).toBe(0);
  });

  it('push webhook - delivers oldest first', async () => {
    const hook = await openHook({ concurrency: 1 });
    for (let i = 0; i < 5; i++) hook.notify(notice({ messageId: `m-${i}` }));
    await waitForCount(() => deliveries(hook, 'delivered'), 5, 'five deliveries');
    expect(receiver.requests.map((request) => JSON.parse(request.body).message_id)).toEqual(['m-0', 'm-1', 'm-2', 'm-3', 'm-4']);
    const ids = receiver.requests.map((request) => Number(request.headers['x-bimip-delivery']));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });

  it('push webhook - notify never throws, even once the outbox is closed', async () => {
    const hook = await openHook();
    await hook.close();
    expect(() => hook.notify(notice())).not.toThrow();
    expect(logs.some((line) => line.level === 'error' && line.msg?.includes('could not be stored'))).toBe(true);
    expect(JSON.stringify(logs)).not.toContain('alice');
    expect((await hook.metrics.notices.get()).values[0]?.value ?? 0).toBe(0);
    await pause(QUIET_MS);
    expect(receiver.requests).toHaveLength(0);
  });

  it('push webhook - refuses to open without a secret or with a non-http URL', async () => {
    await expect(openHook({ secret: '' })).rejects.toThrow(/secret/);
    await expect(openHook({ url: 'ftp://127.0.0.1/x' })).rejects.toThrow(/http/);
  });
});
