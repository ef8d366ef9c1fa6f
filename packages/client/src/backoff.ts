/**
 * Reconnect delays: exponential with "equal jitter" (half fixed, half random), capped. Equal jitter
 * keeps a floor under each delay (a restarted server is not hit by every client at ~0 ms) while
 * still spreading a crowd out. Hand-written rather than a library: it is six lines, and the
 * libraries (exponential-backoff, backoff) wrap whole promises and would cost bundle bytes.
 */
export interface BackoffOptions {
  /** First delay (default 500 ms). */
  initialDelayMs?: number;
  /** Cap on any delay (default 20 s). */
  maxDelayMs?: number;
  /** Growth per failed attempt (default 2). */
  factor?: number;
}

export class Backoff {
  private attempt = 0;
  private readonly initial: number;
  private readonly max: number;
  private readonly factor: number;

  constructor(
    options: BackoffOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    this.initial = options.initialDelayMs ?? 500;
    this.max = options.maxDelayMs ?? 20_000;
    this.factor = options.factor ?? 2;
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const ceiling = Math.min(this.max, this.initial * this.factor ** this.attempt);
    this.attempt++;
    return Math.round(ceiling / 2 + (ceiling / 2) * this.random());
  }

  /** A connection succeeded: the next failure starts from the initial delay again. */
  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
