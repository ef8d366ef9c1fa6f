/** `bimip serve`: the composition root of the embedded default (SQLite file + in-process bus). */
import { join } from 'node:path';
import { pino } from 'pino';
import { setUpAuth } from './auth-setup.js';
import { securePrivateDataDir } from './data-dir.js';
import { systemClock } from '../core/clock.js';
import { WebhookPushHook } from '../push/index.js';
import { RetentionService } from '../retention/retention-service.js';
import { MemoryBus } from '../bus/memory/memory-bus.js';
import { MemoryPresenceStore } from '../presence/memory/memory-presence-store.js';
import { BimipServer } from '../server/bimip-server.js';
import { ServerMetrics } from '../server/metrics.js';
import { SqliteMessageStore } from '../store/sqlite/sqlite-message-store.js';
import type { Config } from './config.js';

export async function serve(config: Config): Promise<BimipServer> {
  const logger = pino({ level: config.logLevel, base: { pid: process.pid } });
  const metrics = new ServerMetrics();
  // Before any file is opened or created: the umask covers the files SQLite creates later.
  securePrivateDataDir(config.dataDir, logger);
  const auth = await setUpAuth(config, metrics.tokenEvent);
  const generatedSecretPath = auth.generatedSecretPath;

  const store = await SqliteMessageStore.open({
    path: join(config.dataDir, 'bimip.sqlite'),
    maxBlocksPerUser: config.maxBlocksPerUser,
    maxContactsPerUser: config.maxContactsPerUser,
    onCommit: (size, seconds) => {
      metrics.commitBatchSize.observe(size);
      metrics.commitLatency.observe(seconds);
    },
    onWriteHealth: (healthy, error) => {
      metrics.storeWritesHealthy.set(healthy ? 1 : 0);
      if (healthy) logger.info({}, 'store writes recovered');
      else logger.error({ err: error }, 'store writes failing (disk full?): sends answered 503, /healthz 503 until a commit succeeds');
    },
  });
  metrics.storeWritesHealthy.set(1);
  const pushHook = config.pushWebhookUrl
    ? await WebhookPushHook.open({
        url: config.pushWebhookUrl,
        secret: config.pushWebhookSecret!,
        outboxPath: join(config.dataDir, 'push-outbox.sqlite'),
        logger,
        registry: metrics.registry,
      })
    : undefined;
  const server = await BimipServer.start({
    host: config.host,
    port: config.port,
    store,
    contacts: store,
    bus: MemoryBus.standalone(),
    presence: new MemoryPresenceStore(),
    tokens: auth.tokens,
    adminToken: config.adminToken,
    pushHook,
    logger,
    metrics,
    limits: { maxFrameBytes: config.maxFrameBytes },
    delivery: { window: config.window },
    session: { ratePerSecond: config.rateLimit, rateBurst: config.rateLimit * 2, maxDevicesPerUser: config.maxDevicesPerUser },
    idleTimeoutMs: config.idleTimeoutMs,
  });
  const retention =
    config.retentionDays > 0
      ? new RetentionService({ store, clock: systemClock, logger, retentionMs: config.retentionDays * 86_400_000, registry: metrics.registry })
      : undefined;
  retention?.start();
  // Token rows and revocations are only needed until the tokens they concern expire.
  const tokenHousekeeping = systemClock.setInterval(() => {
    void auth.store.pruneExpired(Date.now()).catch((err: unknown) => logger.warn({ err }, 'token housekeeping failed'));
    auth.revocations.forgetExpired(Date.now());
  }, 3_600_000);
  logger.info({ url: server.url, dataDir: config.dataDir, push: Boolean(pushHook), retentionDays: config.retentionDays }, 'BIMIP listening');
  if (generatedSecretPath) {
    process.stderr.write(
      `\nBIMIP is listening on ${server.url}\n` +
        `No BIMIP_JWT_SECRET / BIMIP_JWT_PUBLIC_KEY set: tokens are signed with the secret in ${generatedSecretPath}.\n` +
        `Get a token:   npx bimip token --eid a@example.com --device phone\n` +
        `Connect:       ${server.url}?token=<token>   (or header Authorization: Bearer <token>)\n\n`,
    );
  }

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: flushing accepted frames, closing connections with 1001');
    tokenHousekeeping.cancel();
    Promise.resolve()
      .then(() => retention?.stop())
      .then(() => server.stop())
      .then(() => pushHook?.close())
      .then(() => auth.store.close())
      .then(
      () => {
        logger.info({}, 'stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // Last line of defence (issue #7 item 1): a promise nobody awaited must not end the process. It is
  // logged and counted; every entry point also catches its own errors, so this should stay at 0.
  process.on('unhandledRejection', (err: unknown) => {
    metrics.internalErrors.labels('unhandled rejection').inc();
    logger.error({ err }, 'unhandled promise rejection (bug: please report); the server keeps running');
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  return server;
}
