/**
 * A throwaway PostgreSQL schema per test (SPEC §11 engines): created empty, reached through pools
 * whose connections have it as their search_path, and dropped (CASCADE) by `drop()`, which also
 * ends those pools and terminates any of their sessions still open. Nothing outside the schema is
 * touched. The server: BIMIP_TEST_POSTGRES_URL, default the local trust-auth one.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const POSTGRES_URL = process.env.BIMIP_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestSchema {
  name: string;
  /** A new pool on the schema (ended by drop()). */
  pool(max?: number): pg.Pool;
  /** Ends one pool now (as a node that goes away would), without waiting on clients still checked out. */
  endPool(pool: pg.Pool): Promise<void>;
  /** Terminates every session of this schema's pools (as a PostgreSQL restart would). */
  terminateSessions(): Promise<number>;
  drop(): Promise<void>;
}

export async function createTestSchema(): Promise<TestSchema> {
  const name = `bimip_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
  admin.on('error', () => undefined);
  await admin.query(`CREATE SCHEMA ${name}`);
  const pools = new Set<pg.Pool>();
  const endPool = async (pool: pg.Pool) => {
    pools.delete(pool);
    let timer: NodeJS.Timeout | undefined;
    // end() waits for checked-out clients; bounded, and the sessions are terminated by drop() anyway.
    await Promise.race([pool.end().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
  };
  const terminateSessions = async () => {
    const result = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()', [name]);
    // pg_terminate_backend only signals: wait (bounded) until the sessions are really gone.
    for (let i = 0; i < 200; i++) {
      const left = await admin.query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()', [name]);
      if (left.rowCount === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return result.rowCount ?? 0;
  };
  return {
    name,
    pool(max = 4) {
      // application_name marks this schema's sessions, so terminateSessions and drop find only them.
      const pool = new pg.Pool({ connectionString: POSTGRES_URL, max, options: `-c search_path=${name}`, application_name: name });
      pool.on('error', () => undefined);
      pools.add(pool);
      return pool;
    },
    endPool,
    terminateSessions,
    async drop() {
      try {
        for (const pool of [...pools]) await endPool(pool);
        await terminateSessions();
        await admin.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
      } finally {
        await admin.end().catch(() => undefined);
      }
    },
  };
}
