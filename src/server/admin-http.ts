/** The HTTP plumbing of the admin API (admin-api.ts): the admin bearer check, JSON in and out, typed field readers. */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An answer with this status and `{"error": message}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type Json = Record<string, unknown>;

/** 404 when the admin API is disabled, 401 without a bearer, 403 with the wrong one (compared in constant time). */
export function checkAdmin(request: IncomingMessage, adminToken: string | undefined): void {
  if (!adminToken) throw new HttpError(404, 'the admin API is disabled: set BIMIP_ADMIN_TOKEN');
  const header = request.headers.authorization ?? '';
  if (!header.startsWith('Bearer ')) throw new HttpError(401, 'missing admin bearer token');
  const given = Buffer.from(header.slice('Bearer '.length).trim());
  const expected = Buffer.from(adminToken);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new HttpError(403, 'wrong admin bearer token');
}

export async function readJson(request: IncomingMessage, maxBytes: number): Promise<Json> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > maxBytes) throw new HttpError(413, `body over ${maxBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new HttpError(413, `body over ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new HttpError(400, 'body must be a JSON object');
  return parsed as Json;
}

export function json(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

/** A string field; absent, null or '' is a 400 naming it when `required`, else ''. */
export function str(body: Json, field: string, required = true): string {
  const value = body[field];
  if (value === undefined || value === null || value === '') {
    if (required) throw new HttpError(400, `${field} is required`);
    return '';
  }
  if (typeof value !== 'string') throw new HttpError(400, `${field} must be a string`);
  return value;
}

/**
 * An optional integer field (absent or null → undefined). Anything but a JSON number that is a safe
 * integer within [min, max] is a 400 naming the field: never coerced, so 1e300 is not stored as 0.
 */
export function integer(body: Json, field: string, min: number, max: number): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new HttpError(400, `${field} must be an integer from ${min} to ${max}`);
  }
  return value;
}
