/**
 * Issue #8: the push outbox in PostgreSQL. Two push hooks (two nodes) share one outbox schema and
 * one loopback receiver: every notice is POSTed exactly once in total, whichever node enqueued it.
 */
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/core/logger.js';
import type { PushNotice } from '../../src/core/push-hook.js';
import { verifySignature, WebhookPushHook } from '../../src/push/index.js';
import { PostgresPushOutbox } from '../../src/store/postgres/postgres-push-outbox.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

const SECRET = 'cluster-webhook-secret';

const quietLogger: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, child: () => quietLogger };

function notice(messageId: string): PushNotice {
  return { kind: 'entry', to: 'bob', offlineDevices: ['bob-phone'], from: 'alice', signalId: '1', messageId, type: 1, status: 1, timestamp: 1_700_000_000_000 };
}

async function delivered(hook: WebhookPushHook): Promise<number> {
  return (await hook.metrics.deliveries.get()).values.find((value) => value.labels.result === 'delivered')?.value ?? 0;
}

describe('push outbox in PostgreSQL (cluster)', () => {
  let schema: TestSchema | undefined;
  let receiver: WebhookReceiver | undefined;
  const hooks: WebhookPushHook[] = [];

  afterEach(async () => {
    for (const hook of hooks.splice(0)) await hook.close();
    await receiver?.stop();
    await schema?.drop();
    schema = undefined;
    receiver = undefined;
  });

  async function node(concurrency: number): Promise<WebhookPushHook> {
    const outbox = await PostgresPushOutbox.open({ pool: schema!.pool(2), schema: schema!.name });
    const hook = await WebhookPushHook.withOutbox(outbox, {
      url: receiver!.url,
      secret: SECRET,
      logger: quietLogger,
      registry: new Registry(),
      concurrency,
      pollIntervalMs: 10,
    });
    hooks.push(hook);
    return hook;
  }

  it('push - 50 notices enqueued on node A are each POSTed exactly once across nodes A and B', async () => {
    schema = await createTestSchema();
    receiver = await WebhookReceiver.start();
    // A works one POST at a time, so B (polling every 10 ms) finds rows to claim meanwhile.
    const a = await node(1);
    const b = await node(4);
    for (let i = 0; i < 50; i++) a.notify(notice(`m-${i}`));

    await waitFor(() => receiver!.posts.length >= 50, '50 POSTs', 10_000);
    // Time for any duplicate to show up (a second POST of a row would follow within a poll).
    await new Promise((resolve) => setTimeout(resolve, 200));
    const ids = receiver.posts.map((post) => post.headers['x-bimip-delivery']);
    expect(ids).toHaveLength(50);
    expect(new Set(ids).size).toBe(50);
    expect(new Set(receiver.posts.map((post) => post.body.message_id)).size).toBe(50);
    for (const post of receiver.posts) expect(verifySignature(post.raw, post.headers['x-bimip-signature'] as string, SECRET)).toBe(true);
    const [byA, byB] = [await delivered(a), await delivered(b)];
    expect(byA + byB).toBe(50);
    expect(byB).toBeGreaterThan(0);
    const left = await schema.pool(1).query<{ n: string }>('SELECT count(*) AS n FROM push_outbox');
    expect(Number(left.rows[0]?.n)).toBe(0);
  });
});
