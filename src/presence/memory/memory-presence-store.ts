/**
 * MemoryPresenceStore: the PresenceStore of the embedded default (one process; nothing survives a
 * restart but visibility, which the ContactStore keeps). Several nodes in one process (tests) share
 * one instance. It keeps the whole port contract (core/presence-store.ts), node expiry included, so
 * the embedded server runs the same presence code as a cluster.
 */
import type { AwarenessState, DueItem, PresenceStore, ReapedDevices } from '../../core/presence-store.js';
import { UserDevices } from '../../core/device-slots.js';
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
  private readonly devices = new UserDevices<string>();
  /** node → its registrations (eid → devices), for reaping. */
  private readonly nodeDevices = new Map<string, UserDevices<true>>();
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
    const previous = this.devices.get(eid, device);
    if (previous !== undefined && previous !== nodeId) this.unindex(previous, eid, device);
    this.devices.set(eid, device, nodeId);
    this.index(nodeId, eid, device);
    return { first };
  }

  async deviceOffline(eid: Eid, device: DeviceId, nodeId: string): Promise<{ last: boolean }> {
    if (this.devices.get(eid, device) !== nodeId) return { last: false };
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
      for (const [eid, devices] of this.nodeDevices.get(nodeId)?.byUser() ?? []) {
        for (const device of devices) {
          this.unregister(eid, device, nodeId);
          reaped.removed.push({ eid, device, nodeId });
        }
        if (!this.devices.hasUser(eid)) reaped.offline.push({ eid, lastSeen: beat.lastBeatAt });
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
    for (const [device, nodeId] of this.devices.entriesOf(eid)) if (this.alive(nodeId, now)) online.push(device);
    return online;
  }

  private unregister(eid: Eid, device: DeviceId, nodeId: string): void {
    this.devices.delete(eid, device);
    this.unindex(nodeId, eid, device);
  }

  private index(nodeId: string, eid: Eid, device: DeviceId): void {
    let registrations = this.nodeDevices.get(nodeId);
    if (!registrations) {
      registrations = new UserDevices();
      this.nodeDevices.set(nodeId, registrations);
    }
    registrations.set(eid, device, true);
  }

  private unindex(nodeId: string, eid: Eid, device: DeviceId): void {
    this.nodeDevices.get(nodeId)?.delete(eid, device);
  }
}
