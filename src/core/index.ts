export * from './types.js';
export * from './errors.js';
export type * from './message-store.js';
export type * from './bus.js';
export type * from './authenticator.js';
export type * from './transport.js';
export type * from './logger.js';
export { systemClock, type Clock } from './clock.js';
