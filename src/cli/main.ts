#!/usr/bin/env node
/** The `bimip` command. Exit codes: 0 ok, 1 runtime failure, 2 bad configuration or usage. */
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfig } from './config.js';
import { serve } from './serve.js';
import { printToken } from './token.js';
import { listenCommand, sendCommand } from './client-commands.js';

function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a positive whole number');
  return Number(value);
}

const program = new Command()
  .name('bimip')
  .description('BIMIP real-time messaging server')
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

program
  .command('serve')
  .description('start the server (configuration from BIMIP_* environment variables)')
  .option('--host <host>', 'interface to bind (BIMIP_HOST)')
  .option('--port <port>', 'port (BIMIP_PORT)')
  .option('--data-dir <dir>', 'data directory (BIMIP_DATA_DIR)')
  .action(async (flags: { host?: string; port?: string; dataDir?: string }) => {
    const env = { ...process.env };
    if (flags.host) env['BIMIP_HOST'] = flags.host;
    if (flags.port) env['BIMIP_PORT'] = flags.port;
    if (flags.dataDir) env['BIMIP_DATA_DIR'] = flags.dataDir;
    await serve(loadConfig(env));
  });

program
  .command('token')
  .description('print an access token for a device, signed with the server secret')
  .requiredOption('--eid <eid>', 'user id, e.g. a@example.com')
  .requiredOption('--device <id>', 'device id (connection_resource_id), e.g. phone')
  .option('--ttl <seconds>', 'lifetime in seconds', positiveInteger, 3600)
  .option('--refresh', 'print JSON with an access token and a refresh token')
  .option('--data-dir <dir>', 'data directory holding the generated secret (BIMIP_DATA_DIR)')
  .action(async (flags: { eid: string; device: string; ttl: number; refresh?: boolean; dataDir?: string }) => {
    const env = { ...process.env };
    if (flags.dataDir) env['BIMIP_DATA_DIR'] = flags.dataDir;
    await printToken(loadConfig(env), flags);
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
    process.exitCode = await sendCommand(flags);
  });

program
  .command('listen')
  .description('print incoming entries as JSON lines, committing each')
  .requiredOption('--token <jwt>', 'access token of the receiving device')
  .option('--url <url>', 'server WebSocket URL', DEFAULT_URL)
  .option('--count <n>', 'exit after this many entries', positiveInteger)
  .action(async (flags: { token: string; url: string; count?: number }) => {
    process.exitCode = await listenCommand(flags);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`bimip: configuration error: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`bimip: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
