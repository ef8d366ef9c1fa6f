/**
 * The Lua scripts of RedisPresenceStore: each read-check-write of the port contract
 * (core/presence-store.ts) runs as one script, so Redis executes it atomically between any two
 * nodes' calls. Layout (P = the deployment's prefix):
 *   P p:dev:<eid>   HASH device → node it is registered on
 *   P p:node:<node> SET  "<byte length of eid>:<eid><device>" registered by that node (for reaping)
 *   P p:nodes       ZSET node → heartbeat expiry (epoch ms)
 *   P p:beats       HASH node → last heartbeat (epoch ms: the last_seen of a dead node's users)
 * Scripts compute some key names (a user's hash, a node's set): standalone Redis only, not Redis Cluster.
 */
import { LuaScript } from './lua-script.js';

/** alive(node): the node's heartbeat expires after `now` (KEYS[nodes] given as `nodesKey`). */
const ALIVE = `
local function alive(nodesKey, node, now)
  local expiresAt = redis.call('ZSCORE', nodesKey, node)
  return expiresAt and tonumber(expiresAt) > now
end
local function anyOnline(devKey, nodesKey, now)
  local nodes = redis.call('HVALS', devKey)
  for _, node in ipairs(nodes) do
    if alive(nodesKey, node, now) then return true end
  end
  return false
end
`;

/** KEYS dev, nodes, nodeSet · ARGV device, node, now, member, nodeSetPrefix → 1 first / 0. */
export const deviceOnline = new LuaScript(
  `${ALIVE}
local now = tonumber(ARGV[3])
local first = not anyOnline(KEYS[1], KEYS[2], now)
local previous = redis.call('HGET', KEYS[1], ARGV[1])
if previous and previous ~= ARGV[2] then redis.call('SREM', ARGV[5] .. previous, ARGV[4]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[4])
if first then return 1 end
return 0`,
  3,
);

/** KEYS dev, nodes, nodeSet · ARGV device, node, now, member → 1 last / 0. */
export const deviceOffline = new LuaScript(
  `${ALIVE}
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[4])
if anyOnline(KEYS[1], KEYS[2], tonumber(ARGV[3])) then return 0 end
return 1`,
  3,
);

/** KEYS dev, nodes · ARGV now → devices on live nodes. */
export const onlineDevices = new LuaScript(
  `${ALIVE}
local now = tonumber(ARGV[1])
local entries = redis.call('HGETALL', KEYS[1])
local online = {}
for i = 1, #entries, 2 do
  if alive(KEYS[2], entries[i + 1], now) then table.insert(online, entries[i]) end
end
return online`,
  2,
);

/** KEYS nodes, beats · ARGV node, now, expiresAt → 1 revived / 0. */
export const nodeAlive = new LuaScript(
  `${ALIVE}
local revived = not alive(KEYS[1], ARGV[1], tonumber(ARGV[2]))
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if revived then return 1 end
return 0`,
  2,
);

/**
 * KEYS nodes, beats · ARGV now, budget, nodeSetPrefix, devPrefix → [taken, [node, eid, device,
 * offline 0/1, lastSeen, …]]. Takes at most `budget` registrations of dead nodes (SPOP: each is taken
 * once even with two reapers), and forgets a dead node once its set is empty. A member whose device
 * has meanwhile moved to another node is taken but not removed from the user. Called again while
 * `taken` = budget.
 */
export const reapDeadNodes = new LuaScript(
  `local now = tonumber(ARGV[1])
local budget = tonumber(ARGV[2])
local taken = 0
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 64)
local out = {}
for _, node in ipairs(dead) do
  if budget <= 0 then break end
  local setKey = ARGV[3] .. node
  local lastSeen = tonumber(redis.call('HGET', KEYS[2], node) or '0')
  local members = redis.call('SPOP', setKey, budget)
  budget = budget - #members
  taken = taken + #members
  for _, member in ipairs(members) do
    local colon = string.find(member, ':', 1, true)
    local length = tonumber(string.sub(member, 1, colon - 1))
    local eid = string.sub(member, colon + 1, colon + length)
    local device = string.sub(member, colon + length + 1)
    local devKey = ARGV[4] .. eid
    if redis.call('HGET', devKey, device) == node then
      redis.call('HDEL', devKey, device)
      local offline = 0
      if redis.call('HLEN', devKey) == 0 then offline = 1 end
      table.insert(out, node)
      table.insert(out, eid)
      table.insert(out, device)
      table.insert(out, offline)
      table.insert(out, lastSeen)
    end
  end
  if redis.call('SCARD', setKey) == 0 then
    redis.call('ZREM', KEYS[1], node)
    redis.call('HDEL', KEYS[2], node)
  end
end
return {taken, out}`,
  2,
);

/** KEYS due · ARGV now, limit → flat [member, dueAt]… removed in the same step. */
export const claimDue = new LuaScript(
  `local items = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #items, 2 do redis.call('ZREM', KEYS[1], items[i]) end
return items`,
  1,
);

/** KEYS dev, nodes, state · ARGV now, stateJson → 1 stored / 0 (a device is online). */
export const setStateIfOffline = new LuaScript(
  `${ALIVE}
if anyOnline(KEYS[1], KEYS[2], tonumber(ARGV[1])) then return 0 end
redis.call('SET', KEYS[3], ARGV[2])
return 1`,
  3,
);
