/** The public API of the `bimip` package. */
export { BimipServer, type BimipServerOptions } from './server/bimip-server.js';
export { ServerMetrics } from './server/metrics.js';
export { SqliteMessageStore, type SqliteMessageStoreOptions } from './store/sqlite/sqlite-message-store.js';
export { MemoryBroker, MemoryBus } from './bus/memory/memory-bus.js';
export { MemoryPresenceStore } from './presence/memory/memory-presence-store.js';
export { JwtAuthenticator, type JwtVerifyOptions } from './auth/jwt-authenticator.js';
export { TokenIssuer, type IssueOptions } from './auth/token-issuer.js';
export * from './core/index.js';
export * as protocol from './protocol/index.js';
export { BimipClient, BimipConnection, ConnectionClosedError } from './client/index.js';
