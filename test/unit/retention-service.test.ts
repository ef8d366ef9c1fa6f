/**
 * RetentionService (SPEC §6 F10) with a fake clock and a real SQLite store stamped by that clock:
 * scheduling, batching, the per-run cap, interleaving with sends, metrics, logs and failures.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/core/logger.js';
import type { MessageStore } from '../../src/core/message-store.js';
import { RetentionService, type RetentionServiceOptions } from '../../src/retention/retention-service.js';
import { SqliteMessageStore } from '../../src/store/sqlite/sqlite-message-store.js';
import { newMessage } from '../contract/message-store.contract.js';
import { FakeClock, settle } from '../helpers/fake-clock.js';

const DAY = 86_400_000;
const RETENTION = 30 * DAY;
const INTERVAL = 60_000;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A Logger that keeps what it is given. */
function recordingLogger(): Logger & { lines: Array<{ level: string; obj: object; msg?: string }> } {
  const lines: Array<{ level: string; obj: object; msg?: string }> = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  const logger = { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger;
}

async function rig(options: Partial<RetentionServiceOptions> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'bimip-retention-'));
  const clock = new FakeClock();
  const store = await SqliteMessageStore.open({ path: join(dir, 'bimip.sqlite'), now: () => clock.now() });
  const registry = new Registry();
  const logger = recordingLogger();
  const service = new RetentionService({ store, clock, logger, registry, retentionMs: RETENTION, intervalMs: INTERVAL, ...options });
  cleanups.push(async () => {
    await service.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const send = (from: string, to: string, id: string) => store.appendMessage(newMessage([from, 'd1'], [to], id));
  const metric = async (name: string, labels: Record<string, string> = {}) => {
    const values = (await registry.getSingleMetric(name)!.get()).values;
    return values.find((value) => Object.entries(labels).every(([key, v]) => value.labels[key] === v))?.value ?? 0;
  };
  return { clock, store, service, logger, send, metric };
}

describe('RetentionService', () => {
  it('retention - a scheduled run removes, in batches, every entry and unseen cursor older than the period', async () => {
    const { clock, store, service, send, metric } = await rig({ batchSize: 5 });
    for (let i = 0; i < 12; i++) await send('alice', 'bob', `old-${i}`);
    await store.commitCursor('bob', 'old-phone', 3);
    clock.advance(RETENTION + 1);
    await send('alice', 'bob', 'young');
    await store.commitCursor('bob', 'phone', 13);

    service.start();
    clock.advance(INTERVAL);
    const run = await service.runOnce(); // joins the run the timer started
    expect(run).toEqual({ entries: 24, messages: 12, cursors: 1, batches: 5 });
    expect(await store.queueInfo('bob')).toMatchObject({ head: 13, first: 13 });
    expect(await store.queueInfo('alice')).toMatchObject({ head: 13, first: 13 });
    expect(await store.getCursor('bob', 'old-phone')).toBeUndefined();
    expect(await store.getCursor('bob', 'phone')).toBe(13);

    expect(await metric('bimip_retention_pruned_entries_total')).toBe(24);
    expect(await metric('bimip_retention_pruned_cursors_total')).toBe(1);
    expect(await metric('bimip_retention_runs_total', { outcome: 'ok' })).toBe(1);
    expect(await metric('bimip_retention_last_run_timestamp_seconds')).toBe(clock.now() / 1000);
  });

  it('retention - nothing is removed before the period has passed, and an empty run logs nothing', async () => {
    const { clock, store, service, send, logger, metric } = await rig();
    await send('alice', 'bob', 'm1');
    clock.advance(RETENTION - INTERVAL - 1);
    service.start();
    clock.advance(INTERVAL);
    expect(await service.runOnce()).toMatchObject({ entries: 0, cursors: 0, batches: 1 });
    expect(await store.queueInfo('bob')).toMatchObject({ head: 1, first: 1 });
    expect(logger.lines.filter((line) => line.level === 'info')).toEqual([]);
    expect(await metric('bimip_retention_runs_total', { outcome: 'ok' })).toBe(1);
  });

  it('retention - a run that removes something logs one info line with counts only', async () => {
    const { clock, service, send, logger } = await rig();
    await send('alice@secret.example', 'bob@secret.example', 'private-id');
    clock.advance(RETENTION + 1);
    await service.runOnce();
    const info = logger.lines.filter((line) => line.level === 'info');
    expect(info).toHaveLength(1);
    expect(info[0]!.obj).toEqual({ entries: 2, messages: 1, cursors: 0, batches: 1, ms: 0 });
    // SPEC §7.5: no user data in logs at info level.
    expect(JSON.stringify(info)).not.toMatch(/secret|private/);
  });

  it('retention - the per-run cap spreads a backlog over several runs, each leaving queues contiguous', async () => {
    const { clock, store, service, send } = await rig({ batchSize: 3, maxBatchesPerRun: 2 });
    for (let i = 0; i < 10; i++) await send('alice', 'alice', `note-${i}`);
    clock.advance(RETENTION + 1);
    service.start();
    const removed: number[] = [];
    for (let run = 0; run < 3; run++) {
      clock.advance(INTERVAL);
      const result = await service.runOnce();
      removed.push(result.entries);
      const info = await store.queueInfo('alice');
      const offsets = (await store.readEntries('alice', 0, 100)).map((entry) => entry.offset);
      expect(offsets).toEqual(Array.from({ length: info.head - info.first + 1 }, (_, i) => info.first + i));
    }
    expect(removed).toEqual([6, 4, 0]);
    expect(await store.queueInfo('alice')).toMatchObject({ head: 10, first: 11 });
  });

  it('retention - sends interleave with a long run: a send made during it is stored before the run ends', async () => {
    const { clock, store, service, send } = await rig({ batchSize: 1 });
    for (let i = 0; i < 40; i++) await send('alice', 'bob', `old-${i}`);
    clock.advance(RETENTION + 1);
    let runDone = false;
    const running = service.runOnce().then((result) => {
      runDone = true;
      return result;
    });
    await settle(2);
    const appended = await send('carol', 'bob', 'during');
    expect(runDone, 'the send did not wait for the whole run').toBe(false);
    expect((await running).entries).toBe(80);
    // The new entry kept its place: the head moved on and the young entry is retained.
    const info = await store.queueInfo('bob');
    const bobOffset = appended.entries.find((entry) => entry.eid === 'bob')!.offset;
    expect(info).toMatchObject({ head: 41, first: bobOffset });
    expect(bobOffset).toBe(41);
  });

  it('retention - a failed batch is logged and counted, and the next run retries', async () => {
    const clock = new FakeClock();
    const logger = recordingLogger();
    const registry = new Registry();
    let calls = 0;
    const store = {
      async pruneOlderThan() {
        if (++calls === 1) throw new Error('disk I/O error');
        return { entries: 2, messages: 1, cursors: 0 };
      },
    } as unknown as MessageStore;
    const service = new RetentionService({ store, clock, logger, registry, retentionMs: RETENTION, intervalMs: INTERVAL });
    service.start();
    clock.advance(INTERVAL);
    await settle();
    expect(logger.lines.filter((line) => line.level === 'error')).toHaveLength(1);
    clock.advance(INTERVAL);
    await settle();
    const runs = (await registry.getSingleMetric('bimip_retention_runs_total')!.get()).values;
    expect(Object.fromEntries(runs.map((value) => [value.labels['outcome'], value.value]))).toEqual({ failed: 1, ok: 1 });
    await service.stop();
  });

  it('retention - stop cancels the schedule', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const store = {
      async pruneOlderThan() {
        calls++;
        return { entries: 0, messages: 0, cursors: 0 };
      },
    } as unknown as MessageStore;
    const service = new RetentionService({ store, clock, logger: recordingLogger(), retentionMs: RETENTION, intervalMs: INTERVAL });
    service.start();
    clock.advance(INTERVAL);
    await settle();
    await service.stop();
    clock.advance(10 * INTERVAL);
    await settle();
    expect(calls).toBe(1);
  });

  it('retention - invalid settings are refused', () => {
    const base = { store: {} as MessageStore, clock: new FakeClock(), logger: recordingLogger(), retentionMs: RETENTION };
    expect(() => new RetentionService({ ...base, retentionMs: 0 })).toThrow(RangeError);
    expect(() => new RetentionService({ ...base, batchSize: 0.5 })).toThrow(RangeError);
    expect(() => new RetentionService({ ...base, intervalMs: -1 })).toThrow(RangeError);
  });
});
