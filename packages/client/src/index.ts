/**
 * @bimip/client — the BIMIP SDK for browsers and Node. `BimipClient` is what apps use (reconnects,
 * heartbeat, outbox, exactly-once entries); `BimipConnection` is one socket without retries, for
 * tools and tests. The wire contract is re-exported from @bimip/protocol.
 */
export { BimipClient, type ClientEvents, type ClientOptions, type ConnectionState, type ResetEvent } from './client.js';
export { BimipConnection, type CloseInfo, type ConnectionSink } from './connection.js';
export {
  BimipRequestError,
  ClientClosedError,
  ConnectError,
  ConnectionClosedError,
  OutboxFullError,
  RequestTimeoutError,
  SendRejectedError,
  TokenAuthorityError,
  type ConnectErrorKind,
} from './errors.js';
export type { ConnectOptions, WebSocketFactory, WebSocketLike } from './socket.js';
export { type ClientState, type ClientStorage, MemoryStorage, type OutboxRecord } from './storage.js';
export { IndexedDbStorage } from './indexeddb-storage.js';
export { FileStorage } from './file-storage.js';
export { Backoff, type BackoffOptions } from './backoff.js';
export type { ClientClock } from './clock.js';
export { randomId } from './ids.js';
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
export * from '@bimip/protocol/lite';
