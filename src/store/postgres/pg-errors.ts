/**
 * What a PostgreSQL failure means for the caller. SPEC §11 Faults: PostgreSQL unreachable → sends
 * get Ack 503 (never a false 200) and the node recovers by itself, so connection-level failures
 * become StoreUnavailableError, never a latched state: the pool opens new connections once the
 * server answers again.
 */
import { DatabaseError } from 'pg';
import { StoreUnavailableError, StoreWritesFailingError } from '../../core/errors.js';

/** Node socket errors seen when the server is down, restarting or unreachable. */
const SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * SQLSTATEs that mean "the server cannot serve now" (PostgreSQL appendix A): class 08 connection
 * exception, 57P01–57P03 shutdown / cannot connect now, 53300 too many connections, 25006 a
 * read-only server (a replica after a failover).
 */
function serverUnavailable(code: string): boolean {
  return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300' || code === '25006';
}

/** SQLSTATEs after which the same transaction may simply be run again (serialization failure, deadlock). */
export function retryable(error: unknown): boolean {
  return error instanceof DatabaseError && (error.code === '40001' || error.code === '40P01');
}

/**
 * Whether `error` says the server or the connection failed, rather than a statement: a refused or
 * reset socket, a shutdown SQLSTATE, or a StoreUnavailableError already. A connection that dies
 * under a query makes `pg` reject it with a plain Error without a code; engines learn that from
 * the client's 'error' event instead (pg-client.ts) or, for pool-level queries, from `mapped`.
 */
export function connectionLost(error: unknown): boolean {
  if (error instanceof DatabaseError) return serverUnavailable(error.code ?? '');
  if (queryTimedOut(error)) return true;
  if (error instanceof StoreUnavailableError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && SOCKET_ERRORS.has(code);
}

/**
 * The pool's `query_timeout` fired: PostgreSQL stopped answering without closing the connection (a
 * network partition). `pg` reports it with this message and no code, and leaves the query pending
 * on the connection, so the connection must be dropped like a lost one (a COMMIT that timed out
 * may still have landed: the send gets 503, and its resend 409, never a false 200).
 */
export function queryTimedOut(error: unknown): boolean {
  return error instanceof Error && !(error instanceof DatabaseError) && error.message === 'Query read timeout';
}

/**
 * Disk full (53100), out of memory (53200), I/O errors (58030) and the like: reads may work, commits
 * fail until the operator acts (SPEC §10: 503).
 */
export function writesFailing(error: unknown): boolean {
  return error instanceof DatabaseError && (error.code?.startsWith('53') === true || error.code?.startsWith('58') === true);
}

/** Maps a failure to the typed error the server answers with 503, or returns it unchanged. */
export function toStoreError(error: unknown, doing: string): unknown {
  if (error instanceof StoreUnavailableError) return error;
  if (writesFailing(error)) return new StoreWritesFailingError(`${doing}: ${(error as Error).message}`, { cause: error });
  if (connectionLost(error)) return new StoreUnavailableError(`${doing}: PostgreSQL unavailable (${(error as Error).message})`, { cause: error });
  return error;
}

/**
 * Runs a pool-level query (`pool.query`, which runs no code of ours), rethrowing connection
 * failures as StoreUnavailableError. Besides `connectionLost`, a plain Error without a SQLSTATE is
 * `pg` reporting a connection it could not open or lost ("Connection terminated unexpectedly", a
 * connect timeout); a TypeError or RangeError would be a bug, and stays one.
 */
export async function mapped<T>(doing: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof DatabaseError) && err instanceof Error && err.constructor === Error) {
      throw new StoreUnavailableError(`${doing}: PostgreSQL unavailable (${err.message})`, { cause: err });
    }
    throw toStoreError(err, doing);
  }
}
