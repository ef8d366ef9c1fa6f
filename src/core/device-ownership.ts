import type { DeviceId, Eid } from './types.js';

/** A connection that owns a device: the node it is on and its id there. */
export interface DeviceOwner {
  nodeId: string;
  connectionId: string;
}

/** What `claim` answers. */
export interface DeviceClaim {
  /** This claim's fencing generation: greater than every generation handed out before it for the device. */
  generation: number;
  /**
   * The owner this claim displaced (absent when the device had none). `alive`: its node had an
   * unexpired heartbeat at the claim, as judged by the node heartbeat the engine reads (cluster
   * mode: the PresenceStore's, renewed by every node's PresenceService).
   */
  previous?: DeviceOwner & { generation: number; alive: boolean };
}

/**
 * Which connection owns each (eid, device), cluster-wide (SPEC §2: one live connection per device;
 * §7.3: no entry ≤ a committed cursor is pushed again, across nodes). A new connection claims its
 * device before its session reads the cursor; the displaced owner's node closes it with 4009, lets
 * its in-flight frames finish and flushes its cursor before the new session starts (the handoff of
 * server/router.ts). The embedded default keeps it in memory; cluster mode in Redis.
 *
 * Contract every engine keeps (test/contract/device-ownership.contract.ts, run with two instances
 * over the same data):
 * - **Atomic claim.** `claim` makes `owner` the device's owner and answers the owner it displaced, in
 *   one atomic step: under any interleaving of claims from any instances, the claims of a device form
 *   one chain — each displaces exactly the one before it, and exactly one (the last) is current.
 * - **Fencing.** Generations strictly increase with each claim of a device (engines may draw them
 *   from one counter for all devices), so any node can tell which of two claims is newer without
 *   asking the engine. They are never reused, releases included; losing the engine's data (a Redis
 *   restart) may restart them, which costs what losing ownership costs (below).
 * - **Release is compare-and-delete.** `release(eid, device, connectionId)` removes the record only
 *   while that connection is the owner, and answers whether it did; a release that lost the race to a
 *   newer claim changes nothing (the newer owner stays current).
 * - **Liveness** is the node heartbeat's, not the engine's: ownership records do not expire. A
 *   previous owner on a dead node is reported with `alive` false; its node's unflushed cursor
 *   commits are lost as in a crash (SPEC §6 F3 allows the re-sends).
 * - **What may be lost.** Like everything in Redis (SPEC §11), records may be lost; a claim then sees
 *   no previous owner and does not wait, and the displaced connection is still closed by the claim
 *   notice on the bus. Nothing here is durable truth.
 */
export interface DeviceOwnership {
  /** Makes `owner` the owner of (eid, device); answers its generation and the owner it displaced. */
  claim(eid: Eid, device: DeviceId, owner: DeviceOwner): Promise<DeviceClaim>;
  /** Removes the record if `connectionId` still owns the device; true when it did. */
  release(eid: Eid, device: DeviceId, connectionId: string): Promise<boolean>;
  /** The current owner, if any. */
  owner(eid: Eid, device: DeviceId): Promise<(DeviceOwner & { generation: number }) | undefined>;
}
