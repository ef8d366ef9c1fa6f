/**
 * The in-process Bus of the embedded default. A MemoryBroker stands for the shared medium: each node
 * gets its own `broker.connect()` Bus, so several nodes in one process (tests) talk through one
 * broker. Delivery is asynchronous (a microtask) and at most once, like the Redis bus: a listener
 * that throws loses that message, nothing else. Per-user topics are honoured, so a test sees the
 * same routing as in cluster mode.
 */
import { randomUUID } from 'node:crypto';
import type { Bus, BusTopic, ClusterMessage } from '../../core/bus.js';
import type { Eid } from '../../core/types.js';

type Listener = (message: ClusterMessage) => void;

export class MemoryBroker {
  private readonly nodes = new Set<MemoryBus>();

  /** A Bus for one node. */
  connect(nodeId: string = randomUUID()): MemoryBus {
    const bus = new MemoryBus(nodeId, this);
    this.nodes.add(bus);
    return bus;
  }

  /** @internal */
  deliver(from: MemoryBus, topic: BusTopic, message: ClusterMessage): void {
    for (const node of this.nodes) {
      if (node !== from && node.wants(topic)) node.receive(message);
    }
  }

  /** @internal */
  leave(node: MemoryBus): void {
    this.nodes.delete(node);
  }
}

export class MemoryBus implements Bus {
  private listener: Listener | undefined;
  private readonly users = new Set<Eid>();
  private closed = false;

  constructor(
    readonly nodeId: string,
    private readonly broker: MemoryBroker,
  ) {}

  /** A single-node bus (the embedded default): nothing else listens. */
  static standalone(): MemoryBus {
    return new MemoryBroker().connect('local');
  }

  async publish(topic: BusTopic, message: ClusterMessage): Promise<void> {
    if (this.closed) throw new Error('bus closed');
    this.broker.deliver(this, topic, message);
  }

  async subscribe(eid: Eid): Promise<void> {
    this.users.add(eid);
  }

  async unsubscribe(eid: Eid): Promise<void> {
    this.users.delete(eid);
  }

  onMessage(listener: Listener): void {
    this.listener = listener;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.users.clear();
    this.broker.leave(this);
  }

  /** @internal */
  wants(topic: BusTopic): boolean {
    return topic === 'broadcast' || this.users.has(topic.user);
  }

  /** @internal */
  receive(message: ClusterMessage): void {
    const listener = this.listener;
    if (!listener) return;
    queueMicrotask(() => {
      try {
        listener(message);
      } catch {
        // At most once: a failing listener costs that message only (the store stays the truth).
      }
    });
  }
}
