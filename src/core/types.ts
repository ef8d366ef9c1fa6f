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
