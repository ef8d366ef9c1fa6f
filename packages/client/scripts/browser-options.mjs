// esbuild options for a browser bundle of the SDK, shared by the SDK's own bundle (bundle.mjs) and
// the web chat demo (demo/build.mjs). `ws` and `node:*` are Node-only paths a browser never takes.
// Nothing else needs excluding: the SDK uses @bimip/protocol/lite, which has no protobufjs and no `long`.
export const browserOptions = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  external: ['ws', 'node:*'],
  logLevel: 'warning',
};
