/**
 * Issue #7 item 10: every number of the admin API must be a JSON number that is a safe integer in
 * its documented range; anything else is a 400 naming the field, and nothing is stored.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';

const ADMIN = 'admin-token-0123456789';
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function post(harness: Harness, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${harness.server.port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Rows in auth.sqlite's token tables (read from the file itself). */
function storedTokenRows(harness: Harness): number {
  const db = new Database(join(harness.dataDir, 'auth.sqlite'), { readonly: true });
  try {
    const count = (table: string) => db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;
    return count('refresh_tokens') + count('access_tokens');
  } finally {
    db.close();
  }
}

describe('admin API: numbers', () => {
  it('admin tokens - ttl_seconds / refresh_ttl_seconds out of range, fractional or strings → 400 naming the field; nothing issued', async () => {
    h = await startHarness({ adminToken: ADMIN });
    const bad: Array<[string, unknown]> = [
      ['ttl_seconds', 99_999_999_999],
      ['ttl_seconds', 1e300],
      ['ttl_seconds', 0],
      ['ttl_seconds', -5],
      ['ttl_seconds', 60.5],
      ['ttl_seconds', '60'],
      ['ttl_seconds', 30 * 86_400 + 1],
      ['refresh_ttl_seconds', 99_999_999_999],
      ['refresh_ttl_seconds', 1e300],
      ['refresh_ttl_seconds', 3600.25],
      ['refresh_ttl_seconds', '3600'],
      ['refresh_ttl_seconds', 365 * 86_400 + 1],
    ];
    for (const [field, value] of bad) {
      const answer = await post(h, '/v1/tokens', { eid: 'a@example.com', device: 'phone', [field]: value });
      expect({ field, value, ...answer }).toMatchObject({ field, value, status: 400, body: { error: expect.stringContaining(field) } });
    }
    expect(storedTokenRows(h)).toBe(0);
    // The edges of the documented ranges are accepted.
    const longest = await post(h, '/v1/tokens', { eid: 'a@example.com', device: 'phone', ttl_seconds: 30 * 86_400, refresh_ttl_seconds: 365 * 86_400 });
    expect(longest.status).toBe(201);
    expect(await post(h, '/v1/tokens', { eid: 'a@example.com', device: 'phone', ttl_seconds: 1, refresh_ttl_seconds: 1 })).toMatchObject({ status: 201 });
    expect(storedTokenRows(h)).toBe(4);
  });

  it('admin send - type / timestamp out of range, fractional or strings → 400 naming the field; nothing stored', async () => {
    h = await startHarness({ adminToken: ADMIN });
    const bad: Array<[string, unknown]> = [
      ['timestamp', 1e300],
      ['timestamp', 2 ** 53],
      ['timestamp', 253_402_300_800_000], // year 10000
      ['timestamp', -1],
      ['timestamp', 1_700_000_000_000.5],
      ['timestamp', '1700000000000'],
      ['type', 1.5],
      ['type', 3],
      ['type', -1],
      ['type', 1e300],
      ['type', '1'],
    ];
    for (const [index, [field, value]] of bad.entries()) {
      const answer = await post(h, '/v1/messages', { id: `bad-${index}`, to: 'b@example.com', payload: 'x', [field]: value });
      expect({ field, value, ...answer }).toMatchObject({ field, value, status: 400, body: { error: expect.stringContaining(field) } });
    }
    expect((await h.store.queueInfo('b@example.com')).head).toBe(0);
    // In range: stored, and the timestamp kept exactly.
    const ok = await post(h, '/v1/messages', { id: 'ok', to: 'b@example.com', payload: 'x', type: 2, timestamp: 253_402_300_799_999 });
    expect(ok).toMatchObject({ status: 200, body: { code: 200 } });
    const b = await h.connect('b@example.com', 'phone');
    const [entry] = (await b.sync(0, 10)).entries;
    if (entry?.kind !== 'message') throw new Error('expected the stored message');
    expect(entry.message.timestamp).toBe(253_402_300_799_999);
    expect(entry.message.type).toBe(2);
  });
});
