/** Retry schedule of the push webhook (SPEC §6 F9: "retrying with backoff"). */

export interface BackoffPolicy {
  /** Delay before the 2nd attempt, in ms; each later retry doubles it. */
  baseDelayMs: number;
  /** No delay ever exceeds this, jitter included. */
  maxDelayMs: number;
  /** Spread each delay by ±this fraction (0.2 = ±20%), so a receiver that comes back is not hit by
   *  every pending notice in the same millisecond. 0 makes the schedule exact. */
  jitterRatio: number;
}

/**
 * How long to wait after the `failedAttempts`-th failed attempt (1-based) before the next one:
 * `baseDelayMs · 2^(failedAttempts-1)`, capped at `maxDelayMs`, spread by ±`jitterRatio`
 * and capped again. `random` returns [0, 1) and is injectable so tests get a fixed schedule.
 */
export function backoffDelay(failedAttempts: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.floor(failedAttempts) - 1);
  const capped = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent);
  const spread = 1 + (random() * 2 - 1) * policy.jitterRatio;
  return Math.max(0, Math.min(policy.maxDelayMs, Math.round(capped * spread)));
}
