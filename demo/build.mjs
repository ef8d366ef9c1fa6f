// Builds the web chat demo into dist/demo/ (app.js + source map, index.html, style.css), served by
// `bimip demo` (src/cli/demo.ts). Type-checks demo/src first (esbuild only strips types). The page
// imports @bimip/client, resolved from node_modules to packages/client (its dist/, built before
// this runs), with the same esbuild options as the SDK's own browser bundle.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { browserOptions } from '../packages/client/scripts/browser-options.mjs';

const demo = dirname(fileURLToPath(import.meta.url));
const root = join(demo, '..');
const out = join(root, 'dist/demo');

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(demo, 'tsconfig.json')], { stdio: 'inherit' });

mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(demo, 'src/main.ts')],
  outfile: join(out, 'app.js'),
  ...browserOptions,
});
for (const file of ['index.html', 'style.css']) copyFileSync(join(demo, file), join(out, file));
