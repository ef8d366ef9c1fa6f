// Builds the browser ESM bundle (dist/browser/bimip-client.js): the SDK and the wire contract's
// client side (@bimip/protocol/lite: codes and the small table-driven codec, no protobufjs, so no
// `long`) in one minified file. `ws` and `node:*` are Node-only paths the browser never takes.
// test/unit/client-bundle.test.ts holds it to its budget (15 KB gzipped) and checks `long` stays out.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { browserOptions } from './browser-options.mjs';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

const result = await build({
  entryPoints: [join(pkg, 'dist/index.js')],
  outfile: join(pkg, 'dist/browser/bimip-client.js'),
  ...browserOptions,
  metafile: true,
});

// The list of bundled modules, for the size test and for anyone asking "what is in there?".
const { writeFile } = await import('node:fs/promises');
await writeFile(join(pkg, 'dist/browser/meta.json'), JSON.stringify(result.metafile));
