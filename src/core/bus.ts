import type { DeviceId, Eid, Offset } from './types.js';

/**
 * Everything one node asks of another, as one discriminated union handled in one place
 * (server/router.ts; ARCHITECTURE lesson 4, after socket.io's `MessageType` and centrifuge's
 * `handleControl`). Each is published on the topic of the user it concerns, except `revoked`, which
 * goes to every node.
 */
export type ClusterMessage =
  /** "User `eid` has entries up to `head`": sessions that are behind read from the store. */
  | { kind: 'entries'; eid: Eid; head: Offset }
  /**
   * An encoded frame for the online devices of `eid` (transient signals, awareness, the visibility
   * echo): `device` '' = every device, else only that one; `exceptDevice` is skipped. A transient
   * frame is dropped for a socket over its send-buffer limit (issue #7 item 2).
   */
  | { kind: 'frame'; eid: Eid; device: DeviceId; exceptDevice: DeviceId; route: number; transient: boolean; frame: Uint8Array }
  /** Close the connections of (eid, device) — device '' = every device — except `exceptConnection`. */
  | { kind: 'close'; eid: Eid; device: DeviceId; code: number; reason: string; exceptConnection: string }
  /**
   * A newer connection of (eid, device) was accepted as `connectionId` and claimed the device with
   * `generation` (SPEC §2: one per device, cluster-wide): a node closes (4009) its connection of the
   * device unless that one holds a newer generation (0 = unknown: the claim could not be recorded,
   * the newest notice wins). `previousNode`/`previousConnection` ('' = none) name the owner it
   * displaced: that node answers `released` once the connection's cursor is flushed (the handoff,
   * server/router.ts).
   */
  | { kind: 'claim'; eid: Eid; device: DeviceId; connectionId: string; generation: number; previousNode: string; previousConnection: string }
  /**
   * Connection `connectionId` of (eid, device) is closed to frames, its in-flight frames are handled
   * and its cursor is durable (`flushCursor`): the device's new session may read the cursor (SPEC §7.3).
   */
  | { kind: 'released'; eid: Eid; device: DeviceId; connectionId: string }
  /** These token ids are revoked: close their connections with 4001 (SPEC §2: within 1 s). */
  | { kind: 'revoked'; jtis: string[] };

/** Where a message goes: one user's topic, or every node. */
export type BusTopic = { user: Eid } | 'broadcast';

/**
 * Messages between nodes, per user topic. At most once: a message may be lost (a bus outage, a node
 * that was not subscribed yet). A lost `entries` costs a catch-up read from the store (the store is
 * the truth and every node re-reads its users' heads periodically), never a message; a lost
 * `close`/`revoked` is covered by the revocation poll of the token store; a lost `frame` is a lost
 * transient signal, which SPEC §6 F5 allows.
 *
 * Contract every engine keeps (test/contract/bus.contract.ts):
 * - A node receives the messages of a user topic from `subscribe(topic)` resolving until
 *   `unsubscribe(topic)`; `broadcast` always. Messages from one publisher on one topic arrive in the
 *   order published. A node does NOT receive its own messages (the router has already delivered
 *   them locally: local first, remote second).
 * - `publish` rejects when the message could not be handed to the bus (the caller logs and counts it;
 *   nothing is swallowed).
 */
export interface Bus {
  /** This node's id (messages carry it; a node's own messages are not handed back to it). */
  readonly nodeId: string;
  publish(topic: BusTopic, message: ClusterMessage): Promise<void>;
  /** Starts receiving a user's topic (resolves once subscribed: no message published after it is missed). */
  subscribe(eid: Eid): Promise<void>;
  unsubscribe(eid: Eid): Promise<void>;
  /** The one listener of this node (the router); set once. */
  onMessage(listener: (message: ClusterMessage) => void): void;
  close(): Promise<void>;
}
