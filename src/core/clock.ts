/** Time, injected so tests control it. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  setTimeout(callback: () => void, ms: number): { cancel(): void };
  setInterval(callback: () => void, ms: number): { cancel(): void };
}

/** The longest delay Node's timers honour. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    // Node fires at once for delays above 2^31-1 ms (~24.8 days; issue #7 item 6: an awareness ttl of
    // a month expired immediately), so a long wait runs in legs aimed at the same deadline.
    const deadline = Date.now() + ms;
    let timer: ReturnType<typeof setTimeout>;
    const arm = (delay: number): void => {
      timer = setTimeout(
        () => {
          const left = deadline - Date.now();
          if (left > 0) arm(left);
          else callback();
        },
        Math.min(Math.max(delay, 0), MAX_TIMER_MS),
      );
      timer.unref?.();
    };
    arm(ms);
    return { cancel: () => clearTimeout(timer) };
  },
  setInterval(callback, ms) {
    const timer = setInterval(callback, ms);
    timer.unref?.();
    return { cancel: () => clearInterval(timer) };
  },
};
