/**
 * The PushOutbox port contract (src/core/push-outbox.ts, SPEC §6 F9, §11, issue #8), run against
 * every engine; with `openAnother`, its cluster half (several instances over the same data).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { PushOutbox } from '../../src/core/push-outbox.js';

export interface OpenedPushOutbox {
  outbox: PushOutbox;
  /** The engine's lease, in ms. */
  leaseMs: number;
  /** The same data again after the suite closed `outbox`. */
  reopen: () => Promise<PushOutbox>;
  /** A second instance over the same data while `outbox` stays open (engines several nodes share). */
  openAnother?: () => Promise<PushOutbox>;
  cleanup(): Promise<void>;
}

const NOW = 1_800_000_000_000;

const bodies = (from: number, count: number): string[] => Array.from({ length: count }, (_, i) => JSON.stringify({ n: from + i }));

export function pushOutboxContract(name: string, open: () => Promise<OpenedPushOutbox>, capabilities: { shared: boolean }): void {
  describe(`PushOutbox contract: ${name}`, () => {
    let opened: OpenedPushOutbox | undefined;
    const live: PushOutbox[] = [];

    afterEach(async () => {
      for (const outbox of live.splice(0)) await outbox.close().catch(() => undefined);
      await opened?.cleanup();
      opened = undefined;
    });

    async function start(): Promise<OpenedPushOutbox> {
      opened = await open();
      live.push(opened.outbox);
      return opened;
    }

    it(`${name} - enqueue answers increasing ids in the bodies' order; poll returns the due rows, lowest id first`, async () => {
      const { outbox } = await start();
      const first = await outbox.enqueue(bodies(0, 3), NOW);
      const second = await outbox.enqueue(bodies(3, 2), NOW + 1);
      const ids = [...first, ...second];
      expect(ids).toHaveLength(5);
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
      expect(new Set(ids).size).toBe(5);
      const { due } = await outbox.poll(NOW + 1, 10);
      expect(due.map((row) => row.id)).toEqual(ids);
      expect(due.map((row) => row.body)).toEqual(bodies(0, 5));
      expect(due[0]).toMatchObject({ enqueuedAt: NOW, attempts: 0, nextAttemptAt: NOW });
      expect(due[4]).toMatchObject({ enqueuedAt: NOW + 1, nextAttemptAt: NOW + 1 });
    });

    it(`${name} - poll claims what it returns: a later poll gets the next rows, and a claimed row again only after the lease`, async () => {
      const { outbox, leaseMs } = await start();
      const ids = await outbox.enqueue(bodies(0, 5), NOW);
      expect((await outbox.poll(NOW, 2)).due.map((row) => row.id)).toEqual(ids.slice(0, 2));
      const second = await outbox.poll(NOW + 10, 10);
      expect(second.due.map((row) => row.id)).toEqual(ids.slice(2));
      // The wake-up hint covers the lapse of the claims.
      expect(second.nextAttemptAt).toBe(NOW + leaseMs);
      expect((await outbox.poll(NOW + leaseMs - 1, 10)).due).toEqual([]);
      expect((await outbox.poll(NOW + leaseMs, 10)).due.map((row) => row.id)).toEqual(ids.slice(0, 2));
    });

    it(`${name} - remove ends a row for good; reschedule ends the claim and makes it due at its next attempt`, async () => {
      const { outbox, leaseMs } = await start();
      const [a, b] = await outbox.enqueue(bodies(0, 2), NOW);
      await outbox.poll(NOW, 10);
      expect(await outbox.remove(a!)).toBe(true);
      expect(await outbox.remove(a!)).toBe(false);
      await outbox.reschedule(b!, 1, NOW + 5000, 503);
      const before = await outbox.poll(NOW + 4999, 10);
      expect(before.due).toEqual([]);
      expect(before.nextAttemptAt).toBe(NOW + 5000);
      const retried = await outbox.poll(NOW + 5000, 10);
      expect(retried.due).toEqual([expect.objectContaining({ id: b, attempts: 1, nextAttemptAt: NOW + 5000, enqueuedAt: NOW })]);
      await outbox.remove(b!);
      expect((await outbox.poll(NOW + 10 * leaseMs, 10)).due).toEqual([]);
    });

    it(`${name} - rows survive a reopen; ids are never reused, even after the newest row is removed`, async () => {
      const { outbox, reopen } = await start();
      const ids = await outbox.enqueue(bodies(0, 3), NOW);
      await outbox.remove(ids[2]!);
      await outbox.close();
      const again = await reopen();
      live.push(again);
      expect(again.pendingAtOpen).toBe(2);
      expect((await again.poll(NOW, 10)).due.map((row) => row.body)).toEqual(bodies(0, 2));
      const [next] = await again.enqueue(bodies(3, 1), NOW);
      expect(next).toBeGreaterThan(ids[2]!);
    });

    it(`${name} - operations after close reject`, async () => {
      const { outbox } = await start();
      await outbox.close();
      await outbox.close();
      await expect(outbox.enqueue(bodies(0, 1), NOW)).rejects.toThrow();
      await expect(outbox.poll(NOW, 1)).rejects.toThrow();
    });

    if (!capabilities.shared) return;

    it(`${name} - cluster: ids are unique across instances enqueuing at once`, async () => {
      const { outbox, openAnother } = await start();
      if (!openAnother) throw new Error('a shared engine must offer openAnother');
      const other = await openAnother();
      live.push(other);
      const batches = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? outbox : other).enqueue(bodies(i * 5, 5), NOW)));
      const ids = batches.flat();
      expect(new Set(ids).size).toBe(100);
      for (const batch of batches) expect([...batch].sort((a, b) => a - b)).toEqual(batch);
    });

    it(`${name} - cluster: instances polling at once never get the same row, and together get every row`, async () => {
      const { outbox, openAnother } = await start();
      if (!openAnother) throw new Error('a shared engine must offer openAnother');
      const others = [await openAnother(), await openAnother()];
      live.push(...others);
      const ids = await outbox.enqueue(bodies(0, 200), NOW);
      const got: number[][] = [[], [], []];
      await Promise.all(
        [outbox, ...others].map(async (instance, i) => {
          for (;;) {
            const { due } = await instance.poll(NOW, 7);
            if (due.length === 0) return;
            got[i]!.push(...due.map((row) => row.id));
            // Rows stay claimed (not removed) half of the time: claims alone must keep them apart.
            if (got[i]!.length % 2 === 0) for (const row of due) await instance.remove(row.id);
          }
        }),
      );
      const all = got.flat();
      expect(all).toHaveLength(200);
      expect(new Set(all)).toEqual(new Set(ids));
    });

    it(`${name} - cluster: a row claimed by an instance that dies is another's after the lease, not before`, async () => {
      const { outbox, openAnother, leaseMs } = await start();
      if (!openAnother) throw new Error('a shared engine must offer openAnother');
      const survivor = await openAnother();
      live.push(survivor);
      const [id] = await outbox.enqueue(bodies(0, 1), NOW);
      expect((await outbox.poll(NOW, 1)).due.map((row) => row.id)).toEqual([id]);
      await outbox.close(); // dies mid-POST: neither removes nor reschedules
      const early = await survivor.poll(NOW + leaseMs - 1, 10);
      expect(early.due).toEqual([]);
      expect(early.nextAttemptAt).toBe(NOW + leaseMs);
      expect((await survivor.poll(NOW + leaseMs, 10)).due.map((row) => row.id)).toEqual([id]);
    });
  });
}
