/**
 * Token lifecycle (SPEC §6 F8, issue #4): issue an access + refresh pair, refresh with rotation and
 * reuse detection (a spent refresh token presented again revokes its whole family), validate, revoke
 * by token or jti, and the logout revocations. Refresh tokens are random, stored only as SHA-256.
 * Without an issuer (tokens signed externally, public key only) issuing and refreshing are refused.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import type { Authenticator } from '../core/authenticator.js';
import { AuthError, ProtocolError } from '../core/errors.js';
import type { TokenStore } from '../core/token-store.js';
import type { DeviceId, Eid, Principal } from '../core/types.js';
import type { RevocationList } from './revocation-list.js';
import type { TokenIssuer } from './token-issuer.js';

export interface TokenPair {
  accessToken: string;
  /** The access token's id (log lines name it, never the token). */
  jti: string;
  refreshToken: string;
  eid: Eid;
  device: DeviceId;
  /** Epoch ms. */
  accessExpiresAt: number;
  refreshExpiresAt: number;
}

/** Longest access-token lifetime accepted from configuration or the admin API (30 days). */
export const MAX_ACCESS_TTL_SECONDS = 30 * 86_400;
/** Longest refresh-token lifetime accepted from configuration or the admin API (365 days). */
export const MAX_REFRESH_TTL_SECONDS = 365 * 86_400;

export interface TokenServiceOptions {
  store: TokenStore;
  revocations: RevocationList;
  /** Verifies access tokens (signature, expiry, claims) — without the revocation check. */
  verifier: Authenticator;
  /** undefined when tokens are issued externally. */
  issuer: TokenIssuer | undefined;
  accessTtlSeconds?: number;
  refreshTtlSeconds?: number;
  now?: () => number;
  /** Told of every issue, refresh (and failed refresh, with its reason) and revocation, for metrics. */
  onEvent?: (event: TokenEvent) => void;
}

export type TokenEvent =
  | { kind: 'issued' }
  | { kind: 'refreshed' }
  | { kind: 'refresh_failed'; reason: 'unknown' | 'reused' | 'expired' | 'external' }
  | { kind: 'revoked'; count: number };

/** A refused token operation; `code` follows SPEC §10. */
export class TokenError extends ProtocolError {
  constructor(code: number, message: string) {
    super(code, message);
    this.name = 'TokenError';
  }
}

export class TokenService {
  readonly accessTtlSeconds: number;
  readonly refreshTtlSeconds: number;
  private readonly now: () => number;

  constructor(private readonly options: TokenServiceOptions) {
    this.accessTtlSeconds = options.accessTtlSeconds ?? 3600;
    this.refreshTtlSeconds = options.refreshTtlSeconds ?? 30 * 24 * 3600;
    this.now = options.now ?? Date.now;
  }

  get canIssue(): boolean {
    return this.options.issuer !== undefined;
  }

  /** A new login: a new refresh family. */
  async issuePair(eid: Eid, device: DeviceId, ttls: { accessTtlSeconds?: number; refreshTtlSeconds?: number } = {}): Promise<TokenPair> {
    const pair = await this.issueInFamily(
      randomUUID(),
      eid,
      device,
      ttls.accessTtlSeconds ?? this.accessTtlSeconds,
      ttls.refreshTtlSeconds ?? this.refreshTtlSeconds,
    );
    this.options.onEvent?.({ kind: 'issued' });
    return pair;
  }

  /** Exchanges a refresh token for a new pair; the presented token is spent. */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const fail = (reason: 'unknown' | 'reused' | 'expired' | 'external', code: number, message: string): never => {
      this.options.onEvent?.({ kind: 'refresh_failed', reason });
      throw new TokenError(code, message);
    };
    if (!this.canIssue) return fail('external', 400, 'refresh is not available: tokens are issued by an external signer');
    const record = await this.options.store.findRefreshToken(hashOf(refreshToken));
    const now = this.now();
    if (!record) return fail('unknown', 401, 'unknown refresh token');
    if (record.usedAt !== undefined || !(await this.options.store.spendRefreshToken(record.hash, now))) {
      // Reuse: someone holds a copy. Revoke the whole family, access tokens included.
      const jtis = await this.options.store.revokeFamily(record.family, now);
      for (const jti of jtis) await this.options.revocations.revokeJti(jti, now + this.accessTtlSeconds * 1000);
      this.options.onEvent?.({ kind: 'revoked', count: jtis.length });
      return fail('reused', 401, 'refresh token already used: its family is revoked');
    }
    if (record.expiresAt <= now) return fail('expired', 401, 'refresh token expired');
    const pair = await this.issueInFamily(record.family, record.eid, record.device, this.accessTtlSeconds, this.refreshTtlSeconds);
    this.options.onEvent?.({ kind: 'refreshed' });
    return pair;
  }

  /**
   * Token ids another node revoked (its bus message): refused here at once, until they would have
   * expired anyway at the latest (the revocation feed brings the exact expiry shortly after).
   */
  rememberRevoked(jtis: readonly string[]): void {
    const expiresAt = this.now() + this.accessTtlSeconds * 1000;
    for (const jti of jtis) this.options.revocations.remember({ kind: 'jti', jti, expiresAt });
  }

  /** Why a live connection's token must no longer be honoured (revoked, logged out), if it must not. */
  refusal(principal: Principal): string | undefined {
    return this.options.revocations.reasonToRefuse(principal);
  }

  /** Verifies an access token, revocations included. */
  async validate(token: string): Promise<Principal> {
    const principal = await this.options.verifier.authenticate(token);
    const refused = this.options.revocations.reasonToRefuse(principal);
    if (refused) throw new AuthError(refused);
    return principal;
  }

  /**
   * Revokes an access token (JWT), a jti, or a refresh token (its whole family). `owner`, when set,
   * must own it (a user revoking over the socket). Returns the revoked jtis and their owner.
   */
  async revoke(tokenOrJti: string, owner?: Eid): Promise<{ jtis: string[]; eid: Eid | undefined }> {
    const now = this.now();
    const { store, revocations } = this.options;
    const refresh = await store.findRefreshToken(hashOf(tokenOrJti));
    if (refresh) {
      this.checkOwner(refresh.eid, owner);
      const jtis = await store.revokeFamily(refresh.family, now);
      for (const jti of jtis) await revocations.revokeJti(jti, now + this.accessTtlSeconds * 1000);
      this.options.onEvent?.({ kind: 'revoked', count: jtis.length });
      return { jtis, eid: refresh.eid };
    }
    let jti = tokenOrJti;
    let expiresAt = now + this.accessTtlSeconds * 1000;
    let eid: Eid | undefined;
    if (tokenOrJti.split('.').length === 3) {
      // A JWT: its signature must verify (an expired one may still be revoked, harmlessly).
      const claims = await this.verifiedClaims(tokenOrJti);
      jti = claims.jti;
      expiresAt = claims.expiresAt;
      eid = claims.eid;
    } else {
      const known = await store.findAccessToken(jti);
      if (known) {
        expiresAt = known.expiresAt;
        eid = known.eid;
      } else if (owner !== undefined) {
        throw new TokenError(404, 'unknown token id');
      }
    }
    if (owner !== undefined) this.checkOwner(eid, owner);
    await revocations.revokeJti(jti, expiresAt);
    this.options.onEvent?.({ kind: 'revoked', count: 1 });
    return { jtis: [jti], eid };
  }

  /**
   * Logout of one device (`device`) or of every device (`device` ''): refuse every token issued before
   * now. `liveTokens` (the connections being logged out) are revoked by jti as well, because a
   * whole-second `iat` cannot tell "just before" from "just after" the logout.
   */
  async logout(eid: Eid, device: DeviceId, liveTokens: ReadonlyArray<{ jti: string; expiresAt: number }> = []): Promise<void> {
    const now = this.now();
    for (const token of liveTokens) await this.options.revocations.revokeJti(token.jti, token.expiresAt);
    await this.options.revocations.revokeBefore({ eid, device, before: now + 1 });
    await this.options.store.revokeFamiliesOf(eid, device, now);
  }

  private async issueInFamily(family: string, eid: Eid, device: DeviceId, accessTtl: number, refreshTtl: number): Promise<TokenPair> {
    const issuer = this.options.issuer;
    if (!issuer) throw new TokenError(400, 'tokens are issued by an external signer');
    const now = this.now();
    const access = await issuer.issue({ eid, deviceId: device, ttlSeconds: accessTtl, now });
    const refreshToken = `bimip_rt_${randomBytes(32).toString('base64url')}`;
    const refreshExpiresAt = now + refreshTtl * 1000;
    await this.options.store.saveIssued(
      { hash: hashOf(refreshToken), family, eid, device, issuedAt: now, expiresAt: refreshExpiresAt, usedAt: undefined },
      { jti: access.jti, family, eid, device, expiresAt: access.expiresAt },
    );
    return { accessToken: access.token, jti: access.jti, refreshToken, eid, device, accessExpiresAt: access.expiresAt, refreshExpiresAt };
  }

  private async verifiedClaims(token: string): Promise<{ jti: string; expiresAt: number; eid: Eid }> {
    try {
      const principal = await this.options.verifier.authenticate(token);
      return { jti: principal.jti, expiresAt: principal.expiresAt, eid: principal.eid };
    } catch (err) {
      if (err instanceof AuthError && err.message === 'token expired') {
        const claims = decodeJwt(token);
        return { jti: String(claims.jti ?? ''), expiresAt: (claims.exp ?? 0) * 1000, eid: String(claims['eid'] ?? '') };
      }
      throw new TokenError(400, 'not a valid token');
    }
  }

  private checkOwner(eid: Eid | undefined, owner: Eid | undefined): void {
    if (owner !== undefined && eid !== owner) throw new TokenError(403, 'you can only revoke your own tokens');
  }
}

function hashOf(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
