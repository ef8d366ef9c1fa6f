/** `bimip serve`: the composition root of the embedded default (SQLite file + in-process bus). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { JwtAuthenticator } from '../auth/jwt-authenticator.js';
import { loadOrCreateSecret } from '../auth/secret-file.js';
import { MemoryBus } from '../bus/memory/memory-bus.js';
import { BimipServer } from '../server/bimip-server.js';
import { ServerMetrics } from '../server/metrics.js';
import { SqliteMessageStore } from '../store/sqlite/sqlite-message-store.js';
import type { Config } from './config.js';

export async function serve(config: Config): Promise<BimipServer> {
  const logger = pino({ level: config.logLevel, base: { pid: process.pid } });
  const verifyOptions = { issuer: config.jwtIssuer, audience: config.jwtAudience };
  let authenticator: JwtAuthenticator;
  let generatedSecretPath: string | undefined;
  if (config.jwtPublicKeyPath) {
    authenticator = JwtAuthenticator.withPublicKey(readFileSync(config.jwtPublicKeyPath, 'utf8'), verifyOptions);
  } else if (config.jwtSecret) {
    authenticator = JwtAuthenticator.withSecret(config.jwtSecret, verifyOptions);
  } else {
    const generated = loadOrCreateSecret(config.dataDir);
    generatedSecretPath = generated.path;
    authenticator = JwtAuthenticator.withSecret(generated.secret, verifyOptions);
  }

  const metrics = new ServerMetrics();
  const store = await SqliteMessageStore.open({
    path: join(config.dataDir, 'bimip.sqlite'),
    onCommit: (size, seconds) => {
      metrics.commitBatchSize.observe(size);
      metrics.commitLatency.observe(seconds);
    },
  });
  const server = await BimipServer.start({
    host: config.host,
    port: config.port,
    store,
    contacts: store,
    bus: new MemoryBus(),
    authenticator,
    logger,
    metrics,
    limits: { maxFrameBytes: config.maxFrameBytes },
    delivery: { window: config.window },
    session: { ratePerSecond: config.rateLimit, rateBurst: config.rateLimit * 2 },
    idleTimeoutMs: config.idleTimeoutMs,
  });
  logger.info({ url: server.url, dataDir: config.dataDir }, 'BIMIP listening');
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
    server.stop().then(
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
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  return server;
}
