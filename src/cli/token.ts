/** `bimip token`: prints an access token (or, with --refresh, an access + refresh pair as JSON) signed with the server's secret (SPEC §8). */
import { setUpAuth } from './auth-setup.js';
import { ConfigError, type Config } from './config.js';
import { securePrivateDataDir } from './data-dir.js';

export async function printToken(config: Config, args: { eid: string; device: string; ttl: number; refresh?: boolean }): Promise<void> {
  if (config.jwtPublicKeyPath) {
    throw new ConfigError('BIMIP_JWT_PUBLIC_KEY', 'tokens are issued by an external signer; `bimip token` needs BIMIP_JWT_SECRET or the generated secret');
  }
  securePrivateDataDir(config.dataDir);
  const auth = await setUpAuth(config);
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
  }
}
