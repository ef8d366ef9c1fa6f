/**
 * Wire numbers an application needs for receipts, transient signals and contacts (SPEC §4, §9)
 * that src/protocol/codes.ts does not define. AwarenessStatus, VisibilityType, LocationSharing
 * and Status come from the protocol and are re-exported by the client's index.
 */
import type { AwarenessStatus, LocationSharing } from '../protocol/index.js';

/** Durable receipt statuses: a Signal with one of these is stored in both users' queues (F4). */
export const ReceiptStatus = { DELIVERED: 2, READ: 3, FORWARDED: 4, PLAYED: 5 } as const;
export type ReceiptStatusValue = (typeof ReceiptStatus)[keyof typeof ReceiptStatus];

/** Transient signal statuses: relayed to online devices only, never stored (F5). */
export const TransientStatus = { TYPING: 6, RECORDING: 7, PAUSED: 8, CANCELLED: 9, RESUME: 10, CALLING: 11, DECLINE: 12 } as const;
export type TransientStatusValue = (typeof TransientStatus)[keyof typeof TransientStatus];

/** Contact.action (F7). */
export const ContactAction = { SUBSCRIBE: 1, APPROVE: 2, DENY: 3, UNSUBSCRIBE: 4, BLOCK: 5, UNBLOCK: 6, LIST: 7 } as const;
export type ContactActionValue = (typeof ContactAction)[keyof typeof ContactAction];

/** ContactEntry.relation in a LIST answer, seen from the listing user (F7). */
export const Relation = { SUBSCRIBED: 1, PENDING_OUT: 2, PENDING_IN: 3, BLOCKED: 4 } as const;
export type RelationValue = (typeof Relation)[keyof typeof Relation];

export type AwarenessStatusValue = (typeof AwarenessStatus)[keyof typeof AwarenessStatus];
export type LocationSharingValue = (typeof LocationSharing)[keyof typeof LocationSharing];
