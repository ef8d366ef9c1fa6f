/**
 * `bimip/client`: the SDK, re-exported from the `@bimip/client` workspace package
 * (packages/client) so existing imports of the server package keep working.
 */
export * from '@bimip/client';
