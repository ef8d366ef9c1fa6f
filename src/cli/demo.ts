/**
 * `bimip demo`: the embedded server, started exactly as `bimip serve` starts it, plus a web chat
 * demo on the same port (demo-http.ts): open /demo/?me=alice&peer=bob and /demo/?me=bob&peer=alice
 * in two windows. The page is built by demo/build.mjs into dist/demo/ (docs/demo.md).
 *
 * POST /demo/token signs an access token for any user who asks: fine on your own machine, a hole
 * anywhere else. So the demo refuses a non-loopback interface unless --allow-remote-demo is given,
 * and its data lives in ./data-demo by default, apart from a real server's ./data.
 */
import { fileURLToPath } from 'node:url';
import { loadConfig, UsageError } from './config.js';
import { demoRoutes, isLoopbackHost, loadDemoAssets } from './demo-http.js';
import { serve } from './serve.js';

export interface DemoOptions {
  /** Serve the demo on a non-loopback interface anyway. */
  allowRemoteDemo?: boolean;
  /** Lifetime of the tokens /demo/token issues (default 600 s: short, so the SDK's renewal runs). */
  tokenTtl?: number;
}

/** Where the demo keeps its queues and secret unless BIMIP_DATA_DIR / --data-dir says otherwise. */
export const DEMO_DATA_DIR = './data-demo';
export const DEFAULT_DEMO_TOKEN_TTL_SECONDS = 600;
export const MIN_DEMO_TOKEN_TTL_SECONDS = 120;

/** dist/demo/, from dist/cli/demo.js (and from src/cli/demo.ts under tests: both are two levels down). */
const ASSETS_DIR = fileURLToPath(new URL('../../dist/demo/', import.meta.url));

/**
 * Starts the demo. `env` is the environment with the command's flags laid over it (as for `serve`).
 * Refusals (remote interface, no signing secret, page not built) are UsageErrors: exit 2.
 */
export async function demo(env: Record<string, string | undefined>, options: DemoOptions = {}): Promise<void> {
  const config = loadConfig({ ...env, BIMIP_DATA_DIR: env['BIMIP_DATA_DIR'] || DEMO_DATA_DIR });
  const allowRemote = options.allowRemoteDemo === true;
  if (!isLoopbackHost(config.host) && !allowRemote) {
    throw new UsageError(
      `refusing to serve the demo on ${config.host}: POST /demo/token hands out tokens for any user to whoever can reach it.\n` +
        'Bind a loopback address (BIMIP_HOST / --host 127.0.0.1, ::1 or localhost), or pass --allow-remote-demo if you really mean it.',
    );
  }
  if (config.jwtPublicKeyPath) {
    throw new UsageError('the demo signs its own tokens: unset BIMIP_JWT_PUBLIC_KEY (use BIMIP_JWT_SECRET or the generated secret)');
  }
  let assets: Map<string, Buffer>;
  try {
    assets = loadDemoAssets(ASSETS_DIR);
  } catch (err) {
    throw new UsageError(`the demo page is not built: ${(err as Error).message}\nBuild it with \`npm run build\` (or \`node demo/build.mjs\`).`);
  }
  const tokenTtlSeconds = options.tokenTtl ?? DEFAULT_DEMO_TOKEN_TTL_SECONDS;
  if (tokenTtlSeconds < MIN_DEMO_TOKEN_TTL_SECONDS) {
    // The SDK renews a token 60 s before it expires: a shorter lifetime would have it renew and reconnect without pause.
    throw new UsageError(`--token-ttl must be at least ${MIN_DEMO_TOKEN_TTL_SECONDS} seconds (the page renews its token 60 s before expiry)`);
  }
  const server = await serve(config, { httpRoutes: ({ tokens }) => demoRoutes({ tokens, assets, tokenTtlSeconds, allowRemote }) });

  const base = `http://${hostForUrl(config.host)}:${server.port}/demo/`;
  process.stderr.write(
    '\nBIMIP web chat demo — open these in two browser windows:\n' +
      `  ${base}?me=alice&peer=bob\n` +
      `  ${base}?me=bob&peer=alice\n` +
      `Data: ${config.dataDir}   Tokens from POST /demo/token last ${tokenTtlSeconds} s.\n` +
      (allowRemote && !isLoopbackHost(config.host)
        ? `WARNING: --allow-remote-demo: anyone who can reach ${config.host}:${server.port} can get a token for any user.\n`
        : '') +
      '\n',
  );
}

/** The bind address as a URL host: an IPv6 literal in brackets; 0.0.0.0 / :: shown as localhost (reachable here). */
function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
