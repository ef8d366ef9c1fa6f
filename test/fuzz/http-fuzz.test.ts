/**
 * Issue #7 item 1 / SPEC §7.6 at the HTTP and WebSocket edge: curated and seeded-random junk over
 * raw TCP against a real server process. It must not die (`GET //[ HTTP/1.1` once killed it), must
 * not answer 5xx, and afterwards must still serve a fresh pair with its protected data unchanged.
 * FUZZ_SEED=<n> replays a seed; FUZZ_HTTP_CASES changes the count.
 */
import { describe, expect, it } from 'vitest';
import { formatJunkReport, junkPassed, runHttpJunk } from './http-junk.js';
import { seedFromEnv } from './prng.js';

const CASES = Number(process.env['FUZZ_HTTP_CASES'] ?? 600);

describe('fuzz - HTTP and TCP junk', () => {
  it('fuzz - malformed requests, upgrades, framing and random bytes never kill the server or get a 5xx', { timeout: 60_000 }, async () => {
    const seed = seedFromEnv();
    console.log(`http fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`);
    const report = await runHttpJunk({ seed, count: CASES });
    const summary = formatJunkReport(report);
    console.log(summary);
    expect(report.interrupted, summary).toBeUndefined();
    expect(report.fatal, summary).toEqual([]);
    expect(report.crashes, summary).toBe(0);
    expect(report.alive, summary).toBe(true);
    expect(report.serverErrors, summary).toEqual([]);
    expect(report.witness, summary).toBeUndefined();
    expect(report.store?.problems, summary).toEqual([]);
    expect(report.store?.protectedAfter, summary).toBe(report.store?.protectedBefore);
    expect(report.shutdown?.graceful, summary).toBe(true);
    expect(junkPassed(report), summary).toBe(true);
  });
});
