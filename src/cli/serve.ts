/**
 * `bimip serve`: the composition root. Picks the engines (the embedded default, or cluster mode when
 * BIMIP_POSTGRES_URL and BIMIP_REDIS_URL are set: SPEC §11), then starts the node, the background
 * work and the signal handlers.
 */
import { join } from 'node:path';
import { pino } from 'pino';
import { RevocationPoller } from '../auth/revocation-poller.js';
import type { TokenService } from '../auth/token-service.js';
import { setUpAuth } from './auth-setup.js';
import { securePrivateDataDir } from './data-dir.js';
import { systemClock } from '../core/clock.js';
import { WebhookPushHook } from '../push/index.js';
import { RetentionService } from '../retention/retention-service.js';
import { BimipServer } from '../server/bimip-server.js';
import type { HttpFallback } from '../server/http.js';
import { ServerMetrics } from '../server/metrics.js';
import type { Config } from './config.js';
import { openClusterEngines } from './cluster-engines.js';
import { openEmbeddedEngines } from './embedded-engines.js';
import { packageVersion } from './version.js';

/** What a command built on `serve` may add to the node (`bimip demo`). */
export interface ServeExtras {
  /** Extra HTTP routes on the server's port, built once the token machinery exists (asked for paths the server does not serve). */
  httpRoutes?(auth: { tokens: TokenService }): HttpFallback;
}

export async function serve(config: Config, extras: ServeExtras = {}): Promise<BimipServer> {
  const logger = pino({ level: config.logLevel, base: { pid: process.pid } });
  const metrics = new ServerMetrics();
  // Before any file is opened or created: the umask covers the files SQLite creates later.
  securePrivateDataDir(config.dataDir, logger);
  const engines = config.cluster ? await openClusterEngines(config.cluster, config, logger, metrics) : await openEmbeddedEngines(config, logger, metrics);
  const { store } = engines;
  let poller: RevocationPoller | undefined;
  const auth = await setUpAuth(config, metrics.tokenEvent, engines.tokenStore, async (revocations) => {
    if (engines.revocationFeed) poller = await RevocationPoller.prepare(engines.revocationFeed, revocations, logger);
  });
  const generatedSecretPath = auth.generatedSecretPath;

  // Cluster mode: one outbox in PostgreSQL that every node dispatches from (rows claimed with a
  // lease, so each notice is POSTed by one node); the embedded default: a SQLite file in the data dir.
  const pushOptions = { url: config.pushWebhookUrl ?? '', secret: config.pushWebhookSecret ?? '', logger, registry: metrics.registry };
  const pushHook = config.pushWebhookUrl
    ? engines.pushOutbox
      ? await WebhookPushHook.withOutbox(await engines.pushOutbox(), pushOptions)
      : await WebhookPushHook.open({ ...pushOptions, outboxPath: join(config.dataDir, 'push-outbox.sqlite') })
    : undefined;
  const server = await BimipServer.start({
    mode: engines.mode,
    version: packageVersion(),
    host: config.host,
    port: config.port,
    store,
    contacts: store,
    bus: engines.bus,
    presence: engines.presence,
    ownership: engines.ownership,
    headRefreshMs: engines.headRefreshMs,
    degraded: engines.degraded,
    // Cluster mode: other nodes' revocations are polled every 250 ms and swept every 500 ms (SPEC §11: 1 s).
    sweepIntervalMs: engines.mode === 'cluster' ? 500 : 1000,
    tokens: auth.tokens,
    adminToken: config.adminToken,
    httpFallback: extras.httpRoutes?.({ tokens: auth.tokens }),
    pushHook,
    logger,
    metrics,
    limits: { maxFrameBytes: config.maxFrameBytes },
    delivery: { window: config.window },
    session: { ratePerSecond: config.rateLimit, rateBurst: config.rateLimit * 2, maxDevicesPerUser: config.maxDevicesPerUser },
    idleTimeoutMs: config.idleTimeoutMs,
  });
  poller?.start(250);
  // SPEC §11: background work runs once across the cluster, on the holder of its lock.
  const retention =
    config.retentionDays > 0
      ? new RetentionService({
          store,
          clock: systemClock,
          logger,
          retentionMs: config.retentionDays * 86_400_000,
          registry: metrics.registry,
          leader: await engines.leader('retention'),
        })
      : undefined;
  retention?.start();
  // Token rows and revocations are only needed until the tokens they concern expire.
  const housekeepingLock = await engines.leader('token-housekeeping');
  const tokenHousekeeping = systemClock.setInterval(() => {
    auth.revocations.forgetExpired(Date.now());
    void housekeepingLock
      .check()
      .then((leader) => (leader ? auth.store.pruneExpired(Date.now()) : undefined))
      .catch((err: unknown) => logger.warn({ err }, 'token housekeeping failed'));
  }, 3_600_000);
  logger.info(
    { url: server.url, mode: engines.mode, node: engines.bus.nodeId, dataDir: config.dataDir, push: Boolean(pushHook), retentionDays: config.retentionDays },
    'BIMIP listening',
  );
  if (generatedSecretPath) {
    process.stderr.write(
      `\nBIMIP is listening on ${server.url}\n` +
        `No BIMIP_JWT_SECRET / BIMIP_JWT_PUBLIC_KEY set: tokens are signed with the secret in ${generatedSecretPath}.\n` +
        `Get a token:   ${tokenCommand(config.dataDir)}\n` +
        `Connect:       ${server.url}?token=<token>   (or header Authorization: Bearer <token>)\n\n`,
    );
  }

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: flushing accepted frames, closing connections with 1001');
    tokenHousekeeping.cancel();
    poller?.stop();
    Promise.resolve()
      .then(() => retention?.stop())
      .then(() => server.stop())
      .then(() => pushHook?.close())
      .then(() => engines.close())
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

/**
 * The `bimip token` command for this data dir, ready to paste from any directory: the data dir is
 * always given, absolute, and quoted for a POSIX shell when it holds anything but safe characters.
 */
export function tokenCommand(dataDir: string): string {
  return `npx bimip token --data-dir ${shellQuote(dataDir)} --eid alice@example.com --device phone`;
}

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}
