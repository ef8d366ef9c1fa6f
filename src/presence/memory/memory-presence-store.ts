/**
 * MemoryPresenceStore: the PresenceStore of the embedded default (one process; nothing survives a
 * restart but visibility, which the ContactStore keeps). Several nodes in one process (tests) share
 * one instance. It keeps the whole port contract (core/presence-store.ts), node expiry included, so
 * the embedded server runs the same presence code as a cluster.
 */
import type { AwarenessState, DueItem, PresenceStore, ReapedDevices } from '../../core/presence-store.js';
import type { DeviceId, Eid } from '../../core/types.js';

export interface MemoryPresenceStoreOptions {
  /** The store's clock for node liveness (default `Date.now`; tests pass their fake clock). */
  now?: () => number;
}

interface NodeBeat {
  expiresAt: number;
  lastBeatAt: number;
}

export class MemoryPresenceStore implements PresenceStore {
  /** eid → device → node it is registered on. */
  private readonly devices = new Map<Eid, Map<DeviceId, string>>();
  /** node → its registrations (eid → devices), for reaping. */
  private readonly nodeDevices = new Map<string, Map<Eid, Set<DeviceId>>>();
  private readonly nodes = new Map<string, NodeBeat>();
  /** `${kind}:${eid}` → due item. */
  private readonly due = new Map<string, DueItem>();
  private readonly states = new Map<Eid, AwarenessState>();
  private readonly hidden = new Map<Eid, boolean>();
  private readonly now: () => number;

  constructor(options: MemoryPresenceStoreOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  async deviceOnline(eid: Eid, device: DeviceId, nodeId: string): Promise<{ first: boolean }> {
    const first = this.online(eid, this.now()).length === 0;
    let registered = this.devices.get(eid);
    if (!registered) {
      registered = new Map();
      this.devices.set(eid, registered);
    }
    const previous = registered.get(device);
    if (previous !== undefined && previous !== nodeId) this.unindex(previous, eid, device);
    registered.set(device, nodeId);
    this.index(nodeId, eid, device);
    return { first };
  }

  async deviceOffline(eid: Eid, device: DeviceId, nodeId: string): Promise<{ last: boolean }> {
    const registered = this.devices.get(eid);
    if (registered?.get(device) !== nodeId) return { last: false };
    this.unregister(eid, device, nodeId);
    return { last: this.online(eid, this.now()).length === 0 };
  }

  async onlineDevices(eid: Eid): Promise<DeviceId[]> {
    return this.online(eid, this.now());
  }

  async nodeAlive(nodeId: string, ttlMs: number): Promise<{ revived: boolean }> {
    const now = this.now();
    const revived = !this.alive(nodeId, now);
    this.nodes.set(nodeId, { expiresAt: now + ttlMs, lastBeatAt: now });
    return { revived };
  }

  async reapDeadNodes(now: number): Promise<ReapedDevices> {
    const reaped: ReapedDevices = { removed: [], offline: [] };
    for (const [nodeId, beat] of [...this.nodes]) {
      if (beat.expiresAt > now) continue;
      for (const [eid, devices] of [...(this.nodeDevices.get(nodeId) ?? [])]) {
        for (const device of [...devices]) {
          this.unregister(eid, device, nodeId);
          reaped.removed.push({ eid, device, nodeId });
        }
        if (!this.devices.has(eid)) reaped.offline.push({ eid, lastSeen: beat.lastBeatAt });
      }
      this.nodeDevices.delete(nodeId);
      this.nodes.delete(nodeId);
    }
    return reaped;
  }

  async scheduleOffline(eid: Eid, dueAt: number): Promise<void> {
    this.due.set(`offline:${eid}`, { kind: 'offline', eid, dueAt });
  }

  async cancelOffline(eid: Eid): Promise<boolean> {
    return this.due.delete(`offline:${eid}`);
  }

  async scheduleRevert(eid: Eid, dueAt: number): Promise<void> {
    this.due.set(`revert:${eid}`, { kind: 'revert', eid, dueAt });
  }

  async claimDue(now: number, limit: number): Promise<DueItem[]> {
    const claimed = [...this.due.values()]
      .filter((item) => item.dueAt <= now)
      .sort((a, b) => a.dueAt - b.dueAt)
      .slice(0, Math.max(0, limit));
    for (const item of claimed) this.due.delete(`${item.kind}:${item.eid}`);
    return claimed;
  }

  async getState(eid: Eid): Promise<AwarenessState | undefined> {
    return this.states.get(eid);
  }

  async setState(eid: Eid, state: AwarenessState): Promise<void> {
    this.states.set(eid, state);
  }

  async setStateIfOffline(eid: Eid, state: AwarenessState): Promise<boolean> {
    if (this.online(eid, this.now()).length > 0) return false;
    this.states.set(eid, state);
    return true;
  }

  async getHidden(eid: Eid): Promise<boolean | undefined> {
    return this.hidden.get(eid);
  }

  async setHidden(eid: Eid, hidden: boolean): Promise<void> {
    this.hidden.set(eid, hidden);
  }

  private alive(nodeId: string, now: number): boolean {
    const beat = this.nodes.get(nodeId);
    return beat !== undefined && now < beat.expiresAt;
  }

  private online(eid: Eid, now: number): DeviceId[] {
    const online: DeviceId[] = [];
    for (const [device, nodeId] of this.devices.get(eid) ?? []) if (this.alive(nodeId, now)) online.push(device);
    return online;
  }

  private unregister(eid: Eid, device: DeviceId, nodeId: string): void {
    const registered = this.devices.get(eid);
    registered?.delete(device);
    if (registered?.size === 0) this.devices.delete(eid);
    this.unindex(nodeId, eid, device);
  }

  private index(nodeId: string, eid: Eid, device: DeviceId): void {
    let users = this.nodeDevices.get(nodeId);
    if (!users) {
      users = new Map();
      this.nodeDevices.set(nodeId, users);
    }
    let devices = users.get(eid);
    if (!devices) {
      devices = new Set();
      users.set(eid, devices);
    }
    devices.add(device);
  }

  private unindex(nodeId: string, eid: Eid, device: DeviceId): void {
    const users = this.nodeDevices.get(nodeId);
    const devices = users?.get(eid);
    devices?.delete(device);
    if (devices?.size === 0) users?.delete(eid);
  }
}
