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

  constructor(secret: string, private readonly options: TokenIssuerOptions = {}) {
    this.key = new TextEncoder().encode(secret);
  }

  async issueAccessToken({ eid, deviceId, ttlSeconds = 3600, now = Date.now() }: IssueOptions): Promise<string> {
    const issuedAt = Math.floor(now / 1000);
    let jwt = new SignJWT({ eid, device_id: deviceId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setJti(randomUUID())
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + ttlSeconds);
    if (this.options.issuer) jwt = jwt.setIssuer(this.options.issuer);
    if (this.options.audience) jwt = jwt.setAudience(this.options.audience);
    return jwt.sign(this.key);
  }
}
