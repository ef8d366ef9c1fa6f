/** Issue #7 item 6: Node's setTimeout fires at once for delays above 2^31-1 ms (~24.8 days). */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/core/clock.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('systemClock - long timers', () => {
  it('clock - a 30-day timeout does not fire early, and fires once when due', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const fired: number[] = [];
    const start = Date.now();
    const day = 86_400_000;
    systemClock.setTimeout(() => fired.push(Date.now() - start), 30 * day);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(25 * day);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(5 * day - 2);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(10);
    expect(fired).toEqual([30 * day]);
  });

  it('clock - a long timeout can be cancelled before and after its first leg', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const day = 86_400_000;
    let fired = 0;
    systemClock.setTimeout(() => fired++, 60 * day).cancel();
    const later = systemClock.setTimeout(() => fired++, 60 * day);
    vi.advanceTimersByTime(30 * day);
    later.cancel();
    vi.advanceTimersByTime(40 * day);
    expect(fired).toBe(0);
  });
});
