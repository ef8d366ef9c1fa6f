/** `bimip token`: prints an access token signed with the server's HS256 secret (SPEC §8). */
import { loadOrCreateSecret } from '../auth/secret-file.js';
import { TokenIssuer } from '../auth/token-issuer.js';
import { ConfigError, type Config } from './config.js';

export async function printToken(config: Config, args: { eid: string; device: string; ttl: number }): Promise<void> {
  if (config.jwtPublicKeyPath) {
    throw new ConfigError('BIMIP_JWT_PUBLIC_KEY', 'tokens are issued by an external signer; `bimip token` needs BIMIP_JWT_SECRET or the generated secret');
  }
  const secret = config.jwtSecret ?? loadOrCreateSecret(config.dataDir).secret;
  const issuer = new TokenIssuer(secret, { issuer: config.jwtIssuer, audience: config.jwtAudience });
  const token = await issuer.issueAccessToken({ eid: args.eid, deviceId: args.device, ttlSeconds: args.ttl });
  process.stdout.write(`${token}\n`);
}
