/** `bimip token`: prints an access token (or, with --refresh, an access + refresh pair as JSON) signed with the server's secret (SPEC §8). */
import { existsSync } from 'node:fs';
import pg from 'pg';
import { secretFilePath } from '../auth/secret-file.js';
import { PostgresTokenStore } from '../store/postgres-tokens/postgres-token-store.js';
import { setUpAuth } from './auth-setup.js';
import { postgresPoolConfig } from './cluster-engines.js';
import { ConfigError, UsageError, type Config } from './config.js';
import { securePrivateDataDir } from './data-dir.js';

export interface TokenArgs {
  eid: string;
  device: string;
  ttl: number;
  refresh?: boolean;
  /** Mint with a new secret when the data dir has none (else refused: the token would verify nowhere). */
  createSecret?: boolean;
}

export async function printToken(config: Config, args: TokenArgs): Promise<void> {
  if (config.jwtPublicKeyPath) {
    throw new ConfigError('BIMIP_JWT_PUBLIC_KEY', 'tokens are issued by an external signer; `bimip token` needs BIMIP_JWT_SECRET or the generated secret');
  }
  refuseNewSecret(config, args.createSecret === true);
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

/**
 * Without BIMIP_JWT_SECRET the token is signed with the data dir's generated secret. When that dir
 * has none, the command is most likely run from another directory than the server (its ./data is
 * somewhere else): a token signed with a secret made up now would be refused by the server (401), so
 * it is not minted unless asked for with --create-secret. Checked before anything is created.
 */
function refuseNewSecret(config: Config, createSecret: boolean): void {
  if (config.jwtSecret !== undefined || createSecret) return;
  if (existsSync(secretFilePath(config.dataDir))) return;
  throw new UsageError(
    `no server secret in ${config.dataDir} (no jwt-secret file there): a token signed with a new secret would not verify against your server.\n` +
      `Pass --data-dir <the server's data dir> (or set BIMIP_DATA_DIR, or BIMIP_JWT_SECRET as the server has it);\n` +
      `or add --create-secret to create a new secret in ${config.dataDir} for a server you will start there.`,
  );
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
