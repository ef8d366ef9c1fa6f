/** Issues HS256 access tokens for (eid, device) — the server is the issuer when it holds the secret. */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';

export interface IssueOptions {
  eid: string;
  deviceId: string;
  /** Lifetime in seconds (default 3600). */
  ttlSeconds?: number;
  now?: number;
}

export interface TokenIssuerOptions {
  issuer?: string;
  audience?: string;
}

export class TokenIssuer {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    private readonly options: TokenIssuerOptions = {},
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  async issueAccessToken(options: IssueOptions): Promise<string> {
    return (await this.issue(options)).token;
  }

  /** Issues an access token and tells its jti and expiry (for the token store). */
  async issue({ eid, deviceId, ttlSeconds = 3600, now = Date.now() }: IssueOptions): Promise<{ token: string; jti: string; expiresAt: number }> {
    const issuedAt = Math.floor(now / 1000);
    const jti = randomUUID();
    let jwt = new SignJWT({ eid, device_id: deviceId, iat_ms: now })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setJti(jti)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ttlSeconds);
    if (this.options.issuer) jwt = jwt.setIssuer(this.options.issuer);
    if (this.options.audience) jwt = jwt.setAudience(this.options.audience);
    return { token: await jwt.sign(this.key), jti, expiresAt: (issuedAt + ttlSeconds) * 1000 };
  }
}
