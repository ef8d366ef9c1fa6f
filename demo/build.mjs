// Builds the web chat demo into dist/demo/ (app.js + source map, index.html, style.css), served by
// `bimip demo` (src/cli/demo.ts). Type-checks demo/src first (esbuild only strips types). The page
// imports @bimip/client, resolved from node_modules to packages/client (its dist/, built before
// this runs). As in packages/client/scripts/bundle.mjs: `ws` and node:* are Node-only and never
// loaded in a browser, so they stay external; protobufjs' optional `long` becomes an empty module.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const demo = dirname(fileURLToPath(import.meta.url));
const root = join(demo, '..');
const out = join(root, 'dist/demo');

/** Resolves `long` to an empty CommonJS module. */
const withoutLong = {
  name: 'without-long',
  setup(b) {
    b.onResolve({ filter: /^long$/ }, () => ({ path: 'long', namespace: 'empty' }));
    b.onLoad({ filter: /.*/, namespace: 'empty' }, () => ({ contents: 'module.exports = null;', loader: 'js' }));
  },
};

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(demo, 'tsconfig.json')], { stdio: 'inherit' });

mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(demo, 'src/main.ts')],
  outfile: join(out, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2020',
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  external: ['ws', 'node:*'],
  plugins: [withoutLong],
  logLevel: 'warning',
});
for (const file of ['index.html', 'style.css']) copyFileSync(join(demo, file), join(out, file));
