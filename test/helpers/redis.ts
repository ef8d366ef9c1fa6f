/**
 * Redis for contract tests: every kit has its own key/channel prefix (`bimip-test-<random>:`), and
 * `cleanup` deletes the keys under it (SCAN + DEL, bounded) and closes the kit's clients — run it
 * in afterEach/finally so a failing test leaves nothing behind. Never FLUSHDB: Redis is shared.
 */
import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';

export const TEST_REDIS_URL = process.env.BIMIP_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** SCAN rounds per cleanup: far more than a test's keys need, so a runaway loop still ends. */
const MAX_SCAN_ROUNDS = 10_000;

export class RedisTestKit {
  /** Glob-safe (hex), so it can be used as a SCAN MATCH pattern as is. */
  readonly prefix = `bimip-test-${randomBytes(6).toString('hex')}:`;
  private readonly clients: Redis[] = [];

  /** A connected client (ready), closed by `cleanup`. */
  async client(options: RedisOptions = {}): Promise<Redis> {
    const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, ...options });
    // Reconnect tests cause connection errors on purpose; the client's status tells the tests enough.
    redis.on('error', () => undefined);
    this.clients.push(redis);
    await redis.connect();
    return redis;
  }

  /** Deletes every key under the prefix and closes every client of the kit. */
  async cleanup(): Promise<void> {
    const admin = new Redis(TEST_REDIS_URL, { lazyConnect: true });
    admin.on('error', () => undefined);
    try {
      await admin.connect();
      await deleteKeys(admin, `${this.prefix}*`);
    } finally {
      admin.disconnect();
      for (const client of this.clients.splice(0)) client.disconnect();
    }
  }
}

/** Deletes the keys matching `pattern` (SCAN + DEL); returns how many. */
export async function deleteKeys(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  for (let round = 0; round < MAX_SCAN_ROUNDS; round++) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    if (keys.length > 0) deleted += await redis.del(...keys);
    cursor = next;
    if (cursor === '0') break;
  }
  return deleted;
}

/** Resolves once `predicate` holds (checked every 10 ms), else rejects after `timeoutMs`. */
export async function until(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
