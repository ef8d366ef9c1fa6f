/**
 * The wire contract (SPEC §3–§4) as the server sees it: the `@bimip/protocol` workspace package
 * (packages/protocol), which the SDK shares. Server modules import it from here.
 */
export * from '@bimip/protocol';
