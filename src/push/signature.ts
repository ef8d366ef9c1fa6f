/**
 * Webhook request signing (SPEC §6 F9): `X-Bimip-Signature: sha256=<hex HMAC-SHA256(secret, body)>`,
 * computed over the exact bytes of the request body. Receivers verify it with `verifySignature`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const PREFIX = 'sha256=';

/** The `X-Bimip-Signature` value for `body`: `sha256=` + lowercase hex HMAC-SHA256. */
export function signBody(body: string | Uint8Array, secret: string): string {
  return PREFIX + createHmac('sha256', secret).update(body).digest('hex');
}

/**
 * True when `header` is the signature of exactly `body` under `secret`. Pass the raw body as
 * received (string or bytes), not a re-serialised object. Constant-time in the signature bytes.
 */
export function verifySignature(body: string | Uint8Array, header: string | undefined | null, secret: string): boolean {
  if (typeof header !== 'string' || secret === '') return false;
  const expected = Buffer.from(signBody(body, secret), 'utf8');
  const given = Buffer.from(header.trim().toLowerCase(), 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
