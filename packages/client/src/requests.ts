/**
 * Request/answer correlation. A request waits under (route it was sent on, id): the answer frame
 * resolves it, an ErrorMessage with the same error_origin and id rejects it, and a closed
 * connection rejects everything still waiting. Keying by route as well as id matters because
 * ids are per frame kind: an app may reuse a message id as a signal id, and an error about the
 * signal must not fail the message's send.
 */
import type { ConnectionClosedError } from './errors.js';

interface Waiter {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

export class PendingRequests {
  private readonly waiting = new Map<string, Waiter[]>();
  private closedWith: ConnectionClosedError | undefined;

  /** Waits for the answer to a request sent on `route` with `id`. Same key twice: answered in order. */
  add<T>(route: number, id: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.closedWith) return reject(this.closedWith);
      const key = keyOf(route, id);
      const waiter: Waiter = { resolve: resolve as (value: unknown) => void, reject };
      const list = this.waiting.get(key);
      if (list) list.push(waiter);
      else this.waiting.set(key, [waiter]);
    });
  }

  /** True if a request waits under (route, id). */
  has(route: number, id: string): boolean {
    return this.waiting.has(keyOf(route, id));
  }

  /** Resolves the oldest request waiting under (route, id); false if none was. */
  resolve(route: number, id: string, value: unknown): boolean {
    const waiter = this.take(keyOf(route, id));
    waiter?.resolve(value);
    return waiter !== undefined;
  }

  /**
   * Rejects the oldest request waiting under (route, id). With route 0 (the server could not tell
   * which kind of frame was at fault) the first request with that id on any route is rejected.
   */
  reject(route: number, id: string, error: Error): boolean {
    let key = keyOf(route, id);
    if (route === 0) key = [...this.waiting.keys()].find((candidate) => candidate.slice(candidate.indexOf(' ') + 1) === id) ?? key;
    const waiter = this.take(key);
    waiter?.reject(error);
    return waiter !== undefined;
  }

  /** The connection closed: every waiting request and every later one rejects with `error`. */
  close(error: ConnectionClosedError): void {
    this.closedWith = error;
    const waiters = [...this.waiting.values()].flat();
    this.waiting.clear();
    for (const waiter of waiters) waiter.reject(error);
  }

  private take(key: string): Waiter | undefined {
    const list = this.waiting.get(key);
    if (!list) return undefined;
    const waiter = list.shift();
    if (list.length === 0) this.waiting.delete(key);
    return waiter;
  }
}

function keyOf(route: number, id: string): string {
  return `${route} ${id}`;
}
