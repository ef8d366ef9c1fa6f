/** Tokens, statistics and small helpers shared by the scenarios. */
import { TokenIssuer } from '../../dist/auth/token-issuer.js';
import { JWT_SECRET } from './server.mjs';

const issuer = new TokenIssuer(JWT_SECRET);

export function token(eid, deviceId = 'd1', ttlSeconds = 3600) {
  return issuer.issueAccessToken({ eid, deviceId, ttlSeconds });
}

/** Value at quantile q (0..1) of an already sorted numeric array (nearest rank). */
export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

export function median(values) {
  const finite = values.filter((v) => typeof v === 'number' && !Number.isNaN(v)).sort((a, b) => a - b);
  if (finite.length === 0) return NaN;
  const mid = finite.length >> 1;
  return finite.length % 2 ? finite[mid] : (finite[mid - 1] + finite[mid]) / 2;
}

export function nowMs() {
  return performance.now();
}

/** Bounded wait: resolves true once `predicate()` holds, false after `timeoutMs`. */
export async function waitFor(predicate, timeoutMs, stepMs = 10) {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, stepMs));
  }
  return true;
}

/** A ~100-byte JSON payload; `t` is the send time (process.hrtime in ns, same clock for sender and receiver). */
const PAD = 'x'.repeat(64);
export function payloadWithTime(seq) {
  return Buffer.from(`{"t":"${process.hrtime.bigint()}","seq":${seq},"pad":"${PAD}"}`);
}

export function sendTimeOf(payload) {
  const text = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('latin1');
  const start = text.indexOf('"t":"') + 5;
  return BigInt(text.slice(start, text.indexOf('"', start)));
}

/** Runs `fn` over `items` with at most `concurrency` promises at once. */
export async function inBatches(items, concurrency, fn) {
  const results = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return results;
}

export function fmt(value, digits = 0) {
  if (typeof value !== 'number' || Number.isNaN(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
