/** `bimip token`: prints an access token (or, with --refresh, an access + refresh pair as JSON) signed with the server's secret (SPEC §8). */
import pg from 'pg';
import { PostgresTokenStore } from '../store/postgres-tokens/postgres-token-store.js';
import { setUpAuth } from './auth-setup.js';
import { postgresPoolConfig } from './cluster-engines.js';
import { ConfigError, type Config } from './config.js';
import { securePrivateDataDir } from './data-dir.js';

export async function printToken(config: Config, args: { eid: string; device: string; ttl: number; refresh?: boolean }): Promise<void> {
  if (config.jwtPublicKeyPath) {
    throw new ConfigError('BIMIP_JWT_PUBLIC_KEY', 'tokens are issued by an external signer; `bimip token` needs BIMIP_JWT_SECRET or the generated secret');
  }
  securePrivateDataDir(config.dataDir);
  // Cluster mode: the refresh token must be in the shared PostgreSQL store every node reads (SPEC §11).
  const shared = config.cluster ? await openSharedTokenStore(config.cluster.postgresUrl) : undefined;
  const auth = await setUpAuth(config, undefined, shared?.store);
  try {
    const pair = await auth.tokens.issuePair(args.eid, args.device, { accessTtlSeconds: args.ttl });
    if (!args.refresh) {
      process.stdout.write(`${pair.accessToken}\n`);
      return;
    }
    process.stdout.write(
      `${JSON.stringify({ access_token: pair.accessToken, refresh_token: pair.refreshToken, token_type: 'Bearer', expires_at: pair.accessExpiresAt, refresh_expires_at: pair.refreshExpiresAt })}\n`,
    );
  } finally {
    await auth.store.close();
    await shared?.pool.end();
  }
}

async function openSharedTokenStore(url: string): Promise<{ store: PostgresTokenStore; pool: pg.Pool }> {
  const { config, schema } = postgresPoolConfig(url);
  const pool = new pg.Pool({ ...config, max: 2 });
  try {
    return { store: await PostgresTokenStore.open({ pool, schema }), pool };
  } catch (err) {
    await pool.end();
    throw err;
  }
}
