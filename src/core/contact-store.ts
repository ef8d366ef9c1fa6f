import type { ContactOutcome, ContactRelation, Eid, NewContactAction } from './types.js';

/**
 * Durable contact state (SPEC §6 F7) and the visibility switch (F6), kept beside the queues so a
 * contact event and its queue entries are written in one transaction.
 *
 * Subscriptions are directional: `subscriber` receives `target`'s awareness. SUBSCRIBE makes a
 * pending one; APPROVE by the target makes it active both ways; UNSUBSCRIBE removes both ways;
 * BLOCK removes both ways and refuses the blocked user until UNBLOCK.
 */
export interface ContactStore {
  /** Applies a state-changing action and appends its events to the queues, atomically and durably. */
  applyContactAction(action: NewContactAction): Promise<ContactOutcome>;
  listContacts(eid: Eid): Promise<ContactRelation[]>;
  /** Whether `blocker` has blocked `blocked` (on the send path: engines keep it cheap). */
  isBlocked(blocker: Eid, blocked: Eid): Promise<boolean>;
  /** Users with an active subscription to `eid` (who see its awareness). */
  subscribersOf(eid: Eid): Promise<Eid[]>;
  /** Users `eid` has an active subscription to. */
  subscriptionsOf(eid: Eid): Promise<Eid[]>;
  isSubscribed(subscriber: Eid, target: Eid): Promise<boolean>;
  /** The durable visibility switch: true when the user is hidden. */
  isHidden(eid: Eid): Promise<boolean>;
  setHidden(eid: Eid, hidden: boolean): Promise<void>;
}
