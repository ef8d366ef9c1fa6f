/** The push gate's per-sender token buckets (issue #7): rate, burst, independence, bounded memory. */
import { describe, expect, it } from 'vitest';
import { SenderBuckets } from '../../src/server/sender-buckets.js';

const T0 = 1_700_000_000_000;

function takes(buckets: SenderBuckets, key: string, count: number, now: number): number {
  let granted = 0;
  for (let i = 0; i < count; i++) if (buckets.take(key, now)) granted++;
  return granted;
}

describe('sender buckets', () => {
  it('sender buckets - a burst, then perSecond, per sender', () => {
    const buckets = new SenderBuckets(10, 20, 100);
    expect(takes(buckets, 'alice', 50, T0)).toBe(20);
    expect(takes(buckets, 'bob', 5, T0)).toBe(5); // alice's flood costs bob nothing
    expect(takes(buckets, 'alice', 50, T0 + 1000)).toBe(10);
    expect(takes(buckets, 'alice', 50, T0 + 1050)).toBe(0);
    expect(takes(buckets, 'alice', 50, T0 + 1100)).toBe(1);
    expect(takes(buckets, 'alice', 50, T0 + 60_000)).toBe(20); // refills to the burst, not beyond
  });

  it('sender buckets - perSecond 0 turns the limit off', () => {
    const buckets = new SenderBuckets(0, 1, 1);
    expect(takes(buckets, 'alice', 1000, T0)).toBe(1000);
    expect(buckets.size).toBe(0);
  });

  it('sender buckets - memory stays bounded: refilled buckets are forgotten', () => {
    const buckets = new SenderBuckets(10, 20, 100);
    for (let i = 0; i < 10_000; i++) buckets.take(`sender-${i}`, T0 + i);
    // A bucket refills one token in 100 ms, so only the last ~100 senders are remembered.
    expect(buckets.size).toBeLessThanOrEqual(101);
    buckets.take('late', T0 + 10_000_000);
    expect(buckets.size).toBe(1);
  });

  it('sender buckets - past maxKeys the least recently used bucket goes, not the active flooder', () => {
    const buckets = new SenderBuckets(10, 20, 3);
    buckets.take('b', T0);
    buckets.take('c', T0);
    expect(takes(buckets, 'flooder', 30, T0)).toBe(20);
    buckets.take('d', T0); // a fourth bucket: 'b', used least recently, is forgotten
    expect(buckets.size).toBe(3);
    expect(takes(buckets, 'flooder', 1, T0)).toBe(0);
    expect(takes(buckets, 'b', 30, T0)).toBe(20); // forgotten = a fresh bucket
  });
});
