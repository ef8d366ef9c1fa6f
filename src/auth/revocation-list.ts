/**
 * The revocations in force, in memory for the per-upgrade and per-sweep checks, backed by the
 * TokenStore (loaded at start, written through on every change). In cluster mode other nodes'
 * revocations arrive through `remember` (RevocationPoller; SPEC §11: closed within 1 s everywhere).
 */
import type { Revocation } from '../core/revocation-feed.js';
import type { RevokedBefore, TokenStore } from '../core/token-store.js';
import type { Principal } from '../core/types.js';

export class RevocationList {
  private readonly jtis = new Map<string, number>();
  private readonly before = new Map<string, number>();

  constructor(private readonly store: TokenStore) {}

  async load(now: number): Promise<void> {
    const active = await this.store.activeRevocations(now);
    for (const { jti, expiresAt } of active.jtis) this.jtis.set(jti, expiresAt);
    for (const mark of active.before) this.before.set(key(mark.eid, mark.device), mark.before);
  }

  /** Why a token must be refused now, or undefined when it stands. */
  reasonToRefuse(principal: Principal): string | undefined {
    if (this.jtis.has(principal.jti)) return 'token revoked';
    const cutoff = Math.max(this.before.get(key(principal.eid, '')) ?? 0, this.before.get(key(principal.eid, principal.deviceId)) ?? 0);
    if (principal.issuedAt < cutoff) return 'token revoked (logged out)';
    return undefined;
  }

  async revokeJti(jti: string, expiresAt: number): Promise<void> {
    await this.store.revokeJti(jti, expiresAt);
    this.jtis.set(jti, Math.max(expiresAt, this.jtis.get(jti) ?? 0));
  }

  async revokeBefore(mark: RevokedBefore): Promise<void> {
    await this.store.revokeBefore(mark);
    const k = key(mark.eid, mark.device);
    this.before.set(k, Math.max(mark.before, this.before.get(k) ?? 0));
  }

  /** A revocation another node committed (learned from the RevocationFeed): memory only, applied by max. */
  remember(revocation: Revocation): void {
    if (revocation.kind === 'jti') {
      this.jtis.set(revocation.jti, Math.max(revocation.expiresAt, this.jtis.get(revocation.jti) ?? 0));
      return;
    }
    const k = key(revocation.mark.eid, revocation.mark.device);
    this.before.set(k, Math.max(revocation.mark.before, this.before.get(k) ?? 0));
  }

  /** Forgets revocations of tokens that have expired anyway. */
  forgetExpired(now: number): void {
    for (const [jti, expiresAt] of this.jtis) if (expiresAt <= now) this.jtis.delete(jti);
  }
}

function key(eid: string, device: string): string {
  return `${eid}\u0000${device}`;
}
