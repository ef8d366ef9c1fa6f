#!/usr/bin/env node
/**
 * The `bimip` command. Exit codes: 0 ok, 1 runtime failure (or an HTTP error of the admin API), 2 bad
 * configuration or usage. Each command loads its implementation when it runs, so the light ones
 * (status, kick, --version…) do not pay for loading the server, SQLite, PostgreSQL and Redis clients.
 */
import { Command, InvalidArgumentError } from 'commander';
import { defaultAdminUrl, kickCommand, revokeCommand, statusCommand } from './admin-commands.js';
import { ConfigError, loadConfig, UsageError } from './config.js';
import { packageVersion } from './version.js';

function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a positive whole number');
  return Number(value);
}

interface ServerFlags {
  host?: string;
  port?: string;
  dataDir?: string;
}

/** The environment with the server flags laid over it (flags win), as `serve` reads it. */
function serverEnv(flags: ServerFlags): Record<string, string | undefined> {
  const env = { ...process.env };
  if (flags.host) env['BIMIP_HOST'] = flags.host;
  if (flags.port) env['BIMIP_PORT'] = flags.port;
  if (flags.dataDir) env['BIMIP_DATA_DIR'] = flags.dataDir;
  return env;
}

const program = new Command()
  .name('bimip')
  .description('BIMIP real-time messaging server')
  .version(packageVersion(), '-V, --version', 'print the version')
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

program
  .command('serve')
  .description('start the server (configuration from BIMIP_* environment variables)')
  .option('--host <host>', 'interface to bind (BIMIP_HOST)')
  .option('--port <port>', 'port (BIMIP_PORT)')
  .option('--data-dir <dir>', 'data directory (BIMIP_DATA_DIR)')
  .action(async (flags: ServerFlags) => {
    const { serve } = await import('./serve.js');
    await serve(loadConfig(serverEnv(flags)));
  });

program
  .command('demo')
  .description('start the server with the web chat demo at /demo/ (loopback only: it hands out tokens for any user)')
  .option('--host <host>', 'interface to bind (BIMIP_HOST; a loopback address unless --allow-remote-demo)')
  .option('--port <port>', 'port (BIMIP_PORT)')
  .option('--data-dir <dir>', 'data directory (BIMIP_DATA_DIR; default ./data-demo)')
  .option('--token-ttl <seconds>', 'lifetime of the tokens POST /demo/token issues', positiveInteger, 600)
  .option('--allow-remote-demo', 'serve the demo on a non-loopback interface: anyone who reaches it gets tokens for any user')
  .action(async (flags: ServerFlags & { tokenTtl: number; allowRemoteDemo?: boolean }) => {
    const { demo } = await import('./demo.js');
    await demo(serverEnv(flags), flags);
  });

program
  .command('check-config')
  .description('validate the configuration as `serve` would and print a summary (no secrets); starts nothing')
  .option('--host <host>', 'interface to bind (BIMIP_HOST)')
  .option('--port <port>', 'port (BIMIP_PORT)')
  .option('--data-dir <dir>', 'data directory (BIMIP_DATA_DIR)')
  .option('--connect', 'cluster mode: also check that PostgreSQL and Redis answer')
  .action(async (flags: ServerFlags & { connect?: boolean }) => {
    const { checkConfig } = await import('./check-config.js');
    process.exitCode = await checkConfig(loadConfig(serverEnv(flags)), { connect: flags.connect });
  });

program
  .command('token')
  .description('print an access token for a device, signed with the server secret')
  .requiredOption('--eid <eid>', 'user id, e.g. a@example.com')
  .requiredOption('--device <id>', 'device id (connection_resource_id), e.g. phone')
  .option('--ttl <seconds>', 'lifetime in seconds', positiveInteger, 3600)
  .option('--refresh', 'print JSON with an access token and a refresh token')
  .option('--data-dir <dir>', "the server's data directory, holding its generated secret (BIMIP_DATA_DIR)")
  .option('--create-secret', 'when that directory has no secret yet, create one (for a server you will start there)')
  .action(async (flags: { eid: string; device: string; ttl: number; refresh?: boolean; dataDir?: string; createSecret?: boolean }) => {
    const { printToken } = await import('./token.js');
    await printToken(loadConfig(serverEnv({ dataDir: flags.dataDir })), flags);
  });

const ADMIN_URL_HELP = "the node's HTTP base URL (default from BIMIP_HOST/BIMIP_PORT)";
const ADMIN_TOKEN_HELP = "the server's admin bearer (default: BIMIP_ADMIN_TOKEN; prefer the variable, flags show in `ps`)";

function closeCode(value: string): number {
  if (!/^\d{4}$/.test(value)) throw new InvalidArgumentError('expected a close code: 1008 (default), 4001, 1001 or 1000');
  return Number(value);
}

program
  .command('revoke')
  .description('revoke an access token, a refresh token (its whole family) or a token id; their connections close with 4001')
  .option('--token <token>', 'the token to revoke')
  .option('--jti <id>', 'the id (jti) of the access token to revoke')
  .option('--url <url>', ADMIN_URL_HELP, defaultAdminUrl())
  .option('--admin-token <token>', ADMIN_TOKEN_HELP)
  .action(async (flags: { token?: string; jti?: string; url: string; adminToken?: string }) => {
    process.exitCode = await revokeCommand(flags);
  });

program
  .command('kick')
  .description("close a user's live connections (or one device's) on every node")
  .requiredOption('--eid <eid>', 'user id')
  .option('--device <id>', 'only this device')
  .option('--code <code>', 'WebSocket close code: 1008 (default), 4001 (get a new token), 1001 (reconnect later), 1000', closeCode)
  .option('--reason <text>', 'close reason the client sees (default "kicked by operator"; at most 123 bytes)')
  .option('--url <url>', ADMIN_URL_HELP, defaultAdminUrl())
  .option('--admin-token <token>', ADMIN_TOKEN_HELP)
  .action(async (flags: { eid: string; device?: string; code?: number; reason?: string; url: string; adminToken?: string }) => {
    process.exitCode = await kickCommand(flags);
  });

program
  .command('status')
  .description("print the node's status; with --eid also the user's online devices, queue and cursors")
  .option('--eid <eid>', 'user id')
  .option('--url <url>', ADMIN_URL_HELP, defaultAdminUrl())
  .option('--admin-token <token>', ADMIN_TOKEN_HELP)
  .action(async (flags: { eid?: string; url: string; adminToken?: string }) => {
    process.exitCode = await statusCommand(flags);
  });

const DEFAULT_URL = 'ws://127.0.0.1:4040/bimip';

program
  .command('send')
  .description('send one message with the SDK and print its Ack')
  .requiredOption('--token <jwt>', 'access token of the sender')
  .requiredOption('--to <eid>', 'recipient user id')
  .requiredOption('--text <text>', 'message payload (UTF-8)')
  .option('--id <id>', 'message id (idempotency key); default a random UUID')
  .option('--url <url>', 'server WebSocket URL', DEFAULT_URL)
  .action(async (flags: { token: string; to: string; text: string; id?: string; url: string }) => {
    const { sendCommand } = await import('./client-commands.js');
    process.exitCode = await sendCommand(flags);
  });

program
  .command('listen')
  .description('print incoming entries as JSON lines, committing each; reconnects after drops, exits 1 when the connection ends for good')
  .requiredOption('--token <jwt>', 'access token of the receiving device')
  .option('--url <url>', 'server WebSocket URL', DEFAULT_URL)
  .option('--count <n>', 'exit after this many entries', positiveInteger)
  .option('--state <file>', 'keep the last processed offset (and epoch) in this file, so a restarted listener prints nothing twice')
  .action(async (flags: { token: string; url: string; count?: number; state?: string }) => {
    const { listenCommand } = await import('./client-commands.js');
    process.exitCode = await listenCommand(flags);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`bimip: configuration error: ${err.message}\n`);
    process.exit(2);
  }
  if (err instanceof UsageError) {
    process.stderr.write(`bimip: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`bimip: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
