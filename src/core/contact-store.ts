import type { ContactOutcome, ContactRelation, Eid, NewContactAction } from './types.js';

/**
 * Durable contact state (SPEC §6 F7) and the visibility switch (F6), kept beside the queues so a
 * contact event and its queue entries are written in one transaction.
 *
 * Subscriptions are directional: `subscriber` receives `target`'s awareness. SUBSCRIBE makes a
 * pending one; APPROVE by the target makes it active both ways; UNSUBSCRIBE removes both ways;
 * BLOCK removes both ways and refuses the blocked user until UNBLOCK.
 *
 * Per-user limits (issue #7; engines take them as options, 0 = unlimited) are checked in the same
 * transaction as the write, so concurrent actions never pass one together: a BLOCK of a new user
 * when the actor already blocks `max` users, or a SUBSCRIBE that would relate two users not yet
 * related either way when either already has `max` contacts (other users with a subscription
 * either way, pending or active), resolves `{ result: 'limit' }` and writes nothing. Actions that
 * add no new blocked user or contact (a repeat, APPROVE, DENY, UNSUBSCRIBE, UNBLOCK) are never refused.
 *
 * Cluster contract (SPEC §11, engines shared by several nodes): an action and its checks (pending
 * state, blocks, limits) are atomic across instances — two instances never both take the last
 * slot, nor both apply the same SUBSCRIBE. Every read (`isBlocked`, `isSubscribed`, `listContacts`,
 * `isHidden`, …) reflects every action any instance applied as soon as that action resolved: no
 * cache is kept that another instance's write could leave stale.
 */
export interface ContactStore {
  /** Applies a state-changing action and appends its events to the queues, atomically and durably. */
  applyContactAction(action: NewContactAction): Promise<ContactOutcome>;
  listContacts(eid: Eid): Promise<ContactRelation[]>;
  /**
   * Whether `blocker` has blocked `blocked`: on the send path, so engines keep it cheap, and
   * without holding every block in memory (a bounded cache at most). It reflects every action this
   * store applied as soon as that action resolves.
   */
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
