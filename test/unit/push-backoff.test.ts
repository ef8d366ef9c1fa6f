/** SPEC §6 F9: the webhook's retry schedule, its request signature and the notice's JSON shape. */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { backoffDelay, type BackoffPolicy } from '../../src/push/backoff.js';
import { toNoticeBody } from '../../src/push/notice-body.js';
import { signBody, verifySignature } from '../../src/push/signature.js';
import type { PushNotice } from '../../src/core/push-hook.js';

const exact: BackoffPolicy = { baseDelayMs: 1000, maxDelayMs: 300_000, jitterRatio: 0 };

describe('push backoff', () => {
  it('push backoff - doubles from the base delay after each failed attempt', () => {
    expect([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(attempt, exact))).toEqual([1000, 2000, 4000, 8000, 16000, 32000]);
  });

  it('push backoff - never exceeds the cap, even after very many attempts', () => {
    expect(backoffDelay(9, exact)).toBe(256_000);
    expect(backoffDelay(10, exact)).toBe(300_000);
    expect(backoffDelay(50, exact)).toBe(300_000);
    expect(backoffDelay(5000, exact)).toBe(300_000);
    expect(backoffDelay(5000, { ...exact, jitterRatio: 0.2 }, () => 0.999)).toBe(300_000);
  });

  it('push backoff - jitter stays within ±20% of the nominal delay', () => {
    const policy = { ...exact, jitterRatio: 0.2 };
    expect(backoffDelay(3, policy, () => 0)).toBe(3200);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(4000);
    expect(backoffDelay(3, policy, () => 0.9999999)).toBe(4800);
    for (let i = 0; i < 200; i++) {
      const delay = backoffDelay(2, policy);
      expect(delay).toBeGreaterThanOrEqual(1600);
      expect(delay).toBeLessThanOrEqual(2400);
    }
  });
});

describe('push signature', () => {
  const body = '{"to":"bob","kind":"entry"}';

  it('push signature - is sha256= and the hex HMAC-SHA256 of the exact body', () => {
    const expected = createHmac('sha256', 's3cret').update(body).digest('hex');
    expect(signBody(body, 's3cret')).toBe(`sha256=${expected}`);
    expect(signBody(new TextEncoder().encode(body), 's3cret')).toBe(`sha256=${expected}`);
  });

  it('push signature - verifies the right body and secret, as a string or as bytes', () => {
    const header = signBody(body, 's3cret');
    expect(verifySignature(body, header, 's3cret')).toBe(true);
    expect(verifySignature(Buffer.from(body), header, 's3cret')).toBe(true);
    expect(verifySignature(body, header.toUpperCase().replace('SHA256=', 'sha256='), 's3cret')).toBe(true);
  });

  it('push signature - rejects a wrong secret, a changed body and malformed headers', () => {
    const header = signBody(body, 's3cret');
    expect(verifySignature(body, header, 'other')).toBe(false);
    expect(verifySignature(`${body} `, header, 's3cret')).toBe(false);
    expect(verifySignature(body, header.slice('sha256='.length), 's3cret')).toBe(false);
    expect(verifySignature(body, header.slice(0, -1), 's3cret')).toBe(false);
    expect(verifySignature(body, '', 's3cret')).toBe(false);
    expect(verifySignature(body, undefined, 's3cret')).toBe(false);
    expect(verifySignature(body, signBody(body, ''), '')).toBe(false);
  });
});

describe('push notice body', () => {
  it('push notice body - has exactly the snake_case fields of SPEC §6 F9 and nothing a caller attached', () => {
    const notice = {
      kind: 'entry',
      to: 'bob',
      offlineDevices: ['phone', 'tablet'],
      from: 'alice',
      signalId: '42',
      messageId: 'm-1',
      type: 1,
      status: 1,
      timestamp: 1_700_000_000_000,
      payload: 'secret text',
    } as PushNotice & { payload: string };
    const body = toNoticeBody(notice);
    expect(body).toEqual({
      to: 'bob',
      offline_devices: ['phone', 'tablet'],
      from: 'alice',
      signal_id: '42',
      message_id: 'm-1',
      type: 1,
      status: 1,
      timestamp: 1_700_000_000_000,
      kind: 'entry',
    });
    expect(JSON.stringify(body)).not.toContain('secret text');
  });
});
