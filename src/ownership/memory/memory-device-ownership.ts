/**
 * MemoryDeviceOwnership: the DeviceOwnership of the embedded default (one process). Several nodes in
 * one process (tests) share one instance. Every call runs to completion before another starts (one
 * thread, no await inside), which makes each claim and release atomic as the port contract asks.
 */
import type { DeviceClaim, DeviceOwner, DeviceOwnership } from '../../core/device-ownership.js';
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
  /** eid → device → owner; nested maps, so no separator can make two pairs collide. */
  private readonly owners = new Map<Eid, Map<DeviceId, Owned>>();
  /** One counter for every device: generations of a device strictly increase, releases included. */
  private generation = 0;
  private readonly nodeAlive: (nodeId: string) => boolean;

  constructor(options: MemoryDeviceOwnershipOptions = {}) {
    this.nodeAlive = options.nodeAlive ?? (() => true);
  }

  async claim(eid: Eid, device: DeviceId, owner: DeviceOwner): Promise<DeviceClaim> {
    let devices = this.owners.get(eid);
    if (!devices) {
      devices = new Map();
      this.owners.set(eid, devices);
    }
    const previous = devices.get(device);
    const generation = ++this.generation;
    devices.set(device, { nodeId: owner.nodeId, connectionId: owner.connectionId, generation });
    if (!previous) return { generation };
    return { generation, previous: { ...previous, alive: this.nodeAlive(previous.nodeId) } };
  }

  async release(eid: Eid, device: DeviceId, connectionId: string): Promise<boolean> {
    const devices = this.owners.get(eid);
    if (devices?.get(device)?.connectionId !== connectionId) return false;
    devices.delete(device);
    if (devices.size === 0) this.owners.delete(eid);
    return true;
  }

  async owner(eid: Eid, device: DeviceId): Promise<Owned | undefined> {
    const owned = this.owners.get(eid)?.get(device);
    return owned && { ...owned };
  }
}
