/**
 * Operator endpoints of the admin API (`bimip kick`, `bimip status`): closing a user's connections
 * on every node, and what this node and one user's queue look like. Reads go through the ports only
 * (MessageStore, the presence service, the router), so they answer the same for every engine.
 *
 *   POST /v1/connections/close (admin) {eid, device?, code?, reason?} → {closed_connections}
 *   GET  /v1/status            (admin) [?eid=E] → {node_id, mode, version, uptime_seconds, connections, user?}
 */
import type { DeviceId, Eid } from '../core/types.js';
import { CloseCode } from '../protocol/index.js';
import { HttpError, integer, type Json, str } from './admin-http.js';
import type { ServerContext } from './context.js';

/** What this node says about itself in GET /v1/status. */
export interface NodeStatus {
  /** The bus node id (one per process; cluster mode: a random UUID per start). */
  nodeId: string;
  mode: 'embedded' | 'cluster';
  version: string;
  /** Epoch ms the node started (by the server's clock). */
  startedAt: number;
  /** Live client connections on this node. */
  connections(): number;
}

/** Close code of a kick unless the request names another: policy violation, which clients do not retry by themselves. */
export const KICK_CLOSE_CODE = CloseCode.PolicyViolation;
export const KICK_REASON = 'kicked by operator';

/**
 * Codes an operator may close with, each telling the client something true (docs/protocol.md): 1008
 * (default: do not reconnect by yourself), 4001 (get a new token first: pair with a revoke), 1001 (the
 * server asks you to go away: reconnect with backoff, e.g. to another node), 1000 (normal close).
 */
const KICK_CODES: ReadonlySet<number> = new Set([1000, CloseCode.GoingAway, CloseCode.PolicyViolation, CloseCode.Unauthorized]);

/** RFC 6455 §5.5: a close frame's reason fits in 123 bytes. */
const MAX_CLOSE_REASON_BYTES = 123;

/**
 * Closes the connections of a user (or of one device) on every node through the router, as logout
 * and revocation do (a `close` cluster message). The count is this node's: other nodes close theirs
 * when the notice reaches them (at most once, like every bus message; the device may reconnect).
 */
export function closeConnections(ctx: ServerContext, body: Json): [number, Json] {
  const eid = checkedEid(ctx, str(body, 'eid'));
  const device = str(body, 'device', false);
  if (Buffer.byteLength(device) > ctx.limits.maxIdBytes) throw new HttpError(400, `device is over ${ctx.limits.maxIdBytes} bytes`);
  const code = integer(body, 'code', 1000, 4999) ?? KICK_CLOSE_CODE;
  if (!KICK_CODES.has(code)) throw new HttpError(400, `code must be one of ${[...KICK_CODES].join(', ')}`);
  const reason = str(body, 'reason', false) || KICK_REASON;
  if (Buffer.byteLength(reason) > MAX_CLOSE_REASON_BYTES) throw new HttpError(400, `reason is over ${MAX_CLOSE_REASON_BYTES} bytes`);
  const closed = ctx.router.closeDevices(eid, device, code, reason);
  ctx.logger.info({ eid, device: device || '*', code, closed }, 'admin: connections closed');
  return [200, { closed_connections: closed }];
}

/** This node's status; with `?eid=` also the user's online devices, queue bounds and device cursors. */
export async function status(ctx: ServerContext, node: NodeStatus, query: URLSearchParams): Promise<[number, Json]> {
  const result: Json = {
    node_id: node.nodeId,
    mode: node.mode,
    version: node.version,
    uptime_seconds: Math.max(0, Math.floor((ctx.clock.now() - node.startedAt) / 1000)),
    connections: node.connections(),
  };
  const eid = query.get('eid');
  if (eid !== null) result['user'] = await userStatus(ctx, checkedEid(ctx, eid));
  return [200, result];
}

async function userStatus(ctx: ServerContext, eid: Eid): Promise<Json> {
  const here = ctx.router.localPrincipals(eid).map((principal) => principal.deviceId);
  const [queue, known, online] = await Promise.all([ctx.store.queueInfo(eid), ctx.store.knownDevices(eid), ctx.presence.onlineDevices(eid)]);
  // Presence lags a connect by a round trip, and a first-time device's cursor may still wait to be
  // written: the devices connected here are counted in both lists from the start.
  const onlineDevices = sortedUnion(online, here);
  const cursors: Json[] = [];
  for (const device of sortedUnion(known, here)) {
    const cursor = await ctx.store.getCursor(eid, device);
    if (cursor !== undefined) cursors.push({ device, cursor });
  }
  return {
    eid,
    online_devices: onlineDevices,
    queue: { head_offset: queue.head, first_offset: queue.first, epoch: queue.epoch },
    cursors,
  };
}

function checkedEid(ctx: ServerContext, eid: string): Eid {
  if (eid === '') throw new HttpError(400, 'eid is required');
  if (Buffer.byteLength(eid) > ctx.limits.maxEidBytes) throw new HttpError(400, `eid is over ${ctx.limits.maxEidBytes} bytes`);
  return eid;
}

function sortedUnion(a: readonly DeviceId[], b: readonly DeviceId[]): DeviceId[] {
  return [...new Set([...a, ...b])].sort();
}
