/**
 * The data dir holds message bodies, token hashes and the generated JWT secret: only the server's
 * user may read it (issue #7 item 9). New files are private through the process umask; files of an
 * existing install are tightened at start, and each change is logged.
 */
import { chmodSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/logger.js';

/**
 * Sets the process umask to 077, creates `dataDir` (0700) if needed, and removes group and other
 * access from it and from every file in it.
 *
 * Why a process-wide umask rather than a mode per file: SQLite creates files of its own long after
 * start (each database's -wal and -shm, rollback journals during migrations) with mode 0644 minus
 * the umask, and better-sqlite3 offers no way to pass a mode. The umask covers every file this
 * process will ever create, whoever creates it; the server writes no file that others should read.
 */
export function securePrivateDataDir(dataDir: string, logger?: Logger): void {
  process.umask(0o077);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  tighten(dataDir, logger);
  for (const entry of readdirSync(dataDir, { withFileTypes: true })) {
    if (entry.isFile()) tighten(join(dataDir, entry.name), logger);
  }
}

/** Removes group and other access (0644 → 0600, 0755 → 0700); the owner's bits stay. */
function tighten(path: string, logger: Logger | undefined): void {
  const before = statSync(path).mode & 0o777;
  if ((before & 0o077) === 0) return;
  const after = before & 0o700;
  chmodSync(path, after);
  logger?.warn({ path, from: octal(before), to: octal(after) }, 'data dir permissions tightened: group and other access removed');
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}
