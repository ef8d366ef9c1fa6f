/**
 * RedisDeviceOwnership: the DeviceOwnership of cluster mode (SPEC §11), shared by every node through
 * one Redis. It receives a ready client and opens none. A claim is one script (one round trip on the
 * connect path): read the displaced owner, draw a generation, write the new owner, and judge the
 * displaced owner's node alive from the presence heartbeat — atomically. Layout (P = the prefix):
 *   P o:gen                          STRING  the generation counter (one for every device)
 *   P o:dev:<eid byte length>:<eid><device>  HASH  g generation, n node, c connection
 * Liveness is not kept twice: the script reads RedisPresenceStore's node heartbeat ZSET (P p:nodes,
 * node → expiry in epoch ms; presence/redis/scripts.ts), so "alive" means the same thing to presence
 * and to ownership. Records do not expire (the port contract); one per device owned now, plus those
 * of nodes that died, overwritten by the device's next claim.
 */
import type { Redis } from 'ioredis';
import type { DeviceClaim, DeviceOwner, DeviceOwnership } from '../../core/device-ownership.js';
import type { DeviceId, Eid } from '../../core/types.js';
import { LuaScript } from '../../presence/redis/lua-script.js';

export interface RedisDeviceOwnershipOptions {
  /** A connected client in normal (not subscriber) mode; it may be shared with presence and the bus publisher. */
  redis: Redis;
  /** Prepended to every key, e.g. 'bimip:' — the same prefix as the RedisPresenceStore's. */
  prefix: string;
  /** The node heartbeat ZSET (default `${prefix}p:nodes`, RedisPresenceStore's). */
  heartbeatKey?: string;
  /** The clock liveness is judged by (default `Date.now`; the presence store's). */
  now?: () => number;
}

/** KEYS device, counter, heartbeats · ARGV node, connection, now → {gen} or {gen, prevGen, prevNode, prevConn, alive}. */
const CLAIM = new LuaScript(
  `
local previous = redis.call('HMGET', KEYS[1], 'g', 'n', 'c')
local generation = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'g', generation, 'n', ARGV[1], 'c', ARGV[2])
if not previous[1] then return {generation} end
local expiresAt = redis.call('ZSCORE', KEYS[3], previous[2])
local alive = 0
if expiresAt and tonumber(expiresAt) > tonumber(ARGV[3]) then alive = 1 end
return {generation, tonumber(previous[1]), previous[2], previous[3], alive}`,
  3,
);

/** KEYS device · ARGV connection → 1 released / 0 not the owner. */
const RELEASE = new LuaScript(
  `
if redis.call('HGET', KEYS[1], 'c') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1`,
  1,
);

export class RedisDeviceOwnership implements DeviceOwnership {
  private readonly redis: Redis;
  private readonly counterKey: string;
  private readonly heartbeatKey: string;
  private readonly devicePrefix: string;
  private readonly now: () => number;

  constructor(options: RedisDeviceOwnershipOptions) {
    if (options.redis.options.keyPrefix) throw new Error('RedisDeviceOwnership: use `prefix`, not the client keyPrefix option');
    this.redis = options.redis;
    this.counterKey = `${options.prefix}o:gen`;
    this.devicePrefix = `${options.prefix}o:dev:`;
    this.heartbeatKey = options.heartbeatKey ?? `${options.prefix}p:nodes`;
    this.now = options.now ?? Date.now;
  }

  async claim(eid: Eid, device: DeviceId, owner: DeviceOwner): Promise<DeviceClaim> {
    const reply = (await CLAIM.run(
      this.redis,
      [this.deviceKey(eid, device), this.counterKey, this.heartbeatKey],
      [owner.nodeId, owner.connectionId, this.now()],
    )) as [number, number?, string?, string?, number?];
    const [generation, previousGeneration, nodeId, connectionId, alive] = reply;
    if (previousGeneration === undefined) return { generation };
    return { generation, previous: { generation: previousGeneration, nodeId: String(nodeId), connectionId: String(connectionId), alive: alive === 1 } };
  }

  async release(eid: Eid, device: DeviceId, connectionId: string): Promise<boolean> {
    return (await RELEASE.run(this.redis, [this.deviceKey(eid, device)], [connectionId])) === 1;
  }

  async owner(eid: Eid, device: DeviceId): Promise<(DeviceOwner & { generation: number }) | undefined> {
    const [generation, nodeId, connectionId] = await this.redis.hmget(this.deviceKey(eid, device), 'g', 'n', 'c');
    if (generation === null || nodeId === null || connectionId === null) return undefined;
    return { generation: Number(generation), nodeId, connectionId };
  }

  /** The eid's byte length first, so no eid and device can make two pairs share a key. */
  private deviceKey(eid: Eid, device: DeviceId): string {
    return `${this.devicePrefix}${Buffer.byteLength(eid)}:${eid}${device}`;
  }
}
