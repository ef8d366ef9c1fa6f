/**
 * The only way to reach other users and devices (issue #8 design 1; socket.io's cluster adapter is
 * the model): every effect is applied to this node's sessions first, then published on the bus for
 * the other nodes; what arrives from the bus is handled here, in one switch. Bus failures are logged
 * and counted, never swallowed, and never fail what the caller already did (a stored message stays
 * stored: the store is the truth, ARCHITECTURE "How one message moves").
 */
import type { Bus, BusTopic, ClusterMessage } from '../core/bus.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { DeviceClaim, DeviceOwnership } from '../core/device-ownership.js';
import type { Logger } from '../core/logger.js';
import type { MessageStore } from '../core/message-store.js';
import type { DeviceId, Eid, Offset, Principal, QueueEntry } from '../core/types.js';
import { CloseCode } from '../protocol/index.js';
import type { LocalHub } from './hub.js';
import { LogThrottle } from './log-throttle.js';
import type { ServerMetrics } from './metrics.js';
import type { DeviceSession } from './session.js';

/** Which of a user's devices a frame is for. */
export interface DeviceFilter {
  /** Only this device ('' or absent = every device). */
  device?: DeviceId;
  /** Every device but this one. */
  exceptDevice?: DeviceId;
  /** May be dropped for a slow socket (signals, awareness). */
  transient?: boolean;
}

/** How a device moves between connections (SPEC §2, §7.3): see `Router.attach`. */
export interface HandoffOptions {
  /** Who owns each device, cluster-wide (MemoryDeviceOwnership in the embedded default; picked by the composition root). */
  ownership: DeviceOwnership;
  /** Where a leaving connection's cursor commits are made durable (`flushCursor`, when the engine has one). */
  store?: Pick<MessageStore, 'flushCursor'>;
  clock?: Clock;
  /**
   * How long a new session waits for the node of the connection it displaced (default 2000 ms; 0 =
   * not at all). A node that does not answer in time is taken for dead or cut off: the session
   * starts, and that node's unflushed commits may cost re-sends, as a crash does (SPEC §6 F3).
   */
  timeoutMs?: number;
  /** Another node revoked these token ids: this node's revocation list learns them at once (SPEC §2: 401). */
  onRevoked?: (jtis: readonly string[]) => void;
}

/** A leaving connection's frames stuck longer than this (a store that does not answer) do not hold its handoff. */
const SETTLE_LIMIT_MS = 10_000;

export class Router {
  /** Users whose topic this node subscribes (or is subscribing): one entry while they have sessions here. */
  private readonly topics = new Map<Eid, Promise<void>>();
  private readonly ownership: DeviceOwnership;
  private readonly clock: Clock;
  private readonly handoffTimeoutMs: number;
  /** Each connection's claim generation (0 when the claim failed; a promise while pending), until it has left: fences incoming claims. */
  private readonly generations = new Map<string, number | Promise<number>>();
  /** Connections of this node being handed over: resolves once their frames are handled and their cursor is durable. */
  private readonly settling = new Map<string, Promise<void>>();
  /** Sessions of this node waiting for a displaced connection on another node: its id → wake-ups. */
  private readonly awaitingRelease = new Map<string, Set<(released: boolean) => void>>();
  private stopped = false;
  /** One line per 5 s while the bus is down. */
  private readonly failureLog = new LogThrottle(5000);

  constructor(
    private readonly hub: LocalHub,
    private readonly bus: Bus,
    private readonly metrics: ServerMetrics,
    private readonly logger: Logger,
    private readonly handoff: HandoffOptions,
  ) {
    this.ownership = handoff.ownership;
    this.clock = handoff.clock ?? systemClock;
    this.handoffTimeoutMs = handoff.timeoutMs ?? 2000;
    bus.onMessage((message) => this.onClusterMessage(message));
  }

  /**
   * A session of this node wants to start; resolves when it may read its cursor. It replaces an older
   * local connection of the same device (closed 4009); the user's topic is subscribed before the
   * session reads its queue (so no notice is missed); and it claims the device cluster-wide, in
   * parallel with the subscribe (one ownership round trip; nothing more when the device had no owner).
   * The claim goes to the user's topic: other nodes close their connection of the device (4009). When
   * the claim displaced a connection on another live node, the session waits (bounded) for that
   * node's `released`: it answers once the old connection reads no more frames, has handled the ones
   * it had (their OffsetCommits) and its cursor is flushed — so the new session reads the latest
   * committed cursor and pushes nothing at or below it again (SPEC §7.3, issue #8).
   */
  attach(session: DeviceSession): Promise<void> {
    const replaced = this.hub.register(session);
    if (replaced) {
      replaced.close(CloseCode.Replaced, 'replaced by a newer connection of this device');
      void this.settle(replaced);
    }
    let subscribed = this.topics.get(session.eid);
    if (!subscribed) {
      // Live pushes from other nodes then wait for the periodic head re-read; the session still works.
      subscribed = this.bus.subscribe(session.eid).catch((err: unknown) => this.failed('subscribe', err));
      this.topics.set(session.eid, subscribed);
    }
    const claimed = this.ownership
      .claim(session.eid, session.deviceId, { nodeId: this.bus.nodeId, connectionId: session.connectionId })
      .catch((err: unknown): undefined => {
        // Redis down: the claim notice still closes older connections; the cursor may lag (re-sends).
        this.failed('ownership claim', err);
        return undefined;
      });
    // The number replaces the promise once known: an idle connection keeps no promise alive (W4).
    const { connectionId } = session;
    this.generations.set(
      connectionId,
      claimed.then((claim) => {
        const generation = claim?.generation ?? 0;
        if (this.generations.has(connectionId)) this.generations.set(connectionId, generation);
        return generation;
      }),
    );
    return Promise.all([subscribed, claimed]).then(([, claim]) => this.takeOver(session, claim));
  }

  /**
   * The session closed; false when a newer connection of the device had already replaced it. Its
   * device is handed over in the background: in-flight frames finish, the cursor is flushed, then
   * the ownership is released (compare-and-delete), so a later connect elsewhere does not wait.
   */
  detach(session: DeviceSession): boolean {
    const removed = this.hub.unregister(session);
    const left = this.leave(session, removed);
    if (removed && this.hub.feed(session.eid) === undefined) {
      const { eid } = session;
      const subscribed = this.topics.get(eid) ?? Promise.resolve();
      this.topics.delete(eid);
      // After the subscribe settles and the device is handed over (a claim from another node must
      // still reach this node meanwhile), and only if no session of the user has arrived since.
      void Promise.all([subscribed, left])
        .then(() => (this.topics.has(eid) ? undefined : this.bus.unsubscribe(eid)))
        .catch((err: unknown) => this.failed('unsubscribe', err));
    }
    return removed;
  }

  /**
   * Server shutdown, after its sessions were closed and their frames handled, before the store
   * closes: every device here is handed over now (cursor flushed, ownership released), so devices
   * reconnecting to other nodes do not wait for this one. Closes after this change nothing more.
   */
  async shutdown(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.hub.sessions()].map((session) => this.handOver(session, true)));
  }

  /** Freshly stored entries: this node's sessions get them at once, other nodes a notice of the head. */
  entriesStored(entries: readonly QueueEntry[]): void {
    for (const entry of entries) this.hub.feed(entry.eid)?.addOne(entry);
    // One notice per user with its highest new offset. Plain loops, no Map: this runs for every
    // message (two entries, two users) and its garbage showed in the W1 profile (issue #10).
    for (let i = 0; i < entries.length; i++) {
      const eid = entries[i]!.eid;
      let head = entries[i]!.offset;
      let first = true;
      for (let j = 0; j < entries.length; j++) {
        if (j === i || entries[j]!.eid !== eid) continue;
        if (j < i) first = false;
        if (entries[j]!.offset > head) head = entries[j]!.offset;
      }
      if (first) this.publish({ user: eid }, { kind: 'entries', eid, head });
    }
  }

  /** An encoded frame for the online devices of `eid`, on every node. */
  toUser(eid: Eid, frame: Uint8Array, route: number, filter: DeviceFilter = {}): void {
    const message = {
      kind: 'frame',
      eid,
      device: filter.device ?? '',
      exceptDevice: filter.exceptDevice ?? '',
      route,
      transient: filter.transient ?? false,
      frame,
    } as const;
    this.deliverFrame(message);
    this.publish({ user: eid }, message);
  }

  /**
   * Closes the connections of (eid, device) — device '' = every device — on every node, except one
   * connection; returns how many were on this node (other nodes close theirs when the notice arrives).
   */
  closeDevices(eid: Eid, device: DeviceId, code: number, reason: string, exceptConnection = ''): number {
    const message = { kind: 'close', eid, device, code, reason, exceptConnection } as const;
    const closed = this.closeLocal(message);
    this.publish({ user: eid }, message);
    return closed;
  }

  /** Closes, with 4001, every connection whose token is among `jtis`, on every node; returns how many were here. */
  revoked(jtis: readonly string[]): number {
    if (jtis.length === 0) return 0;
    const closed = this.closeRevokedLocal(jtis);
    this.publish('broadcast', { kind: 'revoked', jtis: [...jtis] });
    return closed;
  }

  /** Tokens of this node's connections of `eid` (a logout revokes them by id). */
  localPrincipals(eid: Eid): Principal[] {
    return (this.hub.feed(eid)?.sessions.values() ?? []).map((session) => session.principal);
  }

  /** The users with sessions on this node (the periodic head re-read covers lost notices). */
  localUsers(): Eid[] {
    return this.hub.users();
  }

  /** A head learned from the store (periodic re-read): wakes sessions that missed a notice. */
  noteHead(eid: Eid, head: Offset): void {
    this.hub.feed(eid)?.noteHead(head);
  }

  /** Every cross-node effect, handled in one place. */
  private onClusterMessage(message: ClusterMessage): void {
    switch (message.kind) {
      case 'entries':
        return this.noteHead(message.eid, message.head);
      case 'frame':
        return this.deliverFrame(message);
      case 'close':
        return void this.closeLocal(message);
      case 'claim':
        return void this.onClaim(message).catch((err: unknown) => this.logger.warn({ err }, 'device handoff failed'));
      case 'released':
        return this.onReleased(message.connectionId);
      case 'revoked':
        // Remembered before the closes: the same token must also get 401 at its next upgrade here.
        this.handoff.onRevoked?.(message.jtis);
        return void this.closeRevokedLocal(message.jtis);
    }
  }

  /** After the claim: publish it, then wait for the connection it displaced, if that one may still commit. */
  private async takeOver(session: DeviceSession, claim: DeviceClaim | undefined): Promise<void> {
    const { eid, deviceId: device, connectionId } = session;
    const previous = claim?.previous;
    const remote = previous !== undefined && previous.nodeId !== this.bus.nodeId;
    // Registered before the claim is published, so the answer cannot arrive first. A dead node is not
    // waited for: its unflushed commits are lost as in a crash (SPEC §6 F3).
    const released = remote && previous.alive && this.handoffTimeoutMs > 0 ? this.whenReleased(previous.connectionId) : undefined;
    this.publish(
      { user: eid },
      {
        kind: 'claim',
        eid,
        device,
        connectionId,
        generation: claim?.generation ?? 0,
        previousNode: previous?.nodeId ?? '',
        previousConnection: previous?.connectionId ?? '',
      },
    );
    if (previous && !remote) {
      // This node's own older connection (the hub replaced it above, or it is closing): same store
      // instance, so only its in-flight OffsetCommits are waited for.
      const settled = this.settling.get(previous.connectionId);
      if (settled) await this.bounded(settled, this.handoffTimeoutMs);
    }
    if (released && !(await released)) {
      this.logger.warn(
        { conn: connectionId, eid, device, node: previous?.nodeId },
        `device handoff: the previous node did not answer within ${this.handoffTimeoutMs} ms; starting anyway`,
      );
    }
  }

  /** Another node claimed a device: close our connection of it unless ours is newer; answer if we owned it. */
  private async onClaim(message: Extract<ClusterMessage, { kind: 'claim' }>): Promise<void> {
    const local = this.hub.session(message.eid, message.device);
    if (local && local.connectionId !== message.connectionId && (await this.isOlder(local, message.generation))) {
      local.close(CloseCode.Replaced, 'replaced by a newer connection of this device');
    }
    if (message.previousNode !== this.bus.nodeId || message.previousConnection === '') return;
    // The displaced connection was ours: answer once it is settled (closed just above, or already
    // closing), or at once when it has left already (its cursor was flushed before its release).
    const displaced = local?.connectionId === message.previousConnection ? local : undefined;
    if (displaced?.transport.isOpen) return; // ours proved newer: it stays, and owes no answer
    await (displaced ? this.settle(displaced) : this.settling.get(message.previousConnection));
    this.publish({ user: message.eid }, { kind: 'released', eid: message.eid, device: message.device, connectionId: message.previousConnection });
  }

  /** Fencing: whether our connection's claim is older than `generation` (0 on either side = unknown: the claim wins). */
  private async isOlder(session: DeviceSession, generation: number): Promise<boolean> {
    const ours = (await this.generations.get(session.connectionId)) ?? 0;
    return generation === 0 || ours === 0 || ours < generation;
  }

  private onReleased(connectionId: string): void {
    const waiting = this.awaitingRelease.get(connectionId);
    if (!waiting) return;
    this.awaitingRelease.delete(connectionId);
    for (const wake of waiting) wake(true);
  }

  /** True once `released` for that connection arrives; false after the handoff timeout. */
  private whenReleased(connectionId: string): Promise<boolean> {
    return new Promise((resolve) => {
      let waiting = this.awaitingRelease.get(connectionId);
      if (!waiting) {
        waiting = new Set();
        this.awaitingRelease.set(connectionId, waiting);
      }
      const wake = (released: boolean): void => {
        timer.cancel();
        resolve(released);
      };
      const timer = this.clock.setTimeout(() => {
        waiting.delete(wake);
        if (waiting.size === 0 && this.awaitingRelease.get(connectionId) === waiting) this.awaitingRelease.delete(connectionId);
        wake(false);
      }, this.handoffTimeoutMs);
      waiting.add(wake);
    });
  }

  /**
   * A connection of this node is closed: resolves once it has handled the frames it had (its
   * OffsetCommits) and its cursor is durable for other nodes. Never rejects; one run per connection.
   */
  private settle(session: DeviceSession): Promise<void> {
    let settled = this.settling.get(session.connectionId);
    if (!settled) {
      settled = this.drainAndFlush(session);
      this.settling.set(session.connectionId, settled);
    }
    return settled;
  }

  private async drainAndFlush(session: DeviceSession): Promise<void> {
    try {
      await this.bounded(session.whenFramesSettled(), SETTLE_LIMIT_MS);
      await this.handoff.store?.flushCursor?.(session.eid, session.deviceId);
    } catch (err) {
      this.logger.warn({ err, conn: session.connectionId }, 'device handoff: cursor flush failed; its next session may get committed entries again');
    }
  }

  /** A closed connection leaves: settle, then release its ownership if it still held the device. */
  private leave(session: DeviceSession, current: boolean): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return this.handOver(session, current);
  }

  private async handOver(session: DeviceSession, current: boolean): Promise<void> {
    const { eid, deviceId: device, connectionId } = session;
    try {
      await this.settle(session);
      // A release that finds a newer owner: that claim came while this connection was closing, and
      // its node may be waiting for an answer this node, unsubscribing, would not give.
      if (current && !(await this.ownership.release(eid, device, connectionId))) {
        this.publish({ user: eid }, { kind: 'released', eid, device, connectionId });
      }
    } catch (err) {
      this.failed('ownership release', err);
    } finally {
      this.settling.delete(connectionId);
      this.generations.delete(connectionId);
    }
  }

  /** `promise`, or undefined after `ms`. */
  private bounded<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => resolve(undefined), ms);
      promise.then(
        (value) => {
          timer.cancel();
          resolve(value);
        },
        (err: unknown) => {
          timer.cancel();
          reject(err);
        },
      );
    });
  }

  private deliverFrame(message: Extract<ClusterMessage, { kind: 'frame' }>): void {
    for (const session of this.hub.feed(message.eid)?.sessions.values() ?? []) {
      if (message.device !== '' && session.deviceId !== message.device) continue;
      if (message.exceptDevice !== '' && session.deviceId === message.exceptDevice) continue;
      if (message.transient) session.sendTransient(message.frame, message.route);
      else session.sendEncoded(message.frame, message.route);
    }
  }

  private closeLocal(message: Extract<ClusterMessage, { kind: 'close' }>): number {
    let closed = 0;
    // values() is a copy: closing a session may change the collection.
    for (const session of this.hub.feed(message.eid)?.sessions.values() ?? []) {
      if (message.device !== '' && session.deviceId !== message.device) continue;
      if (session.connectionId === message.exceptConnection) continue;
      session.close(message.code, message.reason);
      closed++;
    }
    return closed;
  }

  private closeRevokedLocal(jtis: readonly string[]): number {
    const revoked = new Set(jtis);
    let closed = 0;
    for (const session of [...this.hub.sessions()]) {
      if (!revoked.has(session.principal.jti)) continue;
      session.close(CloseCode.Unauthorized, 'token revoked');
      closed++;
    }
    return closed;
  }

  private publish(topic: BusTopic, message: ClusterMessage): void {
    this.bus.publish(topic, message).catch((err: unknown) => this.failed(`publish ${message.kind}`, err));
  }

  private failed(what: string, err: unknown): void {
    this.metrics.busFailures.labels(what.split(' ')[0]!).inc();
    // One line per 5 s while the bus is down (with how many failures it stands for), not one per message.
    const held = this.failureLog.pass(Date.now());
    if (held === undefined) return;
    this.logger.warn({ err, op: what, failures: held + 1 }, 'bus operation failed; the store stays the truth and sessions catch up');
  }
}
