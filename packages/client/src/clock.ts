/** Time as the client sees it: real timers by default, a fake one in tests of the reconnect logic. */
export interface ClientClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): { cancel(): void };
}

export const systemClock: ClientClock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    // Not unref'd in Node: a client waiting to reconnect keeps the process alive, as an open
    // socket would (`bimip listen` must not exit during a backoff); `close()` cancels every timer.
    const timer = setTimeout(callback, ms);
    return { cancel: () => clearTimeout(timer) };
  },
};
