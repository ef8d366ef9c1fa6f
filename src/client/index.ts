/** The client SDK's public surface (package export `bimip/client`). */
export { BimipClient } from './bimip-client.js';
export { BimipRequestError, ConnectionClosedError, TokenAuthorityError } from './errors.js';
export type { ConnectOptions, WebSocketFactory, WebSocketLike } from './socket.js';
export type {
  AwarenessOptions,
  ContactEntry,
  ContactEventEntry,
  MessageEntry,
  QueueEntry,
  ReceiptTarget,
  SendOptions,
  SignalEntry,
  SyncResult,
} from './types.js';
export {
  ReceiptStatus,
  TransientStatus,
  type AwarenessStatusValue,
  type ContactActionValue,
  type LocationSharingValue,
  type ReceiptStatusValue,
  type RelationValue,
  type TransientStatusValue,
} from './constants.js';
export { AsyncQueue } from './async-queue.js';
export * from '../protocol/index.js';
