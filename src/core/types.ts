/** Domain types shared by every layer. */

/** A user id (SPEC: eid), 1–256 UTF-8 bytes. */
export type Eid = string;
/** A device id (SPEC: connection_resource_id), 1–128 UTF-8 bytes. */
export type DeviceId = string;
/** A position in one user's queue: 1, 2, 3… with no gaps (SPEC §5). 0 = before the first entry. */
export type Offset = number;

/** An authenticated device (what a verified access token says). */
export interface Principal {
  eid: Eid;
  deviceId: DeviceId;
  /** Epoch ms at which the token expires. */
  expiresAt: number;
  /** Token id, for revocation. */
  jti: string;
  /**
   * Epoch ms the token was issued: ms precision when this server issued it (`iat_ms`), else the last
   * ms of the `iat` second (iat × 1000 + 999); 0 unknown.
   */
  issuedAt: number;
}

/** What a queue entry holds (SPEC §5). */
export const EntryKind = { Message: 1, Signal: 2, Contact: 3 } as const;
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind];

/** One entry of a user's queue as stored. */
export interface QueueEntry {
  eid: Eid;
  offset: Offset;
  kind: EntryKind;
  /** Decimal of the global sequence (for a message: its signal_id). */
  signalId: string;
  /** The device of the queue's owner that caused the entry ('' if none); never pushed back to it. */
  authorDevice: DeviceId;
  /** When set, only this device may receive the entry. */
  targetDevice: DeviceId;
  /** The stored payload (for a message: the encoded Message without user_offset). */
  body: Uint8Array;
  /** Server epoch ms when stored. */
  storedAt: number;
}

/** SPEC §5: an entry is deliverable to D when D is not its author and its target is empty or D. */
export function deliverable(entry: Pick<QueueEntry, 'authorDevice' | 'targetDevice'>, device: DeviceId): boolean {
  return entry.authorDevice !== device && (entry.targetDevice === '' || entry.targetDevice === device);
}

/** Position facts about one user's queue. */
export interface QueueInfo {
  /** Last offset of the queue (0 when empty). */
  head: Offset;
  /** Earliest offset still retained (head + 1 when nothing is retained). */
  first: Offset;
  /** Identifies this incarnation of the queue; it changes only if the queue was lost or reset. */
  epoch: string;
}

/** A message to store: already validated, `from` already the session's identity. */
export interface NewMessage {
  senderEid: Eid;
  senderDevice: DeviceId;
  clientId: string;
  recipientEid: Eid;
  /** Empty = every device of the recipient. */
  recipientDevice: DeviceId;
  /** Builds the stored body once the server-assigned fields are known. */
  encodeBody(assigned: { signalId: string; storedAt: number }): Uint8Array;
}

/** The outcome of storing (or finding) a message. */
export interface AppendedMessage {
  /** true when (sender, clientId) was stored before: nothing new was written. */
  duplicate: boolean;
  signalId: string;
  storedAt: number;
  /** The message's offset in the sender's queue. */
  senderOffset: Offset;
  /** New entries, one per queue written (empty for a duplicate). */
  entries: QueueEntry[];
}

/** A receipt (SPEC §6 F4) sent by a device of the message's recipient, already validated. */
export interface NewReceipt {
  /** The message's signal_id (global sequence). */
  messageSignalId: string;
  /** 2=DELIVERED 3=READ 4=FORWARDED 5=PLAYED */
  status: number;
  /** The recipient of the message (who sends the receipt) and the device that sent it. */
  senderEid: Eid;
  senderDevice: DeviceId;
  /** The message's sender, who gets the receipt. */
  toEid: Eid;
  /** The stored Signal (without user_offset). */
  body: Uint8Array;
}

/** What became of a receipt. */
export type ReceiptOutcome =
  | { result: 'stored'; entries: QueueEntry[] }
  /** Already stored for this (message, status), or DELIVERED after READ: nothing written. */
  | { result: 'duplicate' | 'superseded' }
  | { result: 'not-found' }
  /** The sender of the receipt is not the message's recipient, or `to` is not its sender. */
  | { result: 'forbidden' };

/** A contact action by `actorEid` about `otherEid`, applied atomically with its queue entries (SPEC §6 F7). */
export interface NewContactAction {
  action: number;
  actorEid: Eid;
  actorDevice: DeviceId;
  otherEid: Eid;
  /** The stored Contact event (without user_offset). */
  body: Uint8Array;
}

export type ContactOutcome =
  | { result: 'applied'; entries: QueueEntry[] }
  /** Nothing to change (already subscribed, already blocked…): no entry written. */
  | { result: 'unchanged' }
  /** APPROVE or DENY without a pending SUBSCRIBE from the other user. */
  | { result: 'not-pending' }
  /** The other user blocked the actor. */
  | { result: 'blocked' }
  /**
   * Issue #7: the action would grow a list past its per-user limit (`max`): the actor's block
   * list, or the contact list of the actor or of the other user (`owner`). Nothing written.
   */
  | { result: 'limit'; list: 'blocks' | 'contacts'; owner: 'actor' | 'other'; max: number };

/**
 * Per-user limits (issue #7), so no single user's state grows without bound; 0 = unlimited.
 * devices: cursors a user may hold (each is a fan-out target of every entry and a durable row);
 * blocks: users one user blocks; contacts: other users one user has a subscription with, either
 * way, pending or active. Rationale in docs/operations.md "Limits".
 */
export const DEFAULT_USER_LIMITS = { maxDevicesPerUser: 16, maxBlocksPerUser: 10_000, maxContactsPerUser: 5_000 } as const;

export interface ContactRelation {
  eid: Eid;
  relation: number;
}
