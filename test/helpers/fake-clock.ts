/** A Clock for unit tests: time moves only when the test says so; timers fire from `advance`. */
import type { Clock } from '../../src/core/clock.js';

interface Timer {
  at: number;
  every: number | undefined;
  callback(): void;
  cancelled: boolean;
}

export class FakeClock implements Clock {
  private timers: Timer[] = [];

  constructor(private current = 1_700_000_000_000) {}

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): { cancel(): void } {
    return this.schedule(callback, ms, undefined);
  }

  setInterval(callback: () => void, ms: number): { cancel(): void } {
    return this.schedule(callback, ms, Math.max(1, ms));
  }

  /** Moves time forward by `ms`, firing due timers in time order. */
  advance(ms: number): void {
    const end = this.current + ms;
    for (;;) {
      const due = this.timers.filter((timer) => !timer.cancelled && timer.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.current = Math.max(this.current, due.at);
      if (due.every === undefined) due.cancelled = true;
      else due.at += due.every;
      due.callback();
    }
    this.timers = this.timers.filter((timer) => !timer.cancelled);
    this.current = end;
  }

  private schedule(callback: () => void, ms: number, every: number | undefined): { cancel(): void } {
    const timer: Timer = { at: this.current + Math.max(0, ms), every, callback, cancelled: false };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }
}

/** Lets pending promise chains and setImmediate callbacks run, without waiting on wall-clock time. */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
