/**
 * Token buckets by key: the push gate's per-sender limit (issue #7), one RateLimiter per key. A
 * bucket holds up to `burst` tokens and refills at `perSecond`; a key never seen has a full bucket.
 * At most `maxKeys` buckets are kept, least recently used first out; a bucket that has refilled is
 * forgotten (it equals none), so idle senders cost nothing. A sender evicted while not yet refilled
 * starts over with a full bucket: keep `maxKeys` above the number of senders active within
 * `burst / perSecond` s.
 */
import { RateLimiter } from './rate-limiter.js';

export class SenderBuckets {
  /** In least-recently-used order (a Map iterates in insertion order; a granted take re-inserts). */
  private readonly buckets = new Map<string, RateLimiter>();

  /** `perSecond` 0 turns limiting off. */
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly maxKeys: number,
  ) {}

  /** Takes one token; false when `key` is over its rate. */
  take(key: string, now: number): boolean {
    if (this.perSecond <= 0) return true;
    const bucket = this.buckets.get(key) ?? new RateLimiter(this.perSecond, this.burst, now);
    if (!bucket.take(now)) return false;
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    this.forgetIdle(now);
    return true;
  }

  /** Buckets remembered (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  /** Drops refilled buckets from the old end, then the oldest while over `maxKeys`: O(1) amortised. */
  private forgetIdle(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (this.buckets.size <= this.maxKeys && !bucket.isFull(now)) break;
      this.buckets.delete(key);
    }
  }
}
