/**
 * Pool connections for the PostgreSQL engines. A checked-out `pg` client emits 'error' when its
 * session ends unexpectedly (PostgreSQL restarted, a proxy cut it), and an 'error' nobody hears
 * crashes the node: while an engine holds a client it listens, and the query in flight rejects
 * with the same failure. Connection failures become StoreUnavailableError (SPEC §11 Faults: 503,
 * recovery by itself); a broken connection is destroyed on release, so the pool opens a fresh one.
 */
import type { Pool, PoolClient } from 'pg';
import { connectionLost, toStoreError } from './pg-errors.js';

/** Runs `work` on a connection of `pool`; rejects with StoreUnavailableError when the connection fails. */
export async function withClient<T>(pool: Pool, doing: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw toStoreError(err, doing);
  }
  const heard = (): void => undefined;
  client.on('error', heard);
  try {
    const result = await work(client);
    client.off('error', heard);
    client.release();
    return result;
  } catch (err) {
    client.off('error', heard);
    client.release(connectionLost(err) ? (err as Error) : undefined);
    throw toStoreError(err, doing);
  }
}

/** Runs `work` in a transaction (BEGIN … COMMIT, ROLLBACK on failure) on a connection of `pool`. */
export function inTransaction<T>(pool: Pool, doing: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, doing, async (client) => {
    try {
      await client.query('BEGIN');
      const result = await work(client);
      const commit = await client.query('COMMIT');
      // An aborted transaction answers COMMIT with ROLLBACK instead of an error.
      if (commit.command !== 'COMMIT') throw new Error(`${doing}: the transaction was rolled back`);
      return result;
    } catch (err) {
      if (!connectionLost(err)) await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}
