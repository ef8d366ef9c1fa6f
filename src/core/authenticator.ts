import type { Principal } from './types.js';

/** Turns an access token into a Principal; rejects with AuthError when it must be refused (SPEC §2). */
export interface Authenticator {
  authenticate(token: string): Promise<Principal>;
}
