/**
 * The migration runner of the PostgreSQL engines. SPEC §11 Schema: each node creates or migrates
 * the schema at start, safely when several start at once. Each migration runs in its own
 * transaction that first takes a transaction-scoped advisory lock for the schema, then re-reads
 * what is applied: nodes starting together apply each migration exactly once, one after the other,
 * and a node that dies mid-migration leaves nothing half-applied (its transaction rolls back and
 * its lock goes with its connection).
 */
import { DatabaseError, escapeIdentifier, type Pool, type PoolClient } from 'pg';
import { withClient } from './pg-client.js';

/** Advisory lock namespace (first key) of schema migrations; the second key is the schema's hash. */
const MIGRATION_LOCK_CLASS = 0x42494d50; // "BIMP"

export interface MigrateOptions {
  /** Schema to create if missing; it must then be the first schema on the pool's search_path. */
  schema?: string;
}

/**
 * Applies the `migrations` of `component` (each an SQL script, applied in order, once) in the
 * current schema of the pool's connections. Resolves with the version now applied (a newer node may
 * have applied more: a rolling upgrade; older nodes keep running on the schema it left).
 */
export async function migrate(pool: Pool, component: string, migrations: readonly string[], options: MigrateOptions = {}): Promise<number> {
  return withClient(pool, `migrating the ${component} schema`, async (client) => {
    await useSchema(client, options.schema);
    for (;;) {
      try {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))', [MIGRATION_LOCK_CLASS]);
        await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
          component  text        NOT NULL,
          version    integer     NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (component, version))`);
        const applied = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations WHERE component = $1', [
          component,
        ]);
        const done = applied.rows[0]?.version ?? 0;
        if (done < migrations.length) {
          // A script without parameters goes by the simple protocol, so it may hold several statements.
          await client.query(migrations[done]!);
          await client.query('INSERT INTO schema_migrations (component, version) VALUES ($1, $2)', [component, done + 1]);
        }
        await client.query('COMMIT');
        if (done >= migrations.length) return done;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    }
  });
}

/** Creates `schema` if asked and checks that it is where tables will go. */
async function useSchema(client: PoolClient, schema: string | undefined): Promise<void> {
  if (schema !== undefined) {
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${escapeIdentifier(schema)}`);
    } catch (err) {
      // Two nodes creating it at once: the loser sees a unique violation; the schema exists.
      if (!(err instanceof DatabaseError && (err.code === '23505' || err.code === '42P06'))) throw err;
    }
  }
  const current = (await client.query<{ schema: string | null }>('SELECT current_schema() AS schema')).rows[0]?.schema ?? null;
  if (current === null) throw new Error('no schema of the search_path exists: set one in the connection options (options=-c search_path=…)');
  if (schema !== undefined && current !== schema) {
    throw new Error(`schema ${schema} is not first on the search_path (tables would go to ${current}): connect with options=-c search_path=${schema}`);
  }
}
