/**
 * Verifies access tokens (SPEC §2): HS256 with the UTF-8 bytes of a shared secret, or
 * RS256/ES256/EdDSA with a public key. Required claims: eid, device_id, exp, jti.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { Authenticator } from '../core/authenticator.js';
import { AuthError } from '../core/errors.js';
import type { Principal } from '../core/types.js';

export interface JwtVerifyOptions {
  issuer?: string;
  audience?: string;
  /** Longest accepted eid / device id in UTF-8 bytes (SPEC §2). */
  maxEidBytes?: number;
  maxDeviceBytes?: number;
  /** Tolerated clock difference in seconds (default 0). */
  clockToleranceSeconds?: number;
  now?: () => number;
}

type VerifyKey = Uint8Array | KeyObject;

export class JwtAuthenticator implements Authenticator {
  private constructor(
    private readonly key: VerifyKey,
    private readonly algorithms: string[],
    private readonly options: JwtVerifyOptions,
  ) {}

  /** HS256 with the UTF-8 bytes of `secret`, used as is. */
  static withSecret(secret: string, options: JwtVerifyOptions = {}): JwtAuthenticator {
    return new JwtAuthenticator(new TextEncoder().encode(secret), ['HS256'], options);
  }

  /** RS256, ES256 or EdDSA, chosen from the PEM public key's type. */
  static withPublicKey(pem: string, options: JwtVerifyOptions = {}): JwtAuthenticator {
    const key = createPublicKey(pem);
    const algorithm = { rsa: 'RS256', ec: 'ES256', ed25519: 'EdDSA' }[key.asymmetricKeyType as string];
    if (!algorithm) throw new Error(`unsupported public key type ${key.asymmetricKeyType}; use RSA, EC P-256 or Ed25519`);
    return new JwtAuthenticator(key, [algorithm], options);
  }

  async authenticate(token: string): Promise<Principal> {
    if (!token) throw new AuthError('no access token');
    let payload: JWTPayload;
    try {
      const now = this.options.now?.();
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: this.algorithms,
        issuer: this.options.issuer,
        audience: this.options.audience,
        requiredClaims: ['exp', 'jti'],
        clockTolerance: this.options.clockToleranceSeconds ?? 0,
        currentDate: now === undefined ? undefined : new Date(now),
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new AuthError('token expired');
      if (err instanceof joseErrors.JOSEError) throw new AuthError(`invalid token: ${err.code}`);
      throw new AuthError('invalid token');
    }
    const eid = payload['eid'];
    const deviceId = payload['device_id'];
    if (typeof eid !== 'string' || !validLength(eid, this.options.maxEidBytes ?? 256)) {
      throw new AuthError('token has no valid eid claim');
    }
    if (typeof deviceId !== 'string' || !validLength(deviceId, this.options.maxDeviceBytes ?? 128)) {
      throw new AuthError('token has no valid device_id claim');
    }
    if (typeof payload.jti !== 'string' || payload.jti === '') throw new AuthError('token has no jti claim');
    // iat_ms: this server's issuer adds millisecond precision, so a logout refuses exactly the tokens
    // before it. A standard whole-second iat counts as the last millisecond of its second: a token
    // minted just after a logout, in the same second, must work (issue #7 item 3); the token that
    // logged out is refused by its jti, not by this time.
    const issuedAtMs = typeof payload['iat_ms'] === 'number' ? payload['iat_ms'] : typeof payload.iat === 'number' ? payload.iat * 1000 + 999 : 0;
    return { eid, deviceId, expiresAt: (payload.exp as number) * 1000, jti: payload.jti, issuedAt: issuedAtMs };
  }
}

function validLength(value: string, maxBytes: number): boolean {
  const length = Buffer.byteLength(value, 'utf8');
  return length > 0 && length <= maxBytes;
}
