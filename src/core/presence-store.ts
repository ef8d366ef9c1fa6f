import type { DeviceId, Eid } from './types.js';

/** A user's current awareness (SPEC §4 Awareness, §6 F6). */
export interface AwarenessState {
  /** 1=ONLINE 2=OFFLINE 3=AWAY 4=BUSY 5=DND */
  status: number;
  /** Epoch ms the user was last online (0 unknown). */
  lastSeen: number;
  /** Epoch ms at which a device-set status reverts (0 = until changed). */
  expiresAt: number;
  ttl: number;
  locationSharing: number;
  latitude: number;
  longitude: number;
  details: string;
  /** Epoch ms of the change. */
  updatedAt: number;
}

/** Work that falls due at a time, taken by exactly one node (`claimDue`). */
export interface DueItem {
  /** 'offline': the grace period after a user's last device left ended; 'revert': a device-set state's ttl ended. */
  kind: 'offline' | 'revert';
  eid: Eid;
  /** Epoch ms it was scheduled for. */
  dueAt: number;
}

/** What `reapDeadNodes` removed. */
export interface ReapedDevices {
  /** Every (eid, device) registration of a dead node removed by this call. */
  removed: Array<{ eid: Eid; device: DeviceId; nodeId: string }>;
  /** Users left with no device registered anywhere by this call; `lastSeen` = the dead node's last heartbeat. */
  offline: Array<{ eid: Eid; lastSeen: number }>;
}

/**
 * Who is online on which node, each user's awareness, and visibility — shared by every node (SPEC §6
 * F6, §11). The embedded default keeps it in memory; cluster mode in Redis. Nothing here is the
 * truth for anything durable: visibility is a cache of the ContactStore, and losing the whole store
 * (a Redis restart) costs at most one heartbeat until every node has registered its devices again.
 *
 * Contract every engine keeps (test/contract/presence-store.contract.ts, run with two instances over
 * the same data):
 * - **Time.** Node liveness is judged by the store's clock (each engine takes a `now` option, default
 *   `Date.now`); `reapDeadNodes(now)` and `claimDue(now)` take the caller's time, which in a node is
 *   the same clock. Nodes' clocks are assumed to agree to well within a heartbeat ttl (NTP).
 * - **Liveness.** A device counts as online while it is registered (`deviceOnline`) on a node whose
 *   heartbeat has not expired: `nodeAlive(node, ttl)` at t keeps the node alive while now < t + ttl.
 *   A node that never called `nodeAlive`, or whose heartbeat expired, has no online device anywhere —
 *   at once, before any reaping (SPEC §11: a dead node's users go OFFLINE within 15 s).
 * - **First / last device, atomically.** `deviceOnline` answers `first` when no device of the user was
 *   online just before (the same device online on another node counts: it is a move, not an arrival);
 *   it registers the device on `nodeId`, moving it from any other node. `deviceOffline` removes the
 *   registration only when the device is registered on `nodeId` (a newer connection elsewhere keeps
 *   it), and answers `last` when it removed it and no device of the user is online any more. Under
 *   any interleaving of calls from any nodes, each arrival after "no device online" gets exactly one
 *   `first`, and each departure to "no device online" exactly one `last`.
 * - **Revival.** `nodeAlive` answers `revived` when the node was not alive just before (first beat,
 *   expired, or reaped): the caller then registers its devices again, since they may have been reaped.
 * - **Reaping.** `reapDeadNodes(now)` removes every registration of nodes whose heartbeat expired at
 *   `now`, and forgets those nodes. Concurrent reapers split the work: each registration is removed,
 *   and reported, by exactly one call. A user is reported `offline` by the call that removed their
 *   last registration.
 * - **Due items.** One pending item per (kind, user): scheduling again replaces the time.
 *   `claimDue(now, limit)` takes up to `limit` items with dueAt ≤ now, earliest first, and removes
 *   them in the same atomic step: each item is handed to exactly one caller, once (at most once: a
 *   node that dies holding a claimed item loses it).
 * - **State.** `setState` replaces; `setStateIfOffline` stores only when no device of the user is
 *   online, atomically with that check (so "go OFFLINE" cannot overwrite an arrival on another node).
 */
export interface PresenceStore {
  /** Registers a device online on `nodeId`; `first` is true when no device of the user was online. */
  deviceOnline(eid: Eid, device: DeviceId, nodeId: string): Promise<{ first: boolean }>;
  /** Removes a device registered on `nodeId`; `last` is true when it did and no device of the user is online any more. */
  deviceOffline(eid: Eid, device: DeviceId, nodeId: string): Promise<{ last: boolean }>;
  /** The user's devices online now, on live nodes only. */
  onlineDevices(eid: Eid): Promise<DeviceId[]>;
  /** Node heartbeat: `nodeId` is alive for `ttlMs` from now; `revived` when it was not alive just before. */
  nodeAlive(nodeId: string, ttlMs: number): Promise<{ revived: boolean }>;
  /** Janitor step, safe to run on every node at once: removes the devices of nodes dead at `now`. */
  reapDeadNodes(now: number): Promise<ReapedDevices>;
  /** The user's OFFLINE falls due at `dueAt` (offline grace, SPEC §6 F6); replaces a pending one. */
  scheduleOffline(eid: Eid, dueAt: number): Promise<void>;
  /** Drops the user's pending OFFLINE; true when there was one. */
  cancelOffline(eid: Eid): Promise<boolean>;
  /** The user's device-set state reverts at `dueAt` (awareness ttl, SPEC §6 F6); replaces a pending one. */
  scheduleRevert(eid: Eid, dueAt: number): Promise<void>;
  /** Takes (removes and returns) up to `limit` items due at `now`, earliest first; each goes to one caller only. */
  claimDue(now: number, limit: number): Promise<DueItem[]>;
  getState(eid: Eid): Promise<AwarenessState | undefined>;
  setState(eid: Eid, state: AwarenessState): Promise<void>;
  /** Stores `state` only if no device of the user is online (checked atomically); true when stored. */
  setStateIfOffline(eid: Eid, state: AwarenessState): Promise<boolean>;
  /** undefined when not cached yet (load it from the ContactStore). */
  getHidden(eid: Eid): Promise<boolean | undefined>;
  setHidden(eid: Eid, hidden: boolean): Promise<void>;
}
