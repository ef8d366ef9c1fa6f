import type { DeviceId, Eid } from './types.js';

/** A refresh token as stored: only its SHA-256 hash, never the token itself. */
export interface RefreshTokenRecord {
  hash: string;
  /** All tokens of one login share a family; reusing a spent token revokes the whole family. */
  family: string;
  eid: Eid;
  device: DeviceId;
  issuedAt: number;
  expiresAt: number;
  /** Epoch ms it was exchanged, or undefined while unused. */
  usedAt: number | undefined;
}

export interface AccessTokenRecord {
  jti: string;
  family: string;
  eid: Eid;
  device: DeviceId;
  expiresAt: number;
}

/** A "refuse every token of (eid, device) issued before `before`" mark; device '' = every device. */
export interface RevokedBefore {
  eid: Eid;
  device: DeviceId;
  before: number;
}

/**
 * Durable token state (SPEC §6 F8, issue #4): refresh tokens (hashed), the access tokens this server
 * issued (so a jti can be revoked with its family), and revocations, each kept until the token it
 * concerns has expired.
 *
 * Cluster contract (SPEC §11, engines shared by several nodes): every call sees what any instance
 * committed before it; `spendRefreshToken` succeeds for exactly one caller cluster-wide; every
 * write is durable when it resolves. Other nodes learn revocations through a RevocationFeed
 * (src/core/revocation-feed.ts) when the engine offers one.
 */
export interface TokenStore {
  saveIssued(refresh: RefreshTokenRecord, access: AccessTokenRecord): Promise<void>;
  findRefreshToken(hash: string): Promise<RefreshTokenRecord | undefined>;
  /** Marks the token spent; false when it was already spent (a reuse). Atomic. */
  spendRefreshToken(hash: string, at: number): Promise<boolean>;
  findAccessToken(jti: string): Promise<AccessTokenRecord | undefined>;
  /** Revokes every refresh token of the family and every access token issued from it; returns their jtis. */
  revokeFamily(family: string, now: number): Promise<string[]>;
  /** Revokes every refresh family of (eid, device) — device '' = all devices of the user. */
  revokeFamiliesOf(eid: Eid, device: DeviceId, now: number): Promise<void>;
  revokeJti(jti: string, expiresAt: number): Promise<void>;
  revokeBefore(mark: RevokedBefore): Promise<void>;
  /** Revocations still in force at `now` (loaded into memory at start). */
  activeRevocations(now: number): Promise<{ jtis: Array<{ jti: string; expiresAt: number }>; before: RevokedBefore[] }>;
  /** Drops rows about tokens that expired before `now`. */
  pruneExpired(now: number): Promise<void>;
  close(): Promise<void>;
}
