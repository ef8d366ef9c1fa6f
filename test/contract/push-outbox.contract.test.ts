/**
 * The PushOutbox contract against the embedded SQLite outbox (OutboxClient, a temporary folder) and
 * PostgresPushOutbox (a fresh schema per test, one pool per instance as one per node).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/core/errors.js';
import { OutboxClient } from '../../src/push/outbox-client.js';
import { PostgresPushOutbox } from '../../src/store/postgres/postgres-push-outbox.js';
import { createTestSchema } from '../helpers/postgres.js';
import { pushOutboxContract } from './push-outbox.contract.js';

const LEASE_MS = 30_000;

pushOutboxContract(
  'sqlite',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bimip-push-outbox-'));
    const open = () => OutboxClient.open(join(dir, 'push-outbox.sqlite'), { leaseMs: LEASE_MS });
    return { outbox: await open(), leaseMs: LEASE_MS, reopen: open, cleanup: () => rm(dir, { recursive: true, force: true }) };
  },
  { shared: false },
);

pushOutboxContract(
  'postgres',
  async () => {
    const schema = await createTestSchema();
    try {
      const open = () => PostgresPushOutbox.open({ pool: schema.pool(2), schema: schema.name, leaseMs: LEASE_MS });
      return { outbox: await open(), leaseMs: LEASE_MS, reopen: open, openAnother: open, cleanup: () => schema.drop() };
    } catch (err) {
      await schema.drop();
      throw err;
    }
  },
  { shared: true },
);

describe('PostgresPushOutbox', () => {
  it('postgres - a lost server is a StoreUnavailableError, and the outbox works again once connections can be made', async () => {
    const schema = await createTestSchema();
    try {
      const outbox = await PostgresPushOutbox.open({ pool: schema.pool(2), schema: schema.name });
      const [id] = await outbox.enqueue(['{}'], 1000);
      await schema.terminateSessions();
      // The pool's idle connections were killed: the first query on one may fail, and must map.
      for (let i = 0; i < 3; i++) {
        try {
          await outbox.poll(1000, 1);
          break;
        } catch (err) {
          expect(err).toBeInstanceOf(StoreUnavailableError);
        }
      }
      expect((await outbox.poll(1000 + 60_000, 1)).due.map((row) => row.id)).toEqual([id]);
    } finally {
      await schema.drop();
    }
  });

  it('postgres - an unreachable server rejects every operation with StoreUnavailableError', async () => {
    const schema = await createTestSchema();
    try {
      const pool = schema.pool(1);
      const outbox = await PostgresPushOutbox.open({ pool, schema: schema.name });
      await schema.endPool(pool);
      await expect(outbox.enqueue(['{}'], 1)).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(outbox.poll(1, 1)).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(outbox.remove(1)).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(outbox.reschedule(1, 1, 2, 500)).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await schema.drop();
    }
  });
});
