/** SPEC §6 F9 end to end: the server raises push notices for offline devices; the webhook gets them signed. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WebhookPushHook, verifySignature } from '../../src/push/index.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { waitFor } from '../helpers/wait.js';

const SECRET = 'webhook-secret-0123456789';
let h: Harness | undefined;
let hook: WebhookPushHook | undefined;
let receiver: Server | undefined;
afterEach(async () => {
  await h?.close();
  await hook?.close();
  await new Promise((resolve) => (receiver ? receiver.close(resolve) : resolve(undefined)));
  h = hook = receiver = undefined;
});

interface Received {
  body: Record<string, unknown>;
  raw: string;
  signature: string;
}

async function startReceiver(): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      received.push({ body: JSON.parse(raw) as Record<string, unknown>, raw, signature: String(request.headers['x-bimip-signature']) });
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(receiver!.address() as AddressInfo).port}/push`, received };
}

describe('push notices (F9)', () => {
  it('push - a message for a user whose known device is offline POSTs a signed notice without the payload', async () => {
    const { url, received } = await startReceiver();
    const dir = (await import('../helpers/harness.js')).tempDir();
    hook = await WebhookPushHook.open({ url, secret: SECRET, outboxPath: join(dir, 'push-outbox.sqlite'), logger: pino({ level: 'silent' }), baseDelayMs: 20 });
    h = await startHarness({ pushHook: hook });
    const bPhone = await h.connect('b@example.com', 'phone');
    await bPhone.caughtUp;
    await bPhone.close();
    const bLaptop = await h.connect('b@example.com', 'laptop');
    await bLaptop.caughtUp;
    const a = await h.connect('a@example.com', 'web');
    await a.caughtUp;
    const ack = await a.send({ to: 'b@example.com', id: 'secret-msg', payload: 'top secret text', encryptionType: 'E2E', encrypted: 'Y2lwaGVy' });
    expect(ack.code).toBe(200);
    await waitFor(() => received.length >= 1, 'the push notice');
    const [notice] = received;
    expect(notice!.body).toMatchObject({
      kind: 'entry',
      to: 'b@example.com',
      offline_devices: ['phone'],
      from: 'a@example.com',
      signal_id: ack.signalId,
      message_id: 'secret-msg',
      status: 1,
    });
    expect(notice!.raw).not.toContain('top secret');
    expect(notice!.raw).not.toContain('Y2lwaGVy');
    expect(verifySignature(notice!.raw, notice!.signature, SECRET)).toBe(true);
    // The laptop is online and the sender's own queue has no offline device: one notice only.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(received).toHaveLength(1);
  });

  it('push - no notice while every known device is online', async () => {
    const { url, received } = await startReceiver();
    const dir = (await import('../helpers/harness.js')).tempDir();
    hook = await WebhookPushHook.open({ url, secret: SECRET, outboxPath: join(dir, 'push-outbox.sqlite'), logger: pino({ level: 'silent' }), baseDelayMs: 20 });
    h = await startHarness({ pushHook: hook });
    const b = await h.connect('b@example.com', 'phone');
    await b.caughtUp;
    const a = await h.connect('a@example.com', 'web');
    await a.caughtUp;
    expect((await a.send({ to: 'b@example.com', id: 'm1' })).code).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(received).toHaveLength(0);
  });
});
