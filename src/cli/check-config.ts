/**
 * `bimip check-config`: loads the configuration exactly as `bimip serve` does and prints what the
 * server would run with, as JSON, starting nothing. Secrets are never printed: the JWT secret, the
 * admin token and the webhook secret appear only as "set", URLs without their password (the webhook
 * URL as its origin only). A bad
 * value is a ConfigError (exit 2, as `serve`). With `connect`, cluster mode's PostgreSQL and Redis
 * must also answer (exit 1 when one does not).
 */
import { existsSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import pg from 'pg';
import { secretFilePath } from '../auth/secret-file.js';
import { postgresPoolConfig } from './cluster-engines.js';
import { type Config, ConfigError } from './config.js';

/** How long --connect waits for each service. */
const CONNECT_TIMEOUT_MS = 5000;

export async function checkConfig(config: Config, options: { connect?: boolean } = {}): Promise<number> {
  const summary = summarize(config);
  let exitCode = 0;
  if (options.connect && config.cluster) {
    const connect = await connectCluster(config.cluster);
    summary['connect'] = connect;
    if (connect.postgres !== 'ok' || connect.redis !== 'ok') exitCode = 1;
  } else if (options.connect) {
    summary['connect'] = 'skipped: embedded mode reaches no external service';
  }
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  return exitCode;
}

/** What `serve` would run with; no secret in it. */
export function summarize(config: Config): Record<string, unknown> {
  return {
    valid: true,
    mode: config.cluster ? 'cluster' : 'embedded',
    host: config.host,
    port: config.port,
    data_dir: config.dataDir,
    data_dir_exists: existsSync(config.dataDir),
    auth: auth(config),
    admin_api: config.adminToken !== undefined,
    // Only the origin: webhook URLs often carry a secret in their path.
    push_webhook: config.pushWebhookUrl !== undefined ? new URL(config.pushWebhookUrl).origin : false,
    retention_days: config.retentionDays,
    log_level: config.logLevel,
    limits: {
      rate_limit: config.rateLimit,
      max_frame_bytes: config.maxFrameBytes,
      idle_timeout_seconds: config.idleTimeoutMs / 1000,
      window: config.window,
      max_devices_per_user: config.maxDevicesPerUser,
      max_blocks_per_user: config.maxBlocksPerUser,
      max_contacts_per_user: config.maxContactsPerUser,
    },
    ...(config.cluster
      ? {
          cluster: {
            postgres: withoutPassword(config.cluster.postgresUrl),
            redis: withoutPassword(config.cluster.redisUrl),
            redis_prefix: config.cluster.redisPrefix,
          },
        }
      : {}),
  };
}

function auth(config: Config): Record<string, unknown> {
  const common = {
    issuer: config.jwtIssuer ?? null,
    audience: config.jwtAudience ?? null,
    access_ttl_seconds: config.accessTtlSeconds,
    refresh_ttl_seconds: config.refreshTtlSeconds,
  };
  if (config.jwtPublicKeyPath !== undefined) {
    // `serve` would fail reading it: said here, as a configuration error naming the variable.
    try {
      if (!readFileSync(config.jwtPublicKeyPath, 'utf8').includes('-----BEGIN')) throw new Error('no PEM block in it');
    } catch (err) {
      throw new ConfigError('BIMIP_JWT_PUBLIC_KEY', `cannot use ${config.jwtPublicKeyPath}: ${(err as Error).message}`);
    }
    return { mode: 'public key', public_key: config.jwtPublicKeyPath, ...common };
  }
  if (config.jwtSecret !== undefined) return { mode: 'secret', secret: 'set (BIMIP_JWT_SECRET)', ...common };
  const path = secretFilePath(config.dataDir);
  return { mode: 'generated secret', secret_file: path, secret_file_exists: existsSync(path), ...common };
}

/** The URL with its password (and a query that may carry one) replaced by ***. */
function withoutPassword(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password !== '') url.password = '***';
    for (const key of [...url.searchParams.keys()]) if (/pass|secret|token|key/i.test(key)) url.searchParams.set(key, '***');
    return url.toString();
  } catch {
    return '(unparsable URL)';
  }
}

async function connectCluster(cluster: NonNullable<Config['cluster']>): Promise<{ postgres: string; redis: string }> {
  const [postgres, redis] = await Promise.all([pingPostgres(cluster.postgresUrl), pingRedis(cluster.redisUrl)]);
  return { postgres, redis };
}

async function pingPostgres(url: string): Promise<string> {
  const { config } = postgresPoolConfig(url);
  const client = new pg.Client({ ...config, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, query_timeout: CONNECT_TIMEOUT_MS });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return 'ok';
  } catch (err) {
    return `failed: ${(err as Error).message || String(err)}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function pingRedis(url: string): Promise<string> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // The default (2 s) would keep the command alive that long after a refused connection.
    disconnectTimeout: 100,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectionName: 'bimip-check-config',
  });
  let lastError = '';
  redis.on('error', (err: Error) => {
    lastError = err.message;
  });
  try {
    await redis.connect();
    const answer = await redis.ping();
    return answer === 'PONG' ? 'ok' : `failed: PING answered ${answer}`;
  } catch (err) {
    return `failed: ${lastError || (err as Error).message}`;
  } finally {
    redis.disconnect();
  }
}
