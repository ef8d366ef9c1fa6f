/**
 * Awareness (SPEC §6 F6): ONLINE when a user's first device connects, OFFLINE with last_seen once
 * the last one has been gone for the grace period, device-set states with ttl, visibility, the
 * snapshot Body on connect, queries. Changes go to the user's subscribers and the user's own other
 * devices, on every node (through the router).
 *
 * Nothing here lives only in this process (SPEC §11: a node holds no state another node needs after
 * it dies): devices are registered in the PresenceStore under this node's id, kept alive by a
 * heartbeat; the offline grace and ttl reverts are due items in the store, claimed by whichever
 * node's poll loop comes first; a janitor on every node reaps the devices of nodes whose heartbeat
 * expired and announces their users OFFLINE. Timers run on the injected clock, so tests control time.
 */
import type { Clock } from '../core/clock.js';
import { UserDevices } from '../core/device-slots.js';
import type { ContactStore } from '../core/contact-store.js';
import type { Logger } from '../core/logger.js';
import type { AwarenessState, DueItem, PresenceStore } from '../core/presence-store.js';
import { ProtocolError } from '../core/errors.js';
import type { DeviceId, Eid } from '../core/types.js';
import { AwarenessStatus, Code, LocationSharing, RequestType, Route, encodeFrame, type Awareness, type AwarenessInit } from '../protocol/index.js';
import type { Router } from './router.js';
import type { DeviceSession } from './session.js';
import { identityOf } from './sender.js';

export interface PresenceServiceOptions {
  presence: PresenceStore;
  contacts: ContactStore;
  /** How awareness reaches other users' and the user's own devices, on every node. */
  router: Router;
  clock: Clock;
  logger: Logger;
  /** This node's id (the bus's): this node's devices are registered under it (default 'local', as MemoryBus.standalone()). */
  nodeId?: string;
  /**
   * How long after the last device leaves the user turns OFFLINE (default 4.75 s: with the poll
   * below, OFFLINE is announced within SPEC §6 F6's 5 s).
   */
  offlineGraceMs?: number;
  /** How often due items (offline grace, ttl revert) are claimed (default a tenth of the grace, 10–250 ms). */
  pollIntervalMs?: number;
  /** Heartbeat period (default 3 s). */
  heartbeatMs?: number;
  /** How long a heartbeat keeps this node's devices online (default 9 s). */
  nodeTtlMs?: number;
  /**
   * How often dead nodes are reaped (default 2 s). A node that dies is OFFLINE for others within
   * nodeTtlMs + janitorMs (default 11 s; SPEC §11 asks 15 s).
   */
  janitorMs?: number;
}

/** Due items claimed per store call, and calls per poll tick (bounds one tick's work). */
const CLAIM_BATCH = 100;
const MAX_CLAIMS_PER_TICK = 20;

export class PresenceService {
  private readonly graceMs: number;
  private readonly nodeTtlMs: number;
  private readonly nodeId: string;
  /** This node's devices, registered again when the store lost them (`nodeAlive` → revived). */
  private readonly localDevices = new UserDevices<true>();
  private readonly timers: Array<{ cancel(): void }>;
  /** The first heartbeat: devices are registered only after it (a node without one has none online). */
  private readonly started: Promise<void>;
  private polling = false;
  private reaping = false;
  private stopped = false;

  constructor(private readonly deps: PresenceServiceOptions) {
    this.graceMs = deps.offlineGraceMs ?? 4750;
    this.nodeTtlMs = deps.nodeTtlMs ?? 9000;
    this.nodeId = deps.nodeId ?? 'local';
    const pollMs = deps.pollIntervalMs ?? Math.max(10, Math.min(250, Math.floor(this.graceMs / 10)));
    this.started = this.heartbeat();
    this.timers = [
      deps.clock.setInterval(() => this.pollTick(), pollMs),
      deps.clock.setInterval(() => void this.heartbeat(), deps.heartbeatMs ?? 3000),
      deps.clock.setInterval(() => this.janitorTick(), deps.janitorMs ?? 2000),
    ];
  }

  /** A device connected: maybe announce ONLINE, then send it the snapshot Body. */
  async connected(session: DeviceSession): Promise<void> {
    await this.started;
    this.localDevices.set(session.eid, session.deviceId, true);
    try {
      await this.cameOnline(session.eid, session.deviceId);
      await this.sendSnapshot(session);
    } catch (err) {
      // Presence is not worth the connection (SPEC §11: Redis down degrades, never refuses); the
      // device is registered again by the heartbeat once the store has lost this node's devices.
      this.deps.logger.warn({ err, eid: session.eid, device: session.deviceId }, 'presence: connect handling failed');
    }
  }

  /** A device left (its connection closed and no newer one replaced it). */
  async disconnected(eid: Eid, device: DeviceId): Promise<void> {
    this.localDevices.delete(eid, device);
    const { last } = await this.deps.presence.deviceOffline(eid, device, this.nodeId);
    if (!last) return;
    // Whichever node's poll claims it announces OFFLINE, unless a device is back by then.
    await this.deps.presence.scheduleOffline(eid, this.deps.clock.now() + this.graceMs);
  }

  /** A device sets ONLINE/AWAY/BUSY/DND, optionally for `ttl` seconds. */
  async setByDevice(session: DeviceSession, awareness: Awareness): Promise<void> {
    const now = this.deps.clock.now();
    const sentAt = awareness.timestamp > 0 ? awareness.timestamp : now;
    const expiresAt = awareness.ttl > 0 ? sentAt + awareness.ttl * 1000 : 0;
    if (expiresAt !== 0 && expiresAt <= now) return; // stale on arrival (SPEC §6 F6): dropped
    const sharing = awareness.locationSharing;
    const state: AwarenessState = {
      status: awareness.status,
      lastSeen: now,
      expiresAt,
      ttl: awareness.ttl,
      locationSharing: sharing,
      // Coordinates are removed when sharing is disabled: they never leave the server.
      latitude: sharing === LocationSharing.DISABLED ? 0 : awareness.latitude,
      longitude: sharing === LocationSharing.DISABLED ? 0 : awareness.longitude,
      details: awareness.details,
      updatedAt: now,
    };
    await this.change(session.eid, state, session.deviceId);
    // After the state is stored: a revert claimed before it would find an older state and do nothing.
    if (expiresAt !== 0) await this.deps.presence.scheduleRevert(session.eid, expiresAt);
  }

  /** Answers a query about `target`; only for users the asker is subscribed to (SPEC §6 F6). */
  async query(session: DeviceSession, id: string, target: Eid): Promise<AwarenessInit> {
    const { contacts } = this.deps;
    if (target !== session.eid) {
      if (await contacts.isBlocked(target, session.eid)) throw new ProtocolError(Code.Forbidden, 'not allowed to see this user');
      if (!(await contacts.isSubscribed(session.eid, target))) throw new ProtocolError(Code.Forbidden, 'not subscribed to this user');
    }
    return { ...(await this.view(target)), id, type: RequestType.RESPONSE };
  }

  /** Visibility switch: durable, echoed to the user's devices, announced to subscribers. */
  async setHidden(session: DeviceSession, id: string, hidden: boolean): Promise<void> {
    const { contacts, presence, router, clock } = this.deps;
    const wasHidden = await this.isHidden(session.eid);
    await contacts.setHidden(session.eid, hidden);
    await presence.setHidden(session.eid, hidden);
    const echo = encodeFrame('awarenessVisibility', {
      id,
      from: identityOf(session.sender),
      type: hidden ? 2 : 1,
      timestamp: clock.now(),
    });
    router.toUser(session.eid, echo, Route.AwarenessVisibility);
    if (wasHidden === hidden) return;
    // Hiding: subscribers see one OFFLINE without last_seen, then nothing. Showing: the current state.
    const update = hidden ? hiddenView(session.eid, clock.now()) : await this.view(session.eid);
    await this.sendToSubscribers(session.eid, encodeFrame('awareness', update));
  }

  /** Sends the user's current awareness to users who just became subscribed to it (APPROVE). */
  async introduce(subscriber: Eid, target: Eid): Promise<void> {
    if (await this.isHidden(target)) return;
    const frame = encodeFrame('awareness', await this.view(target));
    this.deps.router.toUser(subscriber, frame, Route.Awareness, { transient: true });
  }

  /** The user's devices online on any node (SPEC §6 F5: a CALLING to nobody wakes phones by push). */
  onlineDevices(eid: Eid): Promise<DeviceId[]> {
    return this.deps.presence.onlineDevices(eid);
  }

  /** Stops the poll loop, heartbeat and janitor (server shutdown); due items stay for other nodes. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) timer.cancel();
  }

  /** What others may see of `eid` now. */
  async view(eid: Eid): Promise<AwarenessInit> {
    const now = this.deps.clock.now();
    if (await this.isHidden(eid)) return hiddenView(eid, now);
    let state = await this.deps.presence.getState(eid);
    if (state && this.expired(state)) state = await this.revertedState(eid, state);
    if (!state) {
      const online = (await this.deps.presence.onlineDevices(eid)).length > 0;
      return awarenessOf(eid, online ? onlineState(now, undefined) : { ...offlineState(0), updatedAt: now });
    }
    return awarenessOf(eid, state);
  }

  private async sendSnapshot(session: DeviceSession): Promise<void> {
    const targets = await this.deps.contacts.subscriptionsOf(session.eid);
    const awarenessList = await Promise.all(targets.map((target) => this.view(target)));
    session.send('body', { route: Route.Awareness, awarenessList, timestamp: this.deps.clock.now() });
  }

  /** Registers a device of this node; announces ONLINE if it is the user's first and no OFFLINE was pending. */
  private async cameOnline(eid: Eid, device: DeviceId): Promise<void> {
    const { presence, clock } = this.deps;
    const { first } = await presence.deviceOnline(eid, device, this.nodeId);
    // Back within the grace period: the user never went OFFLINE, so there is nothing to announce.
    if (await presence.cancelOffline(eid)) return;
    if (!first) return;
    const current = await presence.getState(eid);
    const keepsDeviceStatus = current && current.status !== AwarenessStatus.OFFLINE && !this.expired(current);
    if (!keepsDeviceStatus) await this.change(eid, onlineState(clock.now(), current), undefined);
  }

  /** OFFLINE with `lastSeen`, unless a device of the user is online on any node (checked atomically with the write). */
  private async goOffline(eid: Eid, lastSeen: number): Promise<void> {
    const state = { ...offlineState(lastSeen), updatedAt: this.deps.clock.now() };
    if (await this.deps.presence.setStateIfOffline(eid, state)) await this.announce(eid, state, undefined);
  }

  /** A ttl ran out: revert, unless the state was replaced since (it then has another expiresAt). */
  private async revert(eid: Eid, expiresAt: number): Promise<void> {
    const state = await this.deps.presence.getState(eid);
    if (state && state.expiresAt === expiresAt) await this.change(eid, await this.revertedState(eid, state), undefined);
  }

  /** Poll loop: claims due items; one claim at a time on this node, other nodes claim others. */
  private pollTick(): void {
    if (this.polling || this.stopped) return;
    this.polling = true;
    const now = this.deps.clock.now();
    void this.processDue(now).finally(() => (this.polling = false));
  }

  private async processDue(now: number): Promise<void> {
    try {
      for (let round = 0; round < MAX_CLAIMS_PER_TICK; round++) {
        const items = await this.deps.presence.claimDue(now, CLAIM_BATCH);
        await Promise.all(items.map((item) => this.handleDue(item)));
        if (items.length < CLAIM_BATCH) return;
      }
    } catch (err) {
      this.deps.logger.warn({ err }, 'presence: claiming due items failed');
    }
  }

  private async handleDue(item: DueItem): Promise<void> {
    try {
      // The grace was scheduled at leftAt + grace: last_seen is when the last device left.
      if (item.kind === 'offline') await this.goOffline(item.eid, item.dueAt - this.graceMs);
      else await this.revert(item.eid, item.dueAt);
    } catch (err) {
      this.deps.logger.warn({ err, eid: item.eid, kind: item.kind }, 'presence: due item failed');
    }
  }

  /** Keeps this node's devices online; when the store had lost them (reaped, Redis restarted), registers them again. */
  private async heartbeat(): Promise<void> {
    try {
      const { revived } = await this.deps.presence.nodeAlive(this.nodeId, this.nodeTtlMs);
      if (!revived || this.localDevices.userCount === 0) return;
      this.deps.logger.info({ users: this.localDevices.userCount }, 'presence: node heartbeat had lapsed; registering its devices again');
      for (const [eid, devices] of this.localDevices.byUser()) {
        for (const device of devices) {
          // The list is a copy taken before the first await: a device that left meanwhile is skipped,
          // and one that left during its own registration is taken out again (it must not stay online).
          if (this.localDevices.get(eid, device) === undefined) continue;
          await this.cameOnline(eid, device);
          if (this.localDevices.get(eid, device) === undefined) await this.deps.presence.deviceOffline(eid, device, this.nodeId);
        }
      }
    } catch (err) {
      this.deps.logger.warn({ err }, 'presence: heartbeat failed');
    }
  }

  private janitorTick(): void {
    if (this.reaping || this.stopped) return;
    this.reaping = true;
    const now = this.deps.clock.now();
    void this.reapDeadNodes(now).finally(() => (this.reaping = false));
  }

  /** SPEC §11: the users of a dead node go OFFLINE (last_seen = its last heartbeat) unless online elsewhere. */
  private async reapDeadNodes(now: number): Promise<void> {
    // Beat first: after a long pause of this process, its own lapsed heartbeat is renewed before it
    // could judge itself dead.
    await this.heartbeat();
    try {
      const { removed, offline } = await this.deps.presence.reapDeadNodes(now);
      if (removed.length > 0) this.deps.logger.info({ devices: removed.length, users: offline.length }, 'presence: reaped the devices of dead nodes');
      for (const { eid, lastSeen } of offline) {
        await this.deps.presence.cancelOffline(eid);
        if ((await this.deps.presence.getState(eid))?.status === AwarenessStatus.OFFLINE) continue;
        await this.goOffline(eid, lastSeen);
      }
    } catch (err) {
      this.deps.logger.warn({ err }, 'presence: reaping dead nodes failed');
    }
  }

  /** A device-set state whose ttl ran out reverts to ONLINE or OFFLINE (SPEC §6 F6). */
  private async revertedState(eid: Eid, expired: AwarenessState): Promise<AwarenessState> {
    const now = this.deps.clock.now();
    const online = (await this.deps.presence.onlineDevices(eid)).length > 0;
    return online ? onlineState(now, expired) : { ...offlineState(expired.lastSeen), updatedAt: now };
  }

  private expired(state: AwarenessState): boolean {
    return state.expiresAt !== 0 && state.expiresAt <= this.deps.clock.now();
  }

  /** Stores the new state and tells the user's other devices and (unless hidden) subscribers. */
  private async change(eid: Eid, state: AwarenessState, exceptDevice: DeviceId | undefined): Promise<void> {
    await this.deps.presence.setState(eid, state);
    await this.announce(eid, state, exceptDevice);
  }

  private async announce(eid: Eid, state: AwarenessState, exceptDevice: DeviceId | undefined): Promise<void> {
    const frame = encodeFrame('awareness', awarenessOf(eid, state));
    this.deps.router.toUser(eid, frame, Route.Awareness, { exceptDevice, transient: true });
    if (!(await this.isHidden(eid))) await this.sendToSubscribers(eid, frame);
  }

  private async sendToSubscribers(eid: Eid, frame: Uint8Array): Promise<void> {
    for (const subscriber of await this.deps.contacts.subscribersOf(eid)) {
      this.deps.router.toUser(subscriber, frame, Route.Awareness, { transient: true });
    }
  }

  private async isHidden(eid: Eid): Promise<boolean> {
    const cached = await this.deps.presence.getHidden(eid);
    if (cached !== undefined) return cached;
    const hidden = await this.deps.contacts.isHidden(eid);
    await this.deps.presence.setHidden(eid, hidden);
    return hidden;
  }
}

function onlineState(now: number, previous: AwarenessState | undefined): AwarenessState {
  return {
    status: AwarenessStatus.ONLINE,
    lastSeen: now,
    expiresAt: 0,
    ttl: 0,
    locationSharing: previous?.locationSharing ?? 0,
    latitude: previous?.latitude ?? 0,
    longitude: previous?.longitude ?? 0,
    details: '',
    updatedAt: now,
  };
}

function offlineState(lastSeen: number): Omit<AwarenessState, 'updatedAt'> {
  return { status: AwarenessStatus.OFFLINE, lastSeen, expiresAt: 0, ttl: 0, locationSharing: 0, latitude: 0, longitude: 0, details: '' };
}

function hiddenView(eid: Eid, now: number): AwarenessInit {
  return { from: { eid }, type: RequestType.RESPONSE, status: AwarenessStatus.OFFLINE, lastSeen: 0, timestamp: now };
}

function awarenessOf(eid: Eid, state: AwarenessState): AwarenessInit {
  return {
    from: { eid },
    type: RequestType.RESPONSE,
    status: state.status,
    locationSharing: state.locationSharing,
    latitude: state.latitude,
    longitude: state.longitude,
    ttl: state.ttl,
    details: state.details,
    timestamp: state.updatedAt,
    lastSeen: state.lastSeen,
  };
}
