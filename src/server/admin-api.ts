/**
 * The HTTP API on the node's port (issue #4): token issuing and lifecycle, and a backend sending
 * messages as a user or as the system, with the same durability and idempotency as the socket.
 * JSON in and out; every error is a 4xx/5xx with {"error": "..."}.
 *
 *   POST /v1/tokens           (admin) {eid, device, ttl_seconds?, refresh_ttl_seconds?} → a pair
 *   POST /v1/tokens/refresh           {refresh_token} → a new pair (rotation; reuse revokes the family)
 *   POST /v1/tokens/validate  (admin) {token} → {valid, eid, device, expires_at} | {valid: false, error}
 *   POST /v1/tokens/revoke    (admin) {token} | {jti} → {revoked, closed_connections}
 *   POST /v1/messages         (admin) {id, to, from?, type?, payload? | payload_base64?, …} → the Ack as JSON
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AuthError } from '../core/errors.js';
import { MAX_ACCESS_TTL_SECONDS, MAX_REFRESH_TTL_SECONDS, TokenError, type TokenPair } from '../auth/token-service.js';
import { pb } from '../protocol/index.js';
import type { ServerContext } from './context.js';
import { storeMessage } from './store-message.js';

/** The sender the admin API uses when a request names no `from`. */
export const SYSTEM_SENDER = { eid: 'system', device: 'admin-api' } as const;

export interface AdminApiOptions {
  /** Bearer token of the admin endpoints; undefined disables them. */
  adminToken: string | undefined;
  maxBodyBytes: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

type Json = Record<string, unknown>;

export function createAdminApi(ctx: ServerContext, options: AdminApiOptions) {
  const routes: Record<string, { admin: boolean; handle(body: Json): Promise<[number, Json]> }> = {
    '/v1/tokens': { admin: true, handle: (body) => issueTokens(ctx, body) },
    '/v1/tokens/refresh': { admin: false, handle: (body) => refreshTokens(ctx, body) },
    '/v1/tokens/validate': { admin: true, handle: (body) => validateToken(ctx, body) },
    '/v1/tokens/revoke': { admin: true, handle: (body) => revokeToken(ctx, body) },
    '/v1/messages': { admin: true, handle: (body) => sendMessage(ctx, body) },
  };

  /** Answers the request if it is for the API; false when the path is not one of its routes. */
  return async (request: IncomingMessage, response: ServerResponse, path: string): Promise<boolean> => {
    const route = routes[path];
    if (!route) return false;
    try {
      if (request.method !== 'POST') throw new HttpError(405, `use POST for ${path}`);
      if (route.admin) checkAdmin(request, options.adminToken);
      const body = await readJson(request, options.maxBodyBytes);
      const [status, result] = await route.handle(body);
      json(response, status, result);
    } catch (err) {
      if (err instanceof HttpError) {
        json(response, err.status, { error: err.message });
        return true;
      }
      ctx.logger.error({ err, path }, 'admin API request failed');
      json(response, 500, { error: 'internal error' });
    }
    return true;
  };
}

function checkAdmin(request: IncomingMessage, adminToken: string | undefined): void {
  if (!adminToken) throw new HttpError(404, 'the admin API is disabled: set BIMIP_ADMIN_TOKEN');
  const header = request.headers.authorization ?? '';
  if (!header.startsWith('Bearer ')) throw new HttpError(401, 'missing admin bearer token');
  const given = Buffer.from(header.slice('Bearer '.length).trim());
  const expected = Buffer.from(adminToken);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new HttpError(403, 'wrong admin bearer token');
}

async function readJson(request: IncomingMessage, maxBytes: number): Promise<Json> {
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

function json(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

function str(body: Json, field: string, required = true): string {
  const value = body[field];
  if (value === undefined || value === null || value === '') {
    if (required) throw new HttpError(400, `${field} is required`);
    return '';
  }
  if (typeof value !== 'string') throw new HttpError(400, `${field} must be a string`);
  return value;
}

/** Latest `timestamp` accepted (epoch ms of 9999-12-31T23:59:59.999Z): later is surely a bug, and stays exact in a double. */
const MAX_TIMESTAMP_MS = 253_402_300_799_999;

/**
 * An optional integer field (absent or null → undefined). Anything but a JSON number that is a safe
 * integer within [min, max] is a 400 naming the field: never coerced, so 1e300 is not stored as 0.
 */
function integer(body: Json, field: string, min: number, max: number): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new HttpError(400, `${field} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function pairJson(pair: TokenPair): Json {
  return {
    access_token: pair.accessToken,
    refresh_token: pair.refreshToken,
    token_type: 'Bearer',
    eid: pair.eid,
    device: pair.device,
    expires_at: pair.accessExpiresAt,
    refresh_expires_at: pair.refreshExpiresAt,
  };
}

function tokenFailure(err: unknown): never {
  if (err instanceof TokenError) throw new HttpError(err.code === 401 ? 401 : err.code, err.message);
  if (err instanceof AuthError) throw new HttpError(401, err.message);
  throw err;
}

async function issueTokens(ctx: ServerContext, body: Json): Promise<[number, Json]> {
  const eid = str(body, 'eid');
  const device = str(body, 'device');
  if (Buffer.byteLength(eid) > ctx.limits.maxEidBytes || Buffer.byteLength(device) > ctx.limits.maxIdBytes) {
    throw new HttpError(400, 'eid or device too long');
  }
  if (!ctx.tokens.canIssue) throw new HttpError(400, 'tokens are issued by an external signer');
  const pair = await ctx.tokens.issuePair(eid, device, {
    accessTtlSeconds: integer(body, 'ttl_seconds', 1, MAX_ACCESS_TTL_SECONDS),
    refreshTtlSeconds: integer(body, 'refresh_ttl_seconds', 1, MAX_REFRESH_TTL_SECONDS),
  });
  return [201, pairJson(pair)];
}

async function refreshTokens(ctx: ServerContext, body: Json): Promise<[number, Json]> {
  try {
    return [200, pairJson(await ctx.tokens.refresh(str(body, 'refresh_token')))];
  } catch (err) {
    return tokenFailure(err);
  }
}

async function validateToken(ctx: ServerContext, body: Json): Promise<[number, Json]> {
  try {
    const principal = await ctx.tokens.validate(str(body, 'token'));
    return [200, { valid: true, eid: principal.eid, device: principal.deviceId, expires_at: principal.expiresAt }];
  } catch (err) {
    if (err instanceof AuthError) return [200, { valid: false, error: err.message }];
    throw err;
  }
}

async function revokeToken(ctx: ServerContext, body: Json): Promise<[number, Json]> {
  const target = str(body, 'token', false) || str(body, 'jti', false);
  if (!target) throw new HttpError(400, 'token or jti is required');
  try {
    const { jtis } = await ctx.tokens.revoke(target);
    return [200, { revoked: jtis, closed_connections: ctx.router.revoked(jtis) }];
  } catch (err) {
    return tokenFailure(err);
  }
}

function identity(value: unknown, field: string): { eid: string; device: string } {
  if (typeof value === 'string') return { eid: value, device: '' };
  if (typeof value !== 'object' || value === null) throw new HttpError(400, `${field} must be an eid or {eid, device}`);
  const record = value as Json;
  return { eid: str(record, 'eid'), device: str(record, 'device', false) };
}

async function sendMessage(ctx: ServerContext, body: Json): Promise<[number, Json]> {
  const to = identity(body['to'], 'to');
  const sender =
    body['from'] === undefined
      ? SYSTEM_SENDER
      : (() => {
          const from = identity(body['from'], 'from');
          return { eid: from.eid, device: from.device || SYSTEM_SENDER.device };
        })();
  let payload: Uint8Array = new Uint8Array();
  if (body['payload_base64'] !== undefined) payload = Buffer.from(str(body, 'payload_base64'), 'base64');
  else if (body['payload'] !== undefined) {
    const value = body['payload'];
    payload = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value), 'utf8');
  }
  // SPEC §4: type 1 CHAT, 2 PUSH_NOTIFICATION (0 is read as 1); timestamp in epoch ms (0 = the server's).
  const type = integer(body, 'type', 0, 2) ?? 1;
  const timestamp = integer(body, 'timestamp', 0, MAX_TIMESTAMP_MS) ?? 0;
  const message = pb.Message.create({
    id: str(body, 'id'),
    to: { eid: to.eid, connectionResourceId: to.device },
    type,
    timestamp,
    payload,
    encryptionType: str(body, 'encryption_type', false),
    encrypted: str(body, 'encrypted', false),
    signature: str(body, 'signature', false),
  });
  const outcome = await storeMessage(ctx, sender, message);
  ctx.metrics.ack(outcome.code);
  const result: Json = { code: outcome.code, id: message.id, signal_id: outcome.signalId, user_offset: outcome.userOffset };
  if (outcome.code === 200 || outcome.code === 409) return [outcome.code, { ...result, status: 1 }];
  return [outcome.code, { ...result, error: outcome.details }];
}
