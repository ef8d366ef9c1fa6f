/**
 * The MessageStore and ContactStore contracts (with their two-instance section) against
 * PostgresMessageStore on the local PostgreSQL, a fresh schema per test, dropped afterwards.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/core/errors.js';
import { ContactAction } from '../../src/protocol/index.js';
import { PostgresMessageStore } from '../../src/store/postgres/postgres-message-store.js';
import { createTestSchema, POSTGRES_URL } from '../helpers/postgres.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { contactStoreContract } from './contact-store.contract.js';
import { bodyOf, messageStoreContract, newMessage } from './message-store.contract.js';

messageStoreContract(
  'postgres',
  async ({ now } = {}) => {
    const schema = await createTestSchema();
    try {
      const open = (options: { now?: () => number } = {}) => PostgresMessageStore.open({ pool: schema.pool(), now: options.now ?? now, schema: schema.name });
      return {
        store: await open(),
        reopen: () => open(),
        openAnother: (options) => open(options),
        cleanup: () => schema.drop(),
      };
    } catch (err) {
      await schema.drop();
      throw err;
    }
  },
  { shared: true },
);

contactStoreContract('postgres', async (limits) => {
  const schema = await createTestSchema();
  try {
    return { store: await PostgresMessageStore.open({ pool: schema.pool(), ...limits }), cleanup: () => schema.drop() };
  } catch (err) {
    await schema.drop();
    throw err;
  }
});

describe('PostgresMessageStore', () => {
  it('postgres - an append that resolved is read from a new pool after the first pool is gone (nothing only in memory)', async () => {
    const schema = await createTestSchema();
    try {
      const first = schema.pool();
      const store = await PostgresMessageStore.open({ pool: first });
      const appended = await Promise.all(Array.from({ length: 50 }, (_, i) => store.appendMessage(newMessage(['alice', 'a1'], ['bob'], `m-${i}`))));
      await store.commitCursor('bob', 'phone', 7);
      await store.flushCursor('bob', 'phone');
      const epoch = (await store.queueInfo('bob')).epoch;
      // No close(): the pool and its sessions go away as a node's would.
      await schema.endPool(first);
      await schema.terminateSessions();

      const again = await PostgresMessageStore.open({ pool: schema.pool() });
      expect(await again.queueInfo('bob')).toEqual({ head: 50, first: 1, epoch });
      const stored = await again.readEntries('bob', 0, 100);
      expect(stored.map((entry) => entry.signalId)).toEqual(appended.map((result) => result.entries.find((e) => e.eid === 'bob')!.signalId));
      expect(await again.getCursor('bob', 'phone')).toBe(7);
      expect((await again.appendMessage(newMessage(['alice', 'a1'], ['bob'], 'm-0'))).duplicate).toBe(true);
      await again.close();
    } finally {
      await schema.drop();
    }
  });

  it('postgres - sessions killed under the store: calls reject with StoreUnavailableError or succeed, then the store recovers by itself', async () => {
    const schema = await createTestSchema();
    try {
      const store = await PostgresMessageStore.open({ pool: schema.pool() });
      await store.appendMessage(newMessage(['alice', 'a1'], ['bob'], 'before'));
      await schema.terminateSessions();
      // Idle sessions died: the first calls may fail (503), never with another error.
      for (let i = 0; i < 3; i++) {
        await store.appendMessage(newMessage(['alice', 'a1'], ['bob'], `during-${i}`)).catch((err: Error) => expect(err.name).toBe('StoreUnavailableError'));
        await store.ping().catch((err: Error) => expect(err.name).toBe('StoreUnavailableError'));
      }
      await expect(store.ping()).resolves.toBeUndefined();
      const after = await store.appendMessage(newMessage(['alice', 'a1'], ['bob'], 'after'));
      expect(after.duplicate).toBe(false);
      const info = await store.queueInfo('bob');
      expect(info.head).toBe(after.entries.find((e) => e.eid === 'bob')!.offset);
      expect((await store.readEntries('bob', 0, 100)).map((entry) => entry.offset)).toEqual(Array.from({ length: info.head }, (_, i) => i + 1));
      await store.close();
    } finally {
      await schema.drop();
    }
  });

  it('postgres - one failing op is answered with its error; the others of its batch still commit', async () => {
    const schema = await createTestSchema();
    try {
      const store = await PostgresMessageStore.open({ pool: schema.pool() });
      const bad = { action: ContactAction.LIST, actorEid: 'alice', actorDevice: 'a1', otherEid: 'bob', body: new Uint8Array([1]) };
      // Queued in one turn, so they share a transaction.
      const [first, refused, second, nul, unencodable] = await Promise.allSettled([
        store.appendMessage(newMessage(['alice', 'a1'], ['bob'], 'm1')),
        store.applyContactAction(bad),
        store.appendMessage(newMessage(['alice', 'a1'], ['bob'], 'm2')),
        store.appendMessage(newMessage(['alice', 'a1'], ['bob\u0000'], 'm3')),
        store.appendMessage({
          ...newMessage(['alice', 'a1'], ['bob'], 'm4'),
          encodeBody: () => {
            throw new RangeError('cannot encode');
          },
        }),
      ]);
      expect(unencodable).toMatchObject({ status: 'rejected', reason: { message: 'cannot encode' } });
      expect(first.status).toBe('fulfilled');
      expect(second.status).toBe('fulfilled');
      expect(refused).toMatchObject({ status: 'rejected', reason: { message: 'contact action 7 does not change state' } });
      expect(nul).toMatchObject({ status: 'rejected', reason: { name: 'ProtocolError', code: 400 } });
      expect((await store.readEntries('bob', 0, 10)).map((entry) => bodyOf(entry).text)).toEqual(['m1', 'm2']);
      await store.close();
    } finally {
      await schema.drop();
    }
  });

  it('postgres - a cursor commit reaches the database within cursorFlushMs without a flush', async () => {
    const schema = await createTestSchema();
    try {
      const a = await PostgresMessageStore.open({ pool: schema.pool(), cursorFlushMs: 50 });
      const b = await PostgresMessageStore.open({ pool: schema.pool() });
      await a.commitCursor('bob', 'phone', 4);
      let seen: number | undefined;
      for (let i = 0; i < 100 && seen === undefined; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        seen = await b.getCursor('bob', 'phone');
      }
      expect(seen).toBe(4);
      await a.close();
      await b.close();
    } finally {
      await schema.drop();
    }
  });

  it('postgres - nodes starting together over an empty schema migrate it once and share one epoch', async () => {
    const schema = await createTestSchema();
    try {
      const stores = await Promise.all(Array.from({ length: 4 }, () => PostgresMessageStore.open({ pool: schema.pool(2), schema: schema.name })));
      const epochs = await Promise.all(stores.map((store) => store.queueInfo('bob').then((info) => info.epoch)));
      expect(new Set(epochs).size).toBe(1);
      const pool = schema.pool(1);
      const versions = await pool.query("SELECT version FROM schema_migrations WHERE component = 'message-store'");
      expect(versions.rows).toEqual([{ version: 1 }]);
      for (const store of stores) await store.close();
    } finally {
      await schema.drop();
    }
  });

  it('postgres - while the server is unreachable calls reject with StoreUnavailableError (503); it recovers by itself when the server returns', async () => {
    const schema = await createTestSchema();
    const proxy = await startTcpProxy(Number(new URL(POSTGRES_URL).port || 5432));
    try {
      const url = new URL(POSTGRES_URL);
      url.port = String(proxy.port);
      const pool = new pg.Pool({
        connectionString: url.toString(),
        max: 4,
        options: `-c search_path=${schema.name}`,
        application_name: schema.name,
        connectionTimeoutMillis: 2000,
      });
      pool.on('error', () => undefined);
      const store = await PostgresMessageStore.open({ pool });
      await store.appendMessage(newMessage(['alice', 'a1'], ['bob'], 'before'));
      await proxy.stop();
      for (let i = 0; i < 3; i++) {
        await expect(store.appendMessage(newMessage(['alice', 'a1'], ['bob'], `down-${i}`))).rejects.toBeInstanceOf(StoreUnavailableError);
        await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
        await expect(store.queueInfo('bob')).rejects.toBeInstanceOf(StoreUnavailableError);
      }
      await proxy.start();
      await expect(store.ping()).resolves.toBeUndefined();
      const after = await store.appendMessage(newMessage(['alice', 'a1'], ['bob'], 'after'));
      expect(after.senderOffset).toBe(2);
      // A send refused while down is stored on its resend.
      expect((await store.appendMessage(newMessage(['alice', 'a1'], ['bob'], 'down-0'))).duplicate).toBe(false);
      expect((await store.readEntries('bob', 0, 10)).map((entry) => bodyOf(entry).text)).toEqual(['before', 'after', 'down-0']);
      await store.close();
      await pool.end();
    } finally {
      await proxy.close();
      await schema.drop();
    }
  });
});
