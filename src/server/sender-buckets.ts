/**
 * Token buckets by key: the push gate's per-sender limit (issue #7). A bucket holds up to `burst`
 * tokens and refills at `perSecond`; a key never seen has a full bucket. At most `maxKeys` buckets
 * are kept, least recently used first out; a bucket that has refilled is forgotten (it equals
 * none), so idle senders cost nothing. A sender evicted while not yet refilled starts over with a
 * full bucket: keep `maxKeys` above the number of senders active within `burst / perSecond` s.
 *
 * Not the per-connection RateLimiter (rate-limiter.ts): that one has no key and cannot tell a
 * full bucket, which this needs to stay bounded.
 */
interface Bucket {
  tokens: number;
  /** Epoch ms of the last refill. */
  at: number;
}

export class SenderBuckets {
  /** In least-recently-used order (a Map iterates in insertion order; a take re-inserts). */
  private readonly buckets = new Map<string, Bucket>();

  /** `perSecond` 0 turns limiting off. */
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly maxKeys: number,
  ) {}

  /** Takes one token; false when `key` is over its rate. */
  take(key: string, now: number): boolean {
    if (this.perSecond <= 0) return true;
    const bucket = this.buckets.get(key);
    const tokens = bucket === undefined ? this.burst : this.level(bucket, now);
    if (tokens < 1) return false;
    this.buckets.delete(key);
    this.buckets.set(key, { tokens: tokens - 1, at: now });
    this.forgetIdle(now);
    return true;
  }

  /** Buckets remembered (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private level(bucket: Bucket, now: number): number {
    return Math.min(this.burst, bucket.tokens + (Math.max(0, now - bucket.at) * this.perSecond) / 1000);
  }

  /** Drops refilled buckets from the old end, then the oldest while over `maxKeys`: O(1) amortised. */
  private forgetIdle(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (this.buckets.size <= this.maxKeys && this.level(bucket, now) < this.burst) break;
      this.buckets.delete(key);
    }
  }
}
