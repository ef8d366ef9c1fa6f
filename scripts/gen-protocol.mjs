// Generates the protobufjs static module and its typings from src/protocol/bimip.proto.
// `--copy` also places them beside the compiled code in dist/ (tsc does not copy .js inputs).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const proto = join(root, 'src/protocol/bimip.proto');
const outDir = join(root, 'src/protocol/generated');
const js = join(outDir, 'bimip.js');
const dts = join(outDir, 'bimip.d.ts');
const bin = (name) => join(root, 'node_modules/.bin', name);

if (process.argv.includes('--copy')) {
  const dest = join(root, 'dist/protocol/generated');
  mkdirSync(dest, { recursive: true });
  copyFileSync(js, join(dest, 'bimip.js'));
  copyFileSync(dts, join(dest, 'bimip.d.ts'));
  process.exit(0);
}

const fresh = existsSync(js) && existsSync(dts) && statSync(js).mtimeMs >= statSync(proto).mtimeMs;
if (!fresh) {
  mkdirSync(outDir, { recursive: true });
  // --force-number: int64/uint64 as JS numbers (offsets and ms timestamps stay far below 2^53).
  execFileSync(bin('pbjs'), ['-t', 'static-module', '-w', 'es6', '--force-number', '--no-verify', '--no-delimited', '-o', js, proto], { stdio: 'inherit' });
  execFileSync(bin('pbts'), ['-o', dts, js], { stdio: 'inherit' });
}
