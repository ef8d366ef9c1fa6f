/** The sessions of this node, grouped by user: one live connection per (eid, device) (SPEC §2). */
import type { DeviceId, Eid } from '../core/types.js';
import type { DeviceSession } from './session.js';
import { UserFeed } from './user-feed.js';

export class LocalHub {
  private readonly feeds = new Map<Eid, UserFeed<DeviceSession>>();
  private count = 0;

  constructor(private readonly recentEntries: number) {}

  get size(): number {
    return this.count;
  }

  /** The feed of a user with sessions here, or undefined. */
  feed(eid: Eid): UserFeed<DeviceSession> | undefined {
    return this.feeds.get(eid);
  }

  /** The feed to attach a new session to (created before the session reads its queue, so no notice is missed). */
  feedFor(eid: Eid): UserFeed<DeviceSession> {
    let feed = this.feeds.get(eid);
    if (!feed) {
      feed = new UserFeed<DeviceSession>(eid, this.recentEntries);
      this.feeds.set(eid, feed);
    }
    return feed;
  }

  /** Adds the session; returns the one it replaces (same eid and device), which the caller closes. */
  register(session: DeviceSession): DeviceSession | undefined {
    const feed = this.feedFor(session.eid);
    const previous = feed.sessions.get(session.deviceId);
    feed.sessions.set(session.deviceId, session);
    if (!previous) this.count++;
    return previous;
  }

  /** Removes the session; false when a newer connection of the device had already replaced it. */
  unregister(session: DeviceSession): boolean {
    const feed = this.feeds.get(session.eid);
    if (!feed || feed.sessions.get(session.deviceId) !== session) return false;
    feed.sessions.delete(session.deviceId);
    this.count--;
    if (feed.sessions.size === 0) this.feeds.delete(session.eid);
    return true;
  }

  /** Users with at least one session here. */
  users(): Eid[] {
    return [...this.feeds.keys()];
  }

  session(eid: Eid, device: DeviceId): DeviceSession | undefined {
    return this.feeds.get(eid)?.sessions.get(device);
  }

  *sessions(): IterableIterator<DeviceSession> {
    for (const feed of this.feeds.values()) yield* feed.sessions.values();
  }
}
