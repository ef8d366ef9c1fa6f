/**
 * Awareness (SPEC §6 F6): ONLINE when a user's first device connects, OFFLINE with last_seen once
 * the last one has been gone for the grace period, device-set states with ttl, visibility, the
 * snapshot Body on connect, queries. Changes go to the user's subscribers and the user's own other
 * devices. Timers run on the injected clock, so tests control time.
 */
import type { Clock } from '../core/clock.js';
import type { ContactStore } from '../core/contact-store.js';
import type { Logger } from '../core/logger.js';
import type { AwarenessState, PresenceStore } from '../core/presence-store.js';
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
  /** How long after the last device leaves the user turns OFFLINE (default 5 s). */
  offlineGraceMs?: number;
}

type Timer = { cancel(): void };

export class PresenceService {
  private readonly offlineTimers = new Map<Eid, Timer>();
  private readonly expiryTimers = new Map<Eid, Timer>();
  private readonly graceMs: number;

  constructor(private readonly deps: PresenceServiceOptions) {
    this.graceMs = deps.offlineGraceMs ?? 5000;
  }

  /** A device connected: maybe announce ONLINE, then send it the snapshot Body. */
  async connected(session: DeviceSession): Promise<void> {
    const { presence, clock } = this.deps;
    const { first } = await presence.deviceOnline(session.eid, session.deviceId);
    const pendingOffline = this.offlineTimers.get(session.eid);
    if (pendingOffline) {
      // Back within the grace period: the user never went OFFLINE, so there is nothing to announce.
      pendingOffline.cancel();
      this.offlineTimers.delete(session.eid);
    } else if (first) {
      const current = await presence.getState(session.eid);
      const keepsDeviceStatus = current && current.status !== AwarenessStatus.OFFLINE && !this.expired(current);
      if (!keepsDeviceStatus) {
        const now = clock.now();
        await this.change(session.eid, onlineState(now, current), undefined);
      }
    }
    await this.sendSnapshot(session);
  }

  /** A device left (its connection closed and no newer one replaced it). */
  async disconnected(eid: Eid, device: DeviceId): Promise<void> {
    const { last } = await this.deps.presence.deviceOffline(eid, device);
    if (!last) return;
    const leftAt = this.deps.clock.now();
    this.offlineTimers.get(eid)?.cancel();
    this.offlineTimers.set(eid, this.deps.clock.setTimeout(() => void this.goOffline(eid, leftAt), this.graceMs));
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
    this.scheduleExpiry(session.eid, expiresAt);
    await this.change(session.eid, state, session.deviceId);
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

  /** Stops timers (server shutdown). */
  stop(): void {
    for (const timer of [...this.offlineTimers.values(), ...this.expiryTimers.values()]) timer.cancel();
    this.offlineTimers.clear();
    this.expiryTimers.clear();
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

  private async goOffline(eid: Eid, leftAt: number): Promise<void> {
    this.offlineTimers.delete(eid);
    try {
      if ((await this.deps.presence.onlineDevices(eid)).length > 0) return;
      this.expiryTimers.get(eid)?.cancel();
      this.expiryTimers.delete(eid);
      await this.change(eid, { ...offlineState(leftAt), updatedAt: this.deps.clock.now() }, undefined);
    } catch (err) {
      this.deps.logger.warn({ err }, 'presence: going offline failed');
    }
  }

  private scheduleExpiry(eid: Eid, expiresAt: number): void {
    this.expiryTimers.get(eid)?.cancel();
    this.expiryTimers.delete(eid);
    if (expiresAt === 0) return;
    const delay = Math.max(0, expiresAt - this.deps.clock.now());
    this.expiryTimers.set(
      eid,
      this.deps.clock.setTimeout(() => {
        this.expiryTimers.delete(eid);
        void this.deps.presence
          .getState(eid)
          .then(async (state) => {
            if (state && state.expiresAt === expiresAt) await this.change(eid, await this.revertedState(eid, state), undefined);
          })
          .catch((err: unknown) => this.deps.logger.warn({ err }, 'presence: ttl expiry failed'));
      }, delay),
    );
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
