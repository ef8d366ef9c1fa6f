/** The package's version, read at run time from its package.json (`bimip --version`, the admin status). */
import { readFileSync } from 'node:fs';

/**
 * `version` of the package.json two levels above this file: dist/cli/main.js and src/cli/*.ts (tests)
 * both sit there. 'unknown' if it cannot be read (a bundled or relocated copy).
 */
export function packageVersion(): string {
  try {
    const parsed: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const version = (parsed as { version?: unknown }).version;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}
