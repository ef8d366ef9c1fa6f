/**
 * Cluster mode (SPEC §11): PostgreSQL is the truth (queues, messages, cursors, contacts, tokens and
 * revocations), Redis carries what may be lost without losing a message (bus, presence). Every
 * client is created here, with error handlers, and handed ready to the engines.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { REDIS_BUS_PUBLISHER_OPTIONS, REDIS_BUS_SUBSCRIBER_OPTIONS, RedisBus } from '../bus/redis/redis-bus.js';
import type { Logger } from '../core/logger.js';
import { RedisDeviceOwnership } from '../ownership/redis/redis-device-ownership.js';
import { RedisPresenceStore } from '../presence/redis/redis-presence-store.js';
import type { ServerMetrics } from '../server/metrics.js';
import { PostgresLeaderLock } from '../store/postgres/postgres-leader-lock.js';
import { PostgresMessageStore } from '../store/postgres/postgres-message-store.js';
import { PostgresPushOutbox } from '../store/postgres/postgres-push-outbox.js';
import { PostgresTokenStore } from '../store/postgres-tokens/postgres-token-store.js';
import type { Config } from './config.js';
import type { Engines } from './engines.js';
import { storeHealthHandlers } from './store-health.js';

type ClusterConfig = NonNullable<Config['cluster']>;

/** `?schema=name` (SPEC §11) is ours, not libpq's: it becomes the connections' search_path. */
export function postgresPoolConfig(url: string): { config: pg.PoolConfig; schema: string | undefined } {
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema') ?? undefined;
  parsed.searchParams.delete('schema');
  if (schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema))
    throw new Error(`BIMIP_POSTGRES_URL: schema "${schema}" is not a plain identifier`);
  const config: pg.PoolConfig = {
    connectionString: parsed.toString(),
    max: 16,
    application_name: 'bimip',
    // A partition (PostgreSQL silent, connections open) must turn into Ack 503 and /healthz 503
    // within seconds, not hang until TCP gives up (SPEC §11 Faults).
    connectionTimeoutMillis: 5000,
    query_timeout: 5000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
  if (schema !== undefined) config.options = `-c search_path=${schema}`;
  return { config, schema };
}

export async function openClusterEngines(cluster: ClusterConfig, config: Config, logger: Logger, metrics: ServerMetrics): Promise<Engines> {
  const nodeId = randomUUID();
  const { config: poolConfig, schema } = postgresPoolConfig(cluster.postgresUrl);
  const pool = new pg.Pool(poolConfig);
  // An idle client's error (PostgreSQL restarted) must not end the process; the pool replaces it.
  pool.on('error', (err) => logger.warn({ err: err.message }, 'postgres connection lost; the pool reconnects'));

  const redisErrors = new Map<string, string>();
  const redisClient = (role: string, extra: object): Redis => {
    const client = new Redis(cluster.redisUrl, { lazyConnect: true, connectionName: `bimip-${role}`, ...extra });
    client.on('error', (err: Error) => {
      if (!redisErrors.has(role)) logger.warn({ err: err.message, role }, 'redis unreachable; messages are still stored, live delivery across nodes waits');
      redisErrors.set(role, err.message);
    });
    client.on('ready', () => {
      if (redisErrors.delete(role)) logger.info({ role }, 'redis connection back');
    });
    return client;
  };
  const publisher = redisClient('publisher', REDIS_BUS_PUBLISHER_OPTIONS);
  const subscriber = redisClient('subscriber', REDIS_BUS_SUBSCRIBER_OPTIONS);
  const presenceClient = redisClient('presence', { maxRetriesPerRequest: 1 });

  const locks: PostgresLeaderLock[] = [];
  try {
    await Promise.all([publisher.connect(), subscriber.connect(), presenceClient.connect()]);
    const store = await PostgresMessageStore.open({
      pool,
      schema,
      maxBlocksPerUser: config.maxBlocksPerUser,
      maxContactsPerUser: config.maxContactsPerUser,
      ...storeHealthHandlers(logger, metrics),
    });
    const tokenStore = await PostgresTokenStore.open({ pool, schema });
    const bus = await RedisBus.start({ nodeId, publisher, subscriber, prefix: cluster.redisPrefix, logger });
    const presence = new RedisPresenceStore({ redis: presenceClient, prefix: cluster.redisPrefix });
    return {
      mode: 'cluster',
      store,
      tokenStore,
      revocationFeed: tokenStore,
      bus,
      presence,
      // Same prefix as the presence store: the claim script reads its node heartbeats (liveness).
      ownership: new RedisDeviceOwnership({ redis: presenceClient, prefix: cluster.redisPrefix }),
      pushOutbox: () => PostgresPushOutbox.open({ pool, schema }),
      leader: async (name) => {
        const lock = await PostgresLeaderLock.start({
          pool,
          name,
          onChange: (leader) => logger.info({ lock: name, leader }, 'background work leadership changed'),
        });
        locks.push(lock);
        return lock;
      },
      headRefreshMs: 2000,
      degraded: () => (redisErrors.size > 0 ? 'redis unreachable' : undefined),
      close: async () => {
        for (const lock of locks) await lock.close();
        await bus.close();
        await tokenStore.close();
        publisher.disconnect();
        subscriber.disconnect();
        presenceClient.disconnect();
        await pool.end();
      },
    };
  } catch (err) {
    publisher.disconnect();
    subscriber.disconnect();
    presenceClient.disconnect();
    await pool.end().catch(() => undefined);
    throw err;
  }
}
