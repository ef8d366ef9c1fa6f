import { describe, expect, it } from 'vitest';
import { deliverable } from '../../src/core/types.js';
import { AbuseCounter, RateLimiter } from '../../src/server/rate-limiter.js';

describe('delivery - deliverable (SPEC §5)', () => {
  it('delivery - an entry with no author and no target reaches every device', () => {
    const entry = { authorDevice: '', targetDevice: '' };
    expect(deliverable(entry, 'phone')).toBe(true);
    expect(deliverable(entry, 'laptop')).toBe(true);
  });

  it('delivery - an entry is never delivered back to the device that authored it', () => {
    const entry = { authorDevice: 'phone', targetDevice: '' };
    expect(deliverable(entry, 'phone')).toBe(false);
    expect(deliverable(entry, 'laptop')).toBe(true);
  });

  it('delivery - a targeted entry reaches only its target device', () => {
    const entry = { authorDevice: '', targetDevice: 'tablet' };
    expect(deliverable(entry, 'tablet')).toBe(true);
    expect(deliverable(entry, 'phone')).toBe(false);
    expect(deliverable(entry, 'laptop')).toBe(false);
  });

  it('delivery - an entry targeted at its own author reaches no device', () => {
    const entry = { authorDevice: 'phone', targetDevice: 'phone' };
    expect(deliverable(entry, 'phone')).toBe(false);
    expect(deliverable(entry, 'laptop')).toBe(false);
  });

  it('delivery - an authored entry targeted at another device reaches only that device', () => {
    const entry = { authorDevice: 'phone', targetDevice: 'laptop' };
    expect(deliverable(entry, 'laptop')).toBe(true);
    expect(deliverable(entry, 'phone')).toBe(false);
    expect(deliverable(entry, 'tablet')).toBe(false);
  });

  it('delivery - device ids compare exactly (case and whitespace matter)', () => {
    expect(deliverable({ authorDevice: 'Phone', targetDevice: '' }, 'phone')).toBe(true);
    expect(deliverable({ authorDevice: '', targetDevice: 'phone ' }, 'phone')).toBe(false);
  });
});

describe('rate-limiter - RateLimiter', () => {
  it('rate-limiter - a fresh connection may send a full burst at once, then is refused', () => {
    const limiter = new RateLimiter(200, 400, 0);
    let allowed = 0;
    for (let i = 0; i < 400; i++) if (limiter.take(0)) allowed++;
    expect(allowed).toBe(400);
    expect(limiter.take(0)).toBe(false);
  });

  it('rate-limiter - tokens refill at the configured rate per second', () => {
    const limiter = new RateLimiter(200, 400, 0);
    for (let i = 0; i < 400; i++) limiter.take(0);
    expect(limiter.take(4)).toBe(false); // 4 ms at 200/s = 0.8 token
    expect(limiter.take(5)).toBe(true); // 5 ms = 1 token
    expect(limiter.take(5)).toBe(false);
    let allowed = 0;
    for (let i = 0; i < 300; i++) if (limiter.take(505)) allowed++;
    expect(allowed).toBe(100); // 500 ms more = 100 tokens
  });

  it('rate-limiter - a sustained rate at the limit is never refused', () => {
    const limiter = new RateLimiter(200, 400, 0);
    for (let ms = 0; ms < 10_000; ms += 5) expect(limiter.take(ms)).toBe(true);
  });

  it('rate-limiter - an idle connection accumulates at most one burst', () => {
    const limiter = new RateLimiter(200, 400, 0);
    for (let i = 0; i < 400; i++) limiter.take(0);
    let allowed = 0;
    for (let i = 0; i < 1000; i++) if (limiter.take(3_600_000)) allowed++;
    expect(allowed).toBe(400);
  });

  it('rate-limiter - a rate of 0 turns limiting off', () => {
    const limiter = new RateLimiter(0, 400, 0);
    for (let i = 0; i < 10_000; i++) expect(limiter.take(0)).toBe(true);
  });
});

describe('rate-limiter - AbuseCounter', () => {
  it('rate-limiter - the 20th bad frame within 10 s reaches the limit', () => {
    const counter = new AbuseCounter(20, 10_000);
    for (let i = 0; i < 19; i++) expect(counter.record(i * 100)).toBe(false);
    expect(counter.record(1_900)).toBe(true);
  });

  it('rate-limiter - bad frames older than the window no longer count', () => {
    const counter = new AbuseCounter(20, 10_000);
    for (let i = 0; i < 19; i++) counter.record(0);
    // At t = 10 s the frames of t = 0 are out of the window.
    expect(counter.record(10_000)).toBe(false);
    for (let i = 0; i < 18; i++) expect(counter.record(10_001 + i)).toBe(false);
    expect(counter.record(10_100)).toBe(true);
  });

  it('rate-limiter - a slow trickle of bad frames never reaches the limit', () => {
    const counter = new AbuseCounter(20, 10_000);
    for (let i = 0; i < 200; i++) expect(counter.record(i * 600)).toBe(false);
  });
});
