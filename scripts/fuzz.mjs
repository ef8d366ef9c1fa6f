#!/usr/bin/env node
/**
 * The long fuzz run of issue #7 (the bounded one is test/fuzz/*.test.ts in `npm test`):
 *
 *   npm run fuzz -- --frames 1000000 [--seed S] [--connections C] [--minutes M] [--http N]
 *
 * Starts the built server (dist/cli/main.js) as a child process, sends mutated frames of every
 * route over C connections (test/fuzz/fuzz-run.ts), then N raw HTTP/TCP junk cases
 * (test/fuzz/http-junk.ts) against a second fresh server, and prints frames/s, connections used,
 * crashes, RSS before/after and the hashes of the stored data before/after. It stops by itself
 * after `--frames` frames or `--minutes` minutes (default 30), whichever comes first. Exit code 0
 * when every check held, 1 otherwise (the data dir of a failed run is kept and named).
 * Run with tsx (the engine is TypeScript): `npx tsx scripts/fuzz.mjs …` after `npm run build`.
 */
import { parseArgs } from 'node:util';
import { formatReport, fuzzPassed, runFuzz } from '../test/fuzz/fuzz-run.ts';
import { formatJunkReport, junkPassed, runHttpJunk } from '../test/fuzz/http-junk.ts';

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '1000000' },
    seed: { type: 'string' },
    connections: { type: 'string', default: '8' },
    minutes: { type: 'string', default: '30' },
    http: { type: 'string', default: '5000' },
    batch: { type: 'string', default: '16' },
  },
});

const number = (name, raw, min) => {
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) {
    process.stderr.write(`fuzz: --${name} must be a number ≥ ${min}, got "${raw}"\n`);
    process.exit(2);
  }
  return value;
};
const seed = values.seed === undefined ? (Math.random() * 2 ** 32) >>> 0 : number('seed', values.seed, 0) >>> 0;
const frames = number('frames', values.frames, 1);
const connections = number('connections', values.connections, 1);
const minutes = number('minutes', values.minutes, 0.1);
const httpCases = number('http', values.http, 0);

process.stderr.write(`fuzz: seed ${seed} (replay with --seed ${seed}), ${frames} frames over ${connections} connections, at most ${minutes} min\n`);
const frameReport = await runFuzz({
  seed,
  frames,
  connections,
  durationMs: minutes * 60_000,
  batch: number('batch', values.batch, 1),
  log: (line) => process.stderr.write(`${line}\n`),
});
process.stdout.write(`\n== frames ==\n${formatReport(frameReport)}\n`);

let junkOk = true;
if (httpCases > 0) {
  const junkReport = await runHttpJunk({ seed, count: httpCases });
  junkOk = junkPassed(junkReport);
  process.stdout.write(`\n== HTTP/TCP junk ==\n${formatJunkReport(junkReport)}\n`);
}
const ok = fuzzPassed(frameReport) && junkOk;
process.stdout.write(`\nfuzz ${ok ? 'PASSED' : 'FAILED'} (seed ${seed})\n`);
process.exit(ok ? 0 : 1);
