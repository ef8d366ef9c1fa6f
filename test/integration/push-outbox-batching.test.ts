/**
 * Issue #7 item 5: the push outbox is written off the event loop, in group commits, and the queue
 * of notices waiting for their write is bounded. Real hook, real outbox worker, real loopback receiver.
 */
import Database from 'better-sqlite3';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/core/logger.js';
import type { PushNotice } from '../../src/core/push-hook.js';
import { verifySignature, WebhookPushHook, type WebhookPushHookOptions } from '../../src/push/index.js';
import { waitFor, within } from '../helpers/wait.js';
import { WebhookReceiver } from '../helpers/webhook-receiver.js';

const SECRET = 'batching-webhook-secret';

interface LogLine {
  level: string;
  msg: string | undefined;
}

function captureLogger(lines: LogLine[]): Logger {
  const at = (level: string) => (_fields: object, msg?: string) => void lines.push({ level, msg });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => captureLogger(lines) };
}

function notice(messageId: string): PushNotice {
  return { kind: 'entry', to: 'bob', offlineDevices: ['bob-phone'], from: 'alice', signalId: '1', messageId, type: 1, status: 1, timestamp: 1_700_000_000_000 };
}

/** Rows in the outbox file, read through a connection of the test's own. */
function outboxRows(path: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

async function counter(hook: WebhookPushHook, name: 'notices' | 'overload'): Promise<number> {
  if (name === 'notices') return (await hook.metrics.notices.get()).values[0]?.value ?? 0;
  return (await hook.metrics.dropped.get()).values.find((value) => value.labels.reason === 'overload')?.value ?? 0;
}

async function waitForCounter(hook: WebhookPushHook, name: 'notices' | 'overload', target: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await counter(hook, name)) < target) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${name} to reach ${target}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Outbox transactions so far, and the notices they carried. */
async function batches(hook: WebhookPushHook): Promise<{ transactions: number; notices: number }> {
  const values = (await hook.metrics.batchSize.get()).values;
  const read = (suffix: string) => values.find((value) => value.metricName === `bimip_push_outbox_batch_size_${suffix}`)?.value ?? 0;
  return { transactions: read('count'), notices: read('sum') };
}

let dir: string;
let outboxPath: string;
let receiver: WebhookReceiver;
let logs: LogLine[];
const hooks: WebhookPushHook[] = [];

async function openHook(options: Partial<WebhookPushHookOptions> = {}): Promise<WebhookPushHook> {
  const hook = await WebhookPushHook.open({
    url: receiver.url,
    secret: SECRET,
    outboxPath,
    logger: captureLogger(logs),
    registry: new Registry(),
    baseDelayMs: 20,
    closeTimeoutMs: 50,
    ...options,
  });
  hooks.push(hook);
  return hook;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bimip-push-batch-'));
  outboxPath = join(dir, 'push-outbox.sqlite');
  receiver = await WebhookReceiver.start();
  logs = [];
});

afterEach(async () => {
  await Promise.all(hooks.splice(0).map((hook) => within(hook.close(), 'hook close')));
  await receiver.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('push outbox batching (issue #7)', () => {
  it('push outbox - notify() writes nothing on the caller’s stack; 2,000 notices of one turn are one transaction, those raised during its write the next', async () => {
    receiver.answer = 'hold'; // POSTs hang, so every row stays in the outbox to be counted
    const hook = await openHook();

    for (let i = 0; i < 2000; i++) hook.notify(notice(`first-${i}`));
    // Before the fix each notify() was an fsynced INSERT on the event loop: 2,000 rows here.
    expect(outboxRows(outboxPath)).toBe(0);
    // The hook's flush was scheduled first, so it is in flight when these arrive: they wait for it.
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        for (let i = 0; i < 2000; i++) hook.notify(notice(`second-${i}`));
        resolve();
      }),
    );

    await waitForCounter(hook, 'notices', 4000);
    expect(await batches(hook)).toEqual({ transactions: 2, notices: 4000 });
    expect(outboxRows(outboxPath)).toBe(4000);
    expect(hook.pending).toBe(4000);
    await waitFor(() => receiver.posts.length === 4, 'the first POSTs');
    expect(receiver.posts.map((post) => post.body.message_id)).toEqual(['first-0', 'first-1', 'first-2', 'first-3']);
  });

  it('push outbox - past maxQueuedNotices notices are dropped, counted, and warned about once; the queue then recovers', async () => {
    const hook = await openHook({ maxQueuedNotices: 100 });

    for (let i = 0; i < 250; i++) hook.notify(notice(`m-${i}`));
    await waitForCounter(hook, 'notices', 100);
    expect(await counter(hook, 'overload')).toBe(150);
    expect(logs.filter((line) => line.level === 'warn')).toEqual([{ level: 'warn', msg: expect.stringContaining('queue full') }]);
    expect(logs.some((line) => line.level === 'info' && line.msg?.includes('caught up'))).toBe(true);

    hook.notify(notice('after'));
    await waitForCounter(hook, 'notices', 101);
    await waitFor(() => receiver.posts.length === 101, 'the 101 accepted notices');
    expect(await counter(hook, 'notices')).toBe(101);
    expect(receiver.posts.map((post) => post.body.message_id)).toContain('after');
    expect(receiver.posts.map((post) => post.body.message_id)).not.toContain('m-100');
  });

  it('push outbox - a file written by the previous (main-thread) outbox is read as is: its pending row is delivered with its id', async () => {
    const db = new Database(outboxPath);
    db.pragma('journal_mode = WAL');
    db.exec(`
      CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        body            TEXT    NOT NULL,
        enqueued_at     INTEGER NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_status     INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX outbox_due ON outbox (next_attempt_at, id);
    `);
    db.pragma('user_version = 1');
    const body = JSON.stringify({
      to: 'bob',
      offline_devices: ['phone'],
      from: 'alice',
      signal_id: '7',
      message_id: 'old',
      type: 1,
      status: 1,
      timestamp: 1,
      kind: 'entry',
    });
    db.prepare('INSERT INTO outbox (id, body, enqueued_at, attempts, next_attempt_at, last_status) VALUES (41, ?, 1, 2, 1, 503)').run(body);
    db.close();

    const hook = await openHook();
    expect(hook.pending).toBe(1);
    await waitFor(() => receiver.posts.length === 1, 'the pending notice');
    expect(receiver.posts[0]!.raw).toBe(body);
    expect(receiver.posts[0]!.headers['x-bimip-delivery']).toBe('41');
    expect(verifySignature(receiver.posts[0]!.raw, receiver.posts[0]!.headers['x-bimip-signature'] as string, SECRET)).toBe(true);
    await waitFor(() => hook.pending === 0, 'the row removed');
    hook.notify(notice('new'));
    await waitFor(() => receiver.posts.length === 2, 'a new notice');
    expect(receiver.posts[1]!.headers['x-bimip-delivery']).toBe('42');
  });

  it('push outbox - an outbox path that cannot be opened fails open() with a clear error', async () => {
    await expect(openHook({ outboxPath: dir })).rejects.toThrow(/push outbox could not be opened/);
  });
});
