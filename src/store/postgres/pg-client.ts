/**
 * Pool connections for the PostgreSQL engines. A checked-out `pg` client emits 'error' when its
 * session ends unexpectedly (PostgreSQL restarted, a proxy cut it), and an 'error' nobody hears
 * crashes the node: while an engine holds a client it listens, and the query in flight rejects
 * with the same failure. Connection failures become StoreUnavailableError (SPEC §11 Faults: 503,
 * recovery by itself); a broken connection is destroyed on release, so the pool opens a fresh one.
 */
import { DatabaseError, type Pool, type PoolClient } from 'pg';
import { StoreUnavailableError } from '../../core/errors.js';
import { connectionLost, toStoreError } from './pg-errors.js';

/** Whether the connection `work` runs on has failed (its session ended, its socket closed). */
export interface ConnectionState {
  lost: boolean;
}

/** Runs `work` on a connection of `pool`; rejects with StoreUnavailableError when the connection fails. */
export async function withClient<T>(pool: Pool, doing: string, work: (client: PoolClient, connection: ConnectionState) => Promise<T>): Promise<T> {
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    // Nothing of ours ran: whatever failed was opening the connection.
    throw err instanceof DatabaseError
      ? toStoreError(err, doing)
      : new StoreUnavailableError(`${doing}: PostgreSQL unavailable (${(err as Error).message})`, { cause: err });
  }
  const connection: ConnectionState = { lost: false };
  // Emitted synchronously when the session ends, before the query in flight is seen to reject.
  const heard = (): void => {
    connection.lost = true;
  };
  client.on('error', heard);
  try {
    const result = await work(client, connection);
    client.off('error', heard);
    client.release();
    return result;
  } catch (err) {
    client.off('error', heard);
    const lost = connection.lost || connectionLost(err);
    client.release(lost ? (err as Error) : undefined);
    if (lost && !(err instanceof StoreUnavailableError))
      throw new StoreUnavailableError(`${doing}: PostgreSQL unavailable (${(err as Error).message})`, { cause: err });
    throw toStoreError(err, doing);
  }
}

/** Runs `work` in a transaction (BEGIN … COMMIT, ROLLBACK on failure) on a connection of `pool`. */
export function inTransaction<T>(pool: Pool, doing: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
  return withClient(pool, doing, async (client, connection) => {
    try {
      await client.query('BEGIN');
      const result = await work(client);
      const commit = await client.query('COMMIT');
      // An aborted transaction answers COMMIT with ROLLBACK instead of an error.
      if (commit.command !== 'COMMIT') throw new Error(`${doing}: the transaction was rolled back`);
      return result;
    } catch (err) {
      if (!connection.lost && !connectionLost(err)) await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}
