/**
 * MemoryLeaderLock: the LeaderLock of the embedded default (one node, one process), where the
 * single instance is always the leader. Instances created with the same `group` and name share
 * the lock as the contract says (one leads; when it closes, another takes over on its next check),
 * for tests that run several nodes in one process.
 */
import type { LeaderLock } from '../../core/leader-lock.js';

/** Holders by lock name; pass one object to every instance that must share the lock. */
export type MemoryLeaderGroup = Map<string, MemoryLeaderLock>;

export class MemoryLeaderLock implements LeaderLock {
  private closed = false;

  constructor(
    private readonly name = 'default',
    private readonly group: MemoryLeaderGroup = new Map(),
  ) {
    void this.check();
  }

  get isLeader(): boolean {
    return !this.closed && this.group.get(this.name) === this;
  }

  async check(): Promise<boolean> {
    if (!this.closed && !this.group.has(this.name)) this.group.set(this.name, this);
    return this.isLeader;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.group.get(this.name) === this) this.group.delete(this.name);
  }
}
