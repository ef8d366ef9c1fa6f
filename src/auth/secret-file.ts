/** The generated HS256 secret kept in the data dir when no JWT setting is given (SPEC §8). */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SECRET_FILE_NAME = 'jwt-secret';

/** Where the generated secret of `dataDir` lives (whether or not it exists yet). */
export function secretFilePath(dataDir: string): string {
  return join(dataDir, SECRET_FILE_NAME);
}

/** Reads `<dataDir>/jwt-secret`, creating it (mode 0600) with 32 random bytes when absent. */
export function loadOrCreateSecret(dataDir: string): { secret: string; created: boolean; path: string } {
  const path = secretFilePath(dataDir);
  if (existsSync(path)) return { secret: readFileSync(path, 'utf8').trim(), created: false, path };
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return { secret, created: true, path };
}
