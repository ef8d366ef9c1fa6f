/**
 * Issue #7 item 8: /healthz reports the store's write health. The disk is "full" because the
 * database is capped (`maxDatabaseBytes`, SQLite max_page_count) and a ballast table holds part of
 * the room; dropping the ballast frees space the way an operator deleting files would.
 */
import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenIssuer } from '../../src/auth/token-issuer.js';
import { BimipConnection } from '../../src/client/index.js';
import type { BimipServer } from '../../src/server/bimip-server.js';
import { SqliteMessageStore } from '../../src/store/sqlite/sqlite-message-store.js';
import { pb } from '../../src/protocol/index.js';
import { openTestAuth, tempDir, TEST_SECRET, startServerOnStore } from '../helpers/harness.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function health(server: BimipServer): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`http://127.0.0.1:${server.port}/healthz`, { signal: AbortSignal.timeout(5000) });
  return { status: response.status, body: await response.json() };
}

describe('store write health', () => {
  it('healthz - 503 "store writes failing" while commits fail (database full), 200 again by itself once there is room; no false Ack 200', async () => {
    const dataDir = tempDir();
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const path = join(dataDir, 'bimip.sqlite');
    // 1 MiB of ballast in the database file before the server opens it.
    const setup = new Database(path);
    setup.exec('CREATE TABLE test_ballast (bytes BLOB NOT NULL)');
    setup.prepare('INSERT INTO test_ballast (bytes) VALUES (zeroblob(1048576))').run();
    setup.close();

    const healthChanges: boolean[] = [];
    const store = await SqliteMessageStore.open({ path, maxDatabaseBytes: 1.5 * 1024 * 1024, onWriteHealth: (healthy) => healthChanges.push(healthy) });
    const auth = await openTestAuth(dataDir);
    const server = await startServerOnStore(store, auth.tokens);
    cleanups.push(async () => {
      await server.stop();
      await auth.store.close();
    });
    const issuer = new TokenIssuer(TEST_SECRET);
    const a = await BimipConnection.connect({ url: server.url, token: await issuer.issueAccessToken({ eid: 'a@example.com', deviceId: 'phone' }) });
    cleanups.push(() => void a.close());
    expect(await health(server)).toEqual({ status: 200, body: { status: 'ok' } });

    // Fill the database until a send is refused.
    const payload = 'x'.repeat(8 * 1024);
    const acked: string[] = [];
    let refusedAck: { code: number; details: string } | undefined;
    for (let i = 0; i < 1000 && !refusedAck; i++) {
      const ack = await a.send({ to: 'b@example.com', id: `fill-${i}`, payload });
      if (ack.code === 200) acked.push(`fill-${i}`);
      else refusedAck = ack;
    }
    expect(refusedAck).toMatchObject({ code: 503 });
    expect(acked.length).toBeGreaterThan(10);

    // The health check fails for the right reason, and keeps failing while the database is full.
    expect(await health(server)).toEqual({ status: 503, body: { status: 'store writes failing' } });
    expect(healthChanges).toEqual([false]);
    for (let i = 0; i < 3; i++) expect((await a.send({ to: 'b@example.com', id: `full-${i}`, payload })).code).toBe(503);
    expect(await health(server)).toEqual({ status: 503, body: { status: 'store writes failing' } });

    // Free space, then poll /healthz only: it recovers without any send.
    const admin = new Database(path);
    admin.exec('DROP TABLE test_ballast');
    admin.close();
    let recovered = await health(server);
    for (let i = 0; i < 100 && recovered.status !== 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      recovered = await health(server);
    }
    expect(recovered).toEqual({ status: 200, body: { status: 'ok' } });
    expect(healthChanges).toEqual([false, true]);
    const after = await a.send({ to: 'b@example.com', id: 'after', payload: 'room again' });
    expect(after.code).toBe(200);
    acked.push('after');

    // No false 200: exactly the acked messages are stored, in order; none of the refused ones.
    const stored = await store.readEntries('b@example.com', 0, 10_000);
    expect(stored.map((entry) => pb.Message.decode(entry.body).id)).toEqual(acked);
    expect((await store.queueInfo('b@example.com')).head).toBe(acked.length);
  });
});
