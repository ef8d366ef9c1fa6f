import type { RevokedBefore } from './token-store.js';

/** One revocation as the feed reports it. */
export type Revocation = { kind: 'jti'; jti: string; expiresAt: number } | { kind: 'before'; mark: RevokedBefore };

/**
 * How a node learns revocations other nodes made (SPEC §11: revoke and logout close the affected
 * connections on every node within 1 s): a short poll of the durable store, the backstop of a
 * possibly lost bus notice. Offered by token stores shared by several nodes (PostgreSQL).
 *
 * Contract: positions are increasing integers in commit order. Every revocation committed after
 * position p, by any instance, is returned by the chain of calls `revocationsSince(p)`,
 * `revocationsSince(next)`, … — none is skipped, even when transactions commit concurrently. A
 * revocation may be returned again (a later change of the same jti or mark moves it forward), so
 * apply them idempotently (by max, as RevocationList does).
 */
export interface RevocationFeed {
  /** The position of the newest committed revocation: read it before loading `activeRevocations`, then poll from it. */
  revocationPosition(): Promise<number>;
  /** Revocations committed after `position`, in commit order, at most about `max` positions' worth, and where to ask from next. */
  revocationsSince(position: number, max?: number): Promise<{ revocations: Revocation[]; position: number }>;
}
