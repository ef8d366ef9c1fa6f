export { BimipClient, ConnectionClosedError, type ConnectOptions, type MessageEntry, type QueueEntry, type SendOptions, type SyncResult, type WebSocketFactory, type WebSocketLike } from './bimip-client.js';
export { AsyncQueue } from './async-queue.js';
export * from '../protocol/index.js';
