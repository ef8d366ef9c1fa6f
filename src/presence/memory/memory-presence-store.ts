/** MemoryPresenceStore: the PresenceStore of the embedded default (one process; nothing survives a restart but visibility, which the ContactStore keeps). */
import type { AwarenessState, PresenceStore } from '../../core/presence-store.js';
import type { DeviceId, Eid } from '../../core/types.js';

export class MemoryPresenceStore implements PresenceStore {
  private readonly devices = new Map<Eid, Set<DeviceId>>();
  private readonly states = new Map<Eid, AwarenessState>();
  private readonly hidden = new Map<Eid, boolean>();

  async deviceOnline(eid: Eid, device: DeviceId): Promise<{ first: boolean }> {
    let set = this.devices.get(eid);
    if (!set) {
      set = new Set();
      this.devices.set(eid, set);
    }
    const first = set.size === 0;
    set.add(device);
    return { first };
  }

  async deviceOffline(eid: Eid, device: DeviceId): Promise<{ last: boolean }> {
    const set = this.devices.get(eid);
    if (!set || !set.delete(device)) return { last: false };
    if (set.size > 0) return { last: false };
    this.devices.delete(eid);
    return { last: true };
  }

  async onlineDevices(eid: Eid): Promise<DeviceId[]> {
    return [...(this.devices.get(eid) ?? [])];
  }

  async getState(eid: Eid): Promise<AwarenessState | undefined> {
    return this.states.get(eid);
  }

  async setState(eid: Eid, state: AwarenessState): Promise<void> {
    this.states.set(eid, state);
  }

  async getHidden(eid: Eid): Promise<boolean | undefined> {
    return this.hidden.get(eid);
  }

  async setHidden(eid: Eid, hidden: boolean): Promise<void> {
    this.hidden.set(eid, hidden);
  }
}
