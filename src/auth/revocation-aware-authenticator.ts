/** The upgrade-time Authenticator: a verified JWT that is also not revoked (SPEC §2). */
import type { Authenticator } from '../core/authenticator.js';
import type { Principal } from '../core/types.js';
import type { TokenService } from './token-service.js';

export class RevocationAwareAuthenticator implements Authenticator {
  constructor(private readonly tokens: TokenService) {}

  authenticate(token: string): Promise<Principal> {
    return this.tokens.validate(token);
  }
}
