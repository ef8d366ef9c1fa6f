/** Shapes the SDK hands to and takes from the application. */
import type { Contact, IdentityInit, Message, Signal, Sync } from '@bimip/protocol/lite';
import type { AwarenessStatusValue, LocationSharingValue } from './constants.js';

/** A message in the user's queue (SPEC §5). */
export interface MessageEntry {
  kind: 'message';
  offset: number;
  message: Message;
}

/** A stored receipt (status 2–5) in the user's queue (SPEC §6 F4). */
export interface SignalEntry {
  kind: 'signal';
  offset: number;
  signal: Signal;
}

/** A stored contact event (type 1 REQUEST, action = what the other user did) in the user's queue (SPEC §6 F7). */
export interface ContactEventEntry {
  kind: 'contact';
  offset: number;
  contact: Contact;
}

/** One entry of the user's queue as received by this device; all kinds share one offset sequence. */
export type QueueEntry = MessageEntry | SignalEntry | ContactEventEntry;

/** One row of a contact LIST answer. */
export interface ContactEntry {
  eid: string;
  /** See `Relation`. */
  relation: number;
}

export interface SyncResult {
  /** The replayed entries (live pushes that arrived meanwhile included), each offset once, in order. */
  entries: QueueEntry[];
  response: Sync;
}

export interface SendOptions {
  to: string | IdentityInit;
  payload?: Uint8Array | string;
  /** Idempotency key; default a random UUID. Resend with the same id to retry safely. */
  id?: string;
  type?: number;
  timestamp?: number;
  encryptionType?: string;
  encrypted?: string;
  signature?: string;
  from?: IdentityInit;
}

/** This user's own awareness, as set by `setAwareness` (SPEC §6 F6). */
export interface AwarenessOptions {
  /** ONLINE, AWAY, BUSY or DND (see `AwarenessStatus`). */
  status: AwarenessStatusValue;
  /** Seconds the state holds; then the server reverts to ONLINE or OFFLINE. 0 / absent: until changed. */
  ttl?: number;
  /** 1 ENABLED: coordinates go to subscribers; 2 DISABLED: the server strips them. */
  locationSharing?: LocationSharingValue;
  latitude?: number;
  longitude?: number;
  details?: string;
  /** Default a random UUID. */
  id?: string;
  /** Epoch ms the state was set (default now); a state whose timestamp + ttl has passed on arrival is dropped. */
  timestamp?: number;
}

/** Anything with the fields of a received Message that a receipt needs. */
export interface ReceiptTarget {
  id: string;
  signalId: string;
  from?: { eid?: string | null } | null;
}
