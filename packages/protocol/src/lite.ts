/**
 * `@bimip/protocol/lite`: the wire contract for clients — codes, limits, frame types and the small
 * table-driven codec — without protobufjs. What the SDK and its browser bundle use.
 */
export * from './codes.js';
export * from './limits.js';
export { FrameError } from './frame-error.js';
export { decodeFrame, encodeFrame } from './lite-codec.js';
export type * from './schema.js';
