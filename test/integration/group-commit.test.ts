/**
 * Issue #10: the writes of each event-loop turn are posted to the SQLite writer at once, also while
 * a transaction is committing, and the writer commits everything posted meanwhile in its next
 * transaction. Every write still gets its own outcome, in order, with gap-free offsets; the
 * transactions are fewer than the batches posted.
 */
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { messageToB, openTempStore, storedIds } from '../helpers/sqlite-store.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const message = (id: string) => messageToB(id, 16);

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('group commit', () => {
  it('group commit - batches posted while a transaction commits share the next one; each write keeps its own outcome, in order', async () => {
    const commits: number[] = [];
    const { store } = await openTempStore(cleanups, { maxBatch: 1000, onCommit: (writes) => commits.push(writes) });

    // A first transaction of 1,000 messages takes milliseconds; 20 turns of 5 messages each are
    // posted while it commits (each turn is microseconds), so they wait in the writer's port.
    const appends = Array.from({ length: 1000 }, (_, i) => store.appendMessage(message(`big-${i}`)));
    for (let turn = 0; turn < 20; turn++) {
      await nextTurn();
      for (let k = 0; k < 5; k++) appends.push(store.appendMessage(message(`small-${turn}-${k}`)));
    }
    const results = await Promise.all(appends);

    // Each write's own outcome: sender offsets 1..1100 in the order of the calls, nothing duplicated.
    expect(results.map((r) => r.duplicate)).toEqual(results.map(() => false));
    expect(results.map((r) => r.senderOffset)).toEqual(results.map((_, i) => i + 1));
    expect(await storedIds(store)).toEqual([
      ...Array.from({ length: 1000 }, (_, i) => `big-${i}`),
      ...Array.from({ length: 100 }, (_, i) => `small-${Math.floor(i / 5)}-${i % 5}`),
    ]);

    // 21 batches were posted; the 20 small ones did not each get a transaction (and fsync).
    expect(commits.reduce((a, b) => a + b, 0)).toBe(1100);
    expect(commits.length).toBeLessThan(21);
  });

  it('group commit - the next transaction starts without the event loop: writes posted during a commit land while this thread is blocked', async () => {
    const { store, path } = await openTempStore(cleanups);
    const reader = new Database(path, { readonly: true });
    cleanups.push(() => {
      reader.close();
    });
    const entriesOfB = reader.prepare("SELECT count(*) FROM entries WHERE eid = 'b@example.com'").pluck();

    const appends = Array.from({ length: 1000 }, (_, i) => store.appendMessage(message(`big-${i}`)));
    await nextTurn(); // the 1,000 are posted
    for (let k = 0; k < 5; k++) appends.push(store.appendMessage(message(`next-${k}`)));
    await nextTurn(); // the 5 are posted too, while the 1,000 may still be committing
    // Block this thread (no answer from the writer can be handled) until all 1,005 are durable.
    const deadline = Date.now() + 5000;
    let stored = 0;
    while (Date.now() < deadline && stored < 1005) stored = entriesOfB.get() as number;
    expect(stored).toBe(1005);
    const results = await Promise.all(appends);
    expect(results.map((r) => r.senderOffset)).toEqual(results.map((_, i) => i + 1));
  });
});
