/** Builds the token machinery from the configuration (composition root: picks the engines). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JwtAuthenticator } from '../auth/jwt-authenticator.js';
import { RevocationList } from '../auth/revocation-list.js';
import { loadOrCreateSecret } from '../auth/secret-file.js';
import { TokenIssuer } from '../auth/token-issuer.js';
import { TokenService, type TokenEvent } from '../auth/token-service.js';
import { SqliteTokenStore } from '../store/sqlite-tokens/sqlite-token-store.js';
import type { TokenStore } from '../core/token-store.js';
import type { Config } from './config.js';

export interface AuthSetup {
  tokens: TokenService;
  store: TokenStore;
  revocations: RevocationList;
  /** Where the generated secret lives, when no JWT setting was given. */
  generatedSecretPath: string | undefined;
}

type AuthConfig = Pick<Config, 'dataDir' | 'jwtSecret' | 'jwtPublicKeyPath' | 'jwtIssuer' | 'jwtAudience' | 'accessTtlSeconds' | 'refreshTtlSeconds'>;

/**
 * `tokenStore` is the cluster's shared store (PostgreSQL); by default the embedded SQLite file in the
 * data dir. `beforeLoad` runs between opening the store and loading the revocations in force (the
 * cluster's RevocationPoller takes its position there, so nothing falls between).
 */
export async function setUpAuth(
  config: AuthConfig,
  onEvent?: (event: TokenEvent) => void,
  tokenStore?: TokenStore,
  beforeLoad?: (revocations: RevocationList) => Promise<void>,
): Promise<AuthSetup> {
  const verifyOptions = { issuer: config.jwtIssuer, audience: config.jwtAudience };
  let verifier: JwtAuthenticator;
  let issuer: TokenIssuer | undefined;
  let generatedSecretPath: string | undefined;
  if (config.jwtPublicKeyPath) {
    verifier = JwtAuthenticator.withPublicKey(readFileSync(config.jwtPublicKeyPath, 'utf8'), verifyOptions);
  } else {
    let secret = config.jwtSecret;
    if (!secret) {
      const generated = loadOrCreateSecret(config.dataDir);
      secret = generated.secret;
      generatedSecretPath = generated.path;
    }
    verifier = JwtAuthenticator.withSecret(secret, verifyOptions);
    issuer = new TokenIssuer(secret, verifyOptions);
  }
  const store = tokenStore ?? new SqliteTokenStore(join(config.dataDir, 'auth.sqlite'));
  const revocations = new RevocationList(store);
  await beforeLoad?.(revocations);
  await revocations.load(Date.now());
  const tokens = new TokenService({
    store,
    revocations,
    verifier,
    issuer,
    accessTtlSeconds: config.accessTtlSeconds,
    refreshTtlSeconds: config.refreshTtlSeconds,
    onEvent,
  });
  return { tokens, store, revocations, generatedSecretPath };
}
