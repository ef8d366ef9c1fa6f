/**
 * Subsets of the protocol's Status an application passes to the receipt and signal helpers, and
 * value types of the protocol's numbers (which the client's index re-exports).
 */
import type { AwarenessStatus, ContactAction, LocationSharing, Relation } from '@bimip/protocol/lite';

/** Durable receipt statuses: a Signal with one of these is stored in both users' queues (F4). */
export const ReceiptStatus = { DELIVERED: 2, READ: 3, FORWARDED: 4, PLAYED: 5 } as const;
export type ReceiptStatusValue = (typeof ReceiptStatus)[keyof typeof ReceiptStatus];

/** Transient signal statuses: relayed to online devices only, never stored (F5). */
export const TransientStatus = { TYPING: 6, RECORDING: 7, PAUSED: 8, CANCELLED: 9, RESUME: 10, CALLING: 11, DECLINE: 12 } as const;
export type TransientStatusValue = (typeof TransientStatus)[keyof typeof TransientStatus];

export type ContactActionValue = (typeof ContactAction)[keyof typeof ContactAction];

export type RelationValue = (typeof Relation)[keyof typeof Relation];

export type AwarenessStatusValue = (typeof AwarenessStatus)[keyof typeof AwarenessStatus];
export type LocationSharingValue = (typeof LocationSharing)[keyof typeof LocationSharing];
