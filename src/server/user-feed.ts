/**
 * What this node knows of one user's queue while that user has devices connected here: the highest
 * offset it has heard of, a short cache of recent entries with their encoded frames (so a live push
 * reads nothing from the store and encodes once for all devices), and the user's sessions.
 */
import { DeviceSlots } from '../core/device-slots.js';
import type { DeviceId, Eid, Offset, QueueEntry } from '../core/types.js';
import { encodeEntryFrame } from './entry-frames.js';

export interface CachedEntry {
  entry: QueueEntry;
  frame: Uint8Array | undefined;
}

/** The part of a session the feed drives. */
export interface FeedSubscriber {
  readonly deviceId: DeviceId;
  /** Push whatever is now available (called after `head` moves). */
  pump(): void;
}

export class UserFeed<S extends FeedSubscriber = FeedSubscriber> {
  head: Offset = 0;
  /** No Map while the user has one device here (issue #10, W4). */
  readonly sessions = new DeviceSlots<S>();
  /** Created on the first entry: an idle user's feed carries no empty Map (~270 bytes; issue #10, W4). */
  private recent: Map<Offset, CachedEntry> | undefined;

  constructor(
    readonly eid: Eid,
    private readonly recentLimit: number,
  ) {}

  /** Records new entries (ascending) and wakes the sessions. */
  add(entries: readonly QueueEntry[]): void {
    for (const entry of entries) this.cache(entry);
    this.wake();
  }

  /** `add` of one entry, without an array (the send path's case). */
  addOne(entry: QueueEntry): void {
    this.cache(entry);
    this.wake();
  }

  private cache(entry: QueueEntry): void {
    this.recent ??= new Map();
    this.recent.set(entry.offset, { entry, frame: undefined });
    if (entry.offset > this.head) this.head = entry.offset;
    if (this.recent.size <= this.recentLimit) return;
    // Maps iterate in insertion order, so the first keys are the oldest entries cached here.
    for (const offset of this.recent.keys()) {
      if (this.recent.size <= this.recentLimit) break;
      this.recent.delete(offset);
    }
  }

  /** A notice from the bus or the store: entries exist up to `head`. */
  noteHead(head: Offset): void {
    if (head <= this.head) return;
    this.head = head;
    this.wake();
  }

  cached(offset: Offset): CachedEntry | undefined {
    return this.recent?.get(offset);
  }

  /** The frame for an entry of this queue, encoded at most once while cached. */
  frameOf(cached: CachedEntry): Uint8Array {
    cached.frame ??= encodeEntryFrame(cached.entry);
    return cached.frame;
  }

  private wake(): void {
    this.sessions.forEachValue(pumpSession);
  }
}

function pumpSession(session: FeedSubscriber): void {
  session.pump();
}
