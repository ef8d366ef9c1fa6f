/**
 * A single-consumer async queue: push from event handlers, `for await` on the other side.
 * With `maxBuffered`, items nobody reads are dropped oldest first beyond that many (`dropped`
 * counts them): right for transient streams (typing signals, awareness), where only the latest
 * matter and an app that never reads them must not grow without bound.
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private head = 0;
  private waiter: ((result: IteratorResult<T>) => void) | undefined;
  private ended = false;
  /** Items dropped because `maxBuffered` were already waiting unread. */
  dropped = 0;

  constructor(private readonly maxBuffered = Number.POSITIVE_INFINITY) {}

  push(item: T): void {
    if (this.ended) return;
    if (this.waiter) {
      const resolve = this.waiter;
      this.waiter = undefined;
      resolve({ value: item, done: false });
      return;
    }
    this.items.push(item);
    if (this.size > this.maxBuffered) {
      this.head++;
      this.dropped++;
      this.compact();
    }
  }

  /** Drops every item not read yet (e.g. entries of a queue epoch that no longer exists). */
  clear(): void {
    this.items.length = 0;
    this.head = 0;
  }

  end(): void {
    this.ended = true;
    this.waiter?.({ value: undefined, done: true });
    this.waiter = undefined;
  }

  get size(): number {
    return this.items.length - this.head;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.head < this.items.length) {
      const value = this.items[this.head++]!;
      this.compact();
      return Promise.resolve({ value, done: false });
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiter = resolve));
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
