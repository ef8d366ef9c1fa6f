/** The wire contract: schema, codec, validation, numbers. */
export * from './codes.js';
export * from './codec.js';
export * from './limits.js';
export * from './schema.js';
export * from './validate.js';
