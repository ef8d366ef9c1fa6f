/** One log line per `intervalMs` while something keeps failing, with how many it held back (a flood must not flood the log). */
export class LogThrottle {
  private loggedAt = Number.NEGATIVE_INFINITY;
  private held = 0;

  constructor(private readonly intervalMs: number) {}

  /** When a line may be written at `now`: how many were held back since the previous one; else undefined (counted). */
  pass(now: number): number | undefined {
    if (now - this.loggedAt < this.intervalMs) {
      this.held++;
      return undefined;
    }
    const held = this.held;
    this.loggedAt = now;
    this.held = 0;
    return held;
  }
}
