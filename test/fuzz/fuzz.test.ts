/**
 * Issue #7 / SPEC §7.6, bounded for `npm test`: tens of thousands of mutated frames of every route
 * against a real server process; it must not crash, hang, answer 500, close with an unexpected
 * code, or change stored data it must not change, and must still serve a fresh pair afterwards.
 * FUZZ_SEED=<n> replays a seed; FUZZ_FRAMES / FUZZ_MS change the budget. The long run: `npm run fuzz`.
 */
import { describe, expect, it } from 'vitest';
import { formatReport, fuzzPassed, runFuzz } from './fuzz-run.js';
import { seedFromEnv } from './prng.js';

const FRAMES = Number(process.env['FUZZ_FRAMES'] ?? 30_000);
const DURATION_MS = Number(process.env['FUZZ_MS'] ?? 14_000);

describe('fuzz - mutated frames of every route', () => {
  it('fuzz - the server survives mutated frames without a crash, hang, 500 or a change to protected data', { timeout: DURATION_MS + 40_000 }, async () => {
    const seed = seedFromEnv();
    console.log(`fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`);
    const report = await runFuzz({ seed, frames: FRAMES, durationMs: DURATION_MS, connections: 8 });
    const summary = formatReport(report);
    console.log(summary);
    expect(report.frames, summary).toBeGreaterThan(1000);
    expect(report.interrupted, summary).toBeUndefined();
    expect(report.crashes, summary).toBe(0);
    expect(report.alive, summary).toBe(true);
    expect(report.stalls, summary).toEqual([]);
    expect(report.internalErrors, summary).toEqual([]);
    expect(report.unexpectedCloses, summary).toEqual([]);
    expect(report.witness, summary).toBeUndefined();
    expect(report.store?.problems, summary).toEqual([]);
    expect(report.store?.protectedAfter, summary).toBe(report.store?.protectedBefore);
    expect(report.shutdown?.graceful, summary).toBe(true);
    expect(fuzzPassed(report), summary).toBe(true);
  });
});
