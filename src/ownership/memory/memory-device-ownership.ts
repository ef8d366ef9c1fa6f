/**
 * MemoryDeviceOwnership: the DeviceOwnership of the embedded default (one process). Several nodes in
 * one process (tests) share one instance. Every call runs to completion before another starts (one
 * thread, no await inside), which makes each claim and release atomic as the port contract asks.
 */
import type { DeviceClaim, DeviceOwner, DeviceOwnership } from '../../core/device-ownership.js';
import { UserDevices } from '../../core/device-slots.js';
import type { DeviceId, Eid } from '../../core/types.js';

export interface MemoryDeviceOwnershipOptions {
  /**
   * Whether a node's heartbeat is alive now (default: every node is; in one process the nodes die
   * only in tests, which pass their own).
   */
  nodeAlive?: (nodeId: string) => boolean;
}

type Owned = DeviceOwner & { generation: number };

export class MemoryDeviceOwnership implements DeviceOwnership {
  /** eid → device → owner (no separator, so no two pairs can collide; no Map per single-device user). */
  private readonly owners = new UserDevices<Owned>();
  /** One counter for every device: generations of a device strictly increase, releases included. */
  private generation = 0;
  private readonly nodeAlive: (nodeId: string) => boolean;

  constructor(options: MemoryDeviceOwnershipOptions = {}) {
    this.nodeAlive = options.nodeAlive ?? (() => true);
  }

  async claim(eid: Eid, device: DeviceId, owner: DeviceOwner): Promise<DeviceClaim> {
    const previous = this.owners.get(eid, device);
    const generation = ++this.generation;
    this.owners.set(eid, device, { nodeId: owner.nodeId, connectionId: owner.connectionId, generation });
    if (!previous) return { generation };
    return { generation, previous: { ...previous, alive: this.nodeAlive(previous.nodeId) } };
  }

  async release(eid: Eid, device: DeviceId, connectionId: string): Promise<boolean> {
    if (this.owners.get(eid, device)?.connectionId !== connectionId) return false;
    return this.owners.delete(eid, device);
  }

  async owner(eid: Eid, device: DeviceId): Promise<Owned | undefined> {
    const owned = this.owners.get(eid, device);
    return owned && { ...owned };
  }
}
