/**
 * Issue #7 item 5 end to end: push notices only for known devices, and a per-sender limit, for
 * CALLING (SPEC §6 F5) and stored messages (F9) alike. Real server, real webhook hook and outbox,
 * real loopback receiver.
 */
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { BimipServerOptions } from '../../src/server/bimip-server.js';
import { WebhookPushHook } from '../../src/push/index.js';
import { startHarness, tempDir, type Harness } from '../helpers/harness.js';
import { waitFor } from '../helpers/wait.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

const CALLING = 11;
let h: Harness | undefined;
let hook: WebhookPushHook | undefined;
let receiver: WebhookReceiver | undefined;

afterEach(async () => {
  await h?.close();
  await hook?.close();
  await receiver?.stop();
  h = hook = receiver = undefined;
});

async function start(overrides: Partial<BimipServerOptions> = {}): Promise<{ h: Harness; hook: WebhookPushHook; receiver: WebhookReceiver }> {
  receiver = await WebhookReceiver.start();
  hook = await WebhookPushHook.open({
    url: receiver.url,
    secret: 'gate-secret',
    outboxPath: join(tempDir(), 'push-outbox.sqlite'),
    logger: pino({ level: 'silent' }),
  });
  h = await startHarness({ pushHook: hook, ...overrides });
  return { h, hook, receiver };
}

/** Connects `eid`'s `device` once and waits until the store knows it (its cursor is written). */
async function makeKnown(harness: Harness, eid: string, device: string): Promise<void> {
  await (await harness.online(eid, device)).close();
  const deadline = Date.now() + 5000;
  while (!(await harness.store.knownDevices(eid)).includes(device)) {
    if (Date.now() > deadline) throw new Error(`${eid}/${device} never became a known device`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function gated(harness: Harness, reason: 'no_known_device' | 'rate_limited'): Promise<number> {
  return (await harness.server.metrics.pushGated.get()).values.find((value) => value.labels.reason === reason)?.value ?? 0;
}

async function waitForGated(harness: Harness, reason: 'no_known_device' | 'rate_limited', target: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await gated(harness, reason)) < target) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${target} ${reason}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function accepted(pushHook: WebhookPushHook): Promise<number> {
  return (await pushHook.metrics.notices.get()).values[0]?.value ?? 0;
}

describe('push gate (issue #7)', () => {
  it('push gate - CALLING to eids that never connected POSTs nothing; a known offline callee is still woken', async () => {
    const { h, hook, receiver } = await start();
    await makeKnown(h, 'bob@example.com', 'phone');
    const a = await h.online('a@example.com', 'web');

    for (let i = 0; i < 40; i++) a.sendSignal(`ghost-${i}@example.com`, CALLING, `ghost-call-${i}`);
    a.sendSignal('bob@example.com', CALLING, 'real-call');
    await waitFor(() => receiver.posts.some((post) => post.body.message_id === 'real-call'), 'the POST for the known callee');
    // Before the fix, 40 ghost POSTs went out first (oldest first).
    expect(receiver.posts.map((post) => post.body.message_id)).toEqual(['real-call']);

    // Every CALLING has been decided (40 refused, 1 raised): nothing else can reach the outbox.
    await waitForGated(h, 'no_known_device', 40);
    expect(await accepted(hook)).toBe(1);
    expect(await gated(h, 'no_known_device')).toBe(40);
    expect(receiver.posts).toHaveLength(1);
    expect(receiver.posts[0]!.body).toMatchObject({
      kind: 'calling',
      to: 'bob@example.com',
      from: 'a@example.com',
      message_id: 'real-call',
      offline_devices: ['phone'],
    });
  });

  it('push gate - CALLING to a named device goes out only if that device is known', async () => {
    const { h, hook, receiver } = await start();
    await makeKnown(h, 'bob@example.com', 'phone');
    await makeKnown(h, 'bob@example.com', 'tablet');
    const a = await h.online('a@example.com', 'web');

    a.sendSignal({ eid: 'bob@example.com', connectionResourceId: 'watch' }, CALLING, 'to-unknown-device');
    a.sendSignal({ eid: 'bob@example.com', connectionResourceId: 'tablet' }, CALLING, 'to-tablet');
    a.sendSignal('bob@example.com', CALLING, 'to-any');
    await waitFor(() => receiver.posts.length >= 2, 'two POSTs');
    const byId = Object.fromEntries(receiver.posts.map((post) => [post.body.message_id, post.body.offline_devices]));
    expect(byId['to-tablet']).toEqual(['tablet']);
    expect([...(byId['to-any'] as string[])].sort()).toEqual(['phone', 'tablet']);
    // The call to the unknown device was decided before the last one (same sender, same order).
    expect(await accepted(hook)).toBe(2);
    expect(byId['to-unknown-device']).toBeUndefined();
  });

  it('push gate - a CALLING flood from one sender is cut at the burst, stored messages share the bucket, other senders are not affected', async () => {
    // A refill of one token per 1,000 s: nothing refills during the test.
    const { h, hook, receiver } = await start({ pushLimit: { perSecond: 0.001, burst: 5 } });
    await makeKnown(h, 'bob@example.com', 'phone');
    const a = await h.online('a@example.com', 'web');

    for (let i = 0; i < 30; i++) a.sendSignal('bob@example.com', CALLING, `flood-${i}`);
    // A stored message for offline Bob is decided after the flood (it waits for its commit).
    expect((await a.send({ to: 'bob@example.com', id: 'msg-after-flood' })).code).toBe(200);
    const c = await h.online('c@example.com', 'web');
    c.sendSignal('bob@example.com', CALLING, 'other-sender');

    await waitFor(() => receiver.posts.length >= 6 && receiver.posts.some((post) => post.body.from === 'c@example.com'), 'the POSTs');
    const fromA = receiver.posts.filter((post) => post.body.from === 'a@example.com').map((post) => post.body.message_id);
    expect(fromA).toEqual(['flood-0', 'flood-1', 'flood-2', 'flood-3', 'flood-4']);
    expect(receiver.posts.filter((post) => post.body.from === 'c@example.com').map((post) => post.body.message_id)).toEqual(['other-sender']);
    // 25 CALLINGs and the message's notice refused; six notices raised in all, so no later POST.
    await waitForGated(h, 'rate_limited', 26);
    expect(await gated(h, 'rate_limited')).toBe(26);
    expect(await accepted(hook)).toBe(6);
    expect(receiver.posts).toHaveLength(6);
  });
});
