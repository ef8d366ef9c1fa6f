/**
 * The only way to reach other users and devices (issue #8 design 1; socket.io's cluster adapter is
 * the model): every effect is applied to this node's sessions first, then published on the bus for
 * the other nodes; what arrives from the bus is handled here, in one switch. Bus failures are logged
 * and counted, never swallowed, and never fail what the caller already did (a stored message stays
 * stored: the store is the truth, ARCHITECTURE "How one message moves").
 */
import type { Bus, BusTopic, ClusterMessage } from '../core/bus.js';
import type { Logger } from '../core/logger.js';
import type { DeviceId, Eid, Offset, Principal, QueueEntry } from '../core/types.js';
import { CloseCode } from '../protocol/index.js';
import type { LocalHub } from './hub.js';
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

export class Router {
  /** Users whose topic this node subscribes (or is subscribing): one entry while they have sessions here. */
  private readonly topics = new Map<Eid, Promise<void>>();
  private lastFailureLogAt = 0;
  private failuresSinceLog = 0;

  constructor(
    private readonly hub: LocalHub,
    private readonly bus: Bus,
    private readonly metrics: ServerMetrics,
    private readonly logger: Logger,
  ) {
    bus.onMessage((message) => this.onClusterMessage(message));
  }

  /**
   * A session of this node is ready to start: it replaces an older local connection of the same
   * device (closed 4009), the user's topic is subscribed before the session reads its queue (so no
   * notice is missed), and other nodes are told to close their connection of this device.
   */
  attach(session: DeviceSession): Promise<void> {
    const replaced = this.hub.register(session);
    replaced?.close(CloseCode.Replaced, 'replaced by a newer connection of this device');
    let subscribed = this.topics.get(session.eid);
    if (!subscribed) {
      // Live pushes from other nodes then wait for the periodic head re-read; the session still works.
      subscribed = this.bus.subscribe(session.eid).catch((err: unknown) => this.failed('subscribe', err));
      this.topics.set(session.eid, subscribed);
    }
    this.publish({ user: session.eid }, { kind: 'claim', eid: session.eid, device: session.deviceId, connectionId: session.connectionId });
    return subscribed;
  }

  /** The session closed; false when a newer connection of the device had already replaced it. */
  detach(session: DeviceSession): boolean {
    const removed = this.hub.unregister(session);
    if (removed && this.hub.feed(session.eid) === undefined) {
      const { eid } = session;
      const subscribed = this.topics.get(eid) ?? Promise.resolve();
      this.topics.delete(eid);
      // After the subscribe settles, and only if no session of the user has arrived since.
      void subscribed
        .then(() => (this.topics.has(eid) ? undefined : this.bus.unsubscribe(eid)))
        .catch((err: unknown) => this.failed('unsubscribe', err));
    }
    return removed;
  }

  /** Freshly stored entries: this node's sessions get them at once, other nodes a notice of the head. */
  entriesStored(entries: readonly QueueEntry[]): void {
    const heads = new Map<Eid, Offset>();
    for (const entry of entries) {
      this.hub.feed(entry.eid)?.add([entry]);
      heads.set(entry.eid, Math.max(entry.offset, heads.get(entry.eid) ?? 0));
    }
    for (const [eid, head] of heads) this.publish({ user: eid }, { kind: 'entries', eid, head });
  }

  /** An encoded frame for the online devices of `eid`, on every node. */
  toUser(eid: Eid, frame: Uint8Array, route: number, filter: DeviceFilter = {}): void {
    const message = { kind: 'frame', eid, device: filter.device ?? '', exceptDevice: filter.exceptDevice ?? '', route, transient: filter.transient ?? false, frame } as const;
    this.deliverFrame(message);
    this.publish({ user: eid }, message);
  }

  /** Closes the connections of (eid, device) — device '' = every device — on every node, except one connection. */
  closeDevices(eid: Eid, device: DeviceId, code: number, reason: string, exceptConnection = ''): void {
    const message = { kind: 'close', eid, device, code, reason, exceptConnection } as const;
    this.closeLocal(message);
    this.publish({ user: eid }, message);
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
    return [...(this.hub.feed(eid)?.sessions.values() ?? [])].map((session) => session.principal);
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
      case 'claim': {
        const local = this.hub.session(message.eid, message.device);
        if (local && local.connectionId !== message.connectionId) local.close(CloseCode.Replaced, 'replaced by a newer connection of this device');
        return;
      }
      case 'revoked':
        return void this.closeRevokedLocal(message.jtis);
    }
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
    for (const session of [...(this.hub.feed(message.eid)?.sessions.values() ?? [])]) {
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
    const now = Date.now();
    this.failuresSinceLog++;
    if (now - this.lastFailureLogAt < 5000) return;
    this.logger.warn({ err, op: what, failures: this.failuresSinceLog }, 'bus operation failed; the store stays the truth and sessions catch up');
    this.lastFailureLogAt = now;
    this.failuresSinceLog = 0;
  }
}
