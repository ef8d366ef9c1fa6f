/** Token bucket per connection (SPEC §2: 200 frames/s, bursts of 400 by default); SenderBuckets keys them. */
export class RateLimiter {
  private tokens: number;
  private updatedAt: number;

  /** `perSecond` 0 turns limiting off. */
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.updatedAt = now;
  }

  /** Takes one token; false when the connection is over its rate. */
  take(now: number): boolean {
    if (this.perSecond <= 0) return true;
    this.tokens = this.level(now);
    this.updatedAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whether the bucket has refilled to `burst` by `now` (it then equals a fresh one). */
  isFull(now: number): boolean {
    return this.level(now) >= this.burst;
  }

  /** Tokens at `now`; a clock that went back refills nothing. */
  private level(now: number): number {
    return Math.min(this.burst, this.tokens + (Math.max(0, now - this.updatedAt) * this.perSecond) / 1000);
  }
}

/** Counts bad frames in a sliding window; too many closes the connection with 1008 (SPEC §2). */
export class AbuseCounter {
  /** Times of recent bad frames; created by the first (issue #10, W4: idle connections carry none). */
  private times: number[] | undefined;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Records a bad frame; true when the limit is reached. */
  record(now: number): boolean {
    this.times ??= [];
    const times = this.times;
    times.push(now);
    while (times.length > 0 && times[0]! <= now - this.windowMs) times.shift();
    return times.length >= this.limit;
  }
}
