/**
 * MemoryBus: the in-process Bus of the embedded default. One instance can be shared by several
 * nodes in one process (tests). Delivery is asynchronous (a microtask) and at-most-once, like the
 * Redis bus: a listener that throws loses that notice, nothing else.
 */
import type { Bus, BusNotice } from '../../core/bus.js';

type Listener = (notice: BusNotice) => void;

export class MemoryBus implements Bus {
  private readonly listeners = new Set<Listener>();

  async publish(notice: BusNotice): Promise<void> {
    for (const listener of this.listeners) {
      queueMicrotask(() => {
        try {
          listener(notice);
        } catch {
          // At-most-once: a failing listener costs that notice only (the store stays the truth).
        }
      });
    }
  }

  async subscribe(listener: Listener): Promise<() => Promise<void>> {
    this.listeners.add(listener);
    return async () => {
      this.listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
