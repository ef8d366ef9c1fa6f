/**
 * Issue #7: per-user state is bounded — devices per user (close 4011), blocks and contacts per user
 * (ErrorMessage 403 naming the limit, nothing stored) — and block checks read the database, not a
 * set of every block loaded at open. Real sockets, real SQLite files.
 */
import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionClosedError } from '../../src/client/index.js';
import { ContactAction } from '../../src/protocol/index.js';
import { SqliteMessageStore } from '../../src/store/sqlite/sqlite-message-store.js';
import { startHarness, tempDir, type Harness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const A = 'a@example.com';
const B = 'b@example.com';

/** Rows of `table` in the server's SQLite file, read through a connection of its own. */
function rows(table: 'blocks' | 'subscriptions' | 'entries' | 'cursors'): number {
  const db = new Database(join(h!.dataDir, 'bimip.sqlite'), { readonly: true });
  try {
    return db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
  } finally {
    db.close();
  }
}

/** How a new connection of (eid, device) ends: its close, or 'open' if it is still open after `ms`. */
async function fateOf(eid: string, device: string, ms = 1500): Promise<{ code: number; reason: string } | 'open'> {
  try {
    const client = await h!.connect(eid, device);
    const timeout = new Promise<'open'>((resolve) => setTimeout(() => resolve('open'), ms));
    return await Promise.race([client.closed, timeout]);
  } catch (err) {
    if (err instanceof ConnectionClosedError) return { code: err.code, reason: err.reason };
    throw err;
  }
}

describe('per-user limits (issue #7)', () => {
  it('limits - a BLOCK beyond the block limit gets 403 naming the limit and stores nothing; the refused user can still write', async () => {
    h = await startHarness({ session: { ratePerSecond: 0 } }, undefined, { maxBlocksPerUser: 2 });
    const b = await h.online(B, 'phone');
    await b.block('x1@example.com');
    await b.block('x2@example.com');
    const before = { blocks: rows('blocks'), entries: rows('entries'), head: (await h.store.queueInfo(B)).head };
    expect(before.blocks).toBe(2);

    await expect(b.block('x3@example.com')).rejects.toMatchObject({
      code: 403,
      origin: 16,
      details: expect.stringContaining('block list is full (2 entries)'),
    });
    expect(rows('blocks')).toBe(before.blocks);
    expect(rows('entries')).toBe(before.entries);
    expect((await h.store.queueInfo(B)).head).toBe(before.head);
    expect(await h.store.isBlocked(B, 'x3@example.com')).toBe(false);
    const x3 = await h.online('x3@example.com', 'phone');
    expect((await x3.send({ to: B, id: 'still-allowed' })).code).toBe(200);

    // Blocking someone already blocked changes nothing and is not refused; unblocking frees a slot.
    await expect(b.block('x1@example.com')).resolves.toMatchObject({ type: 2 });
    await b.unblock('x1@example.com');
    await b.block('x3@example.com');
    expect((await x3.send({ to: B, id: 'now-blocked' })).code).toBe(403);
  });

  it('limits - concurrent BLOCKs cannot pass the limit together: exactly the free slots succeed', async () => {
    h = await startHarness({ session: { ratePerSecond: 0 } }, undefined, { maxBlocksPerUser: 2 });
    const b = await h.online(B, 'phone');
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => b.block(`spam-${i}@example.com`)));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(2);
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(refused.map((o) => (o.reason as { code: number }).code)).toEqual([403, 403, 403, 403]);
    expect(rows('blocks')).toBe(2);
    expect((await h.store.queueInfo(B)).head).toBe(2);
  });

  it('limits - a SUBSCRIBE beyond the contact limit of either user gets 403 and stores nothing', async () => {
    h = await startHarness({ session: { ratePerSecond: 0 } }, undefined, { maxContactsPerUser: 2 });
    const a = await h.online(A, 'phone');
    await a.subscribe('c1@example.com');
    await a.subscribe('c2@example.com');
    const before = { subscriptions: rows('subscriptions'), entries: rows('entries'), head: (await h.store.queueInfo(A)).head };

    // The actor's own list is full.
    await expect(a.subscribe('c3@example.com')).rejects.toMatchObject({ code: 403, details: expect.stringContaining('contact list is full (2 entries)') });
    expect(rows('subscriptions')).toBe(before.subscriptions);
    expect(rows('entries')).toBe(before.entries);
    expect((await h.store.queueInfo(A)).head).toBe(before.head);
    expect((await h.store.queueInfo('c3@example.com')).head).toBe(0);
    expect(await a.listContacts()).toHaveLength(2);

    // The target's list is full (pending requests to it count): a third requester is refused.
    const target = 'busy@example.com';
    const p1 = await h.online('p1@example.com', 'phone');
    const p2 = await h.online('p2@example.com', 'phone');
    const p3 = await h.online('p3@example.com', 'phone');
    await p1.subscribe(target);
    await p2.subscribe(target);
    await expect(p3.subscribe(target)).rejects.toMatchObject({ code: 403, details: expect.stringContaining("this user's contact list is full") });
    expect((await h.store.queueInfo(target)).head).toBe(2);
    expect(await p3.listContacts()).toEqual([]);

    // Approving a pending request adds no new contact: it is not refused.
    const busy = await h.online(target, 'phone');
    await busy.approve('p1@example.com');
    expect(await h.store.isSubscribed('p1@example.com', target)).toBe(true);
  });

  it('limits - a new device beyond the device limit is closed with 4011 and gets no cursor; known devices still connect; logout frees a slot', async () => {
    h = await startHarness({ session: { maxDevicesPerUser: 2 } });
    await h.online(A, 'phone');
    const laptop = await h.online(A, 'laptop');
    await laptop.close();

    const refused = await fateOf(A, 'tablet');
    expect(refused).toMatchObject({ code: 4011, reason: expect.stringContaining('2 devices') });
    expect(await h.store.getCursor(A, 'tablet')).toBeUndefined();
    expect(await h.store.deviceCount(A)).toBe(2);

    // A known device (offline meanwhile) connects normally.
    const again = await h.online(A, 'laptop');
    expect(again.isOpen).toBe(true);
    // Logout (type 1) deletes the laptop's cursor: its slot goes to the tablet.
    await again.logout();
    const tablet = await h.online(A, 'tablet');
    expect(tablet.isOpen).toBe(true);
    expect(await h.store.getCursor(A, 'tablet')).toBeDefined();
  });

  it('limits - a burst of new devices at once admits only the free slots', async () => {
    h = await startHarness({ session: { maxDevicesPerUser: 2 } });
    await h.online(A, 'phone');
    const fates = await Promise.all(Array.from({ length: 5 }, (_, i) => fateOf(A, `burst-${i}`)));
    expect(fates.filter((fate) => fate === 'open')).toHaveLength(1);
    expect(fates.filter((fate) => fate !== 'open' && fate.code === 4011)).toHaveLength(4);
    expect(await h.store.deviceCount(A)).toBe(2);
  });

  it('blocking - isBlocked reads the database: it holds across reopen, follows block/unblock at once, and sees blocks it did not load at open', async () => {
    const dir = tempDir();
    const path = join(dir, 'bimip.sqlite');
    const body = new Uint8Array();
    const act = (store: SqliteMessageStore, action: number, actorEid: string, otherEid: string) =>
      store.applyContactAction({ action, actorEid, actorDevice: 'phone', otherEid, body });
    let store = await SqliteMessageStore.open({ path });
    try {
      expect(await store.isBlocked(B, A)).toBe(false);
      await act(store, ContactAction.BLOCK, B, A);
      expect(await store.isBlocked(B, A)).toBe(true);
      expect(await store.isBlocked(A, B)).toBe(false);
      await store.close();

      store = await SqliteMessageStore.open({ path });
      expect(await store.isBlocked(B, A)).toBe(true);
      // A block this store did not write and did not see at open (another tool wrote it, e.g. a restore).
      const other = new Database(path);
      other.prepare('INSERT INTO blocks (blocker, blocked, created_at) VALUES (?, ?, 0)').run('c@example.com', 'd@example.com');
      other.close();
      expect(await store.isBlocked('c@example.com', 'd@example.com')).toBe(true);
      await act(store, ContactAction.UNBLOCK, B, A);
      expect(await store.isBlocked(B, A)).toBe(false);
      await act(store, ContactAction.BLOCK, B, A);
      expect(await store.isBlocked(B, A)).toBe(true);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
