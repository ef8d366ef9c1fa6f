/** SPEC §11 / issue #8: cluster settings are validated at start and name the variable at fault. */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/cli/config.js';

const PG = 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS = 'redis://127.0.0.1:6379/0';
const SECRET = 'cluster-secret-0123456789';

/** Runs the real CLI with `env` and returns its exit status and stderr. */
function serveWith(env: Record<string, string>): { status: number; stderr: string } {
  try {
    execFileSync('node', ['dist/cli/main.js', 'serve'], {
      env: { PATH: process.env['PATH'] ?? '', ...env, BIMIP_PORT: '1' },
      encoding: 'utf8',
      stdio: 'pipe',
      timeout: 10_000,
    });
    return { status: 0, stderr: '' };
  } catch (err) {
    return { status: (err as { status: number }).status, stderr: String((err as { stderr: string }).stderr) };
  }
}

describe('config - cluster mode', () => {
  it('config - without either URL it is the embedded default', () => {
    expect(loadConfig({}).cluster).toBeUndefined();
  });

  it('config - both URLs and a secret give cluster mode with the default Redis prefix', () => {
    expect(loadConfig({ BIMIP_POSTGRES_URL: PG, BIMIP_REDIS_URL: REDIS, BIMIP_JWT_SECRET: SECRET }).cluster).toEqual({
      postgresUrl: PG,
      redisUrl: REDIS,
      redisPrefix: 'bimip:',
    });
  });

  it('config - one URL without the other names the missing one', () => {
    expect(() => loadConfig({ BIMIP_POSTGRES_URL: PG, BIMIP_JWT_SECRET: SECRET })).toThrow(/^BIMIP_REDIS_URL/);
    expect(() => loadConfig({ BIMIP_REDIS_URL: REDIS, BIMIP_JWT_SECRET: SECRET })).toThrow(/^BIMIP_POSTGRES_URL/);
    expect(() => loadConfig({ BIMIP_REDIS_URL: REDIS })).toThrow(ConfigError);
  });

  it('config - cluster mode without a configured JWT secret or key is refused', () => {
    expect(() => loadConfig({ BIMIP_POSTGRES_URL: PG, BIMIP_REDIS_URL: REDIS })).toThrow(/BIMIP_JWT_SECRET.*cluster/);
  });

  it('config - URLs of the wrong kind are refused', () => {
    expect(() => loadConfig({ BIMIP_POSTGRES_URL: 'mysql://x', BIMIP_REDIS_URL: REDIS, BIMIP_JWT_SECRET: SECRET })).toThrow(/^BIMIP_POSTGRES_URL/);
    expect(() => loadConfig({ BIMIP_POSTGRES_URL: PG, BIMIP_REDIS_URL: 'http://x', BIMIP_JWT_SECRET: SECRET })).toThrow(/^BIMIP_REDIS_URL/);
  });

  it('cli - `bimip serve` exits 2 naming the missing variable', () => {
    const onlyPostgres = serveWith({ BIMIP_POSTGRES_URL: PG, BIMIP_JWT_SECRET: SECRET });
    expect(onlyPostgres.status).toBe(2);
    expect(onlyPostgres.stderr).toContain('BIMIP_REDIS_URL');
    const noSecret = serveWith({ BIMIP_POSTGRES_URL: PG, BIMIP_REDIS_URL: REDIS });
    expect(noSecret.status).toBe(2);
    expect(noSecret.stderr).toContain('BIMIP_JWT_SECRET');
  });
});
