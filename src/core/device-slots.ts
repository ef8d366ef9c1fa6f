/**
 * Small collections keyed by device, built for the common case of a user with one device.
 *
 * Issue #10 (W4, server memory per idle connection): a JS Map or Set costs ~150–200 bytes even
 * with one entry (the object plus its hash table), and the node kept five of them per connected
 * user (the hub's sessions, presence registrations and their per-node index, device ownership, the
 * presence service's local devices). A DeviceSlots holds one device in two fields and switches to a
 * Map only when a second device arrives (and back when it leaves).
 */
import type { DeviceId, Eid } from './types.js';

/** device → V for one user; iteration is in insertion order. */
export class DeviceSlots<V> {
  private oneDevice: DeviceId | undefined;
  private oneValue: V | undefined;
  private many: Map<DeviceId, V> | undefined;

  get size(): number {
    if (this.many) return this.many.size;
    return this.oneDevice === undefined ? 0 : 1;
  }

  get(device: DeviceId): V | undefined {
    if (this.many) return this.many.get(device);
    return this.oneDevice === device ? this.oneValue : undefined;
  }

  set(device: DeviceId, value: V): void {
    if (this.many) {
      this.many.set(device, value);
    } else if (this.oneDevice === undefined || this.oneDevice === device) {
      this.oneDevice = device;
      this.oneValue = value;
    } else {
      this.many = new Map([[this.oneDevice, this.oneValue as V]]);
      this.many.set(device, value);
      this.oneDevice = undefined;
      this.oneValue = undefined;
    }
  }

  delete(device: DeviceId): boolean {
    if (!this.many) {
      if (this.oneDevice === undefined || this.oneDevice !== device) return false;
      this.oneDevice = undefined;
      this.oneValue = undefined;
      return true;
    }
    if (!this.many.delete(device)) return false;
    if (this.many.size === 1) {
      const [[remaining, value]] = this.many;
      this.many = undefined;
      this.oneDevice = remaining;
      this.oneValue = value;
    }
    return true;
  }

  /** Calls `fn` with each value, allocating nothing (for hot paths; do not change the collection in `fn`). */
  forEachValue(fn: (value: V) => void): void {
    if (this.many) for (const value of this.many.values()) fn(value);
    else if (this.oneDevice !== undefined) fn(this.oneValue as V);
  }

  /** A copy of the entries: safe to use while the collection changes. */
  entries(): Array<[DeviceId, V]> {
    if (this.many) return [...this.many];
    return this.oneDevice === undefined ? [] : [[this.oneDevice, this.oneValue as V]];
  }

  /** A copy of the devices. */
  devices(): DeviceId[] {
    if (this.many) return [...this.many.keys()];
    return this.oneDevice === undefined ? [] : [this.oneDevice];
  }

  /** A copy of the values: safe to use while the collection changes. */
  values(): V[] {
    if (this.many) return [...this.many.values()];
    return this.oneDevice === undefined ? [] : [this.oneValue as V];
  }
}

/** (eid, device) → V; a user with no devices left is forgotten. */
export class UserDevices<V> {
  private readonly users = new Map<Eid, DeviceSlots<V>>();

  /** Users with at least one device. */
  get userCount(): number {
    return this.users.size;
  }

  get(eid: Eid, device: DeviceId): V | undefined {
    return this.users.get(eid)?.get(device);
  }

  set(eid: Eid, device: DeviceId, value: V): void {
    let slots = this.users.get(eid);
    if (!slots) {
      slots = new DeviceSlots();
      this.users.set(eid, slots);
    }
    slots.set(device, value);
  }

  delete(eid: Eid, device: DeviceId): boolean {
    const slots = this.users.get(eid);
    if (!slots?.delete(device)) return false;
    if (slots.size === 0) this.users.delete(eid);
    return true;
  }

  hasUser(eid: Eid): boolean {
    return this.users.has(eid);
  }

  /** A copy of the user's (device, value) pairs. */
  entriesOf(eid: Eid): Array<[DeviceId, V]> {
    return this.users.get(eid)?.entries() ?? [];
  }

  /** A copy of the users and their devices: safe to use while the collection changes. */
  byUser(): Array<[Eid, DeviceId[]]> {
    return [...this.users].map(([eid, slots]) => [eid, slots.devices()]);
  }
}
