/**
 * The README's SDK snippet compiles under strict TypeScript against the published entry point
 * (`bimip/client`, resolved through the package's own exports), so the first thing a new user
 * copies works (issue #9).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('README', () => {
  it('readme - the SDK snippet type-checks under strict TypeScript', () => {
    const readme = readFileSync(`${ROOT}README.md`, 'utf8');
    const snippet = /```ts\n(import \{ BimipClient[\s\S]*?)```/.exec(readme)?.[1];
    expect(snippet, 'README has a ```ts block importing BimipClient').toBeDefined();
    // Inside the package (.scratch/ is git-ignored), so `bimip/client` resolves as a user's install would.
    mkdirSync(`${ROOT}.scratch`, { recursive: true });
    const file = `${ROOT}.scratch/readme-snippet.ts`;
    writeFileSync(file, snippet!);
    const tsc = `${ROOT}node_modules/typescript/bin/tsc`;
    const args = [
      tsc,
      '--noEmit',
      '--strict',
      '--exactOptionalPropertyTypes',
      'false',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--types',
      'node',
      file,
    ];
    let output = '';
    try {
      execFileSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' });
    } catch (err) {
      output = String((err as { stdout?: string }).stdout ?? err);
    }
    expect(output).toBe('');
  }, 60_000);
});
