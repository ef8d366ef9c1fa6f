/**
 * RedisPresenceStore: the PresenceStore of cluster mode (SPEC §11), shared by every node through one
 * Redis. It receives a ready client and opens none. Every read-check-write of the port contract
 * (core/presence-store.ts) is one Lua script (scripts.ts), so two nodes' calls never interleave
 * inside one; due items live in one ZSET claimed by ZRANGEBYSCORE + ZREM in a script.
 *
 * The client should fail fast rather than queue while Redis is down (`enableOfflineQueue: false`,
 * `maxRetriesPerRequest: 0`): presence calls then reject and are logged, instead of piling up. Keys
 * start with `prefix` (SPEC §11: `BIMIP_REDIS_PREFIX`; the client's db index separates deployments
 * too); the client must not set ioredis' `keyPrefix` (scripts build some key names themselves).
 */
import type { Redis } from 'ioredis';
import type { AwarenessState, DueItem, PresenceStore, ReapedDevices } from '../../core/presence-store.js';
import type { DeviceId, Eid } from '../../core/types.js';
import * as scripts from './scripts.js';

export interface RedisPresenceStoreOptions {
  /** A connected client in normal (not subscriber) mode; it may be shared with the bus publisher. */
  redis: Redis;
  /** Prepended to every key, e.g. 'bimip:'. */
  prefix: string;
  /** The store's clock for node liveness (default `Date.now`). */
  now?: () => number;
  /** Registrations removed per reaping script call (default 1000), so one call never blocks Redis long. */
  reapBatch?: number;
}

/** Bounds the reaping loop of one `reapDeadNodes` call (1000 × 1000 registrations). */
const MAX_REAP_ROUNDS = 1000;

export class RedisPresenceStore implements PresenceStore {
  private readonly redis: Redis;
  private readonly now: () => number;
  private readonly reapBatch: number;
  private readonly keys;

  constructor(options: RedisPresenceStoreOptions) {
    if (options.redis.options.keyPrefix) throw new Error('RedisPresenceStore: use `prefix`, not the client keyPrefix option');
    this.redis = options.redis;
    this.now = options.now ?? Date.now;
    this.reapBatch = options.reapBatch ?? 1000;
    const p = `${options.prefix}p:`;
    this.keys = {
      devicePrefix: `${p}dev:`,
      nodeSetPrefix: `${p}node:`,
      nodes: `${p}nodes`,
      beats: `${p}beats`,
      due: `${p}due`,
      hidden: `${p}hidden`,
      devices: (eid: Eid) => `${p}dev:${eid}`,
      nodeSet: (nodeId: string) => `${p}node:${nodeId}`,
      state: (eid: Eid) => `${p}state:${eid}`,
    };
  }

  async deviceOnline(eid: Eid, device: DeviceId, nodeId: string): Promise<{ first: boolean }> {
    const k = this.keys;
    const first = await scripts.deviceOnline.run(
      this.redis,
      [k.devices(eid), k.nodes, k.nodeSet(nodeId)],
      [device, nodeId, this.now(), registration(eid, device), k.nodeSetPrefix],
    );
    return { first: first === 1 };
  }

  async deviceOffline(eid: Eid, device: DeviceId, nodeId: string): Promise<{ last: boolean }> {
    const k = this.keys;
    const last = await scripts.deviceOffline.run(
      this.redis,
      [k.devices(eid), k.nodes, k.nodeSet(nodeId)],
      [device, nodeId, this.now(), registration(eid, device)],
    );
    return { last: last === 1 };
  }

  async onlineDevices(eid: Eid): Promise<DeviceId[]> {
    return (await scripts.onlineDevices.run(this.redis, [this.keys.devices(eid), this.keys.nodes], [this.now()])) as DeviceId[];
  }

  async nodeAlive(nodeId: string, ttlMs: number): Promise<{ revived: boolean }> {
    const now = this.now();
    const revived = await scripts.nodeAlive.run(this.redis, [this.keys.nodes, this.keys.beats], [nodeId, now, now + ttlMs]);
    return { revived: revived === 1 };
  }

  async reapDeadNodes(now: number): Promise<ReapedDevices> {
    const k = this.keys;
    const reaped: ReapedDevices = { removed: [], offline: [] };
    for (let round = 0; round < MAX_REAP_ROUNDS; round++) {
      const [taken, flat] = (await scripts.reapDeadNodes.run(this.redis, [k.nodes, k.beats], [now, this.reapBatch, k.nodeSetPrefix, k.devicePrefix])) as [
        number,
        Array<string | number>,
      ];
      for (let i = 0; i < flat.length; i += 5) {
        const [nodeId, eid, device, offline, lastSeen] = flat.slice(i, i + 5);
        reaped.removed.push({ eid: String(eid), device: String(device), nodeId: String(nodeId) });
        if (Number(offline) === 1) reaped.offline.push({ eid: String(eid), lastSeen: Number(lastSeen) });
      }
      // A budget not used up means no dead node has registrations left (or none is dead).
      if (taken < this.reapBatch) break;
    }
    return reaped;
  }

  async scheduleOffline(eid: Eid, dueAt: number): Promise<void> {
    await this.redis.zadd(this.keys.due, dueAt, dueMember('offline', eid));
  }

  async cancelOffline(eid: Eid): Promise<boolean> {
    return (await this.redis.zrem(this.keys.due, dueMember('offline', eid))) > 0;
  }

  async scheduleRevert(eid: Eid, dueAt: number): Promise<void> {
    await this.redis.zadd(this.keys.due, dueAt, dueMember('revert', eid));
  }

  async claimDue(now: number, limit: number): Promise<DueItem[]> {
    if (limit <= 0) return [];
    const flat = (await scripts.claimDue.run(this.redis, [this.keys.due], [now, limit])) as string[];
    const items: DueItem[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const member = String(flat[i]);
      const colon = member.indexOf(':');
      const kind = member.slice(0, colon);
      if (kind !== 'offline' && kind !== 'revert') continue;
      items.push({ kind, eid: member.slice(colon + 1), dueAt: Number(flat[i + 1]) });
    }
    return items;
  }

  async getState(eid: Eid): Promise<AwarenessState | undefined> {
    const json = await this.redis.get(this.keys.state(eid));
    return json === null ? undefined : (JSON.parse(json) as AwarenessState);
  }

  async setState(eid: Eid, state: AwarenessState): Promise<void> {
    await this.redis.set(this.keys.state(eid), JSON.stringify(state));
  }

  async setStateIfOffline(eid: Eid, state: AwarenessState): Promise<boolean> {
    const k = this.keys;
    return (await scripts.setStateIfOffline.run(this.redis, [k.devices(eid), k.nodes, k.state(eid)], [this.now(), JSON.stringify(state)])) === 1;
  }

  async getHidden(eid: Eid): Promise<boolean | undefined> {
    const flag = await this.redis.hget(this.keys.hidden, eid);
    return flag === null ? undefined : flag === '1';
  }

  async setHidden(eid: Eid, hidden: boolean): Promise<void> {
    await this.redis.hset(this.keys.hidden, eid, hidden ? '1' : '0');
  }
}

/** A node set member: the eid's byte length first, so any eid and device split back apart in Lua. */
function registration(eid: Eid, device: DeviceId): string {
  return `${Buffer.byteLength(eid)}:${eid}${device}`;
}

function dueMember(kind: DueItem['kind'], eid: Eid): string {
  return `${kind}:${eid}`;
}
