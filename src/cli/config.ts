/**
 * Configuration from the environment (SPEC §8), validated at start: a bad value is a ConfigError
 * naming the variable, and the CLI exits with code 2.
 */
import { resolve } from 'node:path';
import { DEFAULT_USER_LIMITS } from '../core/types.js';
import { MAX_ACCESS_TTL_SECONDS, MAX_REFRESH_TTL_SECONDS } from '../auth/token-service.js';

export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/** A command called in a way it cannot serve (the CLI prints the message and exits with code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface Config {
  /** SPEC §11 cluster mode (PostgreSQL + Redis); undefined = the embedded default. */
  cluster: { postgresUrl: string; redisUrl: string; redisPrefix: string } | undefined;
  host: string;
  port: number;
  dataDir: string;
  jwtSecret: string | undefined;
  jwtPublicKeyPath: string | undefined;
  jwtIssuer: string | undefined;
  jwtAudience: string | undefined;
  rateLimit: number;
  logLevel: string;
  maxFrameBytes: number;
  idleTimeoutMs: number;
  window: number;
  adminToken: string | undefined;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
  pushWebhookUrl: string | undefined;
  pushWebhookSecret: string | undefined;
  /** 0 keeps everything. */
  retentionDays: number;
  /** Issue #7 per-user limits; 0 = unlimited. */
  maxDevicesPerUser: number;
  maxBlocksPerUser: number;
  maxContactsPerUser: number;
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function integer(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function text(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

function adminToken(env: Env): string | undefined {
  const token = text(env, 'BIMIP_ADMIN_TOKEN');
  if (token !== undefined && token.length < 16) throw new ConfigError('BIMIP_ADMIN_TOKEN', 'must be at least 16 characters');
  return token;
}

function pushWebhook(env: Env): { pushWebhookUrl: string | undefined; pushWebhookSecret: string | undefined } {
  const url = text(env, 'BIMIP_PUSH_WEBHOOK_URL');
  const secret = text(env, 'BIMIP_PUSH_WEBHOOK_SECRET');
  if (url === undefined) return { pushWebhookUrl: undefined, pushWebhookSecret: secret };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('BIMIP_PUSH_WEBHOOK_URL', `not a URL: "${url}"`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError('BIMIP_PUSH_WEBHOOK_URL', 'must be an http(s) URL');
  if (!secret || secret.length < 16) {
    throw new ConfigError(
      'BIMIP_PUSH_WEBHOOK_SECRET',
      'required with BIMIP_PUSH_WEBHOOK_URL, at least 16 characters (receivers verify X-Bimip-Signature with it)',
    );
  }
  return { pushWebhookUrl: url, pushWebhookSecret: secret };
}

/**
 * SPEC §11: cluster mode needs both URLs (one without the other names the missing one) and a JWT
 * secret or public key that every node shares (a generated per-node secret would differ).
 */
function cluster(env: Env, jwtConfigured: boolean): Config['cluster'] {
  const postgresUrl = text(env, 'BIMIP_POSTGRES_URL');
  const redisUrl = text(env, 'BIMIP_REDIS_URL');
  if (postgresUrl === undefined && redisUrl === undefined) return undefined;
  if (postgresUrl === undefined) throw new ConfigError('BIMIP_POSTGRES_URL', 'cluster mode needs it too: BIMIP_REDIS_URL is set');
  if (redisUrl === undefined) throw new ConfigError('BIMIP_REDIS_URL', 'cluster mode needs it too: BIMIP_POSTGRES_URL is set');
  if (!/^postgres(ql)?:\/\//.test(postgresUrl)) throw new ConfigError('BIMIP_POSTGRES_URL', 'expected postgres://user@host:port/database');
  if (!/^rediss?:\/\//.test(redisUrl)) throw new ConfigError('BIMIP_REDIS_URL', 'expected redis://host:port[/db]');
  if (!jwtConfigured) {
    throw new ConfigError(
      'BIMIP_JWT_SECRET',
      'cluster mode needs BIMIP_JWT_SECRET or BIMIP_JWT_PUBLIC_KEY (shared by every node; a generated secret would differ per node)',
    );
  }
  const redisPrefix = text(env, 'BIMIP_REDIS_PREFIX') ?? 'bimip:';
  return { postgresUrl, redisUrl, redisPrefix };
}

export function loadConfig(env: Env = process.env): Config {
  const logLevel = text(env, 'BIMIP_LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('BIMIP_LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);
  const jwtSecret = text(env, 'BIMIP_JWT_SECRET');
  const jwtPublicKeyPath = text(env, 'BIMIP_JWT_PUBLIC_KEY');
  if (jwtSecret && jwtPublicKeyPath) {
    throw new ConfigError('BIMIP_JWT_PUBLIC_KEY', 'set either BIMIP_JWT_SECRET or BIMIP_JWT_PUBLIC_KEY, not both');
  }
  if (jwtSecret !== undefined && jwtSecret.length < 16) {
    throw new ConfigError('BIMIP_JWT_SECRET', 'must be at least 16 characters');
  }
  return {
    host: text(env, 'BIMIP_HOST') ?? '127.0.0.1',
    port: integer(env, 'BIMIP_PORT', 4040, 0, 65_535),
    dataDir: resolve(text(env, 'BIMIP_DATA_DIR') ?? './data'),
    jwtSecret,
    jwtPublicKeyPath,
    jwtIssuer: text(env, 'BIMIP_JWT_ISSUER'),
    jwtAudience: text(env, 'BIMIP_JWT_AUDIENCE'),
    rateLimit: integer(env, 'BIMIP_RATE_LIMIT', 200, 0),
    logLevel,
    maxFrameBytes: integer(env, 'BIMIP_MAX_FRAME_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    idleTimeoutMs: integer(env, 'BIMIP_IDLE_TIMEOUT_SECONDS', 60, 1, 86_400) * 1000,
    window: integer(env, 'BIMIP_WINDOW', 512, 1, 100_000),
    adminToken: adminToken(env),
    accessTtlSeconds: integer(env, 'BIMIP_ACCESS_TOKEN_TTL_SECONDS', 3600, 10, MAX_ACCESS_TTL_SECONDS),
    refreshTtlSeconds: integer(env, 'BIMIP_REFRESH_TOKEN_TTL_SECONDS', 30 * 86_400, 60, MAX_REFRESH_TTL_SECONDS),
    ...pushWebhook(env),
    retentionDays: integer(env, 'BIMIP_RETENTION_DAYS', 30, 0, 36_500),
    maxDevicesPerUser: integer(env, 'BIMIP_MAX_DEVICES_PER_USER', DEFAULT_USER_LIMITS.maxDevicesPerUser, 0, 10_000),
    maxBlocksPerUser: integer(env, 'BIMIP_MAX_BLOCKS_PER_USER', DEFAULT_USER_LIMITS.maxBlocksPerUser, 0, 10_000_000),
    maxContactsPerUser: integer(env, 'BIMIP_MAX_CONTACTS_PER_USER', DEFAULT_USER_LIMITS.maxContactsPerUser, 0, 10_000_000),
    cluster: cluster(env, jwtSecret !== undefined || jwtPublicKeyPath !== undefined),
  };
}
